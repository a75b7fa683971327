"""TF Serving gRPC client example: raw rows -> PredictRequest (serving_default) -> probabilities.

    python -m export.grpc_client --server=localhost:8500 --model_name=criteo_dcnv2 --input=test.txt --rows=4
    python -m export.grpc_client --model_name=avazu --export_dir=models/avazu/1 --input=test.csv

The rows are read in the raw format of the served model's data: Criteo without --export_dir, otherwise
the format named by the schema export.saved_model stored in <export_dir>/assets.extra/.
"""

import itertools
import sys

from absl import app, flags

from datasets.criteo import raw_rows
from datasets.raw_formats import raw_format_for
from datasets.raw_input import read_rows
from export.predict import load_exported_schema


def input_rows(path: str, export_dir: "str | None", count: int) -> list:
    """The first `count` raw rows of `path`, in the format of the export's schema (no export_dir: Criteo)."""
    if export_dir is None:
        return list(itertools.islice(raw_rows(path), count))
    schema = load_exported_schema(export_dir)
    return list(itertools.islice(read_rows(path, raw_format_for(schema, path)), count))


def predict(stub, rows: list, model_name: str, timeout_s: float = 10.0):
    """Probabilities (numpy [len(rows)]) from a PredictionServiceStub for raw feature dicts."""
    import tensorflow as tf

    from export.requests import predict_request

    response = stub.Predict(predict_request(rows, model_name), timeout_s)
    return tf.make_ndarray(response.outputs["probability"])


FLAGS = flags.FLAGS


def main(argv: list) -> None:
    del argv
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    try:
        rows = input_rows(FLAGS.input, FLAGS.export_dir, FLAGS.rows)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(FLAGS.server))
    try:
        probabilities = predict(stub, rows, FLAGS.model_name)
    except grpc.RpcError as error:
        sys.exit(f"error: {FLAGS.server}: {error.code().name}: {error.details()}")
    for probability in probabilities:
        print(f"{probability:.9g}")


if __name__ == "__main__":
    flags.DEFINE_string("server", "localhost:8500", "TF Serving gRPC address.")
    flags.DEFINE_string("model_name", "criteo_dcnv2", "Model name TF Serving was started with.")
    flags.DEFINE_string("input", None, "Raw rows in the served model's format.")
    flags.DEFINE_string("export_dir", None, "The served SavedModel version directory, for its data format "
                        "(default: Criteo rows).")
    flags.DEFINE_integer("rows", 4, "Number of rows to send.")
    flags.mark_flags_as_required(["input"])
    app.run(main)
