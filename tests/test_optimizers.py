"""AdamL2: coupled L2, and the lazy (row-sparse) update option against dense Adam."""

import keras
import numpy as np
import pytest

import tf_multiemb
from tf_multiemb.metrics import roc_auc
from tf_multiemb.optimizers import AdamL2

FIELD_DIMS = [5, 7, 3, 4]
L2 = 1e-2


def twin_models(embedding="multi", scale=2):
    """Two identically initialised small DCNv2 models."""
    models = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        models.append(tf_multiemb.build_model("dcnv2", FIELD_DIMS, embedding=embedding, scale=scale, dropout=0.0))
    return models


def table(model):
    return keras.ops.convert_to_numpy(model.field_embedding.embeddings)


def train(model, optimizer, batches, jit_compile=False):
    model.compile(optimizer=optimizer, loss="binary_crossentropy", jit_compile=jit_compile)
    for ids in batches:
        model.train_on_batch(ids, (ids[:, :1] % 2).astype("float32"))


def touched_rows(ids):
    offsets = np.concatenate([[0], np.cumsum(FIELD_DIMS)[:-1]])
    return np.unique(ids + offsets)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_first_sparse_step_equals_dense_on_touched_rows_and_leaves_the_rest(jit_compile):
    dense, sparse = twin_models()
    initial = table(sparse).copy()
    ids = np.array([[0, 1, 2, 3], [0, 1, 0, 3], [4, 6, 2, 0]], dtype="int32")  # repeated ids: summed gradients
    train(dense, AdamL2(learning_rate=0.01, l2=L2), [ids], jit_compile)
    train(sparse, AdamL2(learning_rate=0.01, l2=L2, sparse_updates=True), [ids], jit_compile)
    touched = touched_rows(ids)
    untouched = np.setdiff1d(np.arange(len(initial)), touched)
    np.testing.assert_allclose(table(sparse)[touched], table(dense)[touched], rtol=1e-5, atol=1e-7)
    assert not np.allclose(table(sparse)[touched], initial[touched])
    np.testing.assert_array_equal(table(sparse)[untouched], initial[untouched])
    assert not np.allclose(table(dense)[untouched], initial[untouched])  # dense L2 decays untouched rows
    for dense_weight, sparse_weight in zip(dense.weights[1:], sparse.weights[1:]):  # every dense variable
        np.testing.assert_allclose(keras.ops.convert_to_numpy(sparse_weight),
                                   keras.ops.convert_to_numpy(dense_weight), rtol=1e-5, atol=1e-7)


def test_sparse_equals_dense_over_steps_when_every_row_is_touched():
    """Lazy Adam differs only on untouched rows: a batch covering every id keeps it equal to dense Adam."""
    dense, sparse = twin_models(embedding="single", scale=1)
    rng = np.random.default_rng(0)
    every_id = np.stack([np.arange(8) % d for d in FIELD_DIMS], axis=1).astype("int32")
    batches = [rng.permutation(every_id) for _ in range(3)]
    train(dense, AdamL2(learning_rate=0.01, l2=L2), batches)
    train(sparse, AdamL2(learning_rate=0.01, l2=L2, sparse_updates=True), batches)
    np.testing.assert_allclose(table(sparse), table(dense), rtol=1e-4, atol=1e-6)
    for name in ("momentum", "velocity"):
        moments = [keras.ops.convert_to_numpy(next(v for v in model.optimizer.variables
                                                   if name in v.path and "embeddings" in v.path))
                   for model in (dense, sparse)]
        np.testing.assert_allclose(moments[1], moments[0], rtol=1e-4, atol=1e-9)


def test_dense_gradients_take_the_dense_path():
    weight = keras.Variable(np.array([1.0, -2.0], dtype="float32"))
    reference = keras.Variable(np.array([1.0, -2.0], dtype="float32"))
    gradient = np.array([0.1, 0.0], dtype="float32")
    AdamL2(learning_rate=0.1, l2=0.5, sparse_updates=True).apply([gradient], [weight])
    AdamL2(learning_rate=0.1, l2=0.5).apply([gradient], [reference])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), keras.ops.convert_to_numpy(reference))


def test_config_round_trip_and_amsgrad_rejected():
    optimizer = AdamL2(learning_rate=0.01, l2=1e-6, sparse_updates=True)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert (type(restored), restored.l2, restored.sparse_updates) == (AdamL2, 1e-6, True)
    with pytest.raises(ValueError, match="amsgrad"):
        AdamL2(sparse_updates=True, amsgrad=True)


def test_sparse_updates_learn_the_criteo_sample_as_well_as_dense(criteo_10k_ids):
    """Same seed, model and data: lazy and dense Adam reach test AUCs within run-to-run noise."""
    (train_ids, train_labels), (test_ids, test_labels) = criteo_10k_ids["train"], criteo_10k_ids["test"]
    aucs = {}
    for sparse in (False, True):
        keras.utils.set_random_seed(0)
        model = tf_multiemb.build_model("dcnv2", criteo_10k_ids["field_dims"], embedding="multi", scale=2)
        model.compile(optimizer=AdamL2(learning_rate=1e-3, l2=1e-6, sparse_updates=sparse),
                      loss="binary_crossentropy")
        model.fit(train_ids, train_labels, batch_size=256, epochs=2, verbose=0)
        aucs[sparse] = roc_auc(test_labels, model.predict(test_ids, batch_size=1024, verbose=0))
    print(f"test AUC dense Adam {aucs[False]:.4f}, lazy Adam {aucs[True]:.4f}")
    assert min(aucs.values()) > 0.65
    assert abs(aucs[True] - aucs[False]) < 0.02
