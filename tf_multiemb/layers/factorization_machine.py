"""FM interaction as a K-vector: Bi-Interaction pooling (Rendle, ICDM 2010, Eq. 1 and Lemma 3.1;
He & Chua, SIGIR 2017, Eq. 4)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FactorizationMachineInteraction(keras.layers.Layer):
    """v = sum_{i<j} e_i * e_j = ((sum_i e_i)^2 - sum_i e_i^2) / 2: (batch, M, N, K) -> (batch, M, K).

    FM's score is sum_k v_k; the per-set projection that follows generalises that sum (FM's
    interaction is linear in the pair products, paper Appendix C.2). No weights.
    """

    def call(self, embeddings, training=None):
        square_of_sum = ops.square(ops.sum(embeddings, axis=2))
        sum_of_squares = ops.sum(ops.square(embeddings), axis=2)
        return ops.multiply(0.5, ops.subtract(square_of_sum, sum_of_squares))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[3])
