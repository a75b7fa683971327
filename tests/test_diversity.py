"""Principal-angle diversity of embedding sets (paper Section 5.3, Appendix F, Figure 10a)."""

import itertools

import numpy as np
import pytest

from tf_multiemb import diversity

SET_ONE = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
SET_TWO_MULTI = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=float)


def direct_diversity(first, second, tolerance=1e-8):
    """Orthonormal bases by SVD, cosines as singular values of U1^T U2 (written independently here)."""
    def basis(matrix):
        left, singular_values, _ = np.linalg.svd(matrix, full_matrices=False)
        return left[:, singular_values > tolerance * singular_values.max()]
    cosines = np.linalg.svd(basis(first).T @ basis(second), compute_uv=False)
    return 1.0 - cosines.sum() / first.shape[1]


def test_appendix_f_cosines():
    np.testing.assert_allclose(diversity.principal_angle_cosines(SET_ONE, SET_ONE), [1.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(diversity.principal_angle_cosines(SET_ONE, SET_TWO_MULTI), [1.0, 0.0], atol=1e-9)
    assert diversity.set_diversity(SET_ONE, SET_ONE) == pytest.approx(0.0, abs=1e-9)
    assert diversity.set_diversity(SET_ONE, SET_TWO_MULTI) == pytest.approx(0.5, abs=1e-9)


def test_known_angle():
    angle = 0.7
    first = np.zeros((5, 2))
    first[0, 0], first[1, 1] = 2.0, -3.0
    second = np.zeros((5, 2))
    second[0, 0] = 1.0
    second[1, 1], second[2, 1] = np.cos(angle), np.sin(angle)
    np.testing.assert_allclose(diversity.principal_angle_cosines(first, second), [1.0, np.cos(angle)], atol=1e-9)


def test_rank_deficient_set_matches_direct_computation():
    rng = np.random.default_rng(0)
    first = rng.standard_normal((40, 4))
    second = np.outer(rng.standard_normal(40), rng.standard_normal(4))  # rank 1
    assert diversity.set_diversity(first, second) == pytest.approx(direct_diversity(first, second), abs=1e-7)


def test_mean_set_diversity_averages_all_pairs():
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal((12, 9))
    matrix[:, 3:6] = matrix[:, 0:3] @ rng.standard_normal((3, 3))  # set 1 spans set 0's space
    blocks = [matrix[:, 3 * m:3 * (m + 1)] for m in range(3)]
    expected = np.mean([direct_diversity(blocks[a], blocks[b]) for a, b in itertools.combinations(range(3), 2)])
    assert diversity.mean_set_diversity(matrix, 3) == pytest.approx(expected, abs=1e-7)
    assert diversity.set_diversity(blocks[0], blocks[1]) == pytest.approx(0.0, abs=1e-7)


def test_field_embedding_diversity_averages_fields():
    rng = np.random.default_rng(2)
    table = rng.standard_normal((50, 6))
    rows = [(0, 20), (20, 50)]
    expected = np.mean([direct_diversity(table[a:b, :3], table[a:b, 3:]) for a, b in rows])
    assert diversity.field_embedding_diversity(table, rows, 2) == pytest.approx(expected, abs=1e-7)


def test_random_diversity_matches_gaussian_tables():
    rng = np.random.default_rng(3)
    rows = [(0, 30), (30, 230)]
    direct = np.mean([np.mean([direct_diversity(*np.split(rng.standard_normal((b - a, 8)), 2, axis=1))
                               for a, b in rows]) for _ in range(300)])
    estimates = [diversity.random_embedding_diversity(rows, 2, 8, seed=s) for s in range(300)]
    assert np.mean(estimates) == pytest.approx(direct, abs=0.01)
    # Far more rows than columns: random column spaces are nearly orthogonal.
    assert diversity.random_embedding_diversity([(0, 100000)], 2, 8) > 0.95


def test_needs_two_sets():
    with pytest.raises(ValueError):
        diversity.mean_set_diversity(np.ones((4, 4)), 1)
