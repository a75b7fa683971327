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
    # Eigenvalues within rounding error of zero (a rank-deficient E) are exactly zero singular values.
    noise_floor = eigenvalues.size * np.finfo(np.float64).eps * max(eigenvalues.max(initial=0.0), 0.0)
    return np.sqrt(np.where(eigenvalues > noise_floor, eigenvalues, 0.0))[::-1]


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


def spectrum_normalized_by_largest(singular_values):
    """Descending singular values divided by the largest (all-zero spectra are returned unchanged)."""
    singular_values = np.asarray(singular_values, dtype=np.float64)
    largest = singular_values[0] if singular_values.size else 0.0
    return singular_values / largest if largest > 0 else singular_values


def normalized_singular_spectrum(matrix):
    """Singular values of E, descending, divided by the largest (the spectra of paper Figure 1b)."""
    return spectrum_normalized_by_largest(singular_values_from_gram(gram(matrix)))


def information_abundance_per_dimension(matrix):
    """IA(E) / K, comparable across embedding sizes K (paper Appendix I, Figure 15)."""
    return information_abundance(matrix) / np.asarray(matrix).shape[1]


def random_gaussian_gram(num_rows, num_columns, rng):
    """A sample of X^T X for X with i.i.d. N(0, 1) entries of shape (num_rows, num_columns).

    X^T X is Wishart(num_columns, num_rows, I); when num_rows >= num_columns it is drawn with the
    Bartlett decomposition A A^T (A lower-triangular, A_kk^2 ~ chi2(num_rows - k), A_kl ~ N(0, 1)
    below the diagonal), which costs O(K^2) instead of O(D K^2) for tables with millions of rows.
    """
    if num_rows < num_columns:
        matrix = rng.standard_normal((num_rows, num_columns))
        return matrix.T @ matrix
    lower = np.tril(rng.standard_normal((num_columns, num_columns)), k=-1)
    lower[np.diag_indices(num_columns)] = np.sqrt(rng.chisquare(num_rows - np.arange(num_columns)))
    return lower @ lower.T


def expected_random_information_abundance(num_rows, num_columns, num_samples=16, seed=0):
    """Monte Carlo estimate of E[IA(randn_like(E))] for E of shape (num_rows, num_columns) (Appendix I)."""
    rng = np.random.default_rng(seed)
    samples = [information_abundance_from_singular_values(
        singular_values_from_gram(random_gaussian_gram(num_rows, num_columns, rng))) for _ in range(num_samples)]
    return float(np.mean(samples))


def relative_information_abundance(matrix, num_samples=16, seed=0):
    """IA(E) / E[IA(randn_like(E))]: 1 means as abundant as a random Gaussian matrix (Appendix I)."""
    num_rows, num_columns = np.asarray(matrix).shape
    return information_abundance(matrix) / expected_random_information_abundance(
        num_rows, num_columns, num_samples, seed)
