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


USER_MODULE = '''
import keras
import tf_multiemb
from tf_multiemb.layers import PerSet


@keras.saving.register_keras_serializable(package="my_backbones")
class FieldSum(keras.layers.Layer):
    """One set's embeddings (batch, N, K) -> their sum over fields, through a Dense layer: (batch, units)."""

    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = keras.layers.Dense(units)

    def call(self, embeddings):
        return self.dense(keras.ops.sum(embeddings, axis=1))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


tf_multiemb.register_backbone("field_sum", lambda units, **kw: PerSet(FieldSum(units), **kw), embedding_dim=10,
                              units=8)
'''


def test_a_user_module_backbone_trains_with_the_cli_and_exports(criteo_10k_dir, tmp_path):
    import os
    import subprocess
    import sys

    import tensorflow as tf

    from datasets.criteo import raw_rows
    from export.requests import example_from_raw
    from export.saved_model import export_run
    from tests.sample_data import sample_file
    from tests.test_fit import REPO

    (tmp_path / "my_backbones.py").write_text(USER_MODULE)
    run_dir = tmp_path / "run"
    completed = subprocess.run(
        [sys.executable, "-m", "trainers.fit", f"--data_dir={criteo_10k_dir}", "--model=my_backbones:field_sum",
         "--embedding=multi", "--scale=2", "--epochs=2", "--batch_size=512", "--interaction_arg=units=6",
         f"--output_dir={run_dir}", "--verbose=0"],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert (results["model"], results["num_sets"], results["embedding_dim"]) == ("my_backbones:field_sum", 2, 10)
    records = [json.loads(line) for line in (run_dir / "information_abundance.jsonl").read_text().splitlines()]
    assert len(records) == results["epochs"] and len(records[0]["fields"]["C1"]["sets"]) == 2

    sys.path.insert(0, str(tmp_path))  # what the user's PYTHONPATH does for the export CLI
    try:
        export_run(str(run_dir), str(tmp_path / "export"))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_backbones", None)
        BACKBONES.pop("field_sum", None)
    serving = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    rows = list(raw_rows(sample_file("criteo/test-unlabeled-10k.txt")))[:4]
    probabilities = serving(examples=tf.constant([example_from_raw(row) for row in rows]))["probability"].numpy()
    assert probabilities.shape == (4,) and np.all((probabilities > 0) & (probabilities < 1))
