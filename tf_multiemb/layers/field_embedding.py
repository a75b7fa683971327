"""Packed per-field embedding tables with M embedding sets (paper Section 2, Eq. 1; Section 5.1)."""

import math

import keras
from keras import ops

from tf_multiemb.types import InitializerLike, Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FieldEmbedding(keras.layers.Layer):
    """Looks up M embedding sets of width K for N categorical fields.

    All fields live in one table of shape (sum_i D_i, M * K); field i owns the rows
    [offset_i, offset_i + D_i). Columns [m*K, (m+1)*K) are embedding set m, so the
    single-embedding model is the special case M = 1.

    With `row_multiple` > 1 the table gets zero rows after the last field's, up to a multiple of
    `row_multiple`, so that it splits evenly between that many devices (`trainers.fit
    --shard_embeddings`). No id reaches them: they stay zero under training (a zero gradient and a
    zero L2 term), and `field_rows`, information abundance and the export leave them out.

    Args:
        field_dims: list of int. The cardinality D_i of every field.
        embedding_dim: int. K, the width of one set.
        num_sets: int. M, the number of embedding sets. Defaults to 1.
        embeddings_initializer: str or `keras.initializers.Initializer`. Initializer of the
            table's real rows (padding rows are zero). Defaults to `"glorot_uniform"`.
        row_multiple: int. The table's row count is rounded up to a multiple of this. Defaults to 1.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        int tensor (batch, N) of per-field ids, field i's in [0, D_i).

    Output shape:
        (batch, M, N, K).

    Example:

    >>> import numpy as np
    >>> layer = FieldEmbedding(field_dims=[3, 5], embedding_dim=4, num_sets=2)
    >>> tuple(layer(np.array([[0, 4], [2, 1]])).shape)
    (2, 2, 2, 4)
    >>> tuple(layer.embeddings.shape), layer.field_rows(1)  # one table, field 1 in rows 3..7
    ((8, 8), (3, 8))
    >>> padded = FieldEmbedding(field_dims=[3, 5], embedding_dim=4, row_multiple=3)
    >>> _ = padded(np.array([[0, 4]]))
    >>> tuple(padded.embeddings.shape), padded.vocabulary_size  # one zero row: 9 rows split in 3
    ((9, 4), 8)

    References:
        Guo et al., ICML 2024, Section 2 (embedding layers E_i) and Section 5.1 (M sets).
    """

    def __init__(self, field_dims: list[int], embedding_dim: int, num_sets: int = 1,
                 embeddings_initializer: InitializerLike = "glorot_uniform", row_multiple: int = 1,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not field_dims or min(field_dims) < 1:
            raise ValueError(f"field_dims must be a non-empty list of positive ints, got {field_dims!r}")
        self.field_dims = [int(d) for d in field_dims]
        self.embedding_dim = int(embedding_dim)
        self.num_sets = int(num_sets)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        offsets, total = [], 0
        for dim in self.field_dims:
            offsets.append(total)
            total += dim
        self._offsets = offsets
        self.vocabulary_size = total
        if int(row_multiple) < 1:
            raise ValueError(f"row_multiple must be a positive int, got {row_multiple!r}")
        self.row_multiple = int(row_multiple)
        self.padded_rows = math.ceil(total / self.row_multiple) * self.row_multiple

    def build(self, input_shape: Shape) -> None:
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.padded_rows, self.num_sets * self.embedding_dim),
            initializer=self._initial_table,
            autocast=False,  # cast the gathered rows, not the whole table, under mixed precision
        )

    def _initial_table(self, shape: Shape, dtype=None) -> Tensor:
        """The initializer's values for the real rows (as without padding), then the zero padding rows."""
        table = self.embeddings_initializer((self.vocabulary_size, shape[1]), dtype=dtype)
        return ops.pad(table, ((0, shape[0] - self.vocabulary_size), (0, 0)))

    def field_rows(self, field_index: int) -> tuple[int, int]:
        """The (start, stop) row range of field `field_index` in the packed table."""
        start = self._offsets[field_index]
        return start, start + self.field_dims[field_index]

    def call(self, ids: Tensor) -> Tensor:
        rows = ops.add(ops.cast(ids, "int32"), ops.convert_to_tensor(self._offsets, dtype="int32"))
        # Gathering from the backend variable (`.value`) lets TensorFlow read only the looked-up rows
        # (ResourceGather) instead of the whole table, which row-sparse optimizer updates make a copy.
        vectors = ops.cast(ops.take(self.embeddings.value, rows, axis=0), self.compute_dtype)  # (B, N, M*K)
        vectors = ops.reshape(vectors, (-1, len(self.field_dims), self.num_sets, self.embedding_dim))
        return ops.transpose(vectors, (0, 2, 1, 3))

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        return (input_shape[0], self.num_sets, len(self.field_dims), self.embedding_dim)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            field_dims=self.field_dims,
            embedding_dim=self.embedding_dim,
            num_sets=self.num_sets,
            embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer),
            row_multiple=self.row_multiple,
        )
        return config
