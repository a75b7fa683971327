"""Field-pair blocks of a DCNv2 cross-layer kernel (paper Section 4.1 Evidence I, Section 5.3).

`CrossNetV2` stores W in the x @ W layout, shape (M, N*K, N*K). Its K x K block
W[m, i*K:(i+1)*K, j*K:(j+1)*K] maps field i's embedding into field j's slot, so the paper's
projection W_{i->j} (with E_i^{->j} = E_i W_{i->j}^T) is that block transposed. `kernel_blocks`
is the one place that knows this layout: the layer's penalties call it with `keras.ops`, the
numpy analysis below with numpy.
"""

from types import ModuleType

import numpy as np

from tf_multiemb.types import Tensor


def kernel_blocks(kernel: Tensor, embedding_dim: int, array_ops: ModuleType = np) -> Tensor:
    """Splits (M, N*K, N*K) cross kernels into their (M, N, N, K, K) field-pair blocks.

    Entry [m, i, j] is the K x K block that maps field i's embedding into field j's output slot,
    so `e_i @ blocks[m, i, j]` is field i's contribution to slot j of `x @ W^{(m)}`. The split
    is a reshape and a transpose, done with `array_ops`, so the same code serves numpy arrays
    and backend tensors (pass `keras.ops` to keep gradients).

    Args:
        kernel: Tensor. Cross kernels of shape (M, N*K, N*K); a single (N*K, N*K) kernel is
            treated as M = 1.
        embedding_dim: int. K, the width of one field's embedding.
        array_ops: module. Provides `reshape(x, shape)` and `transpose(x, axes)`. Defaults to
            `numpy`.

    Returns:
        The blocks, shape (M, N, N, K, K), of the type `array_ops` returns.

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> kernel = np.arange(36.0).reshape(1, 6, 6)  # N = 3 fields, K = 2
    >>> tuple(kernel_blocks(kernel, 2, ops).shape)
    (1, 3, 3, 2, 2)
    >>> kernel_blocks(kernel, 2)[0, 0, 1]  # rows 0:2, columns 2:4
    array([[2., 3.],
           [8., 9.]])

    References:
        Guo et al., ICML 2024, Section 4.1 (Evidence I: E_i^{->j} = E_i W_{i->j}^T).
    """
    num_fields = kernel.shape[-1] // embedding_dim
    blocks = array_ops.reshape(kernel, (-1, num_fields, embedding_dim, num_fields, embedding_dim))
    return array_ops.transpose(blocks, (0, 1, 3, 2, 4))


def cross_kernel_blocks(kernel: Tensor, embedding_dim: int) -> np.ndarray:
    """Field-pair blocks of cross kernels as a float64 numpy array, shape checked.

    The analysis form of `kernel_blocks`: it converts the kernel to float64 numpy first and
    rejects kernels that do not split into K x K blocks.

    Args:
        kernel: array-like. Cross kernels of shape (M, N*K, N*K) or one (N*K, N*K) kernel.
        embedding_dim: int. K, the width of one field's embedding.

    Returns:
        float64 array of shape (M, N, N, K, K); [m, i, j] is the block with
        E_i^{(m)} @ block = E_i^{->j}.

    Raises:
        ValueError: if the kernel is not square or its width is not a multiple of K.

    Example:

    >>> import numpy as np
    >>> cross_kernel_blocks(np.eye(6), embedding_dim=3).shape
    (1, 2, 2, 3, 3)
    >>> float(cross_kernel_blocks(np.eye(6), embedding_dim=3)[0, 0, 1].sum())  # off-diagonal pair
    0.0

    References:
        Guo et al., ICML 2024, Section 4.1 (Evidence I) and Appendix H.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim == 2:
        kernel = kernel[None]
    width = kernel.shape[1]
    if width % embedding_dim or kernel.shape[2] != width:
        raise ValueError(f"kernel of shape {kernel.shape} is not square in blocks of {embedding_dim}")
    return kernel_blocks(kernel, embedding_dim)


def interaction_pattern(kernel: Tensor, embedding_dim: int) -> np.ndarray:
    """Frobenius norm ||W_{i->j}^{(m)}||_F of every field-pair block of cross kernels.

    How strongly set m's cross layer maps field i into field j; comparing the (N, N) patterns of
    the sets shows whether multi-embedding learns set-specific interactions.

    Args:
        kernel: array-like. Cross kernels of shape (M, N*K, N*K) or one (N*K, N*K) kernel.
        embedding_dim: int. K, the width of one field's embedding.

    Returns:
        float64 array of shape (M, N, N).

    Example:

    >>> import numpy as np
    >>> interaction_pattern(2.0 * np.eye(4), embedding_dim=2)
    array([[[2.82842712, 0.        ],
            [0.        , 2.82842712]]])

    References:
        Guo et al., ICML 2024, Section 5.3, Figure 10b.
    """
    return np.sqrt(np.sum(np.square(cross_kernel_blocks(kernel, embedding_dim)), axis=(3, 4)))
