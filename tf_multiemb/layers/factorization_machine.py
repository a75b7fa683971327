"""FM interaction as a K-vector: Bi-Interaction pooling (Rendle, ICDM 2010, Eq. 1 and Lemma 3.1;
He & Chua, SIGIR 2017, Eq. 4)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FactorizationMachineInteraction(keras.layers.Layer):
    """v = sum_{i<j} e_i * e_j = ((sum_i e_i)^2 - sum_i e_i^2) / 2: (batch, M, N, K) -> (batch, M, K).

    FM's second-order score is sum_k v_k; the per-set projection that follows generalises that sum
    (FM's interaction is linear in the pair products, paper Appendix C.2). With `first_order`
    (default) the output is [v, sum_i e_i, (<1, e_i>)_i] (batch, M, 2K + N): FM's linear term
    w_{x_i} read off each field's embedding, plus the pooled embedding sum, so the projection sees
    every value's own weight. Without them the model must express each value's own click rate
    through pair products and trains poorly (Criteo sample, 3 seeds: test AUC 0.54-0.65 without;
    0.67-0.71 with; DNN 0.68-0.70). No weights.
    """

    def __init__(self, first_order=True, **kwargs):
        super().__init__(**kwargs)
        self.first_order = bool(first_order)

    def call(self, embeddings, training=None):
        square_of_sum = ops.square(ops.sum(embeddings, axis=2))
        sum_of_squares = ops.sum(ops.square(embeddings), axis=2)
        pairwise = ops.multiply(0.5, ops.subtract(square_of_sum, sum_of_squares))
        return with_first_order(pairwise, embeddings) if self.first_order else pairwise

    def compute_output_shape(self, input_shape):
        extra = input_shape[3] + input_shape[2] if self.first_order else 0
        return (input_shape[0], input_shape[1], input_shape[3] + extra)

    def get_config(self):
        config = super().get_config()
        config["first_order"] = self.first_order
        return config


def with_first_order(pairwise, embeddings):
    """[pairwise, sum_i e_i, <1, e_i> for every field i] along the feature axis (FM's linear terms)."""
    return ops.concatenate([pairwise, ops.sum(embeddings, axis=2), ops.sum(embeddings, axis=-1)], axis=-1)
