"""One writer per run directory (trainers.run_lock), and resume repairing torn or NUL-padded log lines."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.test_export import converted_sample
from tests.test_fit import REPO
from trainers.run_records import completed_epochs, read_epoch_log, truncate_logs
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


def test_resume_repairs_a_nul_padded_csv_line_and_a_torn_jsonl_line(tmp_path):
    """A crash after epoch 3's backup but before its log lines reached the disk: the logs end damaged."""
    (tmp_path / "epochs.csv").write_bytes(EPOCHS_CSV.encode() + b"\x00" * 37)
    ia_lines = "".join(json.dumps(record) + "\n" for record in IA_RECORDS)
    (tmp_path / "information_abundance.jsonl").write_text(ia_lines + '{"epoch": 3, "mean')
    truncate_logs(str(tmp_path), 3)
    assert read_epoch_log(str(tmp_path / "epochs.csv")) == [
        {"epoch": 0.0, "auc": 0.61, "loss": 0.52, "val_auc": 0.64},
        {"epoch": 1.0, "auc": 0.66, "loss": 0.49, "val_auc": 0.67}]
    with open(tmp_path / "information_abundance.jsonl") as handle:
        assert [json.loads(line) for line in handle] == IA_RECORDS


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


def backed_up_model(backup_dir, epochs):
    """A tiny model trained `epochs` epochs under the fit CLI's BackupAndRestore settings; returns a fresh one."""
    import keras
    import numpy as np

    def model_and_backup():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        return model, keras.callbacks.BackupAndRestore(str(backup_dir), save_freq="epoch", double_checkpoint=True)

    class CrashAfterEpochs(keras.callbacks.Callback):  # a finished fit deletes its backup; a crash keeps it
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == epochs:
                raise KeyboardInterrupt

    model, backup = model_and_backup()
    with pytest.raises(KeyboardInterrupt):
        model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=epochs + 1, verbose=0,
                  callbacks=[backup, CrashAfterEpochs()])
    return model_and_backup()


def test_a_kill_while_writing_the_weights_resumes_from_the_last_finished_epoch(tmp_path):
    from trainers.config import FitConfig
    from trainers.training_callbacks import training_callbacks

    callbacks = training_callbacks(FitConfig(), str(tmp_path / "run"), {"fields": [{"name": "I1"}]}, 0)
    assert callbacks["backup"].double_checkpoint  # trainers.fit keeps the previous backup while writing one
    model, backup = backed_up_model(tmp_path, 2)
    for name in ("latest.weights.h5", "training_metadata.json"):  # epoch 3's save starts by keeping these
        shutil.copyfile(tmp_path / name, tmp_path / f"{name}.bkp")
    (tmp_path / "latest.weights.h5").write_bytes(b"torn")  # and is killed while writing the weights
    assert completed_epochs(str(tmp_path)) == 2
    backup.set_model(model)
    backup.on_train_begin()
    assert model._initial_epoch == 2


def test_a_kill_while_writing_the_metadata_falls_back_to_the_previous_backup(tmp_path):
    backed_up_model(tmp_path, 2)
    (tmp_path / "training_metadata.json").write_text('{"epo')
    assert completed_epochs(str(tmp_path)) == 1
    assert json.loads((tmp_path / "training_metadata.json").read_text())["epoch"] == 1
