"""tf_multiemb: multi-embedding CTR models and embedding-collapse metrics (Guo et al., ICML 2024).

Public API: `build_model`, `register_backbone` and `MultiEmbedding` (models; `MultiEmbeddingModel` is its earlier name), `layers` (the interaction layers),
`collapse` (information abundance), `optimizers.AdamL2` and `callbacks`.

Without TensorFlow (the `[jax]` install) and with KERAS_BACKEND unset, importing the package first selects
Keras' JAX backend (tf_multiemb/keras_backend.py), where Keras itself would look for TensorFlow.
"""

from tf_multiemb.keras_backend import default_to_jax

default_to_jax()

from tf_multiemb import callbacks, collapse, layers, optimizers  # noqa: E402  (after the backend choice)
from tf_multiemb.models import (BACKBONES, MultiEmbedding, MultiEmbeddingModel, build_model,  # noqa: E402
                                register_backbone)

__all__ = ["BACKBONES", "MultiEmbedding", "MultiEmbeddingModel", "build_model", "callbacks", "collapse", "layers", "optimizers",
           "register_backbone"]
__version__ = "0.1.0"
