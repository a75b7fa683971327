"""One writer per run directory (trainers.run_lock), and a resume that matches logs and backup or refuses.

The resume cases of a run killed (or losing power) between its epoch-end writes: logs torn or one epoch short
of the backup, the backup's weights one epoch ahead of its metadata, a first backup never finished.
"""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.test_export import converted_sample
from tests.test_fit import REPO
from trainers.run_records import ResumeError, completed_epochs, read_epoch_log, resume_point
from trainers.run_lock import LOCK_FILE, RunDirectoryBusy, repair_log_tail, run_directory_lock

HOLD_LOCK = ("import sys\nfrom trainers.run_lock import run_directory_lock\n"
             "with run_directory_lock(sys.argv[1]):\n    print('locked', flush=True)\n    sys.stdin.read()\n")


def test_a_second_trainers_fit_on_a_live_run_directory_is_refused_and_a_killed_owners_lock_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir)], cwd=REPO, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        second = subprocess.run([sys.executable, "-m", "trainers.fit", f"--data_dir={converted_sample()}",
                                 f"--output_dir={run_dir}", "--epochs=1", "--verbose=0"], cwd=REPO,
                                capture_output=True, text=True, timeout=300)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert second.returncode == 1
    assert [line for line in second.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {run_dir} is in use by trainers.fit pid {holder.pid} (lock {run_dir / LOCK_FILE}); wait for it to "
        "finish or stop it, or choose another --output_dir"]
    assert sorted(os.listdir(run_dir)) == [LOCK_FILE]  # the refused run wrote nothing
    assert (run_dir / LOCK_FILE).read_text() == f"{holder.pid}\n"  # left behind by the killed owner: stale
    with run_directory_lock(str(run_dir)):
        assert (run_dir / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_the_lock_is_exclusive_within_one_process_and_released_after_the_block(tmp_path):
    with run_directory_lock(str(tmp_path)):
        with pytest.raises(RunDirectoryBusy, match=f"in use by trainers.fit pid {os.getpid()} "):
            with run_directory_lock(str(tmp_path)):
                pass
    with run_directory_lock(str(tmp_path)):
        pass


EPOCHS_CSV = "epoch,auc,loss,val_auc\n0,0.61,0.52,0.64\n1,0.66,0.49,0.67\n"
IA_RECORDS = [{"epoch": 1, "mean_ia": 3.5}, {"epoch": 2, "mean_ia": 3.25}]


@pytest.mark.parametrize("tail", [
    b"",                                   # intact: unchanged
    b"2,0.6",                              # torn: no newline
    b"\x00" * 12,                          # NUL padding
    b"\x00\x00\x00\x003,0.7,0.4,0.7\n",      # two writers: NULs, then the other's line
])
def test_repair_log_tail_keeps_exactly_the_intact_lines(tmp_path, tail):
    path = tmp_path / "epochs.csv"
    path.write_bytes(EPOCHS_CSV.encode() + tail)
    assert repair_log_tail(str(path)) == len(tail)
    assert path.read_bytes() == EPOCHS_CSV.encode()


def tiny_model():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def backed_up_model(backup_dir, epochs):
    """A tiny model trained `epochs` epochs of 1 step under the fit CLI's BackupAndRestore settings, then killed:
    backup_dir holds epoch `epochs` and its `*.bkp` copy the epoch before. Returns each epoch's weights."""
    import keras
    import numpy as np

    weights = []

    class KillAfterEpochs(keras.callbacks.Callback):  # a finished fit deletes its backup; a crash keeps it
        def on_epoch_end(self, epoch, logs=None):
            weights.append(self.model.get_weights())

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == epochs:
                raise KeyboardInterrupt

    backup = keras.callbacks.BackupAndRestore(str(backup_dir), save_freq="epoch", double_checkpoint=True)
    with pytest.raises(KeyboardInterrupt):
        tiny_model().fit(np.ones((8, 3)), np.ones((8, 1)), epochs=epochs + 1, verbose=0,
                         callbacks=[backup, KillAfterEpochs()])
    return weights


def restore(run_dir, resumed_epochs, steps_per_epoch=1):
    """A fresh tiny model after trainers.fit's backup callback restored run_dir/backup into it."""
    from trainers.config import FitConfig
    from trainers.run_callbacks import training_callbacks

    backup = training_callbacks(FitConfig(), str(run_dir), {"fields": []}, resumed_epochs, steps_per_epoch)["backup"]
    model = tiny_model()
    backup.set_model(model)
    backup.on_train_begin()
    return model


def trained_steps(model):
    import keras

    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def assert_same_weights(got, expected):
    assert len(got) == len(expected) and all((a == b).all() for a, b in zip(got, expected))


def write_logs(run_dir, csv_text, ia_records):
    (run_dir / "epochs.csv").write_text(csv_text)
    (run_dir / "information_abundance.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ia_records))


def test_resume_repairs_a_nul_padded_csv_line_and_a_torn_jsonl_line(tmp_path):
    """A crash during epoch 3's log writes, before its backup: the logs end damaged, the backup is epoch 2's."""
    backed_up_model(tmp_path / "backup", 2)
    write_logs(tmp_path, EPOCHS_CSV, IA_RECORDS)
    with open(tmp_path / "epochs.csv", "ab") as csv_log, open(tmp_path / "information_abundance.jsonl", "a") as ia:
        csv_log.write(b"\x00" * 37)
        ia.write('{"epoch": 3, "mean')
    assert resume_point(str(tmp_path)) == 2
    assert read_epoch_log(str(tmp_path / "epochs.csv")) == [
        {"epoch": 0.0, "auc": 0.61, "loss": 0.52, "val_auc": 0.64},
        {"epoch": 1.0, "auc": 0.66, "loss": 0.49, "val_auc": 0.67}]
    with open(tmp_path / "information_abundance.jsonl") as handle:
        assert [json.loads(line) for line in handle] == IA_RECORDS


def test_logs_one_epoch_short_of_the_backup_roll_the_backup_back_to_the_logged_epoch(tmp_path):
    """A power loss after epoch 3's backup, before its log lines reached the disk: resume after epoch 2, from the
    backup's copy of epoch 2 (was: resume after epoch 3 and log epochs 0, 1, 3)."""
    weights = backed_up_model(tmp_path / "backup", 3)
    write_logs(tmp_path, EPOCHS_CSV, IA_RECORDS)
    assert resume_point(str(tmp_path)) == 2
    assert completed_epochs(str(tmp_path / "backup")) == 2
    assert len(read_epoch_log(str(tmp_path / "epochs.csv"))) == 2
    assert_same_weights(restore(tmp_path, 2).get_weights(), weights[1])


@pytest.mark.parametrize("logged_epochs", [0, 1])
def test_logs_more_than_one_epoch_short_of_the_backup_are_refused(tmp_path, logged_epochs):
    backed_up_model(tmp_path / "backup", 3)
    lines = EPOCHS_CSV.splitlines(keepends=True)
    write_logs(tmp_path, "".join(lines[:1 + logged_epochs]), IA_RECORDS[:logged_epochs])
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    with pytest.raises(ResumeError) as error:
        resume_point(str(tmp_path))
    assert str(error.value) == (f"the epoch logs in {tmp_path} end after epoch {logged_epochs} but its backup after "
                                "epoch 3, and no backup copy ends where the logs do; delete its backup/ to train "
                                "from the start")
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before


def test_a_kill_during_the_first_backup_starts_the_run_afresh(tmp_path):
    backed_up_model(tmp_path / "backup", 1)
    (tmp_path / "backup" / "training_metadata.json").unlink()  # killed before the first metadata write
    write_logs(tmp_path, EPOCHS_CSV[:EPOCHS_CSV.index("1,")], IA_RECORDS[:1])
    assert resume_point(str(tmp_path)) == 0
    assert not (tmp_path / "backup").exists()
    assert (tmp_path / "epochs.csv").read_text() == "" and (tmp_path / "information_abundance.jsonl").read_text() == ""
    assert trained_steps(restore(tmp_path, 0)) == 0


def test_a_kill_while_writing_the_weights_resumes_from_the_last_finished_epoch(tmp_path):
    weights = backed_up_model(tmp_path / "backup", 2)
    for name in ("latest.weights.h5", "training_metadata.json"):  # epoch 3's save starts by keeping these
        shutil.copyfile(tmp_path / "backup" / name, tmp_path / "backup" / f"{name}.bkp")
    (tmp_path / "backup" / "latest.weights.h5").write_bytes(b"torn")  # and is killed while writing the weights
    assert completed_epochs(str(tmp_path / "backup")) == 2
    assert_same_weights(restore(tmp_path, 2).get_weights(), weights[1])


def test_a_kill_between_the_weights_and_the_metadata_write_resumes_from_the_previous_backup(tmp_path):
    """Epoch 3's weights beside epoch 2's metadata: the restored optimizer has run 3 steps, not 2 x 1, so the
    backup's copy of epoch 2 is restored (was: epoch 3's weights trained epoch 3 again)."""
    backup_dir = tmp_path / "backup"
    weights = backed_up_model(backup_dir, 3)
    shutil.copyfile(backup_dir / "training_metadata.json.bkp", backup_dir / "training_metadata.json")
    write_logs(tmp_path, EPOCHS_CSV + "2,0.68,0.47,0.69\n", IA_RECORDS + [{"epoch": 3, "mean_ia": 3.0}])
    assert resume_point(str(tmp_path)) == 2
    model = restore(tmp_path, 2)
    assert trained_steps(model) == 2
    assert_same_weights(model.get_weights(), weights[1])
    assert (backup_dir / "latest.weights.h5").read_bytes() == (backup_dir / "latest.weights.h5.bkp").read_bytes()


def test_restored_weights_that_trained_other_steps_than_the_metadata_names_are_refused(tmp_path):
    """Neither the backup nor its copy trained 2 epochs of 5 steps (another --steps_per_epoch): one line."""
    backed_up_model(tmp_path / "backup", 2)
    before = (tmp_path / "backup" / "latest.weights.h5").read_bytes()
    with pytest.raises(ResumeError) as error:
        restore(tmp_path, 2, steps_per_epoch=5)
    assert str(error.value) == (f"{tmp_path / 'backup' / 'latest.weights.h5'} has trained 2 steps, not the 2 epochs "
                                "x 5 steps its metadata names (were --steps_per_epoch or --batch_size changed?); "
                                "delete its backup/ to train from the start")
    assert (tmp_path / "backup" / "latest.weights.h5").read_bytes() == before


def test_a_kill_while_writing_the_metadata_falls_back_to_the_previous_backup(tmp_path):
    backed_up_model(tmp_path, 2)
    (tmp_path / "training_metadata.json").write_text('{"epo')
    assert completed_epochs(str(tmp_path)) == 1
    assert json.loads((tmp_path / "training_metadata.json").read_text())["epoch"] == 1


def resumed_checkpoint(run_dir, val_aucs, recorded_epoch):
    """trainers.fit's best checkpoint resumed after the logged `val_aucs`, on a directory whose checkpoint (a fresh
    tiny model's weights) best.json says is epoch `recorded_epoch`'s. Returns (checkpoint, restored model,
    the checkpoint file's bytes before)."""
    from trainers.config import FitConfig
    from trainers.run_callbacks import training_callbacks

    (run_dir / "checkpoints").mkdir()
    tiny_model().save_weights(run_dir / "checkpoints" / "best.weights.h5")
    if recorded_epoch is not None:
        (run_dir / "checkpoints" / "best.json").write_text(json.dumps({"epoch": recorded_epoch}))
    (run_dir / "epochs.csv").write_text("epoch,val_auc\n" + "".join(f"{i},{auc}\n" for i, auc in enumerate(val_aucs)))
    checkpoint = training_callbacks(FitConfig(), str(run_dir), {"fields": []}, len(val_aucs), 1)["checkpoint"]
    restored = tiny_model()
    checkpoint.set_model(restored)
    return checkpoint, restored, (run_dir / "checkpoints" / "best.weights.h5").read_bytes()


@pytest.mark.parametrize("recorded_epoch", [3, None])
def test_a_checkpoint_the_log_does_not_name_is_rewritten_from_the_restored_last_and_best_epoch(tmp_path,
                                                                                                recorded_epoch):
    """Killed after epoch 3's checkpoint, before its backup (the record names an epoch the log lacks), or after
    epoch 2's backup, before its checkpoint's record: the log's best is its last epoch, 2, whose weights the
    backup restored (was: the rerun kept a checkpoint of another epoch than the one results.json names)."""
    checkpoint, restored, _ = resumed_checkpoint(tmp_path, [0.64, 0.67], recorded_epoch)
    checkpoint.on_train_begin()
    saved = tiny_model()
    saved.load_weights(tmp_path / "checkpoints" / "best.weights.h5")
    assert_same_weights(saved.get_weights(), restored.get_weights())
    assert json.loads((tmp_path / "checkpoints" / "best.json").read_text()) == {"epoch": 2} and checkpoint.epoch == 2


def test_a_checkpoint_of_the_logged_best_epoch_is_kept(tmp_path):
    checkpoint, _, before = resumed_checkpoint(tmp_path, [0.64, 0.67, 0.66], 2)
    checkpoint.on_train_begin()
    assert (tmp_path / "checkpoints" / "best.weights.h5").read_bytes() == before


def test_a_checkpoint_that_is_not_the_logged_best_epochs_nor_the_last_epochs_is_refused(tmp_path):
    checkpoint, _, before = resumed_checkpoint(tmp_path, [0.67, 0.64], 3)
    with pytest.raises(ResumeError) as error:
        checkpoint.on_train_begin()
    assert str(error.value) == (f"{tmp_path / 'checkpoints' / 'best.json'} names epoch 3 but the logged best epoch "
                                "is 1; delete its backup/ to train from the start")
    assert (tmp_path / "checkpoints" / "best.weights.h5").read_bytes() == before
