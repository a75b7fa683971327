"""PerSet: one copy of a single-set layer per embedding set, equal to the built-in set-batched layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bench.cross_network_ceiling import FeatureCrossStack
from tf_multiemb.layers.cross_network import CrossNetV2
from tf_multiemb.layers.per_set import PerSet
from tf_multiemb.models.multi_embedding import MultiEmbeddingModel

SETS, FIELDS, DIM, LAYERS = 3, 4, 5, 2


def embeddings(seed=0):
    return np.random.default_rng(seed).standard_normal((6, SETS, FIELDS, DIM)).astype("float32")


def copy_cross_weights(built_in, per_set):
    """Puts CrossNetV2's set-m kernel and bias of layer l into copy m's FeatureCross l."""
    rng = np.random.default_rng(1)
    for layer in range(LAYERS):
        built_in.biases[layer].assign(rng.standard_normal(built_in.biases[layer].shape).astype("float32"))
        for index, copy in enumerate(per_set.set_layers):
            dense = copy.crosses[layer].dense
            dense.kernel.assign(keras.ops.convert_to_numpy(built_in.kernels[layer])[index])
            dense.bias.assign(keras.ops.convert_to_numpy(built_in.biases[layer])[index])


def outputs_and_gradients(layer, inputs):
    inputs = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs)
        loss = tf.reduce_sum(tf.sin(outputs))
    return outputs.numpy(), tape.gradient(loss, inputs).numpy()


def test_per_set_feature_cross_equals_the_built_in_cross_network_in_outputs_and_gradients():
    built_in, per_set = CrossNetV2(num_layers=LAYERS), PerSet(FeatureCrossStack(LAYERS))
    built_in.build((None, SETS, FIELDS, DIM))
    per_set.build((None, SETS, FIELDS, DIM))
    copy_cross_weights(built_in, per_set)
    expected, expected_gradient = outputs_and_gradients(built_in, embeddings())
    got, gradient = outputs_and_gradients(per_set, embeddings())
    assert got.shape == (6, SETS, FIELDS * DIM)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-5, atol=1e-5)


def test_copies_share_no_weights_and_each_set_uses_its_own():
    per_set = PerSet(keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3)]))
    inputs = np.repeat(embeddings()[:, :1], SETS, axis=1)  # every set sees the same embeddings
    outputs = keras.ops.convert_to_numpy(per_set(inputs))
    assert len({id(w) for copy in per_set.set_layers for w in copy.weights}) == SETS * 2
    assert not np.allclose(outputs[:, 0], outputs[:, 1])  # different initial weights per set


def seeded_flat_dense(seed=0):
    initializer = keras.initializers.GlorotUniform(seed=seed)
    return PerSet(keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3, kernel_initializer=initializer)]))


def kernels(per_set):
    return [keras.ops.convert_to_numpy(copy.layers[-1].kernel) for copy in per_set.set_layers]


def test_a_seeded_initializer_gives_every_copy_its_own_seed_and_builds_the_same_weights_every_time():
    first, again = seeded_flat_dense(), seeded_flat_dense()
    first.build((None, SETS, FIELDS, DIM))
    again.build((None, SETS, FIELDS, DIM))
    built = kernels(first)
    for one in range(SETS):
        for other in range(one + 1, SETS):
            assert not np.allclose(built[one], built[other])  # copies differ at build
    for kernel, repeated in zip(built, kernels(again)):
        np.testing.assert_array_equal(kernel, repeated)  # still seeded: the same weights on every build
    prototype = first.get_config()["layer"]["config"]["layers"][1]["config"]
    assert prototype["kernel_initializer"]["config"]["seed"] == 0  # as given, so the layer round-trips


def test_a_seeded_dropout_draws_its_own_mask_in_every_copy():
    per_set = PerSet(keras.Sequential([keras.layers.Flatten(), keras.layers.Dropout(0.5, seed=7)]))
    inputs = np.ones((6, SETS, FIELDS, DIM), "float32")  # every set sees the same input
    kept = keras.ops.convert_to_numpy(per_set(inputs, training=True)) != 0
    assert not (kept[:, 0] == kept[:, 1]).all() and not (kept[:, 1] == kept[:, 2]).all()


def test_a_model_holding_per_set_round_trips_through_a_keras_file(tmp_path):
    model = MultiEmbeddingModel([5, 7, 9, 3], PerSet(FeatureCrossStack(LAYERS)), num_sets=SETS, embedding_dim=DIM,
                                hidden_units=(8, 8))
    model.build((None, FIELDS))
    ids = np.array([[1, 2, 3, 0], [4, 6, 8, 2]])
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.interaction, PerSet) and len(restored.interaction.set_layers) == SETS
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(ids)), keras.ops.convert_to_numpy(model(ids)))


def test_output_shape_follows_the_wrapped_layer():
    per_set = PerSet(keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(7)]))
    assert per_set.compute_output_shape((None, SETS, FIELDS, DIM)) == (None, SETS, 7)
    with pytest.raises(TypeError, match="PerSet wraps a keras.layers.Layer, got str"):
        PerSet("not a layer")
