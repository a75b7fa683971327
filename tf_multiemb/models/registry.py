"""`build_model`: backbone name + scale -> single- or multi-embedding model (docs/design.md, "Scale semantics").

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


def embedding_layout(name: str, embedding: str, scale: int, embedding_dim: int | None = None,
                     num_fields: int | None = None) -> tuple[int, int]:
    """The (number of sets, width) of a backbone's embedding sets at a scale.

    At scale s single embedding is one set of width s * K0, multi-embedding s sets of width K0.

    Args:
        name: str. Backbone, one of `BACKBONES`.
        embedding: str. "single" or "multi".
        scale: int. The scaling factor s >= 1.
        embedding_dim: int or None. Base size K0; `None` uses the backbone's. Defaults to `None`.
        num_fields: int or None. N; needed only by backbones whose interaction defines
            `embedding_width_factor` (FFM: one sub-embedding of width K0 per other field).
            Defaults to `None`.

    Returns:
        (num_sets, width): (1, s * K0) for "single", (s, K0) for "multi".

    Raises:
        ValueError: on an unknown backbone or embedding mode, a scale that is not a positive
            int, or a missing `num_fields` where it is needed.

    Example:

    >>> embedding_layout("dcnv2", "single", 10), embedding_layout("dcnv2", "multi", 10)
    ((1, 100), (10, 10))
    >>> embedding_layout("ffm", "multi", 2, num_fields=5)  # K0 = 4 per other field
    (2, 16)

    References:
        Guo et al., ICML 2024, Section 5.1 and Table 1 (scaling), Appendix H (FFM).
    """
    check_model_arguments(name, embedding, scale)
    interaction_class, base_dim, _ = BACKBONES[name]
    base = embedding_dim or base_dim
    if hasattr(interaction_class, "embedding_width_factor"):
        if num_fields is None:
            raise ValueError(f"model {name!r} needs num_fields to size its embedding rows")
        base *= interaction_class.embedding_width_factor(num_fields)
    return (1, scale * base) if embedding == "single" else (scale, base)


def check_model_arguments(name: str, embedding: str, scale: int) -> None:
    """Raises ValueError unless the backbone, embedding mode and scale are valid (see `embedding_layout`)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(BACKBONES))}")
    if embedding not in EMBEDDING_MODES:
        raise ValueError(f"unknown embedding mode {embedding!r}; choose 'single' or 'multi'")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")


def build_model(name: str, field_dims: list[int], embedding: str = "single", scale: int = 1,
                embedding_dim: int | None = None, hidden_units: tuple[int, ...] = (400, 400), dropout: float = 0.2,
                synchronized_batch_norm: bool = False, projection: str = "mlp",
                **interaction_overrides) -> MultiEmbeddingModel:
    """Builds a single- or multi-embedding CTR model for a named backbone at a scale.

    The model holds the same number of embedding parameters at a given scale in both modes (see
    `embedding_layout`); it is built but not compiled, and named "{name}_{embedding}_{scale}x".

    Args:
        name: str. Backbone, one of `BACKBONES`.
        field_dims: list of int. Per-field cardinalities (OOV id included).
        embedding: str. "single" or "multi". Defaults to "single".
        scale: int. The scaling factor s (1, 2, 3, 4, 10 in the paper). Defaults to 1.
        embedding_dim: int or None. Base size K0; `None` uses the paper's: 10, 50 for NFwFM,
            4 per field pair for FFM. Defaults to `None`.
        hidden_units: sequence of int. MLP widths, see `MultiEmbeddingModel`. Defaults to
            (400, 400).
        dropout: float. Dropout rate of every MLP block. Defaults to 0.2.
        synchronized_batch_norm: bool. Batch statistics over all replicas. Defaults to `False`.
        projection: str. "mlp" (the paper's) or "linear" (Appendix E diagnostic), see
            `MultiEmbeddingModel`. Defaults to "mlp".
        **interaction_overrides: Arguments of the backbone's interaction layer (e.g.
            `num_layers`), over the defaults in `BACKBONES`.

    Returns:
        A built `MultiEmbeddingModel` mapping int ids (batch, len(field_dims)) to click
        probabilities (batch, 1).

    Raises:
        ValueError: on an unknown backbone or embedding mode, or a scale that is not a positive int.

    Example:

    >>> import numpy as np
    >>> model = build_model("dcnv2", [4, 9, 6], embedding="multi", scale=2, embedding_dim=3,
    ...                     hidden_units=(8,), num_layers=2)
    >>> model.name, model.num_sets, model.embedding_dim
    ('dcnv2_multi_2x', 2, 3)
    >>> tuple(model(np.array([[0, 1, 2], [3, 8, 5]])).shape)
    (2, 1)

    References:
        Guo et al., ICML 2024, Section 5.1 (Figure 7), Section 5.2 (Table 1), Appendix C.2.
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
