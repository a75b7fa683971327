"""`build_model`: backbone name + scale -> single- or multi-embedding model (DESIGN.md scale semantics).

At scale s, single embedding uses one set of width K = s * K0; multi-embedding uses M = s sets of
width K0. Both hold the same number of embedding parameters (paper Section 5.1, Table 1).
"""

from tf_multiemb.layers.cross_network import CrossNetV2
from tf_multiemb.models.multi_embedding import MultiEmbeddingModel

# name -> (interaction layer class, base embedding size K0, default interaction arguments)
BACKBONES = {
    "dcnv2": (CrossNetV2, 10, {"num_layers": 4}),
}
EMBEDDING_MODES = ("single", "multi")


def embedding_layout(name, embedding, scale, embedding_dim=None):
    """(num_sets, width) of the embedding sets for a backbone at a scale."""
    check_model_arguments(name, embedding, scale)
    base = embedding_dim or BACKBONES[name][1]
    return (1, scale * base) if embedding == "single" else (scale, base)


def check_model_arguments(name, embedding, scale):
    if name not in BACKBONES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(BACKBONES))}")
    if embedding not in EMBEDDING_MODES:
        raise ValueError(f"unknown embedding mode {embedding!r}; choose 'single' or 'multi'")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")


def build_model(name, field_dims, embedding="single", scale=1, embedding_dim=None, hidden_units=(400, 400),
                dropout=0.2, synchronized_batch_norm=False, **interaction_overrides):
    """Builds an (uncompiled) `keras.Model` taking int ids of shape (batch, len(field_dims)).

    Args:
        name: backbone, one of `BACKBONES`.
        field_dims: per-field cardinalities (OOV id included).
        embedding: "single" or "multi".
        scale: the scaling factor s (1, 2, 3, 4, 10 in the paper).
        embedding_dim: base size K0 (default: the paper's, 10; 50 for NFwFM).
        **interaction_overrides: arguments of the backbone's interaction layer (e.g. num_layers).
    """
    num_sets, width = embedding_layout(name, embedding, scale, embedding_dim)
    interaction_class, _, defaults = BACKBONES[name]
    interaction = interaction_class(**{**defaults, **interaction_overrides}, name=name)
    model = MultiEmbeddingModel(
        field_dims, interaction, num_sets=num_sets, embedding_dim=width, hidden_units=hidden_units,
        dropout=dropout, synchronized_batch_norm=synchronized_batch_norm,
        name=f"{name}_{embedding}_{scale}x",
    )
    model.build((None, len(field_dims)))
    return model
