"""The seam between `trainers.fit` and the Keras backend it trains on.

`trainers.fit` asks a runtime for what differs between backends: where the model is placed, the input
batches, determinism and the library versions it records. The TensorFlow runtime
(`trainers/tensorflow_runtime.py`: tf.data, tf.distribute) is used under `KERAS_BACKEND=tensorflow`; the
JAX runtime (`trainers/jax_runtime.py`: the numpy shard reader, `keras.distribution.DataParallel`) under
`KERAS_BACKEND=jax`, and it never imports TensorFlow. Backend rules: docs/design.md.
"""

import contextlib

import keras


class Placement:
    """What the model is built and trained under: `scope()` for building, and the replica count."""

    def __init__(self, num_replicas: int, scope=contextlib.nullcontext):
        self.num_replicas_in_sync = num_replicas
        self.scope = scope


def current_runtime():
    """The runtime of the configured Keras backend (TensorFlow or JAX)."""
    backend = keras.backend.backend()
    if backend == "jax":
        from trainers.jax_runtime import JaxRuntime

        return JaxRuntime()
    if backend == "tensorflow":
        from trainers.tensorflow_runtime import TensorFlowRuntime

        return TensorFlowRuntime()
    raise ValueError(f"trainers.fit trains on the tensorflow or jax Keras backend, not {backend!r} "
                     "(set KERAS_BACKEND)")
