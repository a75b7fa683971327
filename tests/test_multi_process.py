"""trainers.fit as 2 JAX processes x 2 CPU devices on 127.0.0.1 (gloo collectives), each without TensorFlow.

Against one process with 4 devices on the real 10k Criteo rows, with DataParallel and with row-sharded tables
that span both processes; a kill of both processes after epoch 1 and a rerun; the Orbax backup's save/restore
round trip; and the flags a multi-process run is refused without.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import keras
import numpy as np
import pytest

from tests.test_fault_tolerance import COMPARED
from tests.test_jax_backend import REPO, run_without_tensorflow, without_tensorflow
from trainers.config import FitConfig

FIT = ["--model=dnn", "--embedding=multi", "--scale=2", "--embedding_dim=6", "--hidden_units=32,16",
       "--batch_size=512", "--epochs=2", "--patience=2", "--seed=1", "--deterministic", "--verbose=0"]
TIMEOUT = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """One process of a run, its output in files read when it ends; a hung one is stopped after TIMEOUT with
    SIGABRT, which makes Python's faulthandler write every thread's stack there."""

    def __init__(self, command, environment):
        self.stdout, self.stderr = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.popen = subprocess.Popen(command, cwd=REPO, env=environment, stdout=self.stdout, stderr=self.stderr,
                                      text=True)

    def wait(self) -> tuple[int, str, str]:
        try:
            returncode = self.popen.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.send_signal(signal.SIGABRT)
            returncode = self.popen.wait(timeout=60)
        self.stdout.seek(0)
        self.stderr.seek(0)
        return returncode, self.stdout.read(), self.stderr.read()


def start_processes(module, *arguments) -> list:
    """Both processes of `python -m module arguments...` on 2 CPU devices each: process 0 configured by the
    KERAS_DISTRIBUTION_* variables, process 1 by flags."""
    address = f"127.0.0.1:{free_port()}"
    command = without_tensorflow(module, *arguments)
    environment = {**os.environ, "JAX_NUM_CPU_DEVICES": "2", "PYTHONFAULTHANDLER": "1"}
    by_variables = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": address, "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                    "KERAS_DISTRIBUTION_PROCESS_ID": "0"}
    by_flags = [f"--job_addresses={address}", "--num_processes=2", "--process_id=1"]
    return [Process(command, {**environment, **by_variables}), Process(command + by_flags, environment)]


def run_on_four_devices(module, *arguments):
    completed = subprocess.run(without_tensorflow(module, *arguments), cwd=REPO, capture_output=True, text=True,
                               timeout=TIMEOUT, env={**os.environ, "JAX_NUM_CPU_DEVICES": "4"})
    assert completed.returncode == 0, completed.stderr[-3000:]


def finish(processes) -> list:
    """Each process's stdout, once all have ended well."""
    outputs = [process.wait() for process in processes]
    for returncode, _, stderr in outputs:
        assert returncode == 0, stderr[-3000:]
    return [stdout for _, stdout, _ in outputs]


def printed_results(processes) -> list:
    return [json.loads(stdout[stdout.index("{"):]) for stdout in finish(processes)]


def backed_up_epochs(path) -> int:
    try:
        return json.loads(path.read_text())["epoch"]
    except (OSError, ValueError):
        return 0


def start_fit(data_dir, run_dir, *extra) -> list:
    return start_processes("trainers.fit", f"--data_dir={data_dir}", f"--output_dir={run_dir}", *FIT, *extra)


def killed_after_epoch_1_and_rerun(data_dir, killed_dir, *extra) -> tuple[dict, list]:
    """Both processes SIGKILLed once epoch 1 is backed up and the best checkpoint saved, then rerun, with a later
    Orbax step committed and one unfinished left in the backup: (what the kill left, the rerun's printed results)."""
    victims = start_fit(data_dir, killed_dir, *extra)
    metadata = [killed_dir / "backup" / "training_metadata.json",
                killed_dir / "process-1-scratch" / "backup" / "training_metadata.json"]
    best = killed_dir / "checkpoints" / "best"
    deadline = time.time() + TIMEOUT
    while (min(map(backed_up_epochs, metadata)) < 1 or not (best / "1").is_dir()) and time.time() < deadline:
        time.sleep(0.05)
    for victim in victims:
        victim.popen.send_signal(signal.SIGKILL)
    for victim in victims:
        victim.wait()
    state = killed_dir / "backup" / "state"
    at_kill = {"saved": [backed_up_epochs(path) for path in metadata], "backup_steps": sorted(os.listdir(state)),
               "best_steps": sorted(os.listdir(best)), "results": (killed_dir / "results.json").exists()}
    # As if killed after Orbax committed backup epoch 2 but before the metadata named it, and during a later save;
    # and after process 0 wrote best.json but before process 1 did (was: process 1 alone saved the best epoch's
    # step again, StepAlreadyExistsError).
    shutil.copytree(state / "1", state / "2")
    (state / "3.orbax-checkpoint-tmp-1").mkdir()
    (killed_dir / "process-1-scratch" / "checkpoints" / "best.json").unlink(missing_ok=True)
    return at_kill, printed_results(start_fit(data_dir, killed_dir, *extra))


@pytest.fixture(scope="module")
def runs(criteo_10k_dir, tmp_path_factory):
    """One process with 4 devices; 2 processes x 2 devices; and 2 processes killed after epoch 1 and rerun."""
    root = tmp_path_factory.mktemp("multi_process")
    run_on_four_devices("trainers.fit", f"--data_dir={criteo_10k_dir}", f"--output_dir={root / 'one'}", *FIT)
    printed = printed_results(start_fit(criteo_10k_dir, root / "two"))
    at_kill, resumed = killed_after_epoch_1_and_rerun(criteo_10k_dir, root / "killed")
    return root, printed, at_kill, resumed


def results(run_dir):
    return json.loads((run_dir / "results.json").read_text())


def test_two_processes_end_with_one_digest_and_train_as_one_process_with_four_devices(runs):
    root, printed, _, _ = runs
    one, two = results(root / "one"), results(root / "two")
    assert printed[0]["weights_sha256"] == printed[1]["weights_sha256"] == two["weights_sha256"]
    assert one["num_replicas"] == two["num_replicas"] == 4
    # The same global batches, row for row on each device, and the same dropout masks: the epochs' train losses
    # agree to 1.8e-7 (relative; measured 2026-12-07). Gloo sums the devices' gradients in another order than one
    # process's all-reduce, and Adam (epsilon 1e-7) turns those last-bit differences of near-zero gradients into
    # weight differences of up to 3.5e-4 after 2 epochs (a dense bias); the test AUCs differ by 2.6e-4.
    assert two["train_loss"] == pytest.approx(one["train_loss"], rel=1e-5)
    assert two["best_epoch"] == one["best_epoch"] and two["test_auc"] == pytest.approx(one["test_auc"], abs=2e-3)
    models = [keras.saving.load_model(root / name / "model.keras", compile=False) for name in ("one", "two")]
    difference = max(np.max(np.abs(a - b)) for a, b in zip(models[0].get_weights(), models[1].get_weights()))
    assert difference < 5e-3


@pytest.fixture(scope="module")
def sharded_runs(criteo_10k_dir, tmp_path_factory):
    """--shard_embeddings on one process with 4 devices, and on 2 processes x 2 devices, where the table and its
    Adam moments span both processes (each holds half of their rows)."""
    root = tmp_path_factory.mktemp("sharded_processes")
    run_on_four_devices("trainers.fit", f"--data_dir={criteo_10k_dir}", f"--output_dir={root / 'one'}", *FIT,
                        "--shard_embeddings")
    printed = printed_results(start_fit(criteo_10k_dir, root / "two", "--shard_embeddings"))
    _, resumed = killed_after_epoch_1_and_rerun(criteo_10k_dir, root / "killed", "--shard_embeddings")
    return root, printed, resumed


def test_tables_split_across_two_processes_train_measure_and_save_as_on_one_process(sharded_runs, criteo_10k_dir):
    """IA, the weights digest and model.keras read the whole table, gathered from both processes (was: refused;
    measured 2026-12-07: train losses within 2e-7 relative, mean IA within 3e-9)."""
    from datasets.reader import make_dataset
    from tf_multiemb.metrics import roc_auc

    root, printed, _ = sharded_runs
    one, two = results(root / "one"), results(root / "two")
    assert printed[0]["weights_sha256"] == printed[1]["weights_sha256"] == two["weights_sha256"]
    assert one["num_replicas"] == two["num_replicas"] == 4
    assert two["train_loss"] == pytest.approx(one["train_loss"], rel=1e-5)
    assert two["mean_ia"] == pytest.approx(one["mean_ia"], rel=1e-5)
    model = keras.saving.load_model(root / "two" / "model.keras", compile=False)
    (ids, labels), = make_dataset(str(criteo_10k_dir), "test", batch_size=4096)
    assert two["test_auc"] == pytest.approx(roc_auc(labels.numpy(), model.predict(ids, verbose=0)), abs=1e-6)


def test_tables_split_across_two_processes_resume_from_their_orbax_parts_to_the_uninterrupted_weights(
        sharded_runs):
    root, printed, resumed = sharded_runs
    expected, got = results(root / "two"), results(root / "killed")
    assert got["resumed_from_epoch"] == 1
    assert {key: got[key] for key in COMPARED} == {key: expected[key] for key in COMPARED}
    assert resumed[0]["weights_sha256"] == resumed[1]["weights_sha256"] == printed[0]["weights_sha256"]


def test_val_and_test_metrics_count_every_processs_rows_once_with_the_best_epochs_weights(runs, criteo_10k_dir):
    """1,000 rows in global batches of 512: each process evaluates and predicts its blocks, the last one partly
    filler. The model is the best epoch's, restored from the Orbax checkpoint."""
    from datasets.reader import make_dataset
    from tf_multiemb.metrics import log_loss, roc_auc
    from trainers.run_records import read_epoch_log

    root, _, _, _ = runs
    model = keras.saving.load_model(root / "two" / "model.keras", compile=False)
    two = results(root / "two")
    (ids, labels), = make_dataset(str(criteo_10k_dir), "test", batch_size=4096)
    probabilities = model.predict(ids, verbose=0)
    assert two["test_auc"] == pytest.approx(roc_auc(labels.numpy(), probabilities), abs=1e-6)
    assert two["test_logloss"] == pytest.approx(log_loss(labels.numpy(), probabilities), abs=1e-6)
    (ids, labels), = make_dataset(str(criteo_10k_dir), "val", batch_size=4096)
    best = read_epoch_log(root / "two" / "epochs.csv")[two["best_epoch"] - 1]
    exact = log_loss(labels.numpy(), model.predict(ids, verbose=0))
    assert best["val_logloss"] == pytest.approx(exact, abs=1e-5) and best["val_loss"] == pytest.approx(exact, abs=1e-5)


def test_the_first_steps_loss_and_gradients_on_two_processes_equal_one_process_with_four_devices(criteo_10k_dir,
                                                                                                 tmp_path):
    """trainers.fit's initial model and first global batch, placed as fit places them: the batch assembled from
    the processes' blocks is the one-process batch, so only the order of gloo's sums differs (measured
    2026-12-07: equal losses, 6,697 of 46,081 gradient entries differ, by at most 7.5e-9)."""
    run_on_four_devices("tests.jax_checks", "first_step", criteo_10k_dir, tmp_path / "one.npz")
    finish(start_processes("tests.jax_checks", "first_step", criteo_10k_dir, tmp_path / "two.npz"))
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert one["devices"] == two["devices"] == 4
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-6)
    gradients = sorted(name for name in one.files if name.startswith("gradient_"))
    assert gradients == sorted(name for name in two.files if name.startswith("gradient_")) and len(gradients) > 5
    for name in gradients:
        np.testing.assert_allclose(two[name], one[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_only_process_0_writes_the_run_directory_and_the_checkpoints_are_orbax(runs):
    root, _, _, _ = runs
    run_dir = root / "two"
    assert sorted(path.name for path in run_dir.iterdir() if path.is_dir()) == ["checkpoints", "data_schema"]
    assert len((run_dir / "epochs.csv").read_text().splitlines()) == 1 + 2  # one writer
    best = json.loads((run_dir / "checkpoints" / "best.json").read_text())
    assert os.listdir(run_dir / "checkpoints" / "best") == [str(best["epoch"])]  # one Orbax step: the best epoch's


def test_both_processes_killed_after_epoch_1_resume_to_the_uninterrupted_runs_weights(runs):
    root, printed, at_kill, resumed = runs
    assert at_kill == {"saved": [1, 1], "backup_steps": ["1"], "best_steps": ["1"], "results": False}
    expected, got = results(root / "two"), results(root / "killed")
    assert got["resumed_from_epoch"] == 1
    assert {key: got[key] for key in COMPARED} == {key: expected[key] for key in COMPARED}
    assert resumed[0]["weights_sha256"] == resumed[1]["weights_sha256"] == printed[0]["weights_sha256"]
    assert not (root / "killed" / "backup").exists() and not (root / "killed" / "process-1-scratch").exists()


def test_the_orbax_backup_restores_every_variable_bit_for_bit_and_refuses_other_variable_paths(tmp_path):
    run_without_tensorflow("tests.jax_checks", "orbax_round_trip", tmp_path, tmp_path / "round_trip.json")
    result = json.loads((tmp_path / "round_trip.json").read_text())
    assert result["bit_equal"] == [True] * result["variables"] and result["variables"] == 17  # 4 weights, 13 Adam
    assert result["equal_before_restore"] == 1  # the rebuilt model differed but for Adam's learning rate
    assert result["metadata"] == {"epoch": 1}
    assert result["other_paths"].endswith("has trained 0 steps, not the 1 epochs x 3 steps its metadata names; "
                                          "delete its backup/ to train from the start")


@pytest.mark.parametrize("arguments, environment, message", [
    ({"num_processes": 2, "job_addresses": "127.0.0.1:1"}, {}, "2 processes need --process_id"),
    ({"num_processes": 2, "process_id": 2, "job_addresses": "127.0.0.1:1"}, {}, r"in 0\.\.1, got 2"),
    ({"process_id": 0}, {"KERAS_DISTRIBUTION_NUM_PROCESSES": "2"}, "2 processes need --job_addresses"),
    ({}, {"KERAS_DISTRIBUTION_NUM_PROCESSES": "two"},
     r"\$KERAS_DISTRIBUTION_NUM_PROCESSES must be a whole number, got 'two'"),
    ({"num_processes": 3, "process_id": 0, "job_addresses": "127.0.0.1:1", "batch_size": 1024}, {},
     "--batch_size=1024 is the global batch: it must split evenly between the 3 processes"),
])
def test_a_multi_process_run_missing_a_setting_is_refused_in_one_line(arguments, environment, message, monkeypatch):
    from trainers.jax_processes import check_process_flags

    for name in ("NUM_PROCESSES", "PROCESS_ID", "JOB_ADDRESSES"):
        monkeypatch.delenv(f"KERAS_DISTRIBUTION_{name}", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        check_process_flags(FitConfig(**arguments))


def test_num_processes_on_the_tensorflow_backend_is_refused(criteo_10k_dir, tmp_path):
    from trainers.fit import ConfigError, validate

    assert keras.backend.backend() == "tensorflow"
    with pytest.raises(ConfigError, match="--num_processes .* is for the JAX backend"):
        validate(FitConfig(data_dir=criteo_10k_dir, output_dir=str(tmp_path), num_processes=2))
