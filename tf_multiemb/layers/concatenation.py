"""DNN interaction: concatenation of the field embeddings (Covington et al., RecSys 2016; paper Appendix E)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FieldConcatenation(keras.layers.Layer):
    """I(e_1, ..., e_N) = [e_1, ..., e_N]: (batch, M, N, K) -> (batch, M, N*K), no weights.

    The interaction is linear, so the model's per-set projection (the DNN's first hidden layer)
    is what makes multi-embedding differ from single-embedding (paper Appendix C.2, E).
    """

    def call(self, embeddings, training=None):
        return ops.reshape(embeddings, (-1, embeddings.shape[1], embeddings.shape[2] * embeddings.shape[3]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[2] * input_shape[3])
