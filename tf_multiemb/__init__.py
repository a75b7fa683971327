"""tf_multiemb: multi-embedding CTR models and embedding-collapse metrics (Guo et al., ICML 2024)."""

from tf_multiemb import collapse, optimizers
from tf_multiemb.models import BACKBONES, MultiEmbeddingModel, build_model

__all__ = ["BACKBONES", "MultiEmbeddingModel", "build_model", "collapse", "optimizers"]
__version__ = "0.1.0"
