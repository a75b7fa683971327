"""FM interaction as a K-vector: Bi-Interaction pooling (Rendle, ICDM 2010, Eq. 1 and Lemma 3.1;
He & Chua, SIGIR 2017, Eq. 4)."""

import keras
from keras import ops

from tf_multiemb.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FactorizationMachineInteraction(keras.layers.Layer):
    """FM's pairwise interaction as a K-vector (Bi-Interaction pooling), per set.

    v = sum_{i<j} e_i * e_j = ((sum_i e_i)^2 - sum_i e_i^2) / 2. FM's second-order score is
    sum_k v_k; the per-set projection that follows generalises that sum (FM's interaction is
    linear in the pair products). With `first_order` the output is [v, sum_i e_i, (<1, e_i>)_i]:
    FM's linear term w_{x_i} read off each field's embedding, plus the pooled embedding sum, so
    the projection sees every value's own weight; without them the model must express each
    value's own click rate through pair products. No weights.

    Args:
        first_order: bool. Append the first-order terms. Defaults to `True`.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, N, K).

    Output shape:
        (batch, M, 2K + N) with `first_order`, else (batch, M, K).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> embeddings = np.ones((1, 1, 3, 2), dtype="float32")  # 3 fields of [1, 1]: 3 pairs
    >>> ops.convert_to_numpy(FactorizationMachineInteraction(first_order=False)(embeddings))
    array([[[3., 3.]]], dtype=float32)
    >>> tuple(FactorizationMachineInteraction()(embeddings).shape)  # [v, sum_i e_i, <1, e_i>]
    (1, 1, 7)

    References:
        - Guo et al., ICML 2024, Section 4.1 (FM interaction) and Appendix C.2.
        - Rendle, "Factorization Machines", ICDM 2010, Eq. (1) and Lemma 3.1.
        - He & Chua, "Neural Factorization Machines", SIGIR 2017, Eq. (4).
    """

    def __init__(self, first_order: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.first_order = bool(first_order)

    def call(self, embeddings: Tensor, training: bool | None = None) -> Tensor:
        square_of_sum = ops.square(ops.sum(embeddings, axis=2))
        sum_of_squares = ops.sum(ops.square(embeddings), axis=2)
        pairwise = ops.multiply(0.5, ops.subtract(square_of_sum, sum_of_squares))
        return with_first_order(pairwise, embeddings) if self.first_order else pairwise

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        extra = input_shape[3] + input_shape[2] if self.first_order else 0
        return (input_shape[0], input_shape[1], input_shape[3] + extra)

    def get_config(self) -> dict:
        config = super().get_config()
        config["first_order"] = self.first_order
        return config


def with_first_order(pairwise: Tensor, embeddings: Tensor) -> Tensor:
    """Appends FM's first-order terms to a pairwise interaction vector.

    Args:
        pairwise: Tensor. The pairwise part, (batch, M, P).
        embeddings: Tensor. The field embeddings, (batch, M, N, K).

    Returns:
        [pairwise, sum_i e_i, <1, e_i> for every field i], shape (batch, M, P + K + N).
    """
    return ops.concatenate([pairwise, ops.sum(embeddings, axis=2), ops.sum(embeddings, axis=-1)], axis=-1)
