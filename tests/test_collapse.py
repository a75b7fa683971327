"""Information abundance and its normalised variants (paper Definition 3.1, Appendices F and I)."""

import numpy as np
import pytest

from tf_multiemb import collapse


def random_orthonormal(rows, columns, rng):
    return np.linalg.qr(rng.standard_normal((rows, columns)))[0]


def svd_information_abundance(matrix):
    singular_values = np.linalg.svd(matrix, compute_uv=False)
    return singular_values.sum() / singular_values.max()


@pytest.mark.parametrize("rank", [1, 3, 7])
def test_rank_r_with_equal_singular_values_has_ia_r(rank):
    rng = np.random.default_rng(rank)
    left = random_orthonormal(50, rank, rng)
    right = random_orthonormal(8, rank, rng)
    matrix = 3.5 * left @ right.T  # 50 x 8, singular values (3.5,) * rank, zeros elsewhere
    assert collapse.information_abundance(matrix) == pytest.approx(rank, abs=1e-6)


def test_one_dominant_direction_has_ia_close_to_one():
    rng = np.random.default_rng(0)
    matrix = 100.0 * np.outer(rng.standard_normal(200), rng.standard_normal(10))
    matrix += 1e-3 * rng.standard_normal(matrix.shape)
    assert 1.0 <= collapse.information_abundance(matrix) < 1.01


@pytest.mark.parametrize("shape", [(300, 10), (7, 12), (1000, 40)])
def test_matches_svd_on_random_matrices(shape):
    matrix = np.random.default_rng(1).standard_normal(shape)
    assert collapse.information_abundance(matrix) == pytest.approx(svd_information_abundance(matrix), rel=1e-9)


def test_appendix_f_worked_example():
    single = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    multi = np.array([[1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1]], dtype=float)
    enlarged_single = np.concatenate([single, single], axis=1)
    assert collapse.information_abundance(single) == pytest.approx(2.0)
    assert collapse.information_abundance(enlarged_single) == pytest.approx(2.0)
    assert np.linalg.matrix_rank(multi) == 3
    assert collapse.information_abundance(multi) == pytest.approx(1 + np.sqrt(2))


def test_normalized_singular_spectrum():
    matrix = np.zeros((6, 3))
    matrix[0, 2], matrix[1, 0], matrix[2, 1] = 4.0, 2.0, 1.0
    np.testing.assert_allclose(collapse.normalized_singular_spectrum(matrix), [1.0, 0.5, 0.25], atol=1e-12)


def test_information_abundance_per_dimension():
    assert collapse.information_abundance_per_dimension(np.eye(10)) == pytest.approx(1.0)
    assert collapse.information_abundance_per_dimension(np.ones((5, 4))) == pytest.approx(0.25)


@pytest.mark.parametrize("shape", [(60, 10), (6, 10)])
def test_expected_random_ia_matches_direct_monte_carlo(shape):
    rng = np.random.default_rng(5)
    direct = np.mean([svd_information_abundance(rng.standard_normal(shape)) for _ in range(2000)])
    estimate = collapse.expected_random_information_abundance(*shape, num_samples=2000, seed=3)
    assert estimate == pytest.approx(direct, rel=0.01)


def test_relative_ia_is_about_one_for_gaussian_and_low_for_collapsed():
    rng = np.random.default_rng(2)
    assert collapse.relative_information_abundance(rng.standard_normal((500, 10))) == pytest.approx(1.0, abs=0.05)
    collapsed = np.outer(rng.standard_normal(500), rng.standard_normal(10))
    assert collapse.relative_information_abundance(collapsed) < 0.2


def test_relative_ia_is_seeded():
    matrix = np.random.default_rng(0).standard_normal((30, 10))
    first, again, other = (collapse.relative_information_abundance(matrix, seed=seed) for seed in (4, 4, 5))
    assert first == again  # the same seed draws the same Gaussian reference
    assert first != other  # a different seed draws another one: the seed is used


def test_field_embedding_information_abundance_per_set_and_joint():
    rng = np.random.default_rng(4)
    table = rng.standard_normal((30, 6))
    table[10:30, 3:6] = np.outer(rng.standard_normal(20), [1.0, 2.0, 3.0])  # field 1, set 1 has rank 1
    result = collapse.field_embedding_information_abundance(table, [(0, 10), (10, 30)], num_sets=2, embedding_dim=3)
    assert result[1]["sets"][1] == pytest.approx(1.0)
    assert result[0]["sets"][0] == pytest.approx(svd_information_abundance(table[0:10, 0:3]))
    assert result[1]["all"] == pytest.approx(svd_information_abundance(table[10:30]))
