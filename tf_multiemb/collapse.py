"""Embedding-collapse metrics (paper Section 3, Definition 1).

Information abundance IA(E) = ||sigma||_1 / ||sigma||_inf over the singular values sigma of an
embedding matrix E (D x K). A collapsed matrix, whose rows span few directions, has IA near 1;
a matrix using all K directions evenly has IA near K.

The singular values are taken from the K x K Gram matrix E^T E (sigma = sqrt(eig(E^T E))) in
float64, so a field with a million rows costs one D x K x K product instead of a D x K SVD.
"""

import numpy as np


def singular_values_from_gram(gram):
    """Singular values of E, descending, from G = E^T E."""
    eigenvalues = np.linalg.eigvalsh(np.asarray(gram, dtype=np.float64))
    return np.sqrt(np.clip(eigenvalues, 0.0, None))[::-1]


def gram(matrix):
    """E^T E in float64."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix.T @ matrix


def information_abundance_from_singular_values(singular_values):
    singular_values = np.asarray(singular_values, dtype=np.float64)
    largest = singular_values.max() if singular_values.size else 0.0
    return float(singular_values.sum() / largest) if largest > 0 else 0.0


def information_abundance(matrix):
    """IA(E) = ||sigma||_1 / ||sigma||_inf of a 2-D array (0 for an all-zero matrix)."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"information_abundance needs a 2-D matrix, got shape {matrix.shape}")
    return information_abundance_from_singular_values(singular_values_from_gram(gram(matrix)))


def field_embedding_information_abundance(table, field_rows, num_sets, embedding_dim):
    """IA of every field's embedding matrix, per set and for all sets side by side.

    Args:
        table: the packed (sum D_i, M*K) embedding table as a numpy array.
        field_rows: list of (start, stop) row ranges, one per field.
    Returns:
        list, one entry per field: {"sets": [IA(E_i^(m)) for m], "all": IA([E_i^(1) ... E_i^(M)])}.
    """
    results = []
    for start, stop in field_rows:
        full_gram = gram(table[start:stop])
        per_set = []
        for m in range(num_sets):
            block = slice(m * embedding_dim, (m + 1) * embedding_dim)
            per_set.append(information_abundance_from_singular_values(
                singular_values_from_gram(full_gram[block, block])))
        combined = information_abundance_from_singular_values(singular_values_from_gram(full_gram))
        results.append({"sets": per_set, "all": combined})
    return results
