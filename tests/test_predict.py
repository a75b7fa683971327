"""python -m export.predict on the real unlabelled Kaggle test rows."""

import subprocess
import sys

import numpy as np
import tensorflow as tf

from datasets.criteo import FIELDS as CRITEO_FIELDS
from datasets.criteo import raw_rows
from export.requests import columns_from_rows
from tests.test_export import real_sample, trained_export


def run_predict(*arguments):
    return subprocess.run([sys.executable, "-m", "export.predict", *arguments], capture_output=True, text=True)


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


def test_a_malformed_row_is_a_clear_error_and_leaves_no_output(tmp_path):
    _, export_dir = trained_export()
    lines = real_sample("test-unlabeled-10k.txt").read_text().splitlines()[:3]
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines[:2] + ["1\tx\t2"]) + "\n")
    output = tmp_path / "preds.csv"
    completed = run_predict(f"--model_dir={export_dir}", f"--input={bad}", f"--output={output}")
    assert completed.returncode != 0
    assert f"{bad} line 3: 3 columns, expected 39" in completed.stderr
    assert not output.exists() and not (tmp_path / "preds.csv.partial").exists()
