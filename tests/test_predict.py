"""python -m export.predict on the real unlabelled Kaggle test rows, and every way it refuses bad input."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from datasets.criteo import FIELDS as CRITEO_FIELDS
from datasets.criteo import raw_rows
from export.requests import columns_from_rows
from tests.sample_data import sample_file
from tests.test_export import real_sample, trained_export
from tests.test_fit import REPO


def run_predict(*arguments):
    return subprocess.run([sys.executable, "-m", "export.predict", *arguments], cwd=REPO, capture_output=True,
                          text=True)


def test_one_probability_per_row_in_input_order(tmp_path):
    _, export_dir = trained_export()
    test_file = real_sample("test-unlabeled-10k.txt")
    output = tmp_path / "preds.csv"
    completed = run_predict(f"--model_dir={export_dir}", f"--input={test_file}", f"--output={output}",
                            "--batch_size=3000")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "predicting" in completed.stderr and "10000" in completed.stderr  # the progress bar
    lines = output.read_text().splitlines()
    assert lines[0] == "probability" and len(lines) == 10001
    predicted = np.array(lines[1:], dtype=np.float64)

    rows = list(raw_rows(str(test_file)))
    signature = tf.saved_model.load(str(export_dir)).signatures["predict_columns"]
    expected = signature(**columns_from_rows(rows, CRITEO_FIELDS))["probability"].numpy()
    np.testing.assert_allclose(predicted, expected, rtol=1e-7, atol=0)
    assert len(np.unique(predicted)) > 100  # rows were not mixed up into one answer


@pytest.mark.parametrize("value, shown", [("99999999999999999999", "99999999999999999999"),
                                          ("9" * 5000, "9" * 24 + "... (5000 characters)")])  # int() refuses it
def test_rows_out_of_int64_range_are_one_line_errors_and_leave_nothing(tmp_path, value, shown):
    """The bad row comes after a full batch, so <output>.partial already holds probabilities when it fails."""
    lines = real_sample("test-unlabeled-10k.txt").read_text().splitlines()[:6]
    lines[4] = "\t".join([value] + lines[4].split("\t")[1:])
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    assert_one_line_error(tmp_path, [f"--input={bad}", "--batch_size=2"], f"error: {bad} line 5: I1={shown} is "
                          "outside the numeric range -9223372036854775806..9223372036854775807")


def test_a_malformed_row_is_a_clear_error_and_leaves_no_output(tmp_path):
    lines = real_sample("test-unlabeled-10k.txt").read_text().splitlines()[:3]
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines[:2] + ["1\tx\t2"]) + "\n")
    assert_one_line_error(tmp_path, [f"--input={bad}"], f"error: {bad} line 3: 3 columns, expected 39")


AVAZU_SAMPLE = sample_file("avazu/sample-100.csv")


@pytest.mark.parametrize("arguments, message", [
    (["--input=/nonexistent/test.txt"], "error: --input=/nonexistent/test.txt does not exist"),
    ([f"--input={AVAZU_SAMPLE}"],
     f"error: {AVAZU_SAMPLE} line 1: not a Criteo row: 1 tab-separated columns; expected 40 (train.txt) or 39 "
     "(test.txt) tab-separated, or 41 comma-separated (CSV)"),
    ([f"--input={AVAZU_SAMPLE}", "--batch_size=0"], "error: --batch_size=0 must be positive"),
    ([f"--input={AVAZU_SAMPLE}", "--batch_size=-3"], "error: --batch_size=-3 must be positive"),
])
def test_bad_input_before_any_row_is_a_one_line_error(tmp_path, arguments, message):
    assert_one_line_error(tmp_path, arguments, message)


def assert_one_line_error(tmp_path, arguments, message):
    """export.predict on the Criteo export exits 2 with exactly `message` and leaves no output."""
    _, export_dir = trained_export()
    output = tmp_path / "preds.csv"
    completed = run_predict(f"--model_dir={export_dir}", f"--output={output}", *arguments)
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert [line for line in completed.stderr.splitlines() if line.startswith("error:")] == [message]
    assert "Traceback" not in completed.stderr
    assert not output.exists() and not (tmp_path / "preds.csv.partial").exists()
