"""NFwFM interaction: field-weighted pairwise products pooled to a K-vector (Pan et al., WWW 2018, Eq. 3;
the "N" variant keeps the vector and feeds it to an MLP, as in the authors' released code, docs/design.md)."""

import keras
from keras import ops

from tf_multiemb.types import InitializerLike, Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FieldWeightedInteraction(keras.layers.Layer):
    """NFwFM's field-weighted pairwise interaction pooled to a K-vector, per set.

    v = sum_{i,j} r_ij (e_i * e_j), where r^{(m)} is a full N x N matrix per set (all ordered
    pairs, the diagonal included), as in the authors' released code (docs/design.md). Computed
    as two einsums: t_j = sum_i r_ij e_i, then v = sum_j t_j * e_j. Linear in the pair products,
    so the per-set projection follows it. r starts at all ones: the FM-like sum of all pair
    products.

    Args:
        weight_initializer: str or `keras.initializers.Initializer`. Initializer of the
            (M, N, N) field-pair weights r. Defaults to `"ones"`.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, N, K).

    Output shape:
        (batch, M, K).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> embeddings = np.array([[[[1, 2], [3, 4]]]], dtype="float32")  # N = 2 fields, K = 2
    >>> ops.convert_to_numpy(FieldWeightedInteraction()(embeddings))  # (e_1 + e_2)^2 with r = 1
    array([[[16., 36.]]], dtype=float32)

    References:
        - Guo et al., ICML 2024, Appendix C.2 (NFwFM under multi-embedding).
        - Pan et al., "Field-weighted Factorization Machines", WWW 2018, Eq. (3).
    """

    def __init__(self, weight_initializer: InitializerLike = "ones", **kwargs) -> None:
        super().__init__(**kwargs)
        self.weight_initializer = keras.initializers.get(weight_initializer)

    def build(self, input_shape: Shape) -> None:
        num_sets, num_fields = input_shape[1], input_shape[2]
        self.field_pair_weights = self.add_weight(
            name="field_pair_weights", shape=(num_sets, num_fields, num_fields), initializer=self.weight_initializer)

    def call(self, embeddings: Tensor, training: bool | None = None) -> Tensor:
        weighted = ops.einsum("bmik,mij->bmjk", embeddings, self.field_pair_weights)
        return ops.sum(ops.multiply(weighted, embeddings), axis=2)

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        return (input_shape[0], input_shape[1], input_shape[3])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(weight_initializer=keras.initializers.serialize(self.weight_initializer))
        return config
