"""TF Serving gRPC client example: raw Criteo rows -> PredictRequest (serving_default) -> probabilities.

    python -m export.grpc_client --server=localhost:8500 --model_name=criteo_dcnv2 --input=test.txt --rows=4
"""

import itertools
import sys

from absl import app, flags

from datasets.criteo import raw_rows


def predict(stub, rows, model_name, timeout_s=10.0):
    """Probabilities (numpy [len(rows)]) from a PredictionServiceStub for raw feature dicts."""
    import tensorflow as tf

    from export.requests import predict_request

    response = stub.Predict(predict_request(rows, model_name), timeout_s)
    return tf.make_ndarray(response.outputs["probability"])


FLAGS = flags.FLAGS


def main(argv):
    del argv
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    try:
        rows = list(itertools.islice(raw_rows(FLAGS.input), FLAGS.rows))
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
    flags.DEFINE_string("input", None, "Raw Kaggle Criteo rows.")
    flags.DEFINE_integer("rows", 4, "Number of rows to send.")
    flags.mark_flags_as_required(["input"])
    app.run(main)
