"""DCNv2 cross network (Wang et al., WWW 2021, Eq. 1), stacked, one per embedding set.

Options for the paper's analyses of DCNv2:
- `orthogonal_regularization`: regularized DCNv2 (Section 4.2 Evidence III, Appendices J and K), the penalty
  sum_{l,m,i,j} ||W_{i->j}^T W_{i->j} - lambda_ij I||_F^2 over every K x K block with a learnable
  lambda_ij per block.
- `shared_across_sets`: ablation (a) of Section 5.3 / Figure 10c-d, one cross network for all sets.
- `set_variance_regularization`: ablation (b), the penalty sum_{l,i,j} Var_m ||W_{i->j}^{(m)}||_F.
- `projection_dim`: DCNv2's low-rank cross layer W = U V^T (Wang et al., Section 3.2).
"""

import keras
from keras import ops

from tf_multiemb.cross_blocks import kernel_blocks
from tf_multiemb.types import InitializerLike, Shape, Tensor


@keras.saving.register_keras_serializable(package="tf_multiemb")
class CrossNetV2(keras.layers.Layer):
    """DCNv2's stacked cross layers x_{l+1} = x_0 * (x_l W_l + b_l) + x_l, one stack per set.

    Each set's N*K embedding vector is flattened to x_0 and crossed through `num_layers` layers
    with weights W_l^{(m)} in R^{NK x NK}; all sets are computed in one batched matmul per layer.
    This is the "stacked" DCNv2 whose output feeds the MLP, as in the authors' released code
    (docs/design.md). With M = 1 each layer equals `keras_rs.layers.FeatureCross` with
    `diag_scale=0`.

    `W_l` uses the input-major layout of `keras.layers.Dense` (x @ W), so the block
    W_l[i*K:(i+1)*K, j*K:(j+1)*K] maps field i's embedding into field j's output slot.

    Args:
        num_layers: int. Number of stacked cross layers. Defaults to 4.
        kernel_initializer: str or `keras.initializers.Initializer`. Initializer of W_l (or of
            U_l, V_l when low-rank). Defaults to `"glorot_uniform"`.
        projection_dim: int or None. None for full-rank W_l; r for the low-rank
            W_l = U_l V_l^T, U_l, V_l in R^{NK x r}. Defaults to `None`.
        shared_across_sets: bool. One set of weights used by all M sets (ablation (a),
            Figure 10c-d). Defaults to `False`.
        orthogonal_regularization: float. Weight of the block-orthogonality penalty, added as a
            layer loss (1e-5 in the authors' released code). Defaults to 0.0 (off).
        set_variance_regularization: float. Weight of the penalty on the variance across sets of
            the block norms ||W_{i->j}^{(m)}||_F (ablation (b), Figure 10c-d). Defaults to 0.0.
        **kwargs: Arguments of `keras.layers.Layer`.

    Input shape:
        (batch, M, N, K); each set's N*K values form its x_0.

    Output shape:
        (batch, M, N*K): x_L, the last cross layer's output, of every set.

    Example:

    >>> import numpy as np
    >>> layer = CrossNetV2(num_layers=2, projection_dim=3)
    >>> tuple(layer(np.ones((2, 4, 5, 6), dtype="float32")).shape)
    (2, 4, 30)
    >>> tuple(layer.effective_kernels()[0].shape)  # W_0 = U_0 V_0^T of every set
    (4, 30, 30)

    References:
        - Guo et al., ICML 2024, Section 4.1 (Evidence I), Section 4.2 (Evidence III),
          Section 5.3 (Figure 10), Appendices C.2, J and K.
        - Wang et al., "DCN V2", WWW 2021, Eq. (1) and Section 3.2 (low rank).
    """

    def __init__(self, num_layers: int = 4, kernel_initializer: InitializerLike = "glorot_uniform",
                 projection_dim: int | None = None, shared_across_sets: bool = False,
                 orthogonal_regularization: float = 0.0, set_variance_regularization: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.projection_dim = None if projection_dim is None else int(projection_dim)
        self.shared_across_sets = bool(shared_across_sets)
        self.orthogonal_regularization = float(orthogonal_regularization)
        self.set_variance_regularization = float(set_variance_regularization)
        if self.projection_dim is not None and self.projection_dim < 1:
            raise ValueError(f"projection_dim must be a positive integer or None, got {projection_dim!r}")
        if self.orthogonal_regularization < 0 or self.set_variance_regularization < 0:
            raise ValueError("regularization weights must be non-negative")

    def build(self, input_shape: Shape) -> None:
        num_sets, num_fields, dim = input_shape[1], input_shape[2], input_shape[3]
        self.field_dim = dim  # K, for splitting kernels into field-pair blocks
        width = num_fields * dim
        weight_sets = 1 if self.shared_across_sets else num_sets
        if self.projection_dim is None:
            self.kernels = [
                self.add_weight(name=f"kernel_{l}", shape=(weight_sets, width, width),
                                initializer=self.kernel_initializer)
                for l in range(self.num_layers)
            ]
        else:
            self.down_kernels = [
                self.add_weight(name=f"down_kernel_{l}", shape=(weight_sets, width, self.projection_dim),
                                initializer=self.kernel_initializer)
                for l in range(self.num_layers)
            ]
            self.up_kernels = [
                self.add_weight(name=f"up_kernel_{l}", shape=(weight_sets, self.projection_dim, width),
                                initializer=self.kernel_initializer)
                for l in range(self.num_layers)
            ]
        self.biases = [
            self.add_weight(name=f"bias_{l}", shape=(weight_sets, width), initializer="zeros")
            for l in range(self.num_layers)
        ]
        if self.orthogonal_regularization > 0:
            self.block_scales = self.add_weight(
                name="block_scales", shape=(self.num_layers, weight_sets, num_fields, num_fields), initializer="ones"
            )

    def effective_kernels(self) -> list[Tensor]:
        """W_l for every layer, each (M', NK, NK) with M' = 1 when shared across sets (U_l V_l^T if low-rank)."""
        if self.projection_dim is None:
            return list(self.kernels)
        return [ops.matmul(down, up) for down, up in zip(self.down_kernels, self.up_kernels)]

    def transform(self, x: Tensor, layer: int) -> Tensor:
        """x W_l for set-major x (M, batch, NK). Low rank is (x U_l) V_l^T: 2 NK r multiply-adds per
        example instead of (NK)^2, and W_l = U_l V_l^T is never formed."""
        if self.projection_dim is None:
            return ops.matmul(x, self.kernels[layer])
        return ops.matmul(ops.matmul(x, self.down_kernels[layer]), self.up_kernels[layer])

    def orthogonality_penalty(self) -> Tensor:
        """sum_{l,m,i,j} ||B^T B - lambda I||_F^2 over K x K blocks B.

        Section 4.2 Evidence III and Appendices J-K of the paper (regularized DCNv2).
        """
        identity = ops.eye(self.field_dim, dtype=self.block_scales.dtype)
        total = 0.0
        for layer, kernel in enumerate(self.effective_kernels()):
            blocks = kernel_blocks(kernel, self.field_dim, ops)
            products = ops.einsum("mijab,mijac->mijbc", blocks, blocks)
            scaled_identity = self.block_scales[layer][..., None, None] * identity
            total = total + ops.sum(ops.square(products - scaled_identity))
        return total

    def set_variance_penalty(self) -> Tensor:
        """sum_{l,i,j} Var_m ||W_{i->j}^{(m)}||_F (Section 5.3, ablation (b))."""
        total = 0.0
        for kernel in self.effective_kernels():
            blocks = kernel_blocks(kernel, self.field_dim, ops)
            norms = ops.sqrt(ops.sum(ops.square(blocks), axis=(3, 4)))
            total = total + ops.sum(ops.var(norms, axis=0))
        return total

    def call(self, embeddings: Tensor) -> Tensor:
        num_sets = embeddings.shape[1]
        width = embeddings.shape[2] * embeddings.shape[3]
        # Set-major (M, batch, NK): every layer is one batched matmul over the sets; a shared
        # kernel (1, NK, NK), or (1, NK, r) and (1, r, NK) at low rank, broadcasts over them.
        x0 = ops.transpose(ops.reshape(embeddings, (-1, num_sets, width)), (1, 0, 2))
        x = x0
        for layer in range(self.num_layers):
            bias = ops.expand_dims(self.biases[layer], 1)
            x = ops.add(ops.multiply(x0, ops.add(self.transform(x, layer), bias)), x)
        if self.orthogonal_regularization > 0:
            self.add_loss(self.orthogonal_regularization * self.orthogonality_penalty())
        if self.set_variance_regularization > 0:
            self.add_loss(self.set_variance_regularization * self.set_variance_penalty())
        return ops.transpose(x, (1, 0, 2))

    def compute_output_shape(self, input_shape: Shape) -> tuple:
        return (input_shape[0], input_shape[1], input_shape[2] * input_shape[3])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            projection_dim=self.projection_dim,
            shared_across_sets=self.shared_across_sets,
            orthogonal_regularization=self.orthogonal_regularization,
            set_variance_regularization=self.set_variance_regularization,
        )
        return config
