"""Packed per-field embedding tables with M embedding sets (paper Section 2, Eq. 1; Section 5.1)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FieldEmbedding(keras.layers.Layer):
    """Looks up M embedding sets of width K for N categorical fields.

    All fields live in one table of shape (sum_i D_i, M * K); field i owns the rows
    [offset_i, offset_i + D_i). Columns [m*K, (m+1)*K) are embedding set m, so the
    single-embedding model is the special case M = 1.

    Input: int tensor (batch, N) of per-field ids in [0, D_i).
    Output: float tensor (batch, M, N, K).
    """

    def __init__(self, field_dims, embedding_dim, num_sets=1, embeddings_initializer="glorot_uniform", **kwargs):
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

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.vocabulary_size, self.num_sets * self.embedding_dim),
            initializer=self.embeddings_initializer,
            autocast=False,  # cast the gathered rows, not the whole table, under mixed precision
        )

    def field_rows(self, field_index):
        """The (start, stop) row range of field `field_index` in the packed table."""
        start = self._offsets[field_index]
        return start, start + self.field_dims[field_index]

    def call(self, ids):
        rows = ops.add(ops.cast(ids, "int32"), ops.convert_to_tensor(self._offsets, dtype="int32"))
        # Gathering from the backend variable (`.value`) lets TensorFlow read only the looked-up rows
        # (ResourceGather) instead of the whole table, which row-sparse optimizer updates make a copy.
        vectors = ops.cast(ops.take(self.embeddings.value, rows, axis=0), self.compute_dtype)  # (B, N, M*K)
        vectors = ops.reshape(vectors, (-1, len(self.field_dims), self.num_sets, self.embedding_dim))
        return ops.transpose(vectors, (0, 2, 1, 3))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_sets, len(self.field_dims), self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            field_dims=self.field_dims,
            embedding_dim=self.embedding_dim,
            num_sets=self.num_sets,
            embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer),
        )
        return config
