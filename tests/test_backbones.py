"""Every backbone x {single, multi} x {1x, 10x}: builds, trains one step, survives a .keras round trip."""

import json

import numpy as np
import pytest

import keras
from tf_multiemb import BACKBONES, build_model

FIELD_DIMS = [7, 5, 9, 4, 6]
HIDDEN_UNITS = (32, 16)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    ids = np.stack([rng.integers(0, d, size=64) for d in FIELD_DIMS], axis=1).astype("int32")
    labels = rng.integers(0, 2, size=(64, 1)).astype("float32")
    return ids, labels


def test_registry_names():
    assert set(BACKBONES) == {"dnn", "ipnn", "nfwfm", "xdeepfm", "dcnv2", "finalmlp", "autoint", "fm", "ffm"}


@pytest.mark.parametrize("scale", [1, 10])
@pytest.mark.parametrize("embedding", ["single", "multi"])
@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_train_step_and_round_trip(name, embedding, scale, batch, tmp_path):
    ids, labels = batch
    model = build_model(name, FIELD_DIMS, embedding=embedding, scale=scale, hidden_units=HIDDEN_UNITS)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = np.asarray(model(ids, training=False))
    loss = model.train_on_batch(ids, labels)
    assert np.isfinite(loss)
    after = np.asarray(model(ids, training=False))
    assert not np.allclose(before, after), "one Adam step should change the predictions"
    assert after.shape == (len(ids), 1) and np.all((after > 0) & (after < 1))

    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(restored(ids, training=False)), after)
    assert json.dumps(restored.get_config(), sort_keys=True) == json.dumps(model.get_config(), sort_keys=True)
