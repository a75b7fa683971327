"""xDeepFM interaction: Compressed Interaction Network beside the plain DNN input (Lian et al., KDD 2018, Eq. 6-9)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_multiemb")
class CompressedInteraction(keras.layers.Layer):
    """[sum-pooled CIN feature maps, e_1, ..., e_N]: (batch, M, N, K) -> (batch, M, sum(H_l) + N*K).

    CIN: X^0 = the N x K embedding matrix, X^l_h = sum_{i,j} W^{l,h}_{ij} (X^{l-1}_i * X^0_j)
    (Eq. 6, linear, no bias), each layer's H_l feature maps sum-pooled over K (Eq. 8) and all
    layers concatenated. xDeepFM's DNN branch reads the flat embeddings; here both are concatenated
    so the model's per-set projection is at the same time the DNN's first hidden layer and a
    non-linear layer on the CIN output. The paper's code instead averages the CIN output over sets
    and adds it to the logit (Appendix C.2); feeding it through the projection keeps one wrapper.
    Weights W^l have shape (M, H_{l-1}, N, H_l): all sets in one einsum per layer.
    """

    def __init__(self, layer_sizes=(16, 16), kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.layer_sizes = [int(h) for h in layer_sizes]
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        num_sets, num_fields = input_shape[1], input_shape[2]
        previous = num_fields
        self.kernels = []
        for index, size in enumerate(self.layer_sizes):
            self.kernels.append(self.add_weight(
                name=f"kernel_{index}", shape=(num_sets, previous, num_fields, size),
                initializer=self.kernel_initializer))
            previous = size

    def call(self, embeddings, training=None):
        num_sets, num_fields, dim = embeddings.shape[1], embeddings.shape[2], embeddings.shape[3]
        hidden, pooled = embeddings, []
        for kernel in self.kernels:
            outer = ops.multiply(ops.expand_dims(hidden, 3), ops.expand_dims(embeddings, 2))  # (B, M, H, N, K)
            hidden = ops.einsum("bmhnk,mhng->bmgk", outer, kernel)
            pooled.append(ops.sum(hidden, axis=-1))
        flat = ops.reshape(embeddings, (-1, num_sets, num_fields * dim))
        return ops.concatenate([*pooled, flat], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], sum(self.layer_sizes) + input_shape[2] * input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update(layer_sizes=self.layer_sizes,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config
