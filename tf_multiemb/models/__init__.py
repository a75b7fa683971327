"""Models: the multi-embedding wrapper and the backbone registry."""

from tf_multiemb.models.multi_embedding import MultiEmbeddingModel
from tf_multiemb.models.registry import BACKBONES, build_model, embedding_layout

__all__ = ["BACKBONES", "MultiEmbeddingModel", "build_model", "embedding_layout"]
