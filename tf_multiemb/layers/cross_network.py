"""DCNv2 cross network (Wang et al., WWW 2021, Eq. 1), stacked, one per embedding set."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_multiemb")
class CrossNetV2(keras.layers.Layer):
    """Full-rank cross layers x_{l+1} = x_0 * (x_l W_l + b_l) + x_l, set-specific weights.

    Input: embeddings (batch, M, N, K). Each set's N*K embedding vector is flattened to x_0 and
    crossed through `num_layers` layers with weights W_l^{(m)} in R^{NK x NK}; all sets are
    computed in one einsum per layer. Output (batch, M, N*K), the "stacked" DCNv2 whose output
    feeds the MLP, as in the paper's code (REFERENCE.md). With M = 1 each layer equals
    `keras_rs.layers.FeatureCross` with `diag_scale=0`.

    `W_l` uses the input-major layout of `keras.layers.Dense` (x @ W), so the block
    W_l[i*K:(i+1)*K, j*K:(j+1)*K] maps field i's embedding into field j's output slot.
    """

    def __init__(self, num_layers=4, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        num_sets, num_fields, dim = input_shape[1], input_shape[2], input_shape[3]
        width = num_fields * dim
        self.kernels = [
            self.add_weight(name=f"kernel_{l}", shape=(num_sets, width, width), initializer=self.kernel_initializer)
            for l in range(self.num_layers)
        ]
        self.biases = [
            self.add_weight(name=f"bias_{l}", shape=(num_sets, width), initializer="zeros")
            for l in range(self.num_layers)
        ]

    def call(self, embeddings):
        num_sets = embeddings.shape[1]
        x0 = ops.reshape(embeddings, (-1, num_sets, embeddings.shape[2] * embeddings.shape[3]))
        x = x0
        for kernel, bias in zip(self.kernels, self.biases):
            x = ops.add(ops.multiply(x0, ops.add(ops.einsum("bmd,mde->bme", x, kernel), bias)), x)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[2] * input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
