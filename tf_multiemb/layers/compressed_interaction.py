"""xDeepFM interaction: Compressed Interaction Network beside the plain DNN input (Lian et al., KDD 2018, Eq. 6-9)."""

import keras
from keras import ops

from tf_multiemb.types import InitializerLike, Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class CompressedInteraction(keras.layers.Layer):
    """xDeepFM's interaction: sum-pooled CIN feature maps beside the flat embeddings, per set.

    The output is [p^1, ..., p^L, e_1, ..., e_N]. CIN: X^0 = the N x K embedding matrix,
    X^l_h = sum_{i,j} W^{l,h}_{ij} (X^{l-1}_i * X^0_j) (Eq. 6, linear, no bias), each layer's H_l
    feature maps p^l sum-pooled over K (Eq. 8) and all layers concatenated. xDeepFM's DNN branch
    reads the flat embeddings; here both are concatenated so the model's per-set projection is at
    the same time the DNN's first hidden layer and a non-linear layer on the CIN output. The
    authors' released code instead averages the CIN output over sets and adds it to the logit
    (Appendix C.2; docs/design.md, "Deviations from the original architectures"); feeding it
    through the projection keeps one wrapper.
    Weights W^l have shape (M, H_{l-1}, N, H_l): all sets in one batched matmul per layer.

    Args:
        layer_sizes: sequence of int. H_l, the feature maps of every CIN layer. Defaults to
            (16, 16).
        kernel_initializer: str or `keras.initializers.Initializer`. Initializer of W^l.
            Defaults to `"glorot_uniform"`.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, N, K).

    Output shape:
        (batch, M, sum(H_l) + N*K).

    Example:

    >>> import numpy as np
    >>> layer = CompressedInteraction(layer_sizes=(3, 2))
    >>> tuple(layer(np.ones((2, 4, 5, 6), dtype="float32")).shape)  # 3 + 2 + 5 * 6
    (2, 4, 35)

    References:
        - Guo et al., ICML 2024, Appendix C.2 (xDeepFM under multi-embedding).
        - Lian et al., "xDeepFM", KDD 2018, Eq. (6)-(9).
    """

    def __init__(self, layer_sizes: tuple[int, ...] = (16, 16), kernel_initializer: InitializerLike = "glorot_uniform",
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.layer_sizes = [int(h) for h in layer_sizes]
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape: Shape) -> None:
        num_sets, num_fields = input_shape[1], input_shape[2]
        previous = num_fields
        self.kernels = []
        for index, size in enumerate(self.layer_sizes):
            self.kernels.append(self.add_weight(
                name=f"kernel_{index}", shape=(num_sets, previous, num_fields, size),
                initializer=self.kernel_initializer))
            previous = size

    def call(self, embeddings: Tensor, training: bool | None = None) -> Tensor:
        batch, num_sets, num_fields, dim = ops.shape(embeddings)[0], *embeddings.shape[1:]
        # Set-major, one row per (example, k): the N x K outer product of Eq. 6 is never materialised.
        # X^l_gk = sum_n X^0_nk (sum_h W_hng X^{l-1}_hk): a GEMM over h, then a product-sum over n.
        base = ops.reshape(ops.transpose(embeddings, (1, 0, 3, 2)), (num_sets, -1, num_fields))  # (M, B*K, N)
        hidden, pooled = base, []
        for kernel in self.kernels:
            previous, size = kernel.shape[1], kernel.shape[3]
            mixed = ops.matmul(hidden, ops.reshape(kernel, (num_sets, previous, num_fields * size)))
            mixed = ops.reshape(mixed, (num_sets, -1, num_fields, size))  # (M, B*K, N, H_l)
            hidden = ops.sum(ops.multiply(mixed, ops.expand_dims(base, -1)), axis=2)  # (M, B*K, H_l)
            pooled.append(ops.sum(ops.reshape(hidden, (num_sets, batch, dim, size)), axis=2))  # Eq. 8
        pooled = ops.transpose(ops.concatenate(pooled, axis=-1), (1, 0, 2))  # (B, M, sum H_l)
        flat = ops.reshape(embeddings, (-1, num_sets, num_fields * dim))
        return ops.concatenate([pooled, flat], axis=-1)

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        return (input_shape[0], input_shape[1], sum(self.layer_sizes) + input_shape[2] * input_shape[3])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(layer_sizes=self.layer_sizes,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config
