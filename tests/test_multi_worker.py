"""trainers.fit under MultiWorkerMirroredStrategy: two worker processes on localhost (CPU), one TF_CONFIG."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from trainers.config import FitConfig
from trainers.fit import validate, worker_run_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--embedding_dim=2", "--hidden_units=8,8", "--batch_size=256", "--verbose=0"]
TIMEOUT = 300  # seconds for the whole cluster: a hang fails the test


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def run_workers(data_dir, output_dirs, log_dir, *arguments):
    """One `trainers.fit` per output dir, as the workers of one cluster; [(returncode, stdout, stderr)]."""
    addresses = [f"127.0.0.1:{port}" for port in free_ports(len(output_dirs))]
    processes, logs = [], []
    for index, output_dir in enumerate(output_dirs):
        tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        stdout, stderr = (open(log_dir / f"worker{index}.{name}", "w+") for name in ("out", "err"))
        logs.append((stdout, stderr))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "trainers.fit", f"--data_dir={data_dir}", f"--output_dir={output_dir}", *TINY,
             *arguments], cwd=REPO, env=dict(os.environ, TF_CONFIG=json.dumps(tf_config), CUDA_VISIBLE_DEVICES=""),
            stdout=stdout, stderr=stderr, text=True))
    deadline = time.monotonic() + TIMEOUT
    try:
        for process in processes:
            process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    results = []
    for process, files in zip(processes, logs):
        for handle in files:
            handle.seek(0)
        results.append((process.returncode, *(handle.read() for handle in files)))
        for handle in files:
            handle.close()
    return results


@pytest.fixture(scope="module")
def two_workers(criteo_10k_dir, tmp_path_factory):
    """Two workers, separate output dirs (as on two machines): 2 epochs of 3 steps, global batch 256."""
    root = tmp_path_factory.mktemp("multi_worker")
    output_dirs = [root / "chief", root / "worker1"]
    completed = run_workers(criteo_10k_dir, output_dirs, root, "--epochs=2", "--steps_per_epoch=3")
    for returncode, _, stderr in completed:
        assert returncode == 0, stderr[-3000:]
    return output_dirs, [json.loads(stdout) for _, stdout, _ in completed]


def test_both_workers_end_with_identical_weights(two_workers):
    (chief_dir, _), summaries = two_workers
    results = json.loads((chief_dir / "results.json").read_text())
    assert results["num_replicas"] == 2 and results["epochs"] == 2
    assert [summary["weights_sha256"] for summary in summaries] == [results["weights_sha256"]] * 2


def test_only_the_chief_writes_the_run_directory(two_workers):
    (chief_dir, worker_dir), _ = two_workers
    for name in ("results.json", "model.keras", "checkpoints/best.weights.h5", "epochs.csv",
                 "information_abundance.jsonl", "data_schema/schema.json"):
        assert (chief_dir / name).is_file(), name
    assert sorted(path.name for path in chief_dir.iterdir() if path.is_dir()) == [
        "checkpoints", "data_schema", "tensorboard"]  # no backup/, no worker scratch directory
    assert not [path for path in worker_dir.rglob("*") if path.is_file()]


def test_metrics_cover_the_whole_validation_and_test_splits(two_workers, criteo_10k_ids):
    """Validation batches are split between the workers (summed metric states); test runs on each alone."""
    import keras

    from tf_multiemb.metrics import roc_auc

    (chief_dir, _), _ = two_workers
    results = json.loads((chief_dir / "results.json").read_text())
    model = keras.saving.load_model(str(chief_dir / "model.keras"), compile=False)
    val_ids, val_labels = criteo_10k_ids["val"]
    val_auc = keras.metrics.AUC(num_thresholds=2000)
    val_auc.update_state(val_labels, model.predict(val_ids, verbose=0))
    assert float(val_auc.result()) == pytest.approx(results["best_val_auc"], rel=1e-6)
    test_ids, test_labels = criteo_10k_ids["test"]
    assert roc_auc(test_labels, model.predict(test_ids, verbose=0)) == pytest.approx(results["test_auc"], rel=1e-6)


def test_workers_resuming_after_different_epochs_stop_with_a_clear_error(criteo_10k_dir, tmp_path):
    output_dirs = [tmp_path / "chief", tmp_path / "worker1"]
    (output_dirs[0] / "backup").mkdir(parents=True)
    (output_dirs[0] / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    (output_dirs[0] / "epochs.csv").write_text("epoch,loss,val_auc\n0,0.5,0.6\n")  # the logs match the backup
    (output_dirs[0] / "information_abundance.jsonl").write_text('{"epoch": 1}\n')
    for returncode, _, stderr in run_workers(criteo_10k_dir, output_dirs, tmp_path, "--epochs=2",
                                             "--steps_per_epoch=1"):
        assert returncode != 0
        assert "error: the workers' backups end after different epochs [0, 1]" in stderr


@pytest.mark.parametrize("cluster, task, chief", [
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 0}, True),
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, False),
    ({"chief": ["a:1"], "worker": ["b:1"]}, {"type": "chief", "index": 0}, True),
    ({"chief": ["a:1"], "worker": ["b:1"]}, {"type": "worker", "index": 0}, False),
])
def test_the_chief_is_the_chief_task_else_worker_0(cluster, task, chief, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    expected = "runs/a" if chief else os.path.join("runs/a", f"{task['type']}-{task['index']}-scratch")
    assert worker_run_dir("runs/a") == expected


def test_without_tf_config_this_process_is_the_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert worker_run_dir("runs/a") == "runs/a"


@pytest.mark.parametrize("workers, cpu_devices, message", [
    (2, 2, "--cpu_devices splits one machine's CPU"),
    (9, 0, "TF_CONFIG names 9 workers, more than the train split's shard files"),  # the sample has 8
])
def test_flags_that_cannot_run_on_several_workers_are_refused(workers, cpu_devices, message, criteo_10k_dir,
                                                              monkeypatch):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in range(1, workers + 1)]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    with pytest.raises(ValueError, match=message):
        validate(FitConfig(data_dir=criteo_10k_dir, output_dir="runs/a", cpu_devices=cpu_devices))


def test_a_single_task_tf_config_still_trains(criteo_10k_dir, tmp_path):
    cluster = {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}
    completed = subprocess.run(
        [sys.executable, "-m", "trainers.fit", f"--data_dir={criteo_10k_dir}", f"--output_dir={tmp_path / 'run'}",
         *TINY, "--epochs=1", "--steps_per_epoch=1"],
        env=dict(os.environ, TF_CONFIG=json.dumps(cluster)), capture_output=True, text=True, timeout=TIMEOUT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (tmp_path / "run" / "results.json").is_file()
