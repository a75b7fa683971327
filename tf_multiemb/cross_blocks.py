"""Field-pair blocks of a DCNv2 cross-layer kernel, as numpy (paper Section 4.1 Evidence I, Section 5.3).

`CrossNetV2` stores W in the x @ W layout, shape (M, N*K, N*K). Its K x K block
W[m, i*K:(i+1)*K, j*K:(j+1)*K] maps field i's embedding into field j's slot, so the paper's
projection W_{i->j} (with E_i^{->j} = E_i W_{i->j}^T) is that block transposed.
"""

import numpy as np


def cross_kernel_blocks(kernel, embedding_dim):
    """(M, N*K, N*K) kernel -> (M, N, N, K, K) array whose [m, i, j] is the block E_i @ block = E_i^{->j}."""
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim == 2:
        kernel = kernel[None]
    num_sets, width = kernel.shape[0], kernel.shape[1]
    if width % embedding_dim or kernel.shape[2] != width:
        raise ValueError(f"kernel of shape {kernel.shape} is not square in blocks of {embedding_dim}")
    num_fields = width // embedding_dim
    blocks = kernel.reshape(num_sets, num_fields, embedding_dim, num_fields, embedding_dim)
    return blocks.transpose(0, 1, 3, 2, 4)


def interaction_pattern(kernel, embedding_dim):
    """||W_{i->j}^{(m)}||_F for every set m and field pair (i, j): (M, N, N) (paper Figure 10b)."""
    return np.sqrt(np.sum(np.square(cross_kernel_blocks(kernel, embedding_dim)), axis=(3, 4)))
