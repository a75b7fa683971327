"""DNN interaction: concatenation of the field embeddings (Covington et al., RecSys 2016; paper Appendix E)."""

import keras
from keras import ops

from tf_multiemb.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class FieldConcatenation(keras.layers.Layer):
    """DNN's interaction: the field embeddings of every set concatenated, I(e_1..e_N) = [e_1..e_N].

    No weights. The interaction is linear, so the model's per-set projection (the DNN's first
    hidden layer) is what makes multi-embedding differ from single-embedding.

    Input shape:
        (batch, M, N, K).

    Output shape:
        (batch, M, N*K): [e_1, ..., e_N] of every set.

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> embeddings = np.arange(12.0, dtype="float32").reshape(1, 1, 3, 4)
    >>> ops.convert_to_numpy(FieldConcatenation()(embeddings))[0, 0, 4:8]  # field 1's embedding
    array([4., 5., 6., 7.], dtype=float32)

    References:
        - Guo et al., ICML 2024, Appendix C.2 and Appendix E (DNN).
        - Covington et al., "Deep Neural Networks for YouTube Recommendations", RecSys 2016.
    """

    def call(self, embeddings: Tensor, training: bool | None = None) -> Tensor:
        return ops.reshape(embeddings, (-1, embeddings.shape[1], embeddings.shape[2] * embeddings.shape[3]))

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        return (input_shape[0], input_shape[1], input_shape[2] * input_shape[3])
