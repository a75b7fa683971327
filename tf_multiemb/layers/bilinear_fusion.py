"""FinalMLP's multi-head bilinear fusion of two stream outputs (Mao et al., AAAI 2023, Eq. 3-4)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_multiemb")
class MultiHeadBilinearFusion(keras.layers.Layer):
    """logit = b + w_1^T o_1 + w_2^T o_2 + sum_h o_{1,h}^T W_h o_{2,h}: (batch, 2, U) -> (batch, 1).

    o_1, o_2 are split into H heads of width U/H; each head has its own bilinear matrix W_h.
    """

    def __init__(self, num_heads=1, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)

    def build(self, input_shape):
        units = input_shape[-1]
        if units % self.num_heads:
            raise ValueError(f"stream width {units} is not divisible by num_heads={self.num_heads}")
        head_width = units // self.num_heads
        self.linear_kernel = self.add_weight(name="linear_kernel", shape=(2, units), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(1,), initializer="zeros")
        # Zero-initialised: fusion starts linear; Glorot on a U/H x U/H bilinear form gives logits of
        # magnitude ~10 at initialisation and training then stalls (measured on the Criteo sample).
        self.bilinear_kernel = self.add_weight(name="bilinear_kernel", shape=(self.num_heads, head_width, head_width),
                                               initializer="zeros")

    def call(self, streams):
        linear = ops.sum(ops.multiply(streams, self.linear_kernel), axis=(1, 2))
        heads = ops.reshape(streams, (-1, 2, self.num_heads, streams.shape[-1] // self.num_heads))
        first, second = heads[:, 0], heads[:, 1]
        bilinear = ops.sum(ops.multiply(ops.einsum("bhi,hij->bhj", first, self.bilinear_kernel), second), axis=(1, 2))
        return ops.expand_dims(ops.add(ops.add(linear, bilinear), self.bias), -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads)
        return config
