"""FieldEmbedding, set-batched layers and the multi-embedding wrapper (paper Section 5.1)."""

import keras
import numpy as np
import pytest

import tf_multiemb
from tf_multiemb.layers import CrossNetV2, FieldEmbedding, MLPBlock, SetDense

FIELD_DIMS = [5, 7, 3, 4]


def random_ids(batch, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, d, size=batch) for d in FIELD_DIMS], axis=1).astype("int32")


def test_field_embedding_reads_each_fields_rows_and_sets():
    layer = FieldEmbedding(FIELD_DIMS, embedding_dim=2, num_sets=3)
    ids = random_ids(6)
    out = keras.ops.convert_to_numpy(layer(ids))
    table = keras.ops.convert_to_numpy(layer.embeddings)
    offsets = np.concatenate([[0], np.cumsum(FIELD_DIMS)[:-1]])
    assert out.shape == (6, 3, 4, 2)
    for b in range(6):
        for field in range(4):
            row = table[offsets[field] + ids[b, field]]
            for m in range(3):
                np.testing.assert_array_equal(out[b, m, field], row[2 * m:2 * m + 2])


def test_set_dense_equals_one_dense_per_set():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 3, 5)).astype("float32")
    layer = SetDense(4)
    batched = keras.ops.convert_to_numpy(layer(x))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in (layer.kernel, layer.bias))
    for m in range(3):
        dense = keras.layers.Dense(4)
        dense.build((None, 5))
        dense.set_weights([kernel[m], bias[m]])
        np.testing.assert_allclose(batched[:, m], keras.ops.convert_to_numpy(dense(x[:, m])), rtol=1e-5, atol=1e-6)


def test_mlp_block_normalises_each_set_separately():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 2, 3)).astype("float32")
    x[:, 1] = 100.0 * x[:, 1] + 50.0  # very different statistics in set 1
    block = MLPBlock(4, dropout=0.0)
    out = keras.ops.convert_to_numpy(block(x, training=True))
    pre = keras.ops.convert_to_numpy(block.dense(x))
    expected = np.maximum((pre - pre.mean(0)) / np.sqrt(pre.var(0) + block.batch_norm.epsilon), 0.0)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_cross_network_sets_are_independent_cross_networks():
    rng = np.random.default_rng(3)
    embeddings = rng.standard_normal((5, 3, 4, 2)).astype("float32")
    layer = CrossNetV2(num_layers=2)
    out = keras.ops.convert_to_numpy(layer(embeddings))
    for m in range(3):
        single = CrossNetV2(num_layers=2)
        single.build((None, 1, 4, 2))
        single.set_weights([w[m:m + 1] for w in layer.get_weights()])
        np.testing.assert_allclose(out[:, m], keras.ops.convert_to_numpy(single(embeddings[:, m:m + 1]))[:, 0],
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale", [1, 2, 3, 4, 10])
def test_single_and_multi_have_equal_embedding_parameters(scale):
    single = tf_multiemb.build_model("dcnv2", FIELD_DIMS, embedding="single", scale=scale)
    multi = tf_multiemb.build_model("dcnv2", FIELD_DIMS, embedding="multi", scale=scale)
    assert (single.num_sets, single.embedding_dim) == (1, 10 * scale)
    assert (multi.num_sets, multi.embedding_dim) == (scale, 10)
    expected = sum(FIELD_DIMS) * 10 * scale
    assert single.embedding_parameter_count() == multi.embedding_parameter_count() == expected
    assert keras.ops.size(single.field_embedding.embeddings) == expected


def test_head_is_one_layer_shallower_than_single_embedding_mlp():
    """ME: per-set projection (400) -> mean -> one shared hidden layer; SE: the same two hidden layers."""
    multi = tf_multiemb.build_model("dcnv2", FIELD_DIMS, embedding="multi", scale=4)
    assert multi.projection.dense.kernel.shape == (4, 4 * 10, 400)
    assert [block.units for block in multi.head] == [400]


def test_identical_sets_average_to_the_single_set_model():
    """With all M sets holding the same weights, the mean over sets equals the one-set model."""
    single = tf_multiemb.build_model("dcnv2", FIELD_DIMS, embedding="multi", scale=1, dropout=0.0)
    multi = tf_multiemb.build_model("dcnv2", FIELD_DIMS, embedding="multi", scale=3, dropout=0.0)
    for source, target in zip(single.weights, multi.weights):
        value = keras.ops.convert_to_numpy(source)
        if "embeddings" in source.path:
            value = np.tile(value, (1, 3))
        elif tuple(target.shape) != tuple(source.shape):  # per-set weights: repeat along the set axis
            value = np.repeat(value, 3, axis=0) if target.shape[0] == 3 and source.shape[0] == 1 else np.tile(value, 3)
        target.assign(value)
    ids = random_ids(16)
    np.testing.assert_allclose(multi.predict(ids, verbose=0), single.predict(ids, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("embedding", ["single", "multi"])
def test_keras_round_trip_gives_identical_predictions(tmp_path, embedding):
    model = tf_multiemb.build_model("dcnv2", FIELD_DIMS, embedding=embedding, scale=2)
    model.compile(optimizer=tf_multiemb.optimizers.AdamL2(l2=1e-6), loss="binary_crossentropy")
    ids = random_ids(32)
    model.train_on_batch(ids, np.random.default_rng(0).integers(0, 2, (32, 1)).astype("float32"))
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(restored.predict(ids, verbose=0), model.predict(ids, verbose=0))


@pytest.mark.parametrize("arguments, message", [
    (dict(name="dcnv3"), "unknown model"),
    (dict(scale=0), "positive integer"),
    (dict(scale=1.5), "positive integer"),
    (dict(scale=True), "positive integer"),
    (dict(embedding="dual"), "embedding mode"),
])
def test_bad_arguments_name_the_problem(arguments, message):
    call = dict(name="dcnv2", field_dims=FIELD_DIMS, embedding="single", scale=1) | arguments
    with pytest.raises(ValueError, match=message):
        tf_multiemb.build_model(**call)


def test_coupled_l2_adds_decay_to_the_gradient():
    """AdamL2's first step on weight w with gradient g equals Adam's first step with gradient g + l2*w."""
    l2 = 0.5
    weight = keras.Variable(np.array([1.0, -2.0, 3.0], dtype="float32"))
    reference = keras.Variable(np.array([1.0, -2.0, 3.0], dtype="float32"))
    gradient = np.array([0.1, 0.0, -0.3], dtype="float32")
    tf_multiemb.optimizers.AdamL2(learning_rate=0.1, l2=l2).apply([gradient], [weight])
    keras.optimizers.Adam(learning_rate=0.1).apply([gradient + l2 * np.array([1.0, -2.0, 3.0], "float32")],
                                                   [reference])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weight), keras.ops.convert_to_numpy(reference), rtol=1e-6)
    assert keras.ops.convert_to_numpy(weight)[1] > -2.0  # zero gradient, yet decayed towards 0
