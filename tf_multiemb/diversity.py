"""Diversity between embedding sets via principal angles (paper Section 5.3, Appendix F, Figure 10a).

For two sets E^(m), E^(m') of the same field (each D x K), the cosines of the principal angles
between their column spaces are the singular values of U_m^T U_m', U_m an orthonormal basis of
span(E^(m)), and div = 1 - ||cos(phi)||_1 / K. Everything is computed from the (M K x M K) Gram
matrix of the field, so a field with a million rows costs one product.
"""

import itertools

import numpy as np

from tf_multiemb.collapse import gram, random_gaussian_gram

RANK_TOLERANCE = 1e-10  # eigenvalues of E^T E below this fraction of the largest count as zero


def _column_space_coordinates(set_gram):
    """C with U = E C an orthonormal basis of span(E): C = V_r diag(1/sigma_r) from E^T E = V diag(sigma^2) V^T."""
    eigenvalues, vectors = np.linalg.eigh(set_gram)
    keep = eigenvalues > RANK_TOLERANCE * max(eigenvalues.max(), 0.0)
    return vectors[:, keep] / np.sqrt(eigenvalues[keep])


def principal_angle_cosines_from_gram(joint_gram, first_columns, second_columns):
    """cos(phi) between span(E[:, first_columns]) and span(E[:, second_columns]), given E^T E; descending."""
    first = _column_space_coordinates(joint_gram[np.ix_(first_columns, first_columns)])
    second = _column_space_coordinates(joint_gram[np.ix_(second_columns, second_columns)])
    if first.shape[1] == 0 or second.shape[1] == 0:
        return np.zeros(0)
    overlap = first.T @ joint_gram[np.ix_(first_columns, second_columns)] @ second  # U_m^T U_m'
    return np.clip(np.linalg.svd(overlap, compute_uv=False), 0.0, 1.0)


def principal_angle_cosines(first, second):
    """cos(phi) between the column spaces of two matrices with the same number of rows."""
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    joint = np.concatenate([first, second], axis=1)
    width = first.shape[1]
    return principal_angle_cosines_from_gram(gram(joint), np.arange(width), np.arange(width, joint.shape[1]))


def set_diversity(first, second):
    """div(E^(m), E^(m')) = 1 - ||cos(phi)||_1 / K, K the width of a set (Section 5.3)."""
    return 1.0 - float(np.sum(principal_angle_cosines(first, second))) / np.asarray(first).shape[1]


def mean_set_diversity_from_gram(joint_gram, num_sets):
    """Mean diversity over all pairs of the num_sets equal column blocks of E, given E^T E."""
    if num_sets < 2:
        raise ValueError("diversity needs at least two embedding sets")
    width = joint_gram.shape[0] // num_sets
    columns = [np.arange(m * width, (m + 1) * width) for m in range(num_sets)]
    return float(np.mean([1.0 - principal_angle_cosines_from_gram(joint_gram, columns[a], columns[b]).sum() / width
                          for a, b in itertools.combinations(range(num_sets), 2)]))


def mean_set_diversity(matrix, num_sets):
    """Mean diversity over all pairs of the num_sets equal column blocks of a matrix."""
    return mean_set_diversity_from_gram(gram(matrix), num_sets)


def field_embedding_diversity(table, field_rows, num_sets):
    """Diversity averaged over fields and set pairs (Figure 10a).

    For a multi-embedding table pass its M; for a single-embedding table of width s*K0 pass s to
    split it into s sets of K0 columns, as the paper does for its SE bar.
    """
    return float(np.mean([mean_set_diversity_from_gram(gram(table[start:stop]), num_sets)
                          for start, stop in field_rows]))


def random_embedding_diversity(field_rows, num_sets, total_width, seed=0):
    """The same average for N(0, 1) tables of the same shape: the random bar of Figure 10a."""
    rng = np.random.default_rng(seed)
    return float(np.mean([mean_set_diversity_from_gram(random_gaussian_gram(stop - start, total_width, rng), num_sets)
                          for start, stop in field_rows]))
