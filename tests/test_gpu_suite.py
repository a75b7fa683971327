"""bench.gpu_suite's report: every measured step as a table, seeds of the early-stopping runs as mean ± std."""

import json
import os
import statistics
import subprocess
import sys

from bench.gpu_suite import report


def test_report_tables_the_steps_measured_so_far():
    runs = [{"model": "dcnv2", "embedding": embedding, "scale": scale, "seed": seed, "test_auc": auc}
            for (embedding, scale, seed, auc) in [("single", 1, 0, 0.801), ("single", 1, 1, 0.803),
                                                  ("single", 10, 0, 0.799), ("single", 10, 1, 0.797),
                                                  ("multi", 10, 0, 0.811)]]
    results = {"devices": ["cuda:0"], "elapsed_seconds": 12.5, "steps": {
        "zoo": [{"model": "dnn", "embedding": "multi", "scale": 10, "examples_per_sec": 123456.7},
                {"model": "ffm", "embedding": "single", "scale": 10, "skipped": "too large"}],
        "early_stopping": runs}}
    text = report(results)
    assert "| dnn | multi | 10x | 123,457 |" in text and "| ffm | single | 10x | skipped |" in text
    base = f"{statistics.mean([0.801, 0.803]):.5f} ± {statistics.stdev([0.801, 0.803]):.5f}"
    se10 = f"{statistics.mean([0.799, 0.797]):.5f} ± {statistics.stdev([0.799, 0.797]):.5f}"
    assert f"| dcnv2 | SE | <u>{base}</u> | {se10} |" in text
    assert "| dcnv2 | ME |" in text and "0.81100 (n=1)" in text
    assert "Through trainers.fit" not in text  # a step not measured yet has no section


def test_the_host_ceiling_runs_the_fit_loop_both_ways_and_the_report_shows_it(criteo_10k_dir, tmp_path):
    path = tmp_path / "host.json"
    completed = subprocess.run([sys.executable, "-m", "bench.host_ceiling", f"--data_dir={criteo_10k_dir}",
                                "--batch_sizes=256", "--steps=4", "--repeats=1", f"--json={path}"],
                               capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    (row,) = json.loads(path.read_text())
    assert row["batch_size"] == 256 and row["examples_per_sec"] > 0 and row["baseline_examples_per_sec"] > 0
    assert row["ms_per_step"] == round(1000 * 256 / row["examples_per_sec"], 3)
    assert completed.stdout.splitlines()[-1].startswith("host ceiling: batch 256: ")
    text = report({"devices": ["cpu:0"], "steps": {"host_ceiling": row}})
    assert f"{row['examples_per_sec']:,.0f} examples/s ({row['ms_per_step']} ms/step)" in text
