"""trainers.data_amount: subsampled train splits and the Table 2 report against the per-run results."""

import json
import re
import statistics
import subprocess
import sys

import pytest
import tensorflow as tf


TINY = ["--hidden_units=8,8", "--batch_size=128", "--epochs=1", "--verbose=0", "--interaction_arg=num_layers=1"]


def run_cli(*arguments):
    return subprocess.run([sys.executable, "-m", "trainers.data_amount", *arguments], capture_output=True, text=True)


def count_records(synthetic_criteo_dir, split):
    schema = json.loads((synthetic_criteo_dir / "schema.json").read_text())
    return sum(1 for name in schema["shards"][split] for _ in tf.data.TFRecordDataset(str(synthetic_criteo_dir / name)))


def test_subsets_and_report(synthetic_criteo_dir, tmp_path):
    completed = run_cli(f"--data_dir={synthetic_criteo_dir}", f"--output_dir={tmp_path}", "--fractions=0.25,1",
                        "--embedding_dims=2,4", "--multi_embeddings=2x2", "--seeds=2", *TINY)
    assert completed.returncode == 0, completed.stderr[-3000:]

    subset = tmp_path / "data" / "fraction_0.25"
    schema = json.loads((subset / "schema.json").read_text())
    full_train = count_records(synthetic_criteo_dir, "train")
    assert schema["rows"]["train"] == count_records(subset, "train")
    assert abs(schema["rows"]["train"] - 0.25 * full_train) < 0.05 * full_train
    for split in ("val", "test"):
        assert count_records(subset, split) == count_records(synthetic_criteo_dir, split)

    results = {}
    for path in (tmp_path / "runs").glob("*/results.json"):
        fraction, column = re.match(r"fraction_([\d.]+)_(\w+?)_seed\d$", path.parent.name).groups()
        results.setdefault((float(fraction), column), []).append(json.loads(path.read_text()))
    assert len(results) == 6 and all(len(runs) == 2 for runs in results.values())

    text = (tmp_path / "report.md").read_text()
    ia_table = text.split("## Mean information abundance")[1].split("##")[0]
    assert "| data | 2 | 4 | 4, ME (2x2) |" in ia_table
    for label, fraction in (("25% data", 0.25), ("100% data", 1.0)):
        cells = re.search(rf"^\| {label} \| (.*) \|$", ia_table, flags=re.M).group(1).split(" | ")
        for cell, column in zip(cells, ("se2", "se4", "me2x2")):
            expected = statistics.fmean(r["mean_ia"] for r in results[fraction, column])
            assert float(cell) == pytest.approx(expected, abs=0.006)


def test_bad_fraction_fails_before_any_work(synthetic_criteo_dir, tmp_path):
    completed = run_cli(f"--data_dir={synthetic_criteo_dir}", f"--output_dir={tmp_path}", "--fractions=0.5,1.5")
    assert completed.returncode != 0
    assert "--fractions='0.5,1.5' must be" in completed.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "data").exists()
