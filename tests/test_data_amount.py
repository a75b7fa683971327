"""trainers.data_amount: subsampled train splits and the Table 2 report against the per-run results."""

import json
import re
import statistics
import subprocess
import sys

import pytest
import tensorflow as tf
from PIL import Image

from tests.test_console import FRAMEWORK_LINE, command_environment
from trainers import sweep_report
from trainers.plots import overlapping_texts, texts_cut_off


TINY = ["--hidden_units=8,8", "--batch_size=128", "--epochs=1", "--verbose=0", "--interaction_arg=num_layers=1"]


def run_cli(*arguments):
    return subprocess.run([sys.executable, "-m", "trainers.data_amount", *arguments], capture_output=True, text=True,
                          env=command_environment())


def count_records(synthetic_criteo_dir, split):
    schema = json.loads((synthetic_criteo_dir / "schema.json").read_text())
    return sum(1 for name in schema["shards"][split] for _ in tf.data.TFRecordDataset(str(synthetic_criteo_dir / name)))


def test_subsets_and_report(synthetic_criteo_dir, tmp_path):
    completed = run_cli(f"--data_dir={synthetic_criteo_dir}", f"--output_dir={tmp_path}", "--fractions=0.25,1",
                        "--embedding_dims=2,4", "--multi_embeddings=2x2", "--seeds=2", *TINY)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert not FRAMEWORK_LINE.search(completed.stderr), completed.stderr[-3000:]

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
    check_figure(tmp_path, results)


def check_figure(output, results):
    """ia_vs_data.png, redrawn from the run directories: the CLI's PNG, readable, one line per embedding size
    through the seed means at 25% and 100% of the data."""
    runs = sweep_report.collect_data_amount_runs(str(output))
    caption = sweep_report.study_caption(str(output), runs[0]["run_dir"], len(runs))
    assert caption.startswith("criteo data, 12 runs, each at its best-validation epoch")
    figure = sweep_report.plot_data_amount(runs, str(output / "redrawn.png"),
                                           f"Information abundance vs data amount: {caption}")
    assert (output / "redrawn.png").read_bytes() == (output / "ia_vs_data.png").read_bytes()
    with Image.open(output / "ia_vs_data.png") as image:
        assert image.format == "PNG" and image.size == (round(4.8 * 110), 440)
    assert overlapping_texts(figure) == [] and texts_cut_off(figure) == []
    (axis,) = figure.axes
    assert axis.get_xscale() == "log" and axis.get_xlabel() and axis.get_ylabel()
    assert [label.get_text() for label in axis.get_xticklabels()] == ["25%", "100%"]
    drawn = {container.get_label(): container.lines[0].get_ydata().tolist() for container in axis.containers}
    assert drawn == {label: [statistics.fmean(run["mean_ia"] for run in results[fraction, column])
                             for fraction in (0.25, 1.0)]
                     for label, column in (("2", "se2"), ("4", "se4"), ("4, ME (2x2)", "me2x2"))}


def test_bad_fraction_fails_before_any_work(synthetic_criteo_dir, tmp_path):
    completed = run_cli(f"--data_dir={synthetic_criteo_dir}", f"--output_dir={tmp_path}", "--fractions=0.5,1.5")
    assert completed.returncode != 0
    assert "--fractions='0.5,1.5' must be" in completed.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "data").exists()
