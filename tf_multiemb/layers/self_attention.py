"""AutoInt interaction: multi-head self-attention over fields with residual connections
(Song et al., CIKM 2019, Eq. 5-8)."""

import keras
from keras import ops

from tf_multiemb.types import InitializerLike, Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class SelfAttentionInteraction(keras.layers.Layer):
    """AutoInt's stacked interacting layers: multi-head self-attention over fields, per set.

    Per layer and head h: a_ij = softmax_j(<W_Q e_i, W_K e_j>) (Eq. 5, unscaled as in the paper),
    e_i^h = sum_j a_ij W_V e_j (Eq. 6); e_i <- ReLU([e_i^1, ..., e_i^H] + W_Res e_i) (Eq. 8),
    optionally followed by LayerNorm (as in FuxiCTR's AutoInt). All projections have a leading set
    axis M and are applied with one einsum. Head width d defaults to K, so the attention grows with
    the embedding when single-embedding is scaled. The flattened output feeds the per-set projection.

    Args:
        num_layers: int. Interacting layers. Defaults to 3.
        num_heads: int. H, attention heads per layer. Defaults to 2.
        head_dim: int or None. d, the width of one head; `None` uses K. Defaults to `None`.
        layer_norm: bool. LayerNorm after every layer. Defaults to `False`.
        kernel_initializer: str or `keras.initializers.Initializer`. Initializer of W_Q, W_K,
            W_V and W_Res. Defaults to `"glorot_uniform"`.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, N, K).

    Output shape:
        (batch, M, N * H * d), or (batch, M, N*K) with `num_layers=0`.

    Example:

    >>> import numpy as np
    >>> layer = SelfAttentionInteraction(num_layers=2, num_heads=2, head_dim=3)
    >>> tuple(layer(np.ones((2, 4, 5, 6), dtype="float32")).shape)  # 5 fields * 2 heads * 3
    (2, 4, 30)

    References:
        - Guo et al., ICML 2024, Appendix D (AutoInt).
        - Song et al., "AutoInt", CIKM 2019, Eq. (5)-(8).
    """

    def __init__(self, num_layers: int = 3, num_heads: int = 2, head_dim: int | None = None, layer_norm: bool = False,
                 kernel_initializer: InitializerLike = "glorot_uniform", **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        self.head_dim = None if head_dim is None else int(head_dim)
        self.layer_norm = bool(layer_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _attention_width(self, input_shape):
        return self.num_heads * (self.head_dim or input_shape[3])

    def build(self, input_shape: Shape) -> None:
        num_sets, input_width = input_shape[1], input_shape[3]
        width = self._attention_width(input_shape)
        self.attention_layers = []
        for index in range(self.num_layers):
            kernels = {
                role: self.add_weight(name=f"{role}_{index}", shape=(num_sets, input_width, width),
                                      initializer=self.kernel_initializer)
                for role in ("query", "key", "value", "residual")
            }
            if self.layer_norm:
                kernels["gamma"] = self.add_weight(name=f"gamma_{index}", shape=(num_sets, 1, width), initializer="ones")
                kernels["beta"] = self.add_weight(name=f"beta_{index}", shape=(num_sets, 1, width), initializer="zeros")
            self.attention_layers.append(kernels)
            input_width = width

    def _split_heads(self, x):
        return ops.reshape(x, (-1, x.shape[1], x.shape[2], self.num_heads, x.shape[3] // self.num_heads))

    def call(self, embeddings: Tensor, training: bool | None = None) -> Tensor:
        num_sets, num_fields = embeddings.shape[1], embeddings.shape[2]
        x = embeddings
        for kernels in self.attention_layers:
            query, key, value = (self._split_heads(ops.einsum("bmnd,mde->bmne", x, kernels[role]))
                                 for role in ("query", "key", "value"))
            scores = ops.softmax(ops.einsum("bmihd,bmjhd->bmhij", query, key), axis=-1)
            attended = ops.einsum("bmhij,bmjhd->bmihd", scores, value)
            attended = ops.reshape(attended, (-1, num_sets, num_fields, attended.shape[3] * attended.shape[4]))
            x = ops.relu(ops.add(attended, ops.einsum("bmnd,mde->bmne", x, kernels["residual"])))
            if self.layer_norm:
                mean, variance = ops.moments(x, axes=[-1], keepdims=True)
                normalized = ops.divide(ops.subtract(x, mean), ops.sqrt(ops.add(variance, 1e-6)))
                x = ops.add(ops.multiply(normalized, kernels["gamma"]), kernels["beta"])
        return ops.reshape(x, (-1, num_sets, num_fields * x.shape[3]))

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        width = self._attention_width(input_shape) if self.num_layers else input_shape[3]
        return (input_shape[0], input_shape[1], input_shape[2] * width)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_layers=self.num_layers, num_heads=self.num_heads, head_dim=self.head_dim,
                      layer_norm=self.layer_norm, kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config
