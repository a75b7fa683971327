"""The Keras backend of the commands: JAX when TensorFlow is not installed and KERAS_BACKEND is unset.

Keras 3.15 falls back to TensorFlow when KERAS_BACKEND is unset (and writes that default into
~/.keras/keras.json the first time it loads), so in the `[jax]` install every command that imports Keras
would end in `No module named 'tensorflow'`. Keras reads the variable once, when it is first imported: the
`trainers` and `bench` packages call `default_to_jax()` as they load. `tf_multiemb` makes the same choice
for programs that import the library (tf_multiemb/__init__.py).
"""

import importlib.util
import os


def installed(package: str) -> bool:
    """Whether a top-level package can be imported here, without importing it."""
    return importlib.util.find_spec(package) is not None


def default_to_jax() -> None:
    """Sets KERAS_BACKEND=jax when it is unset, TensorFlow is not installed and JAX is."""
    if not os.environ.get("KERAS_BACKEND") and not installed("tensorflow") and installed("jax"):
        os.environ["KERAS_BACKEND"] = "jax"
