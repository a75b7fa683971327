"""Multi-worker TF_CONFIG: refused before any work with a clear error (Keras 3.15's TensorFlow trainer
cannot fit under MultiWorkerMirroredStrategy)."""

import json
import os
import subprocess
import sys


def test_multi_worker_tf_config_is_refused_before_any_work(criteo_10k_dir, tmp_path):
    cluster = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}
    completed = subprocess.run(
        [sys.executable, "-m", "trainers.fit", f"--data_dir={criteo_10k_dir}", f"--output_dir={tmp_path / 'run'}"],
        env=dict(os.environ, TF_CONFIG=json.dumps(cluster)), capture_output=True, text=True, timeout=120)
    assert completed.returncode != 0
    assert "multi-worker training is not supported" in completed.stderr
    assert not (tmp_path / "run").exists()


def test_a_single_task_tf_config_still_trains(criteo_10k_dir, tmp_path):
    cluster = {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}
    completed = subprocess.run(
        [sys.executable, "-m", "trainers.fit", f"--data_dir={criteo_10k_dir}", f"--output_dir={tmp_path / 'run'}",
         "--embedding_dim=2", "--hidden_units=8,8", "--epochs=1", "--steps_per_epoch=1", "--batch_size=256",
         "--verbose=0"],
        env=dict(os.environ, TF_CONFIG=json.dumps(cluster)), capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (tmp_path / "run" / "results.json").is_file()
