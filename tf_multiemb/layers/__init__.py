"""Keras 3 layers (keras.ops only, backend-agnostic)."""

from tf_multiemb.layers.bilinear_fusion import MultiHeadBilinearFusion
from tf_multiemb.layers.compressed_interaction import CompressedInteraction
from tf_multiemb.layers.concatenation import FieldConcatenation
from tf_multiemb.layers.cross_network import CrossNetV2
from tf_multiemb.layers.factorization_machine import FactorizationMachineInteraction
from tf_multiemb.layers.feature_selection import FeatureSelectionGate
from tf_multiemb.layers.field_aware import FieldAwareInteraction
from tf_multiemb.layers.field_embedding import FieldEmbedding
from tf_multiemb.layers.field_weighted import FieldWeightedInteraction
from tf_multiemb.layers.inner_product import InnerProductInteraction
from tf_multiemb.layers.mlp import MLPBlock
from tf_multiemb.layers.per_set import PerSet
from tf_multiemb.layers.self_attention import SelfAttentionInteraction
from tf_multiemb.layers.set_dense import SetDense

__all__ = [
    "CompressedInteraction", "CrossNetV2", "FactorizationMachineInteraction", "FeatureSelectionGate",
    "FieldAwareInteraction", "FieldConcatenation", "FieldEmbedding", "FieldWeightedInteraction",
    "InnerProductInteraction", "MLPBlock", "MultiHeadBilinearFusion", "PerSet", "SelfAttentionInteraction", "SetDense",
]
