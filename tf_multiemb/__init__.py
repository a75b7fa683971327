"""tf_multiemb: multi-embedding CTR models and embedding-collapse metrics (Guo et al., ICML 2024).

Public API: `build_model`, `register_backbone` and `MultiEmbedding` (models; `MultiEmbeddingModel` is its earlier name), `layers` (the interaction layers),
`collapse` (information abundance), `optimizers.AdamL2` and `callbacks`.
"""

from tf_multiemb import callbacks, collapse, layers, optimizers
from tf_multiemb.models import BACKBONES, MultiEmbedding, MultiEmbeddingModel, build_model, register_backbone

__all__ = ["BACKBONES", "MultiEmbedding", "MultiEmbeddingModel", "build_model", "callbacks", "collapse", "layers", "optimizers",
           "register_backbone"]
__version__ = "0.1.0"
