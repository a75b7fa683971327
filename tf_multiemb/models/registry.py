"""`build_model`: backbone name + scale -> single- or multi-embedding model (DESIGN.md scale semantics).

At scale s, single embedding uses one set of width K = s * K0; multi-embedding uses M = s sets of
width K0. Both hold the same number of embedding parameters (paper Section 5.1, Table 1).

Where the per-set non-linear projection sits (paper Appendix C.2), per backbone:
  dnn      after the concatenation: it is the DNN's first hidden layer.
  ipnn     after the product layer [embeddings, inner products]: IPNN's first hidden layer.
  nfwfm    after the field-weighted K-vector sum_ij r_ij e_i * e_j.
  xdeepfm  after [sum-pooled CIN maps, flat embeddings]: the DNN's first hidden layer, also reading CIN.
  dcnv2    after the stacked cross layers (the MLP's first hidden layer).
  finalmlp one projection per (set, stream) on the gated views: each stream MLP's first layer;
           sets are averaged per stream, then the rest of each stream and the bilinear fusion.
  autoint  after the flattened attention output.
  fm, ffm  after the (field-aware) Bi-Interaction K-vector.

FFM's K0 is the width of one field-pair sub-embedding; a field's embedding row holds N-1 of them
(paper Appendix H), so its FieldEmbedding width is (N-1) * K0 (SE: (N-1) * s * K0).
"""

from tf_multiemb.layers.compressed_interaction import CompressedInteraction
from tf_multiemb.layers.concatenation import FieldConcatenation
from tf_multiemb.layers.cross_network import CrossNetV2
from tf_multiemb.layers.factorization_machine import FactorizationMachineInteraction
from tf_multiemb.layers.feature_selection import FeatureSelectionGate
from tf_multiemb.layers.field_aware import FieldAwareInteraction
from tf_multiemb.layers.field_weighted import FieldWeightedInteraction
from tf_multiemb.layers.inner_product import InnerProductInteraction
from tf_multiemb.layers.self_attention import SelfAttentionInteraction
from tf_multiemb.models.multi_embedding import MultiEmbeddingModel

# name -> (interaction layer class, base embedding size K0, default interaction arguments)
BACKBONES = {
    "dnn": (FieldConcatenation, 10, {}),
    "ipnn": (InnerProductInteraction, 10, {}),
    "nfwfm": (FieldWeightedInteraction, 50, {}),
    "xdeepfm": (CompressedInteraction, 10, {"layer_sizes": (16, 16)}),
    "dcnv2": (CrossNetV2, 10, {"num_layers": 4}),
    "finalmlp": (FeatureSelectionGate, 10, {"feature_selection": True, "gate_units": 64, "fusion_heads": 2}),
    "autoint": (SelfAttentionInteraction, 10, {"num_layers": 3, "num_heads": 2, "layer_norm": False}),
    "fm": (FactorizationMachineInteraction, 10, {}),
    "ffm": (FieldAwareInteraction, 4, {}),
}
EMBEDDING_MODES = ("single", "multi")


def embedding_layout(name, embedding, scale, embedding_dim=None, num_fields=None):
    """(num_sets, width) of the embedding sets for a backbone at a scale.

    `num_fields` is needed only by backbones whose interaction defines `embedding_width_factor`
    (FFM: one sub-embedding of width K0 per other field).
    """
    check_model_arguments(name, embedding, scale)
    interaction_class, base_dim, _ = BACKBONES[name]
    base = embedding_dim or base_dim
    if hasattr(interaction_class, "embedding_width_factor"):
        if num_fields is None:
            raise ValueError(f"model {name!r} needs num_fields to size its embedding rows")
        base *= interaction_class.embedding_width_factor(num_fields)
    return (1, scale * base) if embedding == "single" else (scale, base)


def check_model_arguments(name, embedding, scale):
    if name not in BACKBONES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(BACKBONES))}")
    if embedding not in EMBEDDING_MODES:
        raise ValueError(f"unknown embedding mode {embedding!r}; choose 'single' or 'multi'")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")


def build_model(name, field_dims, embedding="single", scale=1, embedding_dim=None, hidden_units=(400, 400),
                dropout=0.2, synchronized_batch_norm=False, projection="mlp", **interaction_overrides):
    """Builds an (uncompiled) `keras.Model` taking int ids of shape (batch, len(field_dims)).

    Args:
        name: backbone, one of `BACKBONES`.
        field_dims: per-field cardinalities (OOV id included).
        embedding: "single" or "multi".
        scale: the scaling factor s (1, 2, 3, 4, 10 in the paper).
        embedding_dim: base size K0 (default: the paper's, 10; 50 for NFwFM; 4 per field pair for FFM).
        projection: "mlp" (the paper's) or "linear" (Appendix E diagnostic), see `MultiEmbeddingModel`.
        **interaction_overrides: arguments of the backbone's interaction layer (e.g. num_layers).
    """
    num_sets, width = embedding_layout(name, embedding, scale, embedding_dim, num_fields=len(field_dims))
    interaction_class, _, defaults = BACKBONES[name]
    interaction = interaction_class(**{**defaults, **interaction_overrides}, name=name)
    model = MultiEmbeddingModel(
        field_dims, interaction, num_sets=num_sets, embedding_dim=width, hidden_units=hidden_units,
        dropout=dropout, synchronized_batch_norm=synchronized_batch_norm, projection=projection,
        name=f"{name}_{embedding}_{scale}x",
    )
    model.build((None, len(field_dims)))
    return model
