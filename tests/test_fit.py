"""trainers.fit on the real 10k Criteo sample: smoke AUC, run-directory contract, IA log, replicas."""

import json
import os
import subprocess
import sys

import pytest

from trainers.config import FitConfig
from trainers.fit import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def se_run(criteo_10k_dir, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("runs") / "dcnv2_se_1x")
    config = FitConfig(data_dir=criteo_10k_dir, model="dcnv2", embedding="single", scale=1, batch_size=256,
                       epochs=4, patience=2, output_dir=run_dir, verbose=0)
    return run_dir, train(config)


def test_dcnv2_single_embedding_reaches_smoke_auc(se_run):
    _, results = se_run
    assert results["test_auc"] > 0.66  # 1,000 test rows; the authors' code scores 0.698-0.708 here


def test_results_json_agrees_with_the_records_it_summarises(se_run, criteo_10k_ids):
    """results.json against the run directory's own files, each read back on its own: epochs.csv, the IA log, the
    best checkpoint's record, model.keras (its predictions of the test split, its weights) and the schema."""
    import csv
    import hashlib

    import keras
    import numpy as np

    from tf_multiemb.metrics import log_loss, roc_auc

    run_dir, _ = se_run
    with open(os.path.join(run_dir, "results.json")) as handle:
        written = json.load(handle)
    with open(os.path.join(run_dir, "epochs.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    val_aucs = [float(row["val_auc"]) for row in rows]
    best_epoch = val_aucs.index(max(val_aucs)) + 1
    assert (written["epochs"], written["val_auc"], written["train_loss"]) == (
        len(rows), val_aucs, [float(row["loss"]) for row in rows])
    assert (written["best_epoch"], written["best_val_auc"]) == (best_epoch, max(val_aucs))
    with open(os.path.join(run_dir, "checkpoints", "best.json")) as handle:
        assert json.load(handle) == {"epoch": best_epoch}
    with open(os.path.join(run_dir, "information_abundance.jsonl")) as handle:
        assert written["mean_ia"] == [json.loads(line) for line in handle][best_epoch - 1]["mean_ia"]
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    ids, labels = criteo_10k_ids["test"]
    probabilities = model.predict(ids, batch_size=256, verbose=0)
    assert written["test_auc"] == pytest.approx(roc_auc(labels, probabilities), abs=1e-4)
    assert written["test_logloss"] == pytest.approx(log_loss(labels, probabilities), rel=1e-5)
    assert written["weights_sha256"] == hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
    assert written["params_total"] == model.count_params() == sum(np.prod(w.shape) for w in model.get_weights())
    assert written["params_embedding"] == sum(f["cardinality"] for f in _schema(run_dir)["fields"]) * 10
    assert written["resumed_from_epoch"] == 0 and written["examples_per_sec"] > 0


def test_information_abundance_log_has_one_record_per_epoch(se_run):
    run_dir, results = se_run
    with open(os.path.join(run_dir, "information_abundance.jsonl")) as handle:
        records = [json.loads(line) for line in handle]
    assert [r["epoch"] for r in records] == list(range(1, results["epochs"] + 1))
    names = [f["name"] for f in _schema(run_dir)["fields"]]
    for record in records:
        assert list(record["fields"]) == names
        field_ias = [entry["ia"] for entry in record["fields"].values()]
        assert record["mean_ia"] == pytest.approx(sum(field_ias) / len(field_ias))


def test_the_best_epochs_information_abundance_is_that_of_the_saved_embeddings(se_run):
    """IA = sum / max of the singular values (numpy SVD) of each field's rows of model.keras (the best weights)."""
    import keras
    import numpy as np

    run_dir, results = se_run
    with open(os.path.join(run_dir, "information_abundance.jsonl")) as handle:
        best = [json.loads(line) for line in handle][results["best_epoch"] - 1]
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    table = keras.ops.convert_to_numpy(model.field_embedding.embeddings)
    fields = _schema(run_dir)["fields"]
    offsets = np.cumsum([0] + [field["cardinality"] for field in fields])
    assert table.shape == (offsets[-1], 10)
    for field, start, stop in zip(fields, offsets[:-1], offsets[1:]):
        singular_values = np.linalg.svd(table[start:stop].astype(np.float64), compute_uv=False)
        assert best["fields"][field["name"]]["ia"] == pytest.approx(singular_values.sum() / singular_values.max(),
                                                                     rel=1e-5)


def test_run_directory_holds_tensorboard_checkpoint_model_and_reproduction_records(se_run):
    run_dir, _ = se_run
    event_dirs = [root for root, _, files in os.walk(os.path.join(run_dir, "tensorboard"))
                  if any(name.startswith("events.out.tfevents") for name in files)]
    assert any(d.endswith("information_abundance") for d in event_dirs)
    assert any(d.endswith("validation") for d in event_dirs)
    assert os.path.isfile(os.path.join(run_dir, "checkpoints", "best.weights.h5"))
    assert os.path.isfile(os.path.join(run_dir, "model.keras"))
    with open(os.path.join(run_dir, "flags.txt")) as handle:
        assert "--model=dcnv2" in handle.read().splitlines()


def _schema(run_dir):
    with open(os.path.join(run_dir, "data_schema", "schema.json")) as handle:
        return json.load(handle)


def run_fit(*arguments):
    return subprocess.run([sys.executable, "-m", "trainers.fit", *arguments], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_two_logical_cpu_replicas_give_the_same_first_step_loss(criteo_10k_dir, tmp_path):
    losses = {}
    for devices in (1, 2):
        output_dir = tmp_path / f"replicas{devices}"
        completed = run_fit(f"--data_dir={criteo_10k_dir}", "--model=dcnv2", "--embedding=multi", "--scale=2",
                            "--batch_size=512", "--epochs=1", "--steps_per_epoch=1", "--dropout=0",
                            f"--cpu_devices={devices}", f"--output_dir={output_dir}", "--verbose=0")
        assert completed.returncode == 0, completed.stderr[-3000:]
        with open(output_dir / "results.json") as handle:
            results = json.load(handle)
        assert results["num_replicas"] == max(devices, 1)
        losses[devices] = results["train_loss"][0]
    assert losses[2] == pytest.approx(losses[1], rel=1e-5)


@pytest.mark.parametrize("arguments, message", [
    (["--model=dcnv3", "--data_dir=."], "unknown model 'dcnv3'"),
    (["--scale=0", "--data_dir=."], "scale must be a positive integer"),
    (["--scale=x"], "scale"),
    (["--data_dir=/nonexistent"], "has no schema.json"),
])
def test_bad_flags_give_a_one_line_error_before_any_work(arguments, message, tmp_path):
    completed = run_fit(*arguments, f"--output_dir={tmp_path / 'run'}")
    assert completed.returncode != 0
    assert message in completed.stderr
    assert not (tmp_path / "run").exists()


def test_steps_per_execution_is_lowered_to_a_divisor_of_the_steps_per_epoch():
    from trainers.fit import steps_per_execution
    from trainers.jax_runtime import JaxRuntime
    from trainers.tensorflow_runtime import TensorFlowRuntime

    assert [steps_per_execution(FitConfig(steps_per_execution=8), JaxRuntime(), steps) for steps in (16, 12, 7, 3)] \
        == [8, 6, 7, 3]
    assert steps_per_execution(FitConfig(), TensorFlowRuntime(), 12) == 1  # recorded TensorFlow runs stay as they were
