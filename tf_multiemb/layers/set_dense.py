"""Dense layers with independent weights per embedding set, computed as one batched matmul."""

import keras
from keras import ops

from tf_multiemb.types import InitializerLike, Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class SetDense(keras.layers.Layer):
    """M independent Dense layers, one per embedding set, as one batched matmul.

    y[:, m] = x[:, m] @ W_m + b_m for every set m. With M = 1 this is `keras.layers.Dense`; with
    M > 1 the M products run as one batched matmul over the set axis (transpose, matmul,
    transpose back), so multi-embedding costs one kernel launch, not M.
    tests/test_perf_equivalence.py checks it against the einsum "bmi,mio->bmo".

    Args:
        units: int. Output width of every set.
        use_bias: bool. Whether to add a per-set bias b_m. Defaults to `True`.
        kernel_initializer: str or `keras.initializers.Initializer`. Initializer of the
            (M, d_in, units) kernel. Defaults to `"glorot_uniform"`.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, d_in).

    Output shape:
        (batch, M, units).

    Example:

    >>> import numpy as np
    >>> layer = SetDense(units=4)
    >>> tuple(layer(np.ones((2, 3, 5), dtype="float32")).shape)
    (2, 3, 4)
    >>> tuple(layer.kernel.shape)  # one 5 x 4 kernel per set
    (3, 5, 4)

    References:
        Guo et al., ICML 2024, Section 5.1 (the set-specific modules of multi-embedding).
    """

    def __init__(self, units: int, use_bias: bool = True, kernel_initializer: InitializerLike = "glorot_uniform",
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape: Shape) -> None:
        num_sets, input_dim = input_shape[-2], input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(num_sets, input_dim, self.units), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(num_sets, self.units), initializer="zeros") if self.use_bias else None
        )

    def call(self, inputs: Tensor) -> Tensor:
        outputs = ops.transpose(ops.matmul(ops.transpose(inputs, (1, 0, 2)), self.kernel), (1, 0, 2))
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        return outputs

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
