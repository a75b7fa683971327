"""Computations the JAX-backend tests run in a process without TensorFlow (tests/run_without_tensorflow.py).

    python tests/run_without_tensorflow.py tests.jax_checks rows DATA_DIR SPLIT OUT.npz
    python tests/run_without_tensorflow.py tests.jax_checks step MODEL.keras BATCH.npz OUT.npz
    python tests/run_without_tensorflow.py tests.jax_checks predict MODEL.keras IDS.npz OUT.npz
"""

import sys

# First, so that it picks the JAX backend (KERAS_BACKEND is unset and TensorFlow missing), as the [jax]
# install does; it also registers the model classes the saved files name.
import tf_multiemb  # noqa: F401

import jax
import keras
import numpy as np


def rows(data_dir, split, out):
    """Every row of a split, as the numpy reader yields them (shuffled, seed 5)."""
    from datasets.numpy_reader import NumpyReader

    batches = list(NumpyReader(data_dir, split, batch_size=512, shuffle=True, seed=5).epoch(0))
    np.savez(out, ids=np.concatenate([b[0] for b in batches]), labels=np.concatenate([b[1] for b in batches]))


def step(model_path, batch_path, out):
    """Binary cross-entropy of one batch (inference mode) and its gradient for every trainable variable, in order."""
    model = keras.saving.load_model(model_path, compile=False)
    batch = np.load(batch_path)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss(values):
        probabilities, _ = model.stateless_call(values, non_trainable, batch["ids"], training=False)
        return keras.ops.mean(keras.losses.binary_crossentropy(batch["labels"], probabilities))

    value, gradients = jax.value_and_grad(loss)(trainable)
    np.savez(out, loss=np.asarray(value), **{f"gradient_{i}": np.asarray(g) for i, g in enumerate(gradients)})


def predict(model_path, ids_path, out):
    model = keras.saving.load_model(model_path, compile=False)
    np.savez(out, probabilities=model.predict(np.load(ids_path)["ids"], verbose=0))


if __name__ == "__main__":
    assert keras.backend.backend() == "jax"
    {"rows": rows, "step": step, "predict": predict}[sys.argv[1]](*sys.argv[2:])
