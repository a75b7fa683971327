"""The training path on the Keras JAX backend, each check in a process where importing TensorFlow fails.

Conversion, the numpy reader, trainers.fit (with a resume after SIGKILL) and trainers.sweep run through
tests/run_without_tensorflow.py; the TensorFlow side of each comparison runs here.
"""

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.sample_data import sample_file
from tests.test_fault_tolerance import COMPARED, killed_and_reference_runs
from tests.test_numpy_reader import row_multiset
from tf_multiemb import build_model

REPO = __file__.rsplit("/tests/", 1)[0]
FIT = ["--model=dnn", "--embedding=multi", "--scale=2", "--embedding_dim=6", "--hidden_units=64,32",
       "--batch_size=256", "--epochs=3", "--patience=3", "--seed=1", "--deterministic", "--verbose=0"]


def without_tensorflow(module, *args):
    return [sys.executable, "tests/run_without_tensorflow.py", module, *map(str, args)]


def run_without_tensorflow(module, *args):
    completed = subprocess.run(without_tensorflow(module, *args), cwd=REPO, capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


@pytest.fixture(scope="module")
def jax_data_dir(tmp_path_factory):
    """The real 10k Criteo rows, converted in a process without TensorFlow."""
    data_dir = tmp_path_factory.mktemp("jax") / "data"
    run_without_tensorflow("datasets.criteo", f"--input={sample_file('criteo/train-10k.txt')}",
                           f"--output_dir={data_dir}")
    return data_dir


def test_numpy_reader_without_tensorflow_yields_the_tf_data_rows(jax_data_dir, criteo_10k_ids, tmp_path):
    run_without_tensorflow("tests.jax_checks", "rows", jax_data_dir, "train", tmp_path / "rows.npz")
    rows = np.load(tmp_path / "rows.npz")
    assert row_multiset(rows["ids"], rows["labels"]) == row_multiset(*criteo_10k_ids["train"])


@pytest.fixture(scope="module")
def jax_fit_runs(jax_data_dir, tmp_path_factory):
    """An uninterrupted run, and a run SIGKILLed after its first epoch's backup then rerun, both on JAX."""
    root = tmp_path_factory.mktemp("jax_runs")
    stdout, _ = killed_and_reference_runs(
        lambda run_dir: without_tensorflow("trainers.fit", f"--data_dir={jax_data_dir}", f"--output_dir={run_dir}",
                                           *FIT), root)
    return root / "reference", root / "killed", stdout


def test_fit_on_jax_resumes_after_sigkill_with_the_metrics_of_an_uninterrupted_run(jax_fit_runs):
    reference_dir, killed_dir, stdout = jax_fit_runs
    assert "TensorBoard logs skipped: TensorFlow is not installed" in stdout
    expected = json.loads((reference_dir / "results.json").read_text())
    got = json.loads((killed_dir / "results.json").read_text())
    assert got["resumed_from_epoch"] >= 1 and {k: got[k] for k in COMPARED} == {k: expected[k] for k in COMPARED}
    assert expected["test_auc"] > 0.64  # it learned: chance is 0.5, 8,000 training rows give about 0.66
    info = json.loads((killed_dir / "run_info.json").read_text())
    assert info["keras_backend"] == "jax" and "jax" in info and "tensorflow" not in info
    assert len((killed_dir / "information_abundance.jsonl").read_text().splitlines()) == expected["epochs"]


def test_a_model_trained_on_jax_exports_under_tensorflow_with_equal_predictions(jax_fit_runs, tmp_path):
    from datasets.criteo import raw_rows
    from export.requests import example_from_raw
    from export.saved_model import export_run

    reference_dir, _, _ = jax_fit_runs
    export_run(str(reference_dir), str(tmp_path / "export"))
    served = tf.saved_model.load(str(tmp_path / "export")).signatures
    rows = list(raw_rows(sample_file("criteo/test-unlabeled-10k.txt")))[:256]
    examples = tf.constant([example_from_raw(row) for row in rows])
    ids = served["preprocess_examples"](examples=examples)
    np.savez(tmp_path / "ids.npz", ids=next(iter(ids.values())).numpy())
    run_without_tensorflow("tests.jax_checks", "predict", reference_dir / "model.keras", tmp_path / "ids.npz",
                           tmp_path / "jax.npz")
    exported = served["serving_default"](examples=examples)["probability"].numpy().reshape(-1)
    np.testing.assert_allclose(np.load(tmp_path / "jax.npz")["probabilities"].reshape(-1), exported, atol=1e-5)


def test_a_short_sweep_runs_on_jax(jax_data_dir, tmp_path):
    run_without_tensorflow("trainers.sweep", f"--data_dir={jax_data_dir}", "--models=fm", "--embeddings=multi", "--scales=1,2", "--seeds=1",
                           "--epochs=1", "--batch_size=1024", "--embedding_dim=4", "--hidden_units=16",
                           f"--output_dir={tmp_path}")
    runs = (tmp_path / "runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 2 and (tmp_path / "report.md").is_file()


def test_jax_and_tensorflow_give_the_same_first_step_loss_and_gradients(tmp_path):
    model = build_model("dcnv2", [7, 11, 5, 9], embedding="multi", scale=2, embedding_dim=3, hidden_units=(16, 8),
                        num_layers=2)
    model.save(tmp_path / "model.keras")
    rng = np.random.default_rng(0)
    ids = np.stack([rng.integers(0, size, 64) for size in (7, 11, 5, 9)], axis=1).astype("int32")
    labels = rng.integers(0, 2, (64, 1)).astype("float32")
    np.savez(tmp_path / "batch.npz", ids=ids, labels=labels)
    run_without_tensorflow("tests.jax_checks", "step", tmp_path / "model.keras", tmp_path / "batch.npz",
                           tmp_path / "jax.npz")
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(keras.losses.binary_crossentropy(labels, model(ids, training=False)))
    gradients = tape.gradient(loss, [v.value for v in model.trainable_variables])
    jax_side = np.load(tmp_path / "jax.npz")
    np.testing.assert_allclose(jax_side["loss"], loss.numpy(), rtol=1e-5, atol=1e-6)
    assert len(jax_side.files) == 1 + len(gradients) == 1 + len(model.trainable_variables)
    for index, (variable, gradient) in enumerate(zip(model.trainable_variables, gradients)):
        np.testing.assert_allclose(jax_side[f"gradient_{index}"], tf.convert_to_tensor(gradient).numpy(), atol=1e-5,
                                   err_msg=variable.path)


def test_validation_figures_on_jax_equal_the_tensorflow_paths_on_the_same_weights(jax_data_dir, tmp_path):
    from datasets.schema import load_schema
    from trainers.config import FitConfig
    from trainers.fit import build_compiled_model
    from trainers.tensorflow_runtime import TensorFlowRuntime

    config = FitConfig(data_dir=str(jax_data_dir), model="dcnv2", embedding="multi", scale=2, embedding_dim=4,
                       hidden_units="16", batch_size=384,  # 1,000 val rows: the JAX path adds 152 filler rows
                       interaction_arg=("num_layers=1", "orthogonal_regularization=1e-4"))  # a loss beside BCE
    model = build_compiled_model(config, load_schema(str(jax_data_dir)), synchronized_batch_norm=False)
    model.save_weights(tmp_path / "model.weights.h5")
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(config)))
    expected = model.evaluate(TensorFlowRuntime().batches(config, "val"), verbose=0, return_dict=True)
    run_without_tensorflow("tests.jax_checks", "validate", tmp_path / "config.json", tmp_path / "model.weights.h5",
                           tmp_path / "jax.json")
    got = json.loads((tmp_path / "jax.json").read_text())
    assert expected["loss"] - expected["logloss"] > 1e-4  # the regularization counts in the loss
    assert got["loss"] == pytest.approx(expected["loss"], abs=1e-6)
    assert got["logloss"] == pytest.approx(expected["logloss"], abs=1e-6)
    assert got["auc"] == pytest.approx(expected["auc"], abs=1e-4)


def test_matmul_precision_is_checked_and_set_per_backend(criteo_10k_dir):
    import jax

    from trainers.config import FitConfig
    from trainers.fit import ConfigError, validate
    from trainers.jax_runtime import JaxRuntime
    from trainers.tensorflow_runtime import TensorFlowRuntime

    with pytest.raises(ConfigError, match="--matmul_precision must be one of float32, tf32, bf16, got 'fp8'"):
        validate(FitConfig(data_dir=criteo_10k_dir, output_dir="runs/x", matmul_precision="fp8"))
    with pytest.raises(ValueError, match="bf16 is a JAX-backend option"):
        TensorFlowRuntime().check(FitConfig(matmul_precision="bf16"))
    TensorFlowRuntime().set_matmul_precision("float32")
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
    TensorFlowRuntime().set_matmul_precision("tf32")
    assert tf.config.experimental.tensor_float_32_execution_enabled()
    before = jax.config.jax_default_matmul_precision
    try:
        JaxRuntime().set_matmul_precision("bf16")
        assert jax.config.jax_default_matmul_precision == "bfloat16"
    finally:
        jax.config.update("jax_default_matmul_precision", before)


def test_data_parallel_over_two_devices_matches_one_device_and_leaves_out_the_filler_rows(jax_data_dir, jax_fit_runs,
                                                                                          tmp_path):
    from datasets.reader import make_dataset
    from tf_multiemb.metrics import log_loss
    from trainers.run_records import read_epoch_log

    reference_dir, _, _ = jax_fit_runs
    run_dir = tmp_path / "run"
    completed = subprocess.run(
        without_tensorflow("trainers.fit", f"--data_dir={jax_data_dir}", f"--output_dir={run_dir}", *FIT),
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    expected = json.loads((reference_dir / "results.json").read_text())
    assert results["num_replicas"] == 2 and expected["num_replicas"] == 1
    # The same batches, dropout masks and summed gradients: epoch 1's train loss agrees to about 2e-6
    # (asserted: 1e-5). Adam turns the devices' other summation order into drift that grows by epoch (epoch 3's
    # train loss: 3.6e-4 relative), so the 1,000-row AUCs differ by up to 2.2e-3 (test AUC, 2026-12-07) and the
    # test log loss by 4e-5.
    assert results["train_loss"][0] == pytest.approx(expected["train_loss"][0], rel=1e-5)
    assert results["train_loss"] == pytest.approx(expected["train_loss"], rel=2e-3)
    assert results["best_epoch"] == expected["best_epoch"]
    for key in ("test_auc", "best_val_auc", "val_auc"):
        assert results[key] == pytest.approx(expected[key], abs=5e-3), key
    assert results["test_logloss"] == pytest.approx(expected["test_logloss"], abs=3e-4)
    # 1,000 val rows in batches of 256: the last holds 232 rows and 24 filler rows, which weigh nothing
    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    ids, labels = next(iter(make_dataset(str(jax_data_dir), "val", batch_size=4096)))
    exact = log_loss(labels.numpy(), model.predict(ids, verbose=0))
    best = read_epoch_log(run_dir / "epochs.csv")[results["best_epoch"] - 1]
    assert best["val_logloss"] == pytest.approx(exact, abs=1e-5) and best["val_loss"] == pytest.approx(exact, abs=1e-5)


def test_tfds_builders_without_tensorflow_say_what_to_install_instead():
    completed = subprocess.run(without_tensorflow("datasets.tfds_builders"), cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == 1
    assert "the TFDS builders need TensorFlow and tensorflow-datasets" in completed.stderr
    assert "python -m datasets.criteo" in completed.stderr


def test_fit_dispatches_its_callbacks_asynchronously_on_jax_and_the_nan_guard_still_stops(jax_data_dir, tmp_path):
    """Keras runs batch-end hooks off the training thread only when every callback that has one is `async_safe`
    (keras/src/callbacks/callback_list.py); was: StopOnNonFiniteLoss made every step wait for its loss."""
    run_without_tensorflow("tests.jax_checks", "fit_loop", jax_data_dir, tmp_path / "loop.json")
    result = json.loads((tmp_path / "loop.json").read_text())
    assert result["async_train"] == {"True": True, "False": False}
    assert result["diverged"] and 6 <= result["steps_started"] <= 6 + 8 + 1  # batch 5 (from 0) is NaN, max_lag 8; of 200
