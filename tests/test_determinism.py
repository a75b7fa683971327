"""--seed with --deterministic: two CPU runs give bit-identical results.json metrics; the run dir records how to reproduce."""

import json
import subprocess
import sys

from tests.test_export import converted_sample

FLAGS = ["--model=dcnv2", "--embedding=multi", "--scale=2", "--embedding_dim=4", "--hidden_units=16,16",
         "--interaction_arg=num_layers=1", "--batch_size=256", "--steps_per_epoch=10", "--epochs=2", "--seed=7",
         "--deterministic", "--verbose=0"]
VARYING = {"wall_seconds", "examples_per_sec"}


def test_two_deterministic_runs_are_bit_identical_and_record_their_provenance(tmp_path):
    runs = [subprocess.Popen([sys.executable, "-m", "trainers.fit", f"--data_dir={converted_sample()}",
                              f"--output_dir={tmp_path / name}", *FLAGS], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for run in runs:
        assert run.wait() == 0, run.stderr.read()[-2000:]
    first, second = (json.loads((tmp_path / name / "results.json").read_text()) for name in ("a", "b"))
    assert {k: v for k, v in first.items() if k not in VARYING} == {k: v for k, v in second.items() if k not in VARYING}

    flagfile = (tmp_path / "a" / "flags.txt").read_text()
    assert "--seed=7" in flagfile and "--deterministic" in flagfile and "--batch_size=256" in flagfile
    info = json.loads((tmp_path / "a" / "run_info.json").read_text())
    assert {"tensorflow", "keras", "numpy", "python", "data_schema_sha256", "git_commit"} <= set(info)
    assert len(info["data_schema_sha256"]) == 64
