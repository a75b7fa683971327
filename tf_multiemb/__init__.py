"""tf_multiemb: multi-embedding CTR models and embedding-collapse metrics (Guo et al., ICML 2024).

Public API: `build_model` and `MultiEmbeddingModel` (models), `layers` (the interaction layers),
`collapse` (information abundance), `optimizers.AdamL2` and `callbacks`.
"""

from tf_multiemb import callbacks, collapse, layers, optimizers
from tf_multiemb.models import BACKBONES, MultiEmbeddingModel, build_model

__all__ = ["BACKBONES", "MultiEmbeddingModel", "build_model", "callbacks", "collapse", "layers", "optimizers"]
__version__ = "0.1.0"
