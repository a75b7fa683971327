"""Bring your own backbone: register_backbone, package.module:name specs, the MultiEmbedding name and its alias."""

import json
import zipfile

import keras
import numpy as np
import pytest

import tf_multiemb
from tf_multiemb import BACKBONES, MultiEmbedding, build_model, register_backbone
from tf_multiemb.layers import PerSet
from tf_multiemb.models.registry import import_backbone
from trainers.sweep import split_model_entry


@pytest.fixture
def flat_dense_backbone():
    register_backbone("flat_dense", lambda **kw: PerSet(
        keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(kw.pop("units"))]), **kw),
        embedding_dim=3, units=5)
    yield "flat_dense"
    BACKBONES.pop("flat_dense")


def test_a_registered_backbone_scales_like_a_built_in_one(flat_dense_backbone):
    single = build_model(flat_dense_backbone, [4, 6, 8], embedding="single", scale=4, hidden_units=(7,))
    multi = build_model(flat_dense_backbone, [4, 6, 8], embedding="multi", scale=4, hidden_units=(7,))
    assert (single.num_sets, single.embedding_dim, multi.num_sets, multi.embedding_dim) == (1, 12, 4, 3)
    assert single.embedding_parameter_count() == multi.embedding_parameter_count() == 18 * 12
    assert len(multi.interaction.set_layers) == 4
    assert multi.interaction.compute_output_shape((None, 4, 3, 3)) == (None, 4, 5)


def test_overrides_reach_the_interaction_function(flat_dense_backbone):
    model = build_model(flat_dense_backbone, [4, 6], embedding="multi", scale=2, hidden_units=(7,), units=9)
    assert model.interaction.compute_output_shape((None, 2, 2, 3)) == (None, 2, 9)


@pytest.mark.parametrize("name,function,dim,error,message", [
    ("dcnv2", lambda **kw: None, 10, ValueError, "other than the built-in"),
    ("my-model", lambda **kw: None, 10, ValueError, "must be a Python identifier"),
    ("mine", "not callable", 10, TypeError, "interaction_fn must be callable"),
    ("mine", lambda **kw: None, 0, ValueError, "embedding_dim must be a positive integer"),
])
def test_register_backbone_refuses_what_cannot_work(name, function, dim, error, message):
    with pytest.raises(error, match=message):
        register_backbone(name, function, dim)
    assert "mine" not in BACKBONES


def test_module_specs_name_the_missing_module_or_registration():
    with pytest.raises(ValueError, match="cannot import 'no_such_module_xyz'"):
        import_backbone("no_such_module_xyz:anything")
    with pytest.raises(ValueError, match="importing 'json' registered no backbone 'nothing'"):
        import_backbone("json:nothing")
    with pytest.raises(ValueError, match="unknown model 'dcnv3'"):
        build_model("dcnv3", [3, 3])


def test_sweep_entries_keep_module_specs_whole():
    assert split_model_entry("my.module:name:units=4:depth=2") == ("my.module:name", ("units=4", "depth=2"))
    assert split_model_entry("dcnv2:projection_dim=195") == ("dcnv2", ("projection_dim=195",))


def test_multi_embedding_is_the_public_name_and_old_files_still_load(tmp_path):
    assert tf_multiemb.MultiEmbedding is tf_multiemb.MultiEmbeddingModel is MultiEmbedding
    model = build_model("dnn", [4, 6], embedding="multi", scale=2, hidden_units=(8,))
    path = tmp_path / "model.keras"
    model.save(path)
    old = tmp_path / "old.keras"  # the same file as the class's earlier name wrote it
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                assert config["class_name"] == "MultiEmbedding"
                config["class_name"], config["registered_name"] = "MultiEmbeddingModel", "tf_multiemb>MultiEmbeddingModel"
                data = json.dumps(config).encode()
            target.writestr(item, data)
    restored = keras.saving.load_model(old)
    ids = np.array([[1, 5], [3, 0]])
    assert isinstance(restored, MultiEmbedding)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(ids)), keras.ops.convert_to_numpy(model(ids)))
