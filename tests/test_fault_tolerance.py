"""trainers.fit survives SIGKILL (BackupAndRestore) and stops cleanly on NaN/Inf loss."""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.test_export import converted_sample
from tests.test_fit import REPO

COMMON = ["--model=dcnv2", "--embedding=multi", "--scale=2", "--embedding_dim=4", "--hidden_units=16,16",
          "--interaction_arg=num_layers=1", "--batch_size=128", "--steps_per_epoch=20", "--epochs=3",
          "--patience=5", "--seed=3", "--deterministic", "--verbose=0"]
COMPARED = ("test_auc", "test_logloss", "best_val_auc", "best_epoch", "val_auc", "train_loss", "weights_sha256")


def fit_command(data_dir, run_dir, *extra):
    return [sys.executable, "-m", "trainers.fit", f"--data_dir={data_dir}", f"--output_dir={run_dir}", *COMMON, *extra]


def finished_epochs(run_dir):
    path = run_dir / "backup" / "training_metadata.json"
    try:
        return json.loads(path.read_text())["epoch"]
    except (OSError, ValueError):
        return 0


def killed_and_reference_runs(command, root, timeout=300):
    """Runs `command(run_dir)` to the end in root/reference and, beside it, in root/killed, SIGKILLed right
    after its first epoch's backup and then rerun to the end. Returns (reference's stdout, epochs the killed
    run had backed up)."""
    reference = subprocess.Popen(command(root / "reference"), cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    killed_dir = root / "killed"
    victim = subprocess.Popen(command(killed_dir), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while finished_epochs(killed_dir) < 1 and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    saved = finished_epochs(killed_dir)
    assert victim.returncode == -signal.SIGKILL and 1 <= saved < 3, "the kill must land after epoch 1's backup"
    assert not (killed_dir / "results.json").exists()
    resumed = subprocess.run(command(killed_dir), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    stdout, stderr = reference.communicate(timeout=600)
    assert reference.returncode == 0, stderr[-3000:]
    return stdout, saved


def test_sigkill_mid_training_then_rerun_resumes_and_matches_an_uninterrupted_run(tmp_path):
    data_dir = converted_sample()
    _, saved = killed_and_reference_runs(lambda run_dir: fit_command(data_dir, run_dir), tmp_path, timeout=120)
    killed_dir = tmp_path / "killed"
    expected = json.loads((tmp_path / "reference" / "results.json").read_text())
    got = json.loads((killed_dir / "results.json").read_text())
    assert got["resumed_from_epoch"] == saved and expected["resumed_from_epoch"] == 0
    assert {key: got[key] for key in COMPARED} == {key: expected[key] for key in COMPARED}
    assert not (killed_dir / "backup").exists()  # a finished run leaves no backup to resume from


def test_nan_loss_stops_with_a_clear_error_and_writes_no_results(tmp_path):
    run_dir = tmp_path / "run"
    completed = subprocess.run(fit_command(converted_sample(), run_dir, "--learning_rate=1e38", "--epochs=2"),
                               capture_output=True, text=True)
    assert completed.returncode != 0
    assert "error: training loss became NaN/Inf" in completed.stderr and "--learning_rate" in completed.stderr
    assert not (run_dir / "results.json").exists() and not (run_dir / "model.keras").exists()
    # With seed 3 and --deterministic, epoch 1 ends with a finite loss (its checkpoint is kept) and epoch 2 diverges.
    checkpoint = run_dir / "checkpoints" / "best.weights.h5"
    assert f"The best checkpoint so far is {checkpoint}; try a lower --learning_rate" in completed.stderr
    assert checkpoint.is_file()


@pytest.mark.parametrize("diverged", [False, True])
def test_a_diverged_epoch_hides_its_validation_metrics_from_checkpointing(tmp_path, diverged):
    import keras

    from trainers.config import FitConfig
    from trainers.training_callbacks import training_callbacks

    schema = {"fields": [{"name": "I1"}]}
    guard = training_callbacks(FitConfig(), str(tmp_path), schema, 0)["nonfinite"]
    guard.set_model(keras.Sequential())
    guard.on_train_batch_end(0, {"loss": float("nan") if diverged else 0.5})
    logs = {"loss": 0.5, "val_auc": 0.7}
    guard.on_epoch_end(0, logs)
    assert ("val_auc" in logs) is not diverged and getattr(guard.model, "stop_training", False) is diverged
