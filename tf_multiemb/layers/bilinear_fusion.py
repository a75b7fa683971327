"""FinalMLP's multi-head bilinear fusion of two stream outputs (Mao et al., AAAI 2023, Eq. 3-4)."""

import keras
from keras import ops

from tf_multiemb.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class MultiHeadBilinearFusion(keras.layers.Layer):
    """FinalMLP's output layer: multi-head bilinear fusion of two stream outputs into a logit.

    logit = b + w_1^T o_1 + w_2^T o_2 + sum_h o_{1,h}^T W_h o_{2,h}, where o_1, o_2 are split
    into H heads of width d = U/H and each head has its own bilinear matrix W_h.

    W_h is stored as `bilinear_kernel[h] = d * W_h` (the form is computed as o^T kernel o / d). This
    is a reparametrisation of Eq. 4, not a different model: every W_h is reachable. It matters for
    training: the stream outputs are post-ReLU (all >= 0), so the gradient o_{1,h} o_{2,h}^T of W_h
    has one sign in nearly every entry, and Adam moves every entry by about the learning rate per
    step. Unscaled, one step then moves the logit by ~lr * (sum_i o_1i)(sum_j o_2j) ~ lr * d^2,
    i.e. several logits per step at d = 200. With the 1/d the bilinear term moves ~lr * d per step,
    like the linear terms w^T o (the same reasoning as the 1/sqrt(d) of scaled dot-product
    attention). The bilinear kernel starts at zero, so the fusion starts as its linear part.

    Args:
        num_heads: int. H; must divide the stream width U. Defaults to 1.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, 2, U): the two stream outputs o_1, o_2.

    Output shape:
        (batch, 1): the logit.

    Example:

    >>> import numpy as np
    >>> fusion = MultiHeadBilinearFusion(num_heads=2)
    >>> tuple(fusion(np.ones((3, 2, 8), dtype="float32")).shape)
    (3, 1)
    >>> tuple(fusion.bilinear_kernel.shape)  # H heads of d x d, d = 8 / 2
    (2, 4, 4)

    References:
        - Guo et al., ICML 2024, Appendix C.2 (FinalMLP under multi-embedding).
        - Mao et al., "FinalMLP", AAAI 2023, Eq. (3)-(4).
    """

    def __init__(self, num_heads: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)

    def build(self, input_shape: Shape) -> None:
        units = input_shape[-1]
        if units % self.num_heads:
            raise ValueError(f"stream width {units} is not divisible by num_heads={self.num_heads}")
        head_width = units // self.num_heads
        self.linear_kernel = self.add_weight(name="linear_kernel", shape=(2, units), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(1,), initializer="zeros")
        # Zero-initialised: the fusion starts as its linear part (the 1/d scaling in `call` keeps
        # the form's updates from swamping it, see the class docstring).
        self.bilinear_kernel = self.add_weight(name="bilinear_kernel", shape=(self.num_heads, head_width, head_width),
                                               initializer="zeros")

    def call(self, streams: Tensor) -> Tensor:
        linear = ops.sum(ops.multiply(streams, self.linear_kernel), axis=(1, 2))
        head_width = streams.shape[-1] // self.num_heads
        heads = ops.reshape(streams, (-1, 2, self.num_heads, head_width))
        first, second = heads[:, 0], heads[:, 1]
        bilinear = ops.sum(ops.multiply(ops.einsum("bhi,hij->bhj", first, self.bilinear_kernel), second), axis=(1, 2))
        bilinear = ops.divide(bilinear, float(head_width))  # W_h = bilinear_kernel[h] / d (class docstring)
        return ops.expand_dims(ops.add(ops.add(linear, bilinear), self.bias), -1)

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        return (input_shape[0], 1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads)
        return config
