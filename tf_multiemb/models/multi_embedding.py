"""The multi-embedding CTR model (paper Section 5.1, Figure 7; Appendix C.2).

    e^(m) = FieldEmbedding_m(x)            m = 1..M   (M sets of width K)
    h_m   = P_m(I_m(e^(m)))                set-specific interaction I_m, non-linear projection P_m
    h     = mean_m h_m
    y     = sigmoid(F(h))                  F: the MLP head, one hidden layer shallower than SE's MLP

Single embedding is M = 1: P_1 is then simply the first hidden layer of the usual MLP, so SE and
ME share one code path and have the same depth.

Two-stream backbones (FinalMLP) declare `num_streams = S` on their interaction and return
(batch, M, S * F): S equal-width streams. Every (set, stream) pair gets its own projection, the
mean over sets is taken per stream (paper Appendix C.2: "we average the two-stream outputs
respectively"), the head layers are per stream, and the interaction's `make_fusion` layer replaces
the final Dense(1), mapping (batch, S, U) to a logit.

`projection="linear"` drops BatchNorm, ReLU and dropout from P_m. It exists for the paper's
Appendix E argument: with linear interaction and linear projection ME equals SE under a weight
mapping, so it is a diagnostic, not a model to train.
"""

import keras
from keras import ops

from tf_multiemb.layers.field_embedding import FieldEmbedding
from tf_multiemb.layers.mlp import MLPBlock
from tf_multiemb.layers.set_dense import SetDense
from tf_multiemb.types import Shape, Tensor

PROJECTIONS = ("mlp", "linear")


@keras.saving.register_keras_serializable(package="tf_multiemb")
class MultiEmbedding(keras.Model):
    """The multi-embedding CTR model: M embedding sets, each with its own interaction, averaged.

    Embedding sets -> per-set interaction -> per-set projection -> mean over sets -> MLP head ->
    click probability (the equations are in the module docstring). M = 1 is the single-embedding
    model with the same code path and depth. `build_model` builds one for a named backbone.

    Args:
        field_dims: list of int. Cardinality D_i of every field (OOV included), in field order.
        interaction: `keras.layers.Layer`. Maps (batch, M, N, K) embeddings to (batch, M, F) and
            owns separate weights for each of the M sets; a two-stream layer also declares
            `num_streams` and `make_fusion`.
        num_sets: int. M; 1 is the single-embedding model. Defaults to 1.
        embedding_dim: int. K, the width of each set. Defaults to 10.
        hidden_units: sequence of int. The MLP widths; the first is the per-set projection, the
            rest the shared head. Defaults to (400, 400).
        dropout: float. Dropout rate of every MLP block. Defaults to 0.2.
        synchronized_batch_norm: bool. Batch statistics over all replicas (multi-device
            training). Defaults to `False`.
        projection: str. "mlp" (Dense -> BN -> ReLU -> Dropout, the paper's P_m) or "linear"
            (Dense only, the Appendix E diagnostic). Defaults to "mlp".
        table_row_multiple: int. Zero rows pad the embedding table to a multiple of this (the
            device count of a row-sharded table, see `FieldEmbedding`). Defaults to 1.
        **kwargs: Arguments of `keras.Model` (e.g. `name`).

    Input shape:
        int tensor (batch, N) of per-field ids, field i's in [0, D_i).

    Output shape:
        (batch, 1) float32 click probabilities.

    Example:

    >>> import numpy as np
    >>> from tf_multiemb.layers import FieldConcatenation
    >>> model = MultiEmbedding([5, 7, 3], FieldConcatenation(), num_sets=2, embedding_dim=4,
    ...                             hidden_units=(8, 6))
    >>> probabilities = model(np.array([[0, 6, 2], [4, 1, 0]]))
    >>> tuple(probabilities.shape), model.embedding_parameter_count()  # 15 rows * 2 sets * 4
    ((2, 1), 120)

    References:
        Guo et al., ICML 2024, Section 5.1 (Figure 7), Appendix C.2 and Appendix E.
    """

    def __init__(self, field_dims: list[int], interaction: keras.layers.Layer, num_sets: int = 1,
                 embedding_dim: int = 10, hidden_units: tuple[int, ...] = (400, 400), dropout: float = 0.2,
                 synchronized_batch_norm: bool = False, projection: str = "mlp", table_row_multiple: int = 1,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not hidden_units:
            raise ValueError("hidden_units needs at least one layer: the first one is the per-set projection")
        if projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {PROJECTIONS}, got {projection!r}")
        self.field_dims = [int(d) for d in field_dims]
        self.num_sets = int(num_sets)
        self.embedding_dim = int(embedding_dim)
        self.hidden_units = [int(u) for u in hidden_units]
        self.dropout = float(dropout)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self.projection_kind = projection
        self.num_streams = int(getattr(interaction, "num_streams", 1))
        self.field_embedding = FieldEmbedding(self.field_dims, self.embedding_dim, self.num_sets,
                                              row_multiple=table_row_multiple, name="field_embedding")
        self.interaction = interaction
        blocks = [MLPBlock(u, self.dropout, self.synchronized_batch_norm, name=f"mlp_{i}")
                  for i, u in enumerate(self.hidden_units)]
        self.projection, self.head = blocks[0], blocks[1:]
        if projection == "linear":
            self.projection = SetDense(self.hidden_units[0], name="linear_projection")
        self.output_layer = (interaction.make_fusion(name="logit") if self.num_streams > 1
                             else keras.layers.Dense(1, name="logit"))

    def build(self, input_shape: Shape) -> None:
        batch = input_shape[0]
        self.field_embedding.build(input_shape)
        embedding_shape = self.field_embedding.compute_output_shape(input_shape)
        if not self.interaction.built:  # a deserialized interaction arrives already built
            self.interaction.build(embedding_shape)
        interaction_shape = self.interaction.compute_output_shape(embedding_shape)
        self.projection.build((batch, self.num_sets * self.num_streams, interaction_shape[-1] // self.num_streams))
        streams = () if self.num_streams == 1 else (self.num_streams,)
        shape = (batch, *streams, self.hidden_units[0])
        for block in self.head:
            block.build(shape)
            shape = (batch, *streams, block.units)
        self.output_layer.build(shape)

    def call(self, ids: Tensor, training: bool | None = None) -> Tensor:
        sets = self.interaction(self.field_embedding(ids), training=training)
        stream_width = sets.shape[-1] // self.num_streams
        # (batch, M, S*F) -> (batch, M*S, F): every (set, stream) pair is projected with its own weights.
        sets = ops.reshape(sets, (-1, self.num_sets * self.num_streams, stream_width))
        projected = self.projection(sets, training=training)
        hidden = ops.mean(ops.reshape(projected, (-1, self.num_sets, self.num_streams, self.hidden_units[0])), axis=1)
        if self.num_streams == 1:
            hidden = ops.squeeze(hidden, 1)
        for block in self.head:
            hidden = block(hidden, training=training)
        return ops.sigmoid(ops.cast(self.output_layer(hidden), "float32"))

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "field_dims": self.field_dims,
            "interaction": keras.saving.serialize_keras_object(self.interaction),
            "num_sets": self.num_sets,
            "embedding_dim": self.embedding_dim,
            "hidden_units": self.hidden_units,
            "dropout": self.dropout,
            "synchronized_batch_norm": self.synchronized_batch_norm,
            "projection": self.projection_kind,
            "table_row_multiple": self.field_embedding.row_multiple,
        }

    def get_build_config(self) -> dict:
        return {"input_shape": (None, len(self.field_dims))}

    def build_from_config(self, config: dict) -> None:
        self.build(config["input_shape"])

    @classmethod
    def from_config(cls, config: dict) -> "MultiEmbedding":
        config = dict(config)
        config["interaction"] = keras.saving.deserialize_keras_object(config["interaction"])
        return cls(**config)

    def embedding_parameter_count(self) -> int:
        """Parameters of all embedding sets: sum_i D_i * M * K."""
        return self.field_embedding.vocabulary_size * self.num_sets * self.embedding_dim


# The class's earlier name: code that imports it, and `.keras` files saved under it, keep working.
MultiEmbeddingModel = MultiEmbedding
keras.saving.get_custom_objects()["tf_multiemb>MultiEmbeddingModel"] = MultiEmbedding
