"""Models: the multi-embedding wrapper and the backbone registry."""

from tf_multiemb.models.multi_embedding import MultiEmbedding, MultiEmbeddingModel
from tf_multiemb.models.registry import BACKBONES, build_model, embedding_layout, import_backbone, register_backbone

__all__ = ["BACKBONES", "MultiEmbedding", "MultiEmbeddingModel", "build_model", "embedding_layout", "import_backbone", "register_backbone"]
