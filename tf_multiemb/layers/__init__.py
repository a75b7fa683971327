"""Keras 3 layers (keras.ops only, backend-agnostic)."""

from tf_multiemb.layers.cross_network import CrossNetV2
from tf_multiemb.layers.field_embedding import FieldEmbedding
from tf_multiemb.layers.mlp import MLPBlock
from tf_multiemb.layers.set_dense import SetDense

__all__ = ["CrossNetV2", "FieldEmbedding", "MLPBlock", "SetDense"]
