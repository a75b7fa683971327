"""The seam between `trainers.fit` and the Keras backend it trains on.

`trainers.fit` asks a runtime for what differs between backends: where the model is placed, the input
batches, determinism and the library versions it records. The TensorFlow runtime
(`trainers/tensorflow_runtime.py`: tf.data, tf.distribute) is used under `KERAS_BACKEND=tensorflow`; the
JAX runtime (`trainers/jax_runtime.py`: the numpy shard reader, `keras.distribution.DataParallel`) under
`KERAS_BACKEND=jax`, and it never imports TensorFlow. Backend rules: docs/design.md. A run says where it
trains in one line (`device_line`), plainly so on a machine without a GPU.
"""

import functools
import sys

from console.keras_backend import installed


def current_runtime():
    """The runtime of the configured Keras backend (TensorFlow or JAX)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        from trainers.jax_runtime import JaxRuntime

        return JaxRuntime()
    if backend == "tensorflow":
        from trainers.tensorflow_runtime import TensorFlowRuntime

        return TensorFlowRuntime()
    raise ValueError(f"trainers.fit trains on the tensorflow or jax Keras backend, not {backend!r} "
                     "(set KERAS_BACKEND)")


def device_line(num_replicas: int) -> str:
    """Where a run trains, in one line: its devices, its replica count and the Keras backend.

    Args:
        num_replicas: the placement's replica count (`num_replicas_in_sync`).

    Returns:
        For example 'training on the CPU (no GPU found), 1 replica; Keras backend jax (TensorFlow is not
        installed)' or 'training on 2 GPUs, 2 replicas; Keras backend tensorflow'. Call it after the runtime's
        `placement`: on TensorFlow, listing the devices fixes them.
    """
    import keras

    devices = keras.distribution.list_devices()  # the accelerators; the CPU's devices where there are none
    kind = devices[0].split(":")[0]
    where = "the CPU (no GPU found)" if kind == "cpu" else f"{len(devices)} {kind.upper()}{plural(len(devices))}"
    backend = keras.backend.backend()
    reason = " (TensorFlow is not installed)" if backend == "jax" and not installed("tensorflow") else ""
    return f"training on {where}, {num_replicas} replica{plural(num_replicas)}; Keras backend {backend}{reason}"


def plural(count: int) -> str:
    return "" if count == 1 else "s"


@functools.cache
def announce_devices(num_replicas: int) -> None:
    """Prints `device_line` to stderr, once per process (a sweep or the main job trains several models)."""
    print(device_line(num_replicas), file=sys.stderr, flush=True)
