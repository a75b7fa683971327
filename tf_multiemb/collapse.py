"""Embedding-collapse metrics (paper Section 3, Definition 3.1; Appendix I).

Information abundance IA(E) = ||sigma||_1 / ||sigma||_inf over the singular values sigma of an
embedding matrix E (D x K). A collapsed matrix, whose rows span few directions, has IA near 1;
a matrix using all K directions evenly has IA near K.

The singular values are taken from the K x K Gram matrix E^T E (sigma = sqrt(eig(E^T E))) in
float64, so a field with a million rows costs one D x K x K product instead of a D x K SVD.
"""

import numpy as np
from numpy.typing import ArrayLike


def singular_values_from_gram(gram: ArrayLike) -> np.ndarray:
    """Singular values of E, descending, from its Gram matrix G = E^T E.

    Eigenvalues of G within rounding error of zero (a rank-deficient E) become exactly zero
    singular values.

    Args:
        gram: array-like. The symmetric (K, K) matrix E^T E.

    Returns:
        float64 array of shape (K,), descending.

    Example:

    >>> import numpy as np
    >>> singular_values_from_gram(np.diag([9.0, 16.0]))
    array([4., 3.])

    References:
        Guo et al., ICML 2024, Section 3, Definition 3.1.
    """
    eigenvalues = np.linalg.eigvalsh(np.asarray(gram, dtype=np.float64))
    noise_floor = eigenvalues.size * np.finfo(np.float64).eps * max(eigenvalues.max(initial=0.0), 0.0)
    return np.sqrt(np.where(eigenvalues > noise_floor, eigenvalues, 0.0))[::-1]


def gram(matrix: ArrayLike) -> np.ndarray:
    """Gram matrix E^T E of a matrix, in float64.

    Args:
        matrix: array-like. E, of shape (D, K).

    Returns:
        float64 array of shape (K, K).

    Example:

    >>> gram([[1.0, 2.0], [3.0, 4.0]])
    array([[10., 14.],
           [14., 20.]])

    References:
        Guo et al., ICML 2024, Section 3, Definition 3.1 (the singular values it leads to).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix.T @ matrix


def information_abundance_from_singular_values(singular_values: ArrayLike) -> float:
    """IA = ||sigma||_1 / ||sigma||_inf of a spectrum.

    Args:
        singular_values: array-like. The singular values sigma, in any order.

    Returns:
        The information abundance; 0.0 for an empty or all-zero spectrum.

    Example:

    >>> information_abundance_from_singular_values([4.0, 3.0, 1.0])
    2.0

    References:
        Guo et al., ICML 2024, Section 3, Definition 3.1.
    """
    singular_values = np.asarray(singular_values, dtype=np.float64)
    largest = singular_values.max() if singular_values.size else 0.0
    return float(singular_values.sum() / largest) if largest > 0 else 0.0


def information_abundance(matrix: ArrayLike) -> float:
    """Information abundance IA(E) = ||sigma||_1 / ||sigma||_inf of a 2-D matrix.

    Between 1 (rank one) and K (K equal singular values) for a non-zero (D, K) matrix.

    Args:
        matrix: array-like. E, of shape (D, K).

    Returns:
        IA(E); 0.0 for an all-zero matrix.

    Raises:
        ValueError: if `matrix` is not 2-D.

    Example:

    >>> import numpy as np
    >>> information_abundance(np.eye(3))
    3.0
    >>> information_abundance(np.ones((5, 3)))  # every row the same direction
    1.0

    References:
        Guo et al., ICML 2024, Section 3, Definition 3.1.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"information_abundance needs a 2-D matrix, got shape {matrix.shape}")
    return information_abundance_from_singular_values(singular_values_from_gram(gram(matrix)))


def field_embedding_information_abundance(table: ArrayLike, field_rows: list[tuple[int, int]], num_sets: int,
                                          embedding_dim: int) -> list[dict]:
    """IA of every field's embedding matrix, per set and for all sets side by side.

    Each field's Gram matrix is formed once; the per-set values read its diagonal K x K blocks.

    Args:
        table: array-like. The packed (sum D_i, M*K) embedding table; columns [m*K, (m+1)*K)
            are set m.
        field_rows: list of (start, stop). The row range of every field.
        num_sets: int. M, the number of embedding sets.
        embedding_dim: int. K, the width of one set.

    Returns:
        A list with one dict per field: {"sets": [IA(E_i^(m)) for every m],
        "all": IA([E_i^(1), ..., E_i^(M)])}.

    Example:

    >>> import numpy as np
    >>> table = np.array([[1.0, 0.0, 1.0, 0.0],
    ...                   [0.0, 1.0, 1.0, 0.0]])  # one field, M = 2 sets of K = 2
    >>> field_embedding_information_abundance(table, [(0, 2)], num_sets=2, embedding_dim=2)
    [{'sets': [2.0, 1.0], 'all': 1.5773...}]

    References:
        Guo et al., ICML 2024, Section 3 (Figure 2) and Section 5.3.
    """
    table = np.asarray(table)
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


def spectrum_normalized_by_largest(singular_values: ArrayLike) -> np.ndarray:
    """A descending spectrum divided by its largest value.

    Args:
        singular_values: array-like. Singular values, descending.

    Returns:
        float64 array of the same shape; an all-zero or empty spectrum is returned unchanged.

    Example:

    >>> spectrum_normalized_by_largest([4.0, 2.0, 1.0])
    array([1.  , 0.5 , 0.25])

    References:
        Guo et al., ICML 2024, Section 1, Figure 1b.
    """
    singular_values = np.asarray(singular_values, dtype=np.float64)
    largest = singular_values[0] if singular_values.size else 0.0
    return singular_values / largest if largest > 0 else singular_values


def normalized_singular_spectrum(matrix: ArrayLike) -> np.ndarray:
    """Singular values of E, descending, divided by the largest.

    Args:
        matrix: array-like. E, of shape (D, K).

    Returns:
        float64 array of shape (K,), starting at 1 for a non-zero matrix.

    Example:

    >>> import numpy as np
    >>> normalized_singular_spectrum(np.diag([4.0, 1.0, 2.0]))
    array([1.  , 0.5 , 0.25])

    References:
        Guo et al., ICML 2024, Section 1, Figure 1b.
    """
    return spectrum_normalized_by_largest(singular_values_from_gram(gram(matrix)))


def information_abundance_per_dimension(matrix: ArrayLike) -> float:
    """IA(E) / K, comparable across embedding sizes K.

    Args:
        matrix: array-like. E, of shape (D, K).

    Returns:
        A value in (0, 1] for a non-zero matrix.

    Example:

    >>> import numpy as np
    >>> information_abundance_per_dimension(np.ones((6, 4)))
    0.25

    References:
        Guo et al., ICML 2024, Appendix I, Figure 15.
    """
    return information_abundance(matrix) / np.asarray(matrix).shape[1]


def random_gaussian_gram(num_rows: int, num_columns: int, rng: np.random.Generator) -> np.ndarray:
    """A sample of X^T X for X with i.i.d. N(0, 1) entries of shape (num_rows, num_columns).

    X^T X is Wishart(num_columns, num_rows, I); when num_rows >= num_columns it is drawn with the
    Bartlett decomposition A A^T (A lower-triangular, A_kk^2 ~ chi2(num_rows - k), A_kl ~ N(0, 1)
    below the diagonal), which costs O(K^2) instead of O(D K^2) for tables with millions of rows.

    Args:
        num_rows: int. D, the rows of X.
        num_columns: int. K, the columns of X.
        rng: numpy.random.Generator. The source of randomness.

    Returns:
        float64 array of shape (K, K), symmetric positive semi-definite.

    Example:

    >>> import numpy as np
    >>> sample = random_gaussian_gram(10**6, 3, np.random.default_rng(0))
    >>> sample.shape, bool(np.allclose(sample, sample.T))
    ((3, 3), True)

    References:
        Guo et al., ICML 2024, Appendix I (the randn_like(E) baseline).
    """
    if num_rows < num_columns:
        matrix = rng.standard_normal((num_rows, num_columns))
        return matrix.T @ matrix
    lower = np.tril(rng.standard_normal((num_columns, num_columns)), k=-1)
    lower[np.diag_indices(num_columns)] = np.sqrt(rng.chisquare(num_rows - np.arange(num_columns)))
    return lower @ lower.T


def expected_random_information_abundance(num_rows: int, num_columns: int, num_samples: int = 16,
                                          seed: int = 0) -> float:
    """Monte Carlo estimate of E[IA(randn_like(E))] for E of shape (num_rows, num_columns).

    Args:
        num_rows: int. D, the rows of E.
        num_columns: int. K, the columns of E.
        num_samples: int. Random matrices averaged. Defaults to 16.
        seed: int. Seed of the generator. Defaults to 0.

    Returns:
        The mean IA of `num_samples` Gaussian matrices; it approaches K as D / K grows.

    Example:

    >>> 3.9 < expected_random_information_abundance(100_000, 4) < 4.0
    True

    References:
        Guo et al., ICML 2024, Appendix I.
    """
    rng = np.random.default_rng(seed)
    samples = [information_abundance_from_singular_values(
        singular_values_from_gram(random_gaussian_gram(num_rows, num_columns, rng))) for _ in range(num_samples)]
    return float(np.mean(samples))


def relative_information_abundance(matrix: ArrayLike, num_samples: int = 16, seed: int = 0) -> float:
    """IA(E) / E[IA(randn_like(E))]: 1 means as abundant as a random Gaussian matrix.

    Args:
        matrix: array-like. E, of shape (D, K).
        num_samples: int. Random matrices in the estimate of the denominator. Defaults to 16.
        seed: int. Seed of the estimate. Defaults to 0.

    Returns:
        The ratio; near 1 / K for a rank-one matrix with D >> K.

    Example:

    >>> import numpy as np
    >>> round(relative_information_abundance(np.ones((100_000, 4))), 2)  # 1 / (about 4)
    0.25

    References:
        Guo et al., ICML 2024, Appendix I.
    """
    num_rows, num_columns = np.asarray(matrix).shape
    return information_abundance(matrix) / expected_random_information_abundance(
        num_rows, num_columns, num_samples, seed)
