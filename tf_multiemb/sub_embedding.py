"""Information abundance of sub-embeddings E_i^{->j} (paper Section 4.1 Evidence I, Figures 3, 9, 14).

DCNv2's first cross layer implicitly gives every field i one sub-embedding per target field j,
E_i^{->j} = E_i W_{i->j}^T; FFM stores them explicitly (Appendix H). Sorting fields by IA(E_i) and
summing IA(E_i^{->j}) over one index shows whether the abundance of a sub-embedding depends on the
field it interacts with (Figure 3b-c, Figure 9).
"""

import numpy as np

from tf_multiemb.collapse import gram, information_abundance, information_abundance_from_singular_values
from tf_multiemb.collapse import singular_values_from_gram
from tf_multiemb.cross_blocks import cross_kernel_blocks


def dcnv2_sub_embedding_information_abundance(table, field_rows, kernel, embedding_dim, set_index=0):
    """(N, N) matrix of IA(E_i^{->j}) for embedding set `set_index`, [i, j] = IA(E_i^{(m)} @ block_{i->j}).

    Args:
        table: packed (sum D_i, M*K) embedding table; columns [m*K, (m+1)*K) are set m.
        field_rows: (start, stop) row range of every field.
        kernel: the first cross layer's kernel, (M, N*K, N*K) or (1, N*K, N*K) when shared across sets.
    Uses Gram matrices: (E B)^T (E B) = B^T (E^T E) B, so each pair costs K^3, not D_i K^2.
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


def ffm_sub_embedding_information_abundance(pair_tables):
    """(N, N) matrix of IA(E_i^{->j}) from explicit FFM tables (Appendix H, Figure 14).

    Args:
        pair_tables: nested sequence, pair_tables[i][j] the (D_i, K') table field i uses with field j,
            or None where there is none (the diagonal in FFM); such entries are NaN.
    """
    num_fields = len(pair_tables)
    result = np.full((num_fields, num_fields), np.nan)
    for i, row in enumerate(pair_tables):
        for j, table in enumerate(row):
            if table is not None:
                result[i, j] = information_abundance(table)
    return result


def sort_fields_by_information_abundance(ia_matrix, field_ia):
    """Reorders rows and columns by ascending IA(E_i), as in Figure 3a. Returns (sorted matrix, order)."""
    order = np.argsort(np.asarray(field_ia), kind="stable")
    return np.asarray(ia_matrix)[np.ix_(order, order)], order


def interaction_correlation_factors(sorted_ia_matrix):
    """Correlation factors of Figure 3b-c / Figure 9.

    With fields sorted by IA(E_i), "source" is the Pearson correlation between sum_j IA(E_i^{->j})
    and the sorted position i (Figure 3b), "target" the one between sum_i IA(E_i^{->j}) and the
    sorted position j (Figure 3c). A large "target" factor means a sub-embedding's abundance
    follows the abundance of the field it interacts with (interaction-collapse theory, Finding 1).
    NaN entries (the FFM diagonal) are left out of the sums.
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
