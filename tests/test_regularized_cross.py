"""CrossNetV2 options: orthogonality penalty, shared-across-sets and set-variance ablations, low rank
(paper Section 4.2 Evidence III, Section 5.3, Appendix K)."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from tf_multiemb import build_model
from tf_multiemb.layers.cross_network import CrossNetV2

NUM_SETS, NUM_FIELDS, DIM = 2, 3, 4
WIDTH = NUM_FIELDS * DIM


def built_layer(**options):
    layer = CrossNetV2(num_layers=2, **options)
    layer.build((None, NUM_SETS, NUM_FIELDS, DIM))
    return layer


def random_embeddings(seed=0, batch=5):
    return np.random.default_rng(seed).standard_normal((batch, NUM_SETS, NUM_FIELDS, DIM)).astype("float32")


def numpy_cross(embeddings, kernels, biases):
    """x_{l+1} = x0 * (x_l W_l + b_l) + x_l per set, DCNv2 Eq. 1."""
    x0 = embeddings.reshape(embeddings.shape[0], embeddings.shape[1], -1).astype(np.float64)
    x = x0
    for kernel, bias in zip(kernels, biases):
        x = x0 * (np.stack([x[:, m] @ kernel[m] for m in range(x.shape[1])], axis=1) + bias) + x
    return x


def set_random_biases(layer, seed=1):
    rng = np.random.default_rng(seed)
    for bias in layer.biases:
        bias.assign(rng.standard_normal(bias.shape).astype("float32"))


def test_default_output_matches_numpy_formula():
    layer = built_layer()
    set_random_biases(layer)
    embeddings = random_embeddings()
    expected = numpy_cross(embeddings, [np.asarray(k) for k in layer.kernels], [np.asarray(b) for b in layer.biases])
    np.testing.assert_allclose(np.asarray(layer(embeddings)), expected, rtol=1e-4, atol=1e-5)
    assert layer.losses == []
    assert [w.name for w in layer.weights] == ["kernel_0", "kernel_1", "bias_0", "bias_1"]


@pytest.mark.parametrize("shared_across_sets", [False, True])
def test_low_rank_output_matches_numpy_formula_without_forming_the_kernel(monkeypatch, shared_across_sets):
    layer = built_layer(projection_dim=2, shared_across_sets=shared_across_sets)
    set_random_biases(layer)
    embeddings = random_embeddings()
    kernels = [np.asarray(d) @ np.asarray(u) for d, u in zip(layer.down_kernels, layer.up_kernels)]
    assert kernels[0].shape[1:] == (WIDTH, WIDTH) and np.linalg.matrix_rank(kernels[0][0]) == 2
    expected = numpy_cross(embeddings, [np.broadcast_to(k, (NUM_SETS, WIDTH, WIDTH)) for k in kernels],
                           [np.broadcast_to(np.asarray(b), (NUM_SETS, WIDTH)) for b in layer.biases])

    def forming_the_kernel():
        raise AssertionError("the forward pass formed U V^T, an NK x NK matrix")

    # Without penalties the forward pass must use (x U) V^T: forming W costs (NK)^2 per example.
    monkeypatch.setattr(layer, "effective_kernels", forming_the_kernel)
    np.testing.assert_allclose(np.asarray(layer(embeddings)), expected, rtol=1e-4, atol=1e-5)


def numpy_orthogonality_penalty(kernels, scales):
    total = 0.0
    for layer_index, kernel in enumerate(kernels):
        for m in range(kernel.shape[0]):
            for i in range(NUM_FIELDS):
                for j in range(NUM_FIELDS):
                    projection = kernel[m, i * DIM:(i + 1) * DIM, j * DIM:(j + 1) * DIM].T  # W_{i->j}
                    residual = projection.T @ projection - scales[layer_index, m, i, j] * np.eye(DIM)
                    total += np.sum(residual ** 2)
    return total


def test_orthogonality_penalty_is_zero_for_scaled_orthogonal_blocks():
    layer = built_layer(orthogonal_regularization=1e-5)
    rng = np.random.default_rng(2)
    scale_values = rng.uniform(0.5, 2.0, size=(2, NUM_SETS, NUM_FIELDS, NUM_FIELDS))
    for layer_index, kernel in enumerate(layer.kernels):
        value = np.zeros((NUM_SETS, WIDTH, WIDTH))
        for m in range(NUM_SETS):
            for i in range(NUM_FIELDS):
                for j in range(NUM_FIELDS):
                    orthogonal = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0]
                    value[m, i * DIM:(i + 1) * DIM, j * DIM:(j + 1) * DIM] = (
                        np.sqrt(scale_values[layer_index, m, i, j]) * orthogonal)
        kernel.assign(value.astype("float32"))
    layer.block_scales.assign(scale_values.astype("float32"))
    assert float(layer.orthogonality_penalty()) == pytest.approx(0.0, abs=1e-4)
    layer.block_scales.assign(np.ones_like(scale_values, dtype="float32"))
    assert float(layer.orthogonality_penalty()) > 0.1


def test_orthogonality_penalty_value_loss_and_gradient_to_scales():
    layer = built_layer(orthogonal_regularization=1e-3)
    expected = numpy_orthogonality_penalty([np.asarray(k, dtype=np.float64) for k in layer.kernels],
                                           np.asarray(layer.block_scales, dtype=np.float64))
    assert float(layer.orthogonality_penalty()) == pytest.approx(expected, rel=1e-4)
    layer(random_embeddings())
    assert len(layer.losses) == 1
    assert float(layer.losses[0]) == pytest.approx(1e-3 * expected, rel=1e-4)
    with tf.GradientTape() as tape:
        penalty = layer.orthogonality_penalty()
    gradient = tape.gradient(penalty, layer.block_scales.value)
    assert gradient is not None and np.all(np.abs(np.asarray(gradient)) > 0)


def test_shared_across_sets_gives_identical_outputs_for_identical_inputs():
    one_set = np.random.default_rng(3).standard_normal((4, 1, NUM_FIELDS, DIM)).astype("float32")
    embeddings = np.repeat(one_set, NUM_SETS, axis=1)
    shared = built_layer(shared_across_sets=True)
    set_random_biases(shared)
    assert shared.kernels[0].shape == (1, WIDTH, WIDTH)
    outputs = np.asarray(shared(embeddings))
    # Equal up to float32 round-off: oneDNN's batched matmul may block each set's product differently.
    np.testing.assert_allclose(outputs[:, 0], outputs[:, 1], rtol=1e-5, atol=1e-5)
    separate = np.asarray(built_layer()(embeddings))
    assert not np.allclose(separate[:, 0], separate[:, 1])


def test_set_variance_penalty():
    layer = built_layer(set_variance_regularization=0.5)
    kernels = [np.asarray(k, dtype=np.float64) for k in layer.kernels]
    expected = 0.0
    for kernel in kernels:
        norms = np.array([[[np.linalg.norm(kernel[m, i * DIM:(i + 1) * DIM, j * DIM:(j + 1) * DIM])
                            for j in range(NUM_FIELDS)] for i in range(NUM_FIELDS)] for m in range(NUM_SETS)])
        expected += norms.var(axis=0).sum()
    assert expected > 0
    assert float(layer.set_variance_penalty()) == pytest.approx(expected, rel=1e-4)
    layer(random_embeddings())
    assert float(layer.losses[0]) == pytest.approx(0.5 * expected, rel=1e-4)
    for kernel in layer.kernels:
        kernel.assign(np.repeat(np.asarray(kernel)[:1], NUM_SETS, axis=0))
    assert float(layer.set_variance_penalty()) == pytest.approx(0.0, abs=1e-6)


def test_config_round_trip_and_build_model_forwarding(tmp_path):
    options = dict(projection_dim=3, shared_across_sets=True, orthogonal_regularization=1e-5,
                   set_variance_regularization=1e-4)
    config = CrossNetV2(**options).get_config()
    assert {key: config[key] for key in options} == options
    model = build_model("dcnv2", [4, 9, 6], embedding="multi", scale=2, embedding_dim=3, hidden_units=(8,),
                        num_layers=2, orthogonal_regularization=1e-5)
    ids = np.array([[0, 1, 2], [3, 8, 5]])
    model(ids)
    assert len(model.losses) == 1 and float(model.losses[0]) > 0
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.interaction.orthogonal_regularization == 1e-5
    np.testing.assert_allclose(np.asarray(restored.interaction.block_scales), np.asarray(model.interaction.block_scales))
    np.testing.assert_allclose(np.asarray(restored(ids)), np.asarray(model(ids)), rtol=1e-6)


def test_invalid_options():
    with pytest.raises(ValueError):
        CrossNetV2(projection_dim=0)
    with pytest.raises(ValueError):
        CrossNetV2(orthogonal_regularization=-1.0)
