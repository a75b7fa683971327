"""The contract TF Serving relies on: warm-up records, REST payload recipes, saved_model_cli run, gRPC requests."""

import itertools
import base64
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from datasets.criteo import FIELDS as CRITEO_FIELDS
from export.grpc_client import predict
from datasets.criteo import raw_rows
from export.requests import (columns_from_rows, example_from_raw, predict_request, rest_columnar_payload,
                             rest_instances_payload)
from export.saved_model import WARMUP_FILE
from tests.test_export import CLI, real_sample, trained_export


@pytest.fixture(scope="module")
def served():
    _, export_dir = trained_export()
    rows = list(itertools.islice(raw_rows(str(real_sample("test-unlabeled-10k.txt"))), 64))
    loaded = tf.saved_model.load(str(export_dir))
    expected = loaded.signatures["predict_columns"](**columns_from_rows(rows, CRITEO_FIELDS))["probability"]
    return export_dir, loaded, rows, expected.numpy()


def serving_default(loaded, serialized):
    return loaded.signatures["serving_default"](examples=tf.constant(serialized))["probability"].numpy()


def test_warmup_records_are_prediction_logs_of_real_rows_that_the_model_answers(served):
    export_dir, loaded, _, _ = served
    train_rows = list(itertools.islice(raw_rows(str(real_sample("train-10k.txt"))), 16))
    records = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(str(export_dir / WARMUP_FILE))]
    examples = []
    for record in records:
        request = record.predict_log.request
        assert request.model_spec.name == "criteo_dcnv2"
        assert request.model_spec.signature_name == "serving_default"
        examples.extend(tf.make_ndarray(request.inputs["examples"]).tolist())
    assert examples == [example_from_raw(row) for row in train_rows]
    assert np.isfinite(serving_default(loaded, examples)).all()


def test_rest_row_and_columnar_payloads_converted_by_the_documented_recipe(served):
    _, loaded, rows, expected = served
    # TF Serving REST: "instances" is a list of rows; {"b64": ...} decodes to the bytes of a string tensor.
    instances = json.loads(json.dumps(rest_instances_payload(rows)))
    assert instances["signature_name"] == "serving_default"
    decoded = [base64.b64decode(instance["b64"]) for instance in instances["instances"]]
    np.testing.assert_allclose(serving_default(loaded, decoded), expected, atol=1e-6, rtol=0)
    # Columnar form: "inputs" maps each input name to its list of values (dtype from the signature).
    columnar = json.loads(json.dumps(rest_columnar_payload(rows, CRITEO_FIELDS)))
    signature = loaded.signatures["predict_columns"]
    specs = signature.structured_input_signature[1]
    tensors = {name: tf.constant(values, dtype=specs[name].dtype) for name, values in columnar["inputs"].items()}
    np.testing.assert_allclose(signature(**tensors)["probability"].numpy(), expected, atol=1e-6, rtol=0)


def test_a_request_that_is_not_a_tf_example_is_rejected(served):
    _, loaded, _, _ = served
    with pytest.raises(tf.errors.InvalidArgumentError, match="parse"):
        serving_default(loaded, [b"not a tf.Example proto"])


def saved_model_cli_probabilities(export_dir, rows, outdir):
    """`saved_model_cli run --input_examples` on raw feature dicts (missing features left out)."""
    examples = [{name: [value] for name, value in row.items() if value is not None} for row in rows]
    completed = subprocess.run(
        [str(CLI), "run", "--dir", str(export_dir), "--tag_set", "serve", "--signature_def", "serving_default",
         "--input_examples", f"examples={examples!r}", "--outdir", str(outdir)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return np.load(outdir / "probability.npy")


def test_saved_model_cli_run_with_input_examples(served, tmp_path):
    export_dir, _, rows, expected = served
    np.testing.assert_allclose(saved_model_cli_probabilities(export_dir, rows[:3], tmp_path), expected[:3],
                               atol=1e-6, rtol=0)


class ModelBackedStub:
    """Answers Predict like TF Serving would, from the loaded SavedModel; records the request."""

    def __init__(self, loaded):
        self.loaded = loaded
        self.requests = []

    def Predict(self, request, timeout):  # noqa: N802  (the gRPC stub's method name)
        self.requests.append(request)
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        outputs = self.loaded.signatures[request.model_spec.signature_name](**inputs)
        response = predict_pb2.PredictResponse()
        response.outputs["probability"].CopyFrom(tf.make_tensor_proto(outputs["probability"]))
        return response


def test_grpc_client_builds_a_predict_request_that_serving_default_answers(served):
    _, loaded, rows, expected = served
    request = predict_request(rows[:5], "criteo_dcnv2")
    assert request.model_spec.name == "criteo_dcnv2" and request.model_spec.signature_name == "serving_default"
    assert list(request.inputs) == ["examples"] and request.inputs["examples"].dtype == tf.string.as_datatype_enum
    stub = ModelBackedStub(loaded)
    np.testing.assert_allclose(predict(stub, rows[:5], "criteo_dcnv2"), expected[:5], atol=1e-6, rtol=0)
    assert predict_pb2.PredictRequest.FromString(stub.requests[0].SerializeToString()) == request


def test_latency_bench_help_and_json_output(tmp_path):
    _, export_dir = trained_export()
    bench = [sys.executable, "-m", "bench.serving_latency"]
    shown = subprocess.run(bench + ["--help"], capture_output=True, text=True)
    assert "--batch_sizes" in shown.stdout and "p50" in shown.stdout  # absl exits 1 after --help
    output = tmp_path / "latency.json"
    completed = subprocess.run(bench + [f"--model_dir={export_dir}", f"--input={real_sample('test-unlabeled-10k.txt')}",
                                        "--iterations=5", "--warmup=1", f"--output={output}"],
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    batches = json.loads(output.read_text())["batches"]
    assert set(batches) == {"1", "256"}
    assert all(0 < b["p50_ms"] <= b["p99_ms"] for b in batches.values())
