"""trainers.fit under MultiWorkerMirroredStrategy: two worker processes on localhost (loopback only)."""

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.test_export import converted_sample

FLAGS = ["--model=dcnv2", "--embedding=multi", "--scale=2", "--embedding_dim=4", "--hidden_units=16,16",
         "--interaction_arg=num_layers=1", "--batch_size=256", "--steps_per_epoch=4", "--epochs=1", "--seed=5",
         "--verbose=0"]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "Keras 3.15's TensorFlow trainer cannot fit under MultiWorkerMirroredStrategy: it builds by eagerly "
    "reducing the first PerReplica batch (ValueError: Attempt to convert a value (PerReplica...)), and, when "
    "that is bypassed, reduces every scalar log with strategy.reduce('MEAN', v, axis=0) (Invalid reduction "
    "dimension 0 for input with 0 dimensions; keras/src/backend/tensorflow/trainer.py reduce_per_replica). "
    "Strict: a Keras that fixes both turns this into a failure, and the mark must go."))
def test_two_workers_end_with_identical_weights_and_only_the_chief_writes(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        environment = dict(os.environ, TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                                             "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "trainers.fit", f"--data_dir={converted_sample()}",
             f"--output_dir={tmp_path / f'worker{index}'}", *FLAGS],
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate(timeout=240) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]

    printed = [json.loads(stdout[stdout.index("{"):]) for stdout, _ in outputs]
    chief = json.loads((tmp_path / "worker0" / "results.json").read_text())
    assert chief["num_replicas"] == 2
    assert printed[0]["weights_sha256"] == printed[1]["weights_sha256"] == chief["weights_sha256"]
    assert printed[0]["test_auc"] == printed[1]["test_auc"]
    assert (tmp_path / "worker0" / "model.keras").is_file()
    assert (tmp_path / "worker0" / "checkpoints" / "best.weights.h5").is_file()
    assert not (tmp_path / "worker1").exists()  # the non-chief wrote nothing in its output directory
