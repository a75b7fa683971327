"""Row-sharded embedding tables on JAX (`trainers.fit --shard_embeddings`) over 8 CPU devices.

The JAX work runs in processes without TensorFlow (tests/run_without_tensorflow.py) that split the CPU into 8
devices; the export and the checks of the saved models run here, under TensorFlow.
"""

import json
import os
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.sample_data import sample_file
from tests.test_fault_tolerance import COMPARED, killed_and_reference_runs
from tests.test_jax_backend import FIT, REPO, run_without_tensorflow, without_tensorflow
from tf_multiemb import build_model

DEVICES = 8
EIGHT_DEVICES = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}"}
FIELD_DIMS = [7, 11, 5, 10]  # 33 rows: padded to 40, 5 per device


def on_eight_devices(module, *args):
    completed = subprocess.run(without_tensorflow(module, *args), cwd=REPO, capture_output=True, text=True,
                               timeout=600, env=EIGHT_DEVICES)
    assert completed.returncode == 0, completed.stderr[-3000:]


def small_model(table_row_multiple):
    keras.utils.set_random_seed(3)
    return build_model("dcnv2", FIELD_DIMS, embedding="multi", scale=2, embedding_dim=3, hidden_units=(16, 8),
                       num_layers=2, table_row_multiple=table_row_multiple)


def test_the_table_is_padded_with_zero_rows_after_the_initial_values_of_the_unpadded_table(tmp_path):
    padded, plain = small_model(DEVICES), small_model(1)
    table = keras.ops.convert_to_numpy(padded.field_embedding.embeddings)
    assert table.shape == (40, 6) and padded.embedding_parameter_count() == plain.embedding_parameter_count()
    np.testing.assert_array_equal(table[:33], keras.ops.convert_to_numpy(plain.field_embedding.embeddings))
    assert not table[33:].any()
    padded.save(tmp_path / "model.keras")  # a sharded run's model.keras loads anywhere with its padding
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    assert loaded.field_embedding.embeddings.shape == (40, 6) and loaded.get_config()["table_row_multiple"] == DEVICES


def test_the_table_and_adam_moments_split_by_rows_and_the_first_step_equals_the_unsharded_one(tmp_path):
    """The CI guard against a past XLA bug that gave wrong gradients for a sharded gather's backward pass."""
    small_model(DEVICES).save(tmp_path / "model.keras")
    rng = np.random.default_rng(0)
    ids = np.stack([rng.integers(0, size, 64) for size in FIELD_DIMS], axis=1).astype("int32")
    np.savez(tmp_path / "batch.npz", ids=ids, labels=rng.integers(0, 2, (64, 1)).astype("float32"))
    on_eight_devices("tests.jax_checks", "sharded_step", tmp_path / "model.keras", tmp_path / "batch.npz",
                     tmp_path / "out.npz")
    got = np.load(tmp_path / "out.npz")
    expected_shards = [[5 * device, 5 * (device + 1), 6, device] for device in range(DEVICES)]
    for variable in ("table", "momentum", "velocity"):
        assert sorted(got[f"shards_{variable}"].tolist()) == expected_shards, variable
    assert got["batch_rows_per_device"] == 64 // DEVICES
    np.testing.assert_allclose(got["sharded_loss"], got["unsharded_loss"], atol=1e-5)
    gradients = sorted(name.removeprefix("sharded_") for name in got.files if name.startswith("sharded_gradient"))
    assert len(gradients) == len(small_model(DEVICES).trainable_variables)
    for name in gradients:
        np.testing.assert_allclose(got[f"sharded_{name}"], got[f"unsharded_{name}"], atol=1e-5, err_msg=name)
    assert got["sharded_gradient_0"].shape == (40, 6) and not got["sharded_gradient_0"][33:].any()


def test_information_abundance_and_the_analyses_leave_out_the_padding_rows():
    from tf_multiemb.callbacks import InformationAbundance
    from trainers.run_analysis import analyze_embeddings, embedding_layout

    padded, plain = small_model(DEVICES), small_model(1)
    table = keras.ops.convert_to_numpy(padded.field_embedding.embeddings)
    table[33:] = np.random.default_rng(1).normal(size=(7, 6)) * 100  # what counting them would show
    padded.field_embedding.embeddings.assign(table)
    measured = {}
    for name, model in (("padded", padded), ("plain", plain)):
        callback = InformationAbundance()
        callback.set_model(model)
        measured[name] = (callback.information_abundance(),
                          analyze_embeddings(embedding_layout(model), 3, random_samples=2, seed=0)["fields"])
    assert measured["padded"] == measured["plain"]


@pytest.fixture(scope="module")
def sharded_runs(tmp_path_factory):
    """On 8 devices, on the real 10k Criteo rows (min count 5: 5,002 table rows, padded to 5,008): a
    --shard_embeddings run, one SIGKILLed after its first epoch's backup then rerun, and a DataParallel run."""
    root = tmp_path_factory.mktemp("sharded")
    data_dir = root / "data"
    run_without_tensorflow("datasets.criteo", f"--input={sample_file('criteo/train-10k.txt')}", "--min_count=5",
                           f"--output_dir={data_dir}")

    def sharded_fit(run_dir, *extra):
        return ["env", f"XLA_FLAGS={EIGHT_DEVICES['XLA_FLAGS']}",
                *without_tensorflow("trainers.fit", f"--data_dir={data_dir}", f"--output_dir={run_dir}", *FIT, *extra)]

    killed_and_reference_runs(lambda run_dir: sharded_fit(run_dir, "--shard_embeddings"), root)
    on_eight_devices("trainers.fit", f"--data_dir={data_dir}", f"--output_dir={root / 'data_parallel'}", *FIT)
    return root


def results(run_dir):
    return json.loads((run_dir / "results.json").read_text())


def test_a_sharded_fit_reaches_the_test_auc_of_data_parallel_and_never_touches_the_padding_rows(sharded_runs):
    sharded, data_parallel = results(sharded_runs / "reference"), results(sharded_runs / "data_parallel")
    assert sharded["num_replicas"] == data_parallel["num_replicas"] == DEVICES
    assert sharded["test_auc"] == pytest.approx(data_parallel["test_auc"], abs=1e-4)
    assert sharded["test_auc"] > 0.64  # it learned (chance: 0.5)
    assert sharded["params_embedding"] == data_parallel["params_embedding"] == 5002 * 2 * 6
    model = keras.saving.load_model(sharded_runs / "reference" / "model.keras", compile=False)
    table = keras.ops.convert_to_numpy(model.field_embedding.embeddings)
    assert table.shape == (5008, 12) and not table[5002:].any()  # after 3 epochs of Adam with weight decay


def test_a_sharded_fit_resumes_after_sigkill_with_the_results_of_an_uninterrupted_run(sharded_runs):
    expected, got = results(sharded_runs / "reference"), results(sharded_runs / "killed")
    assert got["resumed_from_epoch"] >= 1 and {k: got[k] for k in COMPARED} == {k: expected[k] for k in COMPARED}


def test_a_sharded_run_exports_the_real_table_and_predicts_as_the_sharded_model(sharded_runs, tmp_path):
    from datasets.criteo import raw_rows
    from export.requests import example_from_raw
    from export.saved_model import export_run

    run_dir = sharded_runs / "reference"
    export_run(str(run_dir), str(tmp_path / "export"))
    loaded = tf.saved_model.load(str(tmp_path / "export"))
    tables = [v.shape.as_list() for v in loaded.variables if "field_embedding/embeddings" in v.name]
    assert tables == [[5002, 12]]
    served = loaded.signatures
    examples = tf.constant([example_from_raw(row) for row in
                            list(raw_rows(sample_file("criteo/test-unlabeled-10k.txt")))[:256]])
    ids = next(iter(served["preprocess_examples"](examples=examples).values())).numpy()
    np.savez(tmp_path / "ids.npz", ids=ids)
    on_eight_devices("tests.jax_checks", "sharded_predict", run_dir / "model.keras", tmp_path / "ids.npz",
                     tmp_path / "jax.npz")
    exported = served["serving_default"](examples=examples)["probability"].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "jax.npz")["probabilities"].reshape(-1), exported, atol=1e-5)


@pytest.mark.parametrize("module", ["trainers.fit", "trainers.sweep"])
def test_shard_embeddings_on_tensorflow_is_a_one_line_error_saying_to_use_jax(module, criteo_10k_dir, tmp_path):
    from tests.test_sweep import run_module

    completed = run_module(module, f"--data_dir={criteo_10k_dir}", f"--output_dir={tmp_path}", "--shard_embeddings")
    assert completed.returncode != 0 and not (tmp_path / "runs").exists()
    assert completed.stderr.strip().splitlines()[-1] == (
        "error: --shard_embeddings needs the JAX backend: run with KERAS_BACKEND=jax")


def test_over_several_devices_the_step_callbacks_run_on_the_training_thread():
    from trainers.config import FitConfig
    from trainers.fit import callback_config
    from trainers.placement import Placement

    assert not callback_config(FitConfig(), Placement(DEVICES)).async_callbacks
    assert callback_config(FitConfig(), Placement(1)).async_callbacks
    assert not callback_config(FitConfig(async_callbacks=False), Placement(1)).async_callbacks
