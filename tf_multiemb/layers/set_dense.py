"""Dense layers with independent weights per embedding set, computed as one batched matmul."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_multiemb")
class SetDense(keras.layers.Layer):
    """y[:, m] = x[:, m] @ W_m + b_m for every set m: (batch, M, d_in) -> (batch, M, units).

    With M = 1 this is `keras.layers.Dense`; with M > 1 it is M Dense layers evaluated as one
    batched matmul over the set axis, so multi-embedding costs one kernel launch, not M. On
    TensorFlow/CPU, transpose + batched matmul trains faster than the equivalent einsum
    "bmi,mio->bmo" (tests/test_perf_equivalence.py checks they agree).
    """

    def __init__(self, units, use_bias=True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        num_sets, input_dim = input_shape[-2], input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(num_sets, input_dim, self.units), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(num_sets, self.units), initializer="zeros") if self.use_bias else None
        )

    def call(self, inputs):
        outputs = ops.transpose(ops.matmul(ops.transpose(inputs, (1, 0, 2)), self.kernel), (1, 0, 2))
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        return outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
