"""trainers.fit survives SIGKILL (BackupAndRestore), resuming its early stopping, and stops cleanly on NaN/Inf loss
without making the diverged epoch its best checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from tests.test_export import converted_sample
from tests.test_fit import REPO
from tests.test_run_lock import assert_same_weights, tiny_model
from trainers.run_records import read_epoch_log

COMMON = ["--model=dcnv2", "--embedding=multi", "--scale=2", "--embedding_dim=4", "--hidden_units=16,16",
          "--interaction_arg=num_layers=1", "--batch_size=128", "--steps_per_epoch=20", "--epochs=3",
          "--patience=5", "--seed=3", "--deterministic", "--verbose=0"]
COMPARED = ("test_auc", "test_logloss", "best_val_auc", "best_epoch", "val_auc", "train_loss", "weights_sha256")


def fit_command(data_dir, run_dir, *extra):
    return [sys.executable, "-m", "trainers.fit", f"--data_dir={data_dir}", f"--output_dir={run_dir}", *COMMON, *extra]


def fit_config(output_dir, **overrides):
    """COMMON as a FitConfig, for trainers.fit.train in-process (without --deterministic: it is process-wide)."""
    from trainers.config import FitConfig

    return FitConfig(**{**dict(data_dir=converted_sample(), output_dir=str(output_dir), model="dcnv2",
                               embedding="multi", scale=2, embedding_dim=4, hidden_units="16,16",
                               interaction_arg=("num_layers=1",), batch_size=128, steps_per_epoch=20, epochs=3,
                               patience=5, seed=3, deterministic=False, verbose=0), **overrides})


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


# The uninterrupted run's validation AUC peaks in epoch 1 and --patience=2 stops it after epoch 3: a killed run
# stops there too only if it resumed the early-stopping state (best AUC, wait) and the best checkpoint's threshold.
EARLY_STOPPING = ("--batch_size=256", "--steps_per_epoch=32", "--learning_rate=2e-2", "--epochs=4", "--patience=2")


def test_sigkill_mid_training_then_rerun_resumes_and_matches_an_uninterrupted_run(tmp_path):
    data_dir = converted_sample()
    _, saved = killed_and_reference_runs(lambda run_dir: fit_command(data_dir, run_dir, *EARLY_STOPPING), tmp_path,
                                         timeout=120)
    killed_dir = tmp_path / "killed"
    expected = json.loads((tmp_path / "reference" / "results.json").read_text())
    got = json.loads((killed_dir / "results.json").read_text())
    assert (expected["epochs"], expected["best_epoch"]) == (3, 1)  # early stopping, not --epochs, ended it
    assert got["resumed_from_epoch"] == saved and expected["resumed_from_epoch"] == 0
    assert {key: got[key] for key in COMPARED} == {key: expected[key] for key in COMPARED}
    assert not (killed_dir / "backup").exists()  # a finished run leaves no backup to resume from


def test_a_run_killed_after_its_early_stopping_epochs_backup_resumes_without_training_an_epoch(tmp_path, monkeypatch):
    """Killed before the finished fit deleted its backup (was: the rerun trained a 4th epoch)."""
    from trainers.fit import train

    config = fit_config(tmp_path, batch_size=256, steps_per_epoch=32, learning_rate=2e-2, epochs=4, patience=2)

    class Killed(Exception):
        pass

    def kill(callback, logs=None):
        raise Killed

    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(keras.callbacks.BackupAndRestore, "on_train_end", kill)
        train(config)
    logged = [row["val_auc"] for row in read_epoch_log(str(tmp_path / "epochs.csv"))]
    assert finished_epochs(tmp_path) == len(logged) == 3  # early stopping ended the killed run
    best_checkpoint = (tmp_path / "checkpoints" / "best.weights.h5").read_bytes()
    results = train(config)
    assert (results["resumed_from_epoch"], results["epochs"], results["val_auc"]) == (3, 3, logged)
    assert len((tmp_path / "information_abundance.jsonl").read_text().splitlines()) == 3
    assert (tmp_path / "checkpoints" / "best.weights.h5").read_bytes() == best_checkpoint


def test_nan_loss_stops_with_a_clear_error_and_writes_no_results(tmp_path):
    """--learning_rate=1e38 diverges in epoch 1, in a directory holding an earlier run's checkpoint (was: the
    NaN weights were saved as the best checkpoint and the message named them)."""
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "best.weights.h5").write_bytes(b"an earlier run's")
    completed = subprocess.run(fit_command(converted_sample(), run_dir, "--learning_rate=1e38", "--epochs=2"),
                               capture_output=True, text=True)
    assert completed.returncode == 1
    assert [line for line in completed.stderr.splitlines() if line.startswith("error:")] == [
        "error: training loss became NaN/Inf in epoch 1; stopped. The best checkpoint so far is none; try a lower "
        "--learning_rate"]
    assert not (run_dir / "results.json").exists() and not (run_dir / "model.keras").exists()
    assert os.listdir(run_dir / "checkpoints") == []


class RecordThenDiverge(keras.callbacks.Callback):
    """Records each epoch's weights and validation AUC and, as epoch `diverging` (from 1) begins, sets the
    embedding table to Inf: that epoch's loss is NaN and its weights become NaN."""

    def __init__(self, diverging: int):
        super().__init__()
        self.diverging, self.weights, self.val_aucs = diverging, [], []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.diverging:
            table = self.model.trainable_variables[0]
            table.assign(np.full(table.shape, np.inf, dtype=table.dtype))

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.val_aucs.append(logs.get("val_auc"))


def test_a_diverged_epoch_leaves_the_best_finite_epochs_checkpoint(tmp_path, monkeypatch):
    """trainers.fit.train, its epoch 3 diverging (was: its NaN weights were saved as the best checkpoint)."""
    import trainers.run_callbacks
    from trainers.fit import train

    record, callbacks = RecordThenDiverge(diverging=3), trainers.run_callbacks.training_callbacks
    monkeypatch.setattr(trainers.run_callbacks, "training_callbacks",
                        lambda *args: {**callbacks(*args), "record": record})
    config = fit_config(tmp_path, epochs=4)
    with pytest.raises(FloatingPointError) as error:
        train(config)
    assert len(record.weights) == 3 and record.val_aucs[2] is None  # the guard withheld epoch 3's val_auc
    best = 1 if record.val_aucs[0] >= record.val_aucs[1] else 2
    checkpoint = tmp_path / "checkpoints" / "best.weights.h5"
    assert str(error.value) == (f"training loss became NaN/Inf in epoch 3; stopped. The best checkpoint so far is "
                                f"{checkpoint} (epoch {best}); try a lower --learning_rate")
    record.model.load_weights(checkpoint)
    assert_same_weights(record.model.get_weights(), record.weights[best - 1])
    assert all(np.isfinite(weight).all() for weight in record.weights[best - 1])


def test_keras_model_checkpoint_saves_when_its_monitored_metric_is_missing(tmp_path):
    """Pinned (keras/src/callbacks/model_checkpoint.py, _should_save_model): why trainers.fit keeps its own
    BestCheckpoint instead of withholding a diverged epoch's val_auc from keras.callbacks.ModelCheckpoint."""
    path = tmp_path / "best.weights.h5"
    checkpoint = keras.callbacks.ModelCheckpoint(str(path), monitor="val_auc", mode="max", save_best_only=True,
                                                 save_weights_only=True)
    checkpoint.set_model(tiny_model())
    with pytest.warns(UserWarning, match="Can save best model only with val_auc available"):
        checkpoint.on_epoch_end(0, {"loss": float("nan")})
    assert path.is_file()


def test_a_diverged_epoch_is_neither_the_best_checkpoint_nor_backed_up(tmp_path):
    """The guard, backup and checkpoint of trainers.fit, in its order, through two finite epochs then one whose
    loss and weights are NaN and whose validation AUC would be the highest."""
    from trainers.config import FitConfig
    from trainers.run_callbacks import training_callbacks

    model, callbacks = tiny_model(), training_callbacks(FitConfig(), str(tmp_path), {"fields": []}, 0, 1)
    guard, checkpoint = callbacks["nonfinite"], callbacks["checkpoint"]
    callback_list = keras.callbacks.CallbackList([guard, callbacks["backup"], checkpoint], model=model)
    callback_list.on_train_begin()
    weights = []
    for epoch, (loss, val_auc) in enumerate([(0.5, 0.6), (0.4, 0.7), (float("nan"), 0.9)]):
        model.set_weights([np.full_like(w, loss + epoch) for w in model.get_weights()])
        weights.append(model.get_weights())
        callback_list.on_train_batch_end(0, {"loss": loss})
        callback_list.on_epoch_end(epoch, {"loss": loss, "val_auc": val_auc})
    assert model.stop_training and guard.diverged_epoch == 3 and checkpoint.epoch == 2
    saved = tiny_model()
    saved.load_weights(tmp_path / "checkpoints" / "best.weights.h5")
    assert_same_weights(saved.get_weights(), weights[1])
    assert json.loads((tmp_path / "checkpoints" / "best.json").read_text()) == {"epoch": 2}
    assert finished_epochs(tmp_path) == 2


def test_a_train_stream_resumed_after_a_whole_pass_continues_the_uninterrupted_one():
    """Keras' fit draws a batch from a throwaway iterator before training (a symbolic build under a strategy).
    A stream resumed after a whole pass (32 batches of 256 of the 8,000 rows) must go on as the uninterrupted one
    (was: the throwaway iterator drew a pass's shuffle order from the generator the training iterator shares)."""
    from trainers.config import FitConfig
    from trainers.tensorflow_runtime import TensorFlowRuntime

    config = FitConfig(data_dir=converted_sample(), batch_size=256, seed=3)

    def ids_after_a_throwaway_iterator(skipped_steps, count):
        data = TensorFlowRuntime().train_batches(config, None, skipped_steps)
        next(iter(data))
        return [ids.numpy() for ids, _ in data.take(count)]

    uninterrupted, resumed = ids_after_a_throwaway_iterator(0, 40), ids_after_a_throwaway_iterator(32, 8)
    assert len(resumed) == 8 and all(np.array_equal(a, b) for a, b in zip(uninterrupted[32:], resumed))
