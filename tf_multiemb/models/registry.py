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

import importlib
from collections.abc import Callable

import keras

from tf_multiemb.layers.compressed_interaction import CompressedInteraction
from tf_multiemb.layers.concatenation import FieldConcatenation
from tf_multiemb.layers.cross_network import CrossNetV2
from tf_multiemb.layers.factorization_machine import FactorizationMachineInteraction
from tf_multiemb.layers.feature_selection import FeatureSelectionGate
from tf_multiemb.layers.field_aware import FieldAwareInteraction
from tf_multiemb.layers.field_weighted import FieldWeightedInteraction
from tf_multiemb.layers.inner_product import InnerProductInteraction
from tf_multiemb.layers.self_attention import SelfAttentionInteraction
from tf_multiemb.models.multi_embedding import MultiEmbedding

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
BUILT_IN_BACKBONES = frozenset(BACKBONES)


def register_backbone(name: str, interaction_fn: Callable[..., keras.layers.Layer], embedding_dim: int,
                      **defaults) -> None:
    """Registers your own interaction as a backbone that `build_model` and the CLIs know by name.

    A registered backbone gets what the built-in ones have: single- and multi-embedding at any
    scale with equal embedding parameters, flagfiles, sweeps, IA logging, analysis and export. For
    the CLIs, register it at the top level of a module and pass `--model=package.module:name`:
    the CLI imports `package.module`, and the run records that spec, so export and analysis import
    the module again to deserialize your layers. Registering a name again replaces the entry.

    Args:
        name: str. The backbone's name, a Python identifier not used by a built-in backbone.
        interaction_fn: callable. Called like a layer class, as `interaction_fn(**defaults,
            **overrides, name=name)`, it returns the interaction layer, which maps embeddings
            (batch, M, N, K) to (batch, M, F) with separate weights per set, e.g.
            `lambda **kw: PerSet(MyLayer(), **kw)`. A layer class works as is.
        embedding_dim: int. The base embedding size K0 (the width of one set).
        **defaults: The interaction's default arguments; `--interaction_arg=name=value` and
            `build_model(..., name=value)` override them.

    Returns:
        None. The backbone is in `BACKBONES` from then on.

    Raises:
        ValueError: `name` is not an identifier or is a built-in backbone, or `embedding_dim` < 1.
        TypeError: `interaction_fn` is not callable.

    Example:

    >>> import keras, numpy as np
    >>> from tf_multiemb.layers import PerSet
    >>> register_backbone("flat_dense", lambda **kw: PerSet(
    ...     keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(8)]), **kw), embedding_dim=4)
    >>> model = build_model("flat_dense", [5, 7], embedding="multi", scale=3, hidden_units=(16,))
    >>> model.num_sets, model.embedding_dim, tuple(model(np.array([[1, 2]])).shape)
    (3, 4, (1, 1))
    >>> _ = BACKBONES.pop("flat_dense")  # leaves the registry as it was

    References:
        Guo et al., ICML 2024, Section 5.1 (multi-embedding around any interaction module).
    """
    if not name.isidentifier() or name in BUILT_IN_BACKBONES:
        raise ValueError(f"backbone name {name!r} must be a Python identifier other than the built-in "
                         f"{', '.join(sorted(BUILT_IN_BACKBONES))}")
    if not callable(interaction_fn):
        raise TypeError(f"interaction_fn must be callable (a layer class or a function), got {interaction_fn!r}")
    if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
        raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim!r}")
    BACKBONES[name] = (interaction_fn, embedding_dim, dict(defaults))


def import_backbone(model: str) -> str:
    """The registered name of `model`, importing its module first when it reads "package.module:name".

    Args:
        model: str. A backbone name, or "package.module:name" for one that `package.module`
            registers with `register_backbone` when imported.

    Returns:
        The name under which the backbone is registered.

    Raises:
        ValueError: the module cannot be imported, or importing it registered no backbone `name`.

    Example:

    >>> import_backbone("dcnv2")
    'dcnv2'

    References:
        Guo et al., ICML 2024, Section 5.1.
    """
    if ":" not in model:
        return model
    module, name = model.rsplit(":", 1)
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise ValueError(f"model {model!r}: cannot import {module!r} ({error}); run from the directory that "
                         "holds it or put it on PYTHONPATH") from None
    if name not in BACKBONES:
        raise ValueError(f"model {model!r}: importing {module!r} registered no backbone {name!r}; call "
                         f"tf_multiemb.register_backbone({name!r}, ...) at its top level")
    return name


def embedding_layout(name: str, embedding: str, scale: int, embedding_dim: int | None = None,
                     num_fields: int | None = None) -> tuple[int, int]:
    """The (number of sets, width) of a backbone's embedding sets at a scale.

    At scale s single embedding is one set of width s * K0, multi-embedding s sets of width K0.

    Args:
        name: str. Backbone, one of `BACKBONES`, or "package.module:name" (see `import_backbone`).
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
    interaction_class, base_dim, _ = BACKBONES[import_backbone(name)]
    base = embedding_dim or base_dim
    if hasattr(interaction_class, "embedding_width_factor"):
        if num_fields is None:
            raise ValueError(f"model {name!r} needs num_fields to size its embedding rows")
        base *= interaction_class.embedding_width_factor(num_fields)
    return (1, scale * base) if embedding == "single" else (scale, base)


def check_model_arguments(name: str, embedding: str, scale: int) -> None:
    """Raises ValueError unless the backbone, embedding mode and scale are valid (see `embedding_layout`)."""
    if import_backbone(name) not in BACKBONES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(BACKBONES))}, "
                         "or package.module:name for a backbone that module registers")
    if embedding not in EMBEDDING_MODES:
        raise ValueError(f"unknown embedding mode {embedding!r}; choose 'single' or 'multi'")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")


def build_model(name: str, field_dims: list[int], embedding: str = "single", scale: int = 1,
                embedding_dim: int | None = None, hidden_units: tuple[int, ...] = (400, 400), dropout: float = 0.2,
                synchronized_batch_norm: bool = False, projection: str = "mlp", table_row_multiple: int = 1,
                **interaction_overrides) -> MultiEmbedding:
    """Builds a single- or multi-embedding CTR model for a named backbone at a scale.

    The model holds the same number of embedding parameters at a given scale in both modes (see
    `embedding_layout`); it is built but not compiled, and named "{name}_{embedding}_{scale}x".

    Args:
        name: str. Backbone, one of `BACKBONES`, or "package.module:name" (see `import_backbone`).
        field_dims: list of int. Per-field cardinalities (OOV id included).
        embedding: str. "single" or "multi". Defaults to "single".
        scale: int. The scaling factor s (1, 2, 3, 4, 10 in the paper). Defaults to 1.
        embedding_dim: int or None. Base size K0; `None` uses the paper's: 10, 50 for NFwFM,
            4 per field pair for FFM. Defaults to `None`.
        hidden_units: sequence of int. MLP widths, see `MultiEmbedding`. Defaults to
            (400, 400).
        dropout: float. Dropout rate of every MLP block. Defaults to 0.2.
        synchronized_batch_norm: bool. Batch statistics over all replicas. Defaults to `False`.
        projection: str. "mlp" (the paper's) or "linear" (Appendix E diagnostic), see
            `MultiEmbedding`. Defaults to "mlp".
        table_row_multiple: int. Pads the embedding table's rows to a multiple of this (a row-sharded
            table's device count), see `MultiEmbedding`. Defaults to 1.
        **interaction_overrides: Arguments of the backbone's interaction layer (e.g.
            `num_layers`), over the defaults in `BACKBONES`.

    Returns:
        A built `MultiEmbedding` mapping int ids (batch, len(field_dims)) to click
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
    name = import_backbone(name)
    interaction_class, _, defaults = BACKBONES[name]
    interaction = interaction_class(**{**defaults, **interaction_overrides}, name=name)
    model = MultiEmbedding(
        field_dims, interaction, num_sets=num_sets, embedding_dim=width, hidden_units=hidden_units,
        dropout=dropout, synchronized_batch_norm=synchronized_batch_norm, projection=projection,
        table_row_multiple=table_row_multiple, name=f"{name}_{embedding}_{scale}x",
    )
    model.build((None, len(field_dims)))
    return model
