"""IPNN interaction: pairwise inner products and the flat embeddings (Qu et al., ICDM 2016, Eq. 3-6)."""

import keras
from keras import ops
from keras_rs.layers import DotInteraction


@keras.saving.register_keras_serializable(package="tf_multiemb")
class InnerProductInteraction(keras.layers.Layer):
    """[e_1, ..., e_N, <e_i, e_j> for i < j]: (batch, M, N, K) -> (batch, M, N*K + N(N-1)/2).

    The product layer of IPNN (l_z = the embeddings, l_p = the N(N-1)/2 inner products); its first
    hidden layer is the model's per-set projection. The sets are folded into the batch axis and the
    products come from `keras_rs.layers.DotInteraction` (no weights, so nothing is shared).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dot_interaction = DotInteraction(self_interaction=False, name="dot_interaction")

    def build(self, input_shape):
        field_shape = (None, input_shape[3])
        self.dot_interaction.build([field_shape] * input_shape[2])

    def call(self, embeddings, training=None):
        num_sets, num_fields, dim = embeddings.shape[1], embeddings.shape[2], embeddings.shape[3]
        per_example_set = ops.reshape(embeddings, (-1, num_fields, dim))
        products = self.dot_interaction(ops.unstack(per_example_set, num=num_fields, axis=1))
        products = ops.reshape(products, (-1, num_sets, num_fields * (num_fields - 1) // 2))
        flat = ops.reshape(embeddings, (-1, num_sets, num_fields * dim))
        return ops.concatenate([flat, products], axis=-1)

    def compute_output_shape(self, input_shape):
        num_fields = input_shape[2]
        return (input_shape[0], input_shape[1], num_fields * input_shape[3] + num_fields * (num_fields - 1) // 2)
