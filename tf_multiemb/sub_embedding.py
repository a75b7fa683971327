"""Information abundance of sub-embeddings E_i^{->j} (paper Section 4.1 Evidence I, Figures 3, 9, 14).

DCNv2's first cross layer implicitly gives every field i one sub-embedding per target field j,
E_i^{->j} = E_i W_{i->j}^T; FFM stores them explicitly (Appendix H). Sorting fields by IA(E_i) and
summing IA(E_i^{->j}) over one index shows whether the abundance of a sub-embedding depends on the
field it interacts with (Figure 3b-c, Figure 9).
"""

import numpy as np
from numpy.typing import ArrayLike

from tf_multiemb.collapse import gram, information_abundance, information_abundance_from_singular_values
from tf_multiemb.collapse import singular_values_from_gram
from tf_multiemb.cross_blocks import cross_kernel_blocks
from tf_multiemb.types import Tensor


def dcnv2_sub_embedding_information_abundance(table: ArrayLike, field_rows: list[tuple[int, int]], kernel: Tensor,
                                                embedding_dim: int, set_index: int = 0) -> np.ndarray:
    """IA(E_i^{->j}) of DCNv2's implicit sub-embeddings for every field pair of one embedding set.

    E_i^{->j} = E_i^{(m)} B_{ij}, B_{ij} the K x K block of the first cross layer's kernel that maps
    field i into field j's slot (`cross_blocks.cross_kernel_blocks`). Computed from Gram matrices,
    (E B)^T (E B) = B^T (E^T E) B, so each pair costs K^3, not D_i K^2.

    Args:
        table: array-like. The packed (sum D_i, M*K) embedding table; columns [m*K, (m+1)*K)
            are set m.
        field_rows: list of (start, stop). The row range of every field.
        kernel: Tensor. The first cross layer's kernel, (M, N*K, N*K), or (1, N*K, N*K) when
            shared across sets.
        embedding_dim: int. K, the width of one set.
        set_index: int. The set m to analyse. Defaults to 0.

    Returns:
        float64 array of shape (N, N) with [i, j] = IA(E_i^{->j}).

    Example:

    >>> import numpy as np
    >>> table = np.vstack([np.eye(2), np.ones((2, 2))])  # M = 1, K = 2: IA(E_1) = 2, IA(E_2) = 1
    >>> kernel = np.eye(4)[None]  # each field maps onto its own slot only
    >>> dcnv2_sub_embedding_information_abundance(table, [(0, 2), (2, 4)], kernel, 2)
    array([[2., 0.],
           [0., 1.]])

    References:
        Guo et al., ICML 2024, Section 4.1 (Evidence I), Figure 3.
    """
    blocks = cross_kernel_blocks(kernel, embedding_dim)
    blocks = blocks[set_index if blocks.shape[0] > 1 else 0]
    columns = slice(set_index * embedding_dim, (set_index + 1) * embedding_dim)
    num_fields = len(field_rows)
    result = np.zeros((num_fields, num_fields))
    for i, (start, stop) in enumerate(field_rows):
        field_gram = gram(table[start:stop, columns])
        for j in range(num_fields):
            block = blocks[i, j]
            result[i, j] = information_abundance_from_singular_values(
                singular_values_from_gram(block.T @ field_gram @ block))
    return result


def ffm_sub_embedding_information_abundance(pair_tables: list[list[ArrayLike | None]]) -> np.ndarray:
    """IA(E_i^{->j}) of FFM's explicit field-aware sub-embeddings.

    Args:
        pair_tables: nested list. pair_tables[i][j] is the (D_i, K') table field i uses with
            field j, or None where there is none (the diagonal in FFM).

    Returns:
        float64 array of shape (N, N); NaN where the table is None.

    Example:

    >>> import numpy as np
    >>> tables = [[None, np.eye(3)], [np.ones((4, 3)), None]]
    >>> ffm_sub_embedding_information_abundance(tables)
    array([[nan,  3.],
           [ 1., nan]])

    References:
        Guo et al., ICML 2024, Appendix H, Figure 14.
    """
    num_fields = len(pair_tables)
    result = np.full((num_fields, num_fields), np.nan)
    for i, row in enumerate(pair_tables):
        for j, table in enumerate(row):
            if table is not None:
                result[i, j] = information_abundance(table)
    return result


def sort_fields_by_information_abundance(ia_matrix: ArrayLike, field_ia: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Reorders the rows and columns of a field-pair matrix by ascending IA(E_i).

    Args:
        ia_matrix: array-like. An (N, N) matrix indexed by field pairs.
        field_ia: array-like. IA(E_i) of every field, shape (N,). Ties keep their field order.

    Returns:
        (sorted matrix, order): the (N, N) matrix with rows and columns permuted, and the
        field indices in their new order.

    Example:

    >>> import numpy as np
    >>> matrix, order = sort_fields_by_information_abundance(np.arange(4.0).reshape(2, 2), [5.0, 1.0])
    >>> order
    array([1, 0])
    >>> matrix
    array([[3., 2.],
           [1., 0.]])

    References:
        Guo et al., ICML 2024, Section 4.1, Figure 3a.
    """
    order = np.argsort(np.asarray(field_ia), kind="stable")
    return np.asarray(ia_matrix)[np.ix_(order, order)], order


def interaction_correlation_factors(sorted_ia_matrix: ArrayLike) -> dict:
    """Correlation of sub-embedding abundance with the sorted source and target field.

    With fields sorted by IA(E_i), "source" is the Pearson correlation between sum_j IA(E_i^{->j})
    and the sorted position i (Figure 3b), "target" the one between sum_i IA(E_i^{->j}) and the
    sorted position j (Figure 3c). A large "target" factor means a sub-embedding's abundance
    follows the abundance of the field it interacts with (interaction-collapse theory, Finding 1).
    NaN entries (the FFM diagonal) are left out of the sums.

    Args:
        sorted_ia_matrix: array-like. (N, N) matrix of IA(E_i^{->j}), rows and columns sorted
            by ascending IA(E_i) (`sort_fields_by_information_abundance`).

    Returns:
        dict with "source" and "target" (float correlation factors) and "source_sums" and
        "target_sums" (the per-position sums, lists of N floats).

    Example:

    >>> import numpy as np
    >>> matrix = np.array([[1.0, 1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 2.0, 4.0]])
    >>> factors = interaction_correlation_factors(matrix)
    >>> round(factors["target"], 3), factors["target_sums"]
    (0.982, [3.0, 5.0, 9.0])

    References:
        Guo et al., ICML 2024, Section 4.1, Figures 3b-c and 9.
    """
    matrix = np.asarray(sorted_ia_matrix, dtype=np.float64)
    positions = np.arange(matrix.shape[0])
    source_sums, target_sums = np.nansum(matrix, axis=1), np.nansum(matrix, axis=0)
    return {
        "source": float(np.corrcoef(positions, source_sums)[0, 1]),
        "target": float(np.corrcoef(positions, target_sums)[0, 1]),
        "source_sums": source_sums.tolist(),
        "target_sums": target_sums.tolist(),
    }
