"""The library's Keras backend when the caller named none: JAX when TensorFlow is not installed.

Keras 3.15 falls back to TensorFlow when KERAS_BACKEND is unset, so in the `[jax]` install (no TensorFlow)
`import tf_multiemb` would end in `No module named 'tensorflow'`. `tf_multiemb/__init__.py` calls
`default_to_jax()` before anything imports Keras, which reads the variable once, at its first import; a
program that imports Keras itself first has chosen already. The commands make the same choice before they
import anything heavy (console/keras_backend.py), without importing this package, which loads Keras.
"""

import importlib.util
import os


def default_to_jax() -> None:
    """Sets KERAS_BACKEND=jax when it is unset, TensorFlow is not installed and JAX is."""
    if not os.environ.get("KERAS_BACKEND") and importlib.util.find_spec("tensorflow") is None \
            and importlib.util.find_spec("jax") is not None:
        os.environ["KERAS_BACKEND"] = "jax"
