"""Sub-embedding information abundance and interaction patterns (paper Section 4.1, Figures 3, 9, 10b, 14)."""

import numpy as np
import pytest

from tf_multiemb import build_model, sub_embedding
from tf_multiemb.cross_blocks import cross_kernel_blocks, interaction_pattern


def svd_information_abundance(matrix):
    singular_values = np.linalg.svd(matrix, compute_uv=False)
    return singular_values.sum() / singular_values.max()


def test_blocks_reproduce_the_layer_product():
    """(x @ W) in field j's slot = sum_i x_i @ block[i, j]."""
    rng = np.random.default_rng(0)
    num_fields, dim = 3, 4
    kernel = rng.standard_normal((2, num_fields * dim, num_fields * dim))
    x = rng.standard_normal(num_fields * dim)
    blocks = cross_kernel_blocks(kernel, dim)
    for m in range(2):
        product = x @ kernel[m]
        for j in range(num_fields):
            slot = sum(x[i * dim:(i + 1) * dim] @ blocks[m, i, j] for i in range(num_fields))
            np.testing.assert_allclose(product[j * dim:(j + 1) * dim], slot, atol=1e-12)


@pytest.mark.parametrize("set_index", [0, 2])
def test_dcnv2_sub_embedding_ia_matches_explicit_products(set_index):
    rng = np.random.default_rng(1)
    field_dims, dim, num_sets = [3, 25, 60], 5, 3
    rows = [(0, 3), (3, 28), (28, 88)]
    table = rng.standard_normal((88, num_sets * dim))
    table[28:88, set_index * dim:(set_index + 1) * dim] = np.outer(rng.standard_normal(60), rng.standard_normal(dim))
    width = len(field_dims) * dim
    kernel = rng.standard_normal((num_sets, width, width))
    result = sub_embedding.dcnv2_sub_embedding_information_abundance(table, rows, kernel, dim, set_index)
    for i, (start, stop) in enumerate(rows):
        field = table[start:stop, set_index * dim:(set_index + 1) * dim]
        for j in range(len(field_dims)):
            # The paper's E_i^{->j} = E_i W_{i->j}^T; in the x @ W layout W_{i->j}^T is this block.
            projection_transposed = kernel[set_index, i * dim:(i + 1) * dim, j * dim:(j + 1) * dim]
            assert result[i, j] == pytest.approx(svd_information_abundance(field @ projection_transposed), rel=1e-6)
    assert np.allclose(result[2], 1.0)  # a rank-1 field stays rank 1 after any projection


def test_dcnv2_sub_embedding_ia_on_a_built_model():
    model = build_model("dcnv2", [4, 30, 50], embedding="multi", scale=2, embedding_dim=3, hidden_units=(8,),
                        num_layers=2)
    layer = model.field_embedding
    table = np.asarray(layer.embeddings)
    rows = [layer.field_rows(i) for i in range(3)]
    kernel = np.asarray(model.interaction.kernels[0])
    result = sub_embedding.dcnv2_sub_embedding_information_abundance(table, rows, kernel, 3, set_index=1)
    start, stop = rows[1]
    explicit = table[start:stop, 3:6] @ kernel[1, 3:6, 6:9]
    assert result[1, 2] == pytest.approx(svd_information_abundance(explicit), rel=1e-6)


def test_interaction_pattern_is_block_frobenius_norms():
    rng = np.random.default_rng(2)
    kernel = rng.standard_normal((2, 6, 6))
    pattern = interaction_pattern(kernel, 2)
    assert pattern.shape == (2, 3, 3)
    for m in range(2):
        for i in range(3):
            for j in range(3):
                assert pattern[m, i, j] == pytest.approx(np.linalg.norm(kernel[m, 2 * i:2 * i + 2, 2 * j:2 * j + 2]))


def test_ffm_sub_embedding_ia():
    rng = np.random.default_rng(3)
    pair_tables = [[None if i == j else rng.standard_normal((10 + 5 * i, 4)) for j in range(3)] for i in range(3)]
    pair_tables[2][0] = np.outer(rng.standard_normal(20), rng.standard_normal(4)) @ np.diag([1, 1, 1, 1.0])
    result = sub_embedding.ffm_sub_embedding_information_abundance(pair_tables)
    assert np.isnan(np.diag(result)).all()
    assert result[0, 1] == pytest.approx(svd_information_abundance(pair_tables[0][1]))
    assert result[2, 0] == pytest.approx(1.0)


def test_sorting_by_field_ia():
    matrix = np.arange(9.0).reshape(3, 3)
    sorted_matrix, order = sub_embedding.sort_fields_by_information_abundance(matrix, [3.0, 1.0, 2.0])
    assert order.tolist() == [1, 2, 0]
    assert sorted_matrix[0, 0] == matrix[1, 1] and sorted_matrix[0, 2] == matrix[1, 0]
    assert sorted_matrix[2, 1] == matrix[0, 2]


def test_correlation_factors():
    positions = np.arange(5.0)
    matrix = 10.0 * positions[None, :] - positions[:, None]  # columns grow with j, rows shrink with i
    factors = sub_embedding.interaction_correlation_factors(matrix)
    assert factors["target"] == pytest.approx(1.0)
    assert factors["source"] == pytest.approx(-1.0)
    np.testing.assert_allclose(factors["target_sums"], 50.0 * positions - 10.0)
    matrix_with_nan = matrix.copy()
    np.fill_diagonal(matrix_with_nan, np.nan)
    assert np.isfinite(sub_embedding.interaction_correlation_factors(matrix_with_nan)["target"])
