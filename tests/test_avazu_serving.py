"""An Avazu model through export with the defaults, warm-up, saved_model_cli, REST payloads and export.predict."""

import base64
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from datasets.avazu import COLUMNS, AvazuFormat
from datasets.conversion import convert
from export.grpc_client import input_rows, predict
from export.predict import predict_file
from export.requests import columns_from_rows, example_from_raw, rest_columnar_payload, rest_instances_payload
from export.saved_model import WARMUP_FILE, export_run
from tests.sample_data import sample_file
from tests.test_serving_contract import ModelBackedStub, saved_model_cli_probabilities, serving_default
from tests.test_fit import REPO
from trainers.config import FitConfig
from trainers.fit import train

AVAZU_FIELDS = [(name, "categorical") for name in COLUMNS[2:]]


def csv_rows(path, count=None):
    """Feature dicts read with the csv module (not the code under test): '' is missing (None)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))[:count]
    return [{name: row[name] or None for name, _ in AVAZU_FIELDS} for row in rows]


def avazu_export(base):
    """Avazu train-10k -> DNN ME 2x (one epoch) -> export_run with the defaults of `python -m export.saved_model`."""
    convert(AvazuFormat(), sample_file("avazu/train-10k.csv"), str(base / "data"), 4, train_shards=2)
    train(FitConfig(data_dir=str(base / "data"), output_dir=str(base / "run"), model="dnn", embedding="multi",
                    scale=2, embedding_dim=4, hidden_units="16,16", epochs=1, batch_size=512, verbose=0))
    return Path(export_run(str(base / "run"), str(base / "models" / "avazu" / "1")))  # warm-up: the defaults


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    export_dir = avazu_export(tmp_path_factory.mktemp("avazu_export"))
    loaded = tf.saved_model.load(str(export_dir))
    rows = csv_rows(sample_file("avazu/sample-100.csv"))
    expected = loaded.signatures["predict_columns"](**columns_from_rows(rows, AVAZU_FIELDS))["probability"].numpy()
    return export_dir, loaded, rows, expected


def parsed(serialized):
    """A tf.Example as {feature: values} (its serialized map order is not fixed)."""
    features = tf.train.Example.FromString(serialized).features.feature
    return {name: list(feature.bytes_list.value) for name, feature in features.items()}


def test_default_warmup_requests_are_the_runs_own_avazu_rows(exported):
    export_dir, loaded, _, _ = exported
    records = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(str(export_dir / WARMUP_FILE))]
    assert {record.predict_log.request.model_spec.name for record in records} == {"avazu"}
    examples = [example for record in records
                for example in tf.make_ndarray(record.predict_log.request.inputs["examples"]).tolist()]
    expected = [example_from_raw(row) for row in csv_rows(sample_file("avazu/train-10k.csv"), 32)]
    assert [parsed(example) for example in examples] == [parsed(example) for example in expected]
    assert np.isfinite(serving_default(loaded, examples)).all()


def test_both_signatures_and_the_rest_payloads_agree_on_avazu_rows(exported):
    _, loaded, rows, expected = exported
    assert len(np.unique(expected)) > 10  # rows were not mixed up into one answer
    instances = json.loads(json.dumps(rest_instances_payload(rows)))
    decoded = [base64.b64decode(instance["b64"]) for instance in instances["instances"]]
    np.testing.assert_allclose(serving_default(loaded, decoded), expected, atol=1e-6, rtol=0)
    columnar = json.loads(json.dumps(rest_columnar_payload(rows, AVAZU_FIELDS)))
    tensors = {name: tf.constant(values, tf.string) for name, values in columnar["inputs"].items()}
    probabilities = loaded.signatures[columnar["signature_name"]](**tensors)["probability"].numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-6, rtol=0)


def test_saved_model_cli_run_with_avazu_input_examples(exported, tmp_path):
    export_dir, _, rows, expected = exported
    np.testing.assert_allclose(saved_model_cli_probabilities(export_dir, rows[:3], tmp_path), expected[:3],
                               atol=1e-6, rtol=0)


def test_export_predict_writes_one_probability_per_avazu_row(exported, tmp_path):
    export_dir, _, _, expected = exported
    output = tmp_path / "preds.csv"
    completed = subprocess.run([sys.executable, "-m", "export.predict", f"--model_dir={export_dir}",
                                f"--input={sample_file('avazu/sample-100.csv')}", f"--output={output}",
                                "--batch_size=30"], cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = output.read_text().splitlines()
    assert lines[0] == "probability" and len(lines) == 101
    np.testing.assert_allclose(np.array(lines[1:], dtype=np.float64), expected, rtol=1e-7, atol=0)


def test_avazu_test_csv_without_click_predicts_the_same(exported, tmp_path):
    export_dir, _, _, expected = exported
    with open(sample_file("avazu/sample-100.csv"), newline="") as handle:
        table = list(csv.reader(handle))
    unlabelled = tmp_path / "test.csv"
    unlabelled.write_text("".join(",".join(row[:1] + row[2:]) + "\n" for row in table))
    assert predict_file(str(export_dir), str(unlabelled), str(tmp_path / "preds.csv"), progress=False) == 100
    predicted = np.loadtxt(tmp_path / "preds.csv", skiprows=1)
    np.testing.assert_allclose(predicted, expected, rtol=1e-7, atol=0)


def test_a_criteo_file_is_refused_by_an_avazu_model(exported, tmp_path):
    export_dir, _, _, _ = exported
    criteo_file = sample_file("criteo/kaggle-random-4584.csv")
    output = tmp_path / "preds.csv"
    completed = subprocess.run([sys.executable, "-m", "export.predict", f"--model_dir={export_dir}",
                                f"--input={criteo_file}", f"--output={output}"], cwd=REPO, capture_output=True,
                               text=True)
    assert completed.returncode == 2
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {criteo_file} line 1: not an Avazu header (41 columns starting ['Id', 'Label', "
                      "'I1']); expected id,click,hour,C1,...,C21, with or without click"]
    assert not output.exists() and not (tmp_path / "preds.csv.partial").exists()


def test_grpc_client_reads_avazu_rows_in_the_exports_format(exported):
    export_dir, loaded, _, expected = exported
    rows = input_rows(sample_file("avazu/sample-100.csv"), str(export_dir), 5)
    np.testing.assert_allclose(predict(ModelBackedStub(loaded), rows, "avazu"), expected[:5], atol=1e-6, rtol=0)
