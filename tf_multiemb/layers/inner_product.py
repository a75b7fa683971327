"""IPNN interaction: pairwise inner products and the flat embeddings (Qu et al., ICDM 2016, Eq. 3-6)."""

import keras
from keras import ops
from keras_rs.layers import DotInteraction

from tf_multiemb.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class InnerProductInteraction(keras.layers.Layer):
    """IPNN's product layer: the flat embeddings and all pairwise inner products, per set.

    The output is [e_1, ..., e_N, <e_i, e_j> for i < j] (l_z = the embeddings, l_p = the
    N(N-1)/2 inner products); IPNN's first hidden layer is the model's per-set projection. The
    sets are folded into the batch axis and the products come from
    `keras_rs.layers.DotInteraction` (no weights, so nothing is shared between sets).

    Args:
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, N, K).

    Output shape:
        (batch, M, N*K + N(N-1)/2).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> embeddings = np.array([[[[1, 0], [0, 2], [1, 1]]]], dtype="float32")  # N = 3, K = 2
    >>> ops.convert_to_numpy(InnerProductInteraction()(embeddings))[0, 0, 6:]  # 3 inner products
    array([0., 1., 2.], dtype=float32)

    References:
        - Guo et al., ICML 2024, Appendix C.2 (IPNN under multi-embedding).
        - Qu et al., "Product-based Neural Networks", ICDM 2016, Eq. (3)-(6).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dot_interaction = DotInteraction(self_interaction=False, name="dot_interaction")

    def build(self, input_shape: Shape) -> None:
        field_shape = (None, input_shape[3])
        self.dot_interaction.build([field_shape] * input_shape[2])

    def call(self, embeddings: Tensor, training: bool | None = None) -> Tensor:
        num_sets, num_fields, dim = embeddings.shape[1], embeddings.shape[2], embeddings.shape[3]
        per_example_set = ops.reshape(embeddings, (-1, num_fields, dim))
        products = self.dot_interaction(ops.unstack(per_example_set, num=num_fields, axis=1))
        products = ops.reshape(products, (-1, num_sets, num_fields * (num_fields - 1) // 2))
        flat = ops.reshape(embeddings, (-1, num_sets, num_fields * dim))
        return ops.concatenate([flat, products], axis=-1)

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        num_fields = input_shape[2]
        return (input_shape[0], input_shape[1], num_fields * input_shape[3] + num_fields * (num_fields - 1) // 2)
