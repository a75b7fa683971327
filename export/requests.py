"""Raw feature dicts -> the request forms the exported signatures take (tf.Example, columns, gRPC, REST)."""

import base64

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from datasets.tokens import NUMERIC_MISSING, RawValueError, numeric_value


def int64_value(name: str, value) -> "int | None":
    """A numeric feature's value checked by the converter's rule (tokens.numeric_value); None when missing."""
    try:
        return numeric_value(value)
    except RawValueError as error:
        raise RawValueError(error.reason, f"{name}={error}") from None


def example_from_raw(features: dict) -> bytes:
    """{"I1": 3, "C1": "68fd1e64", ...} -> serialized tf.Example; None or '' features are left out.

    Strings become bytes features, anything else an int64 feature: RawValueError outside tokens' numeric range.
    """
    feature_map = {}
    for name, value in features.items():
        if value is None or value == "":
            continue
        if isinstance(value, str):
            feature_map[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))
        else:
            feature_map[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int64_value(name, value)]))
    return tf.train.Example(features=tf.train.Features(feature=feature_map)).SerializeToString()


def columns_from_rows(rows: list, fields: list) -> dict:
    """Rows -> {name: array [batch]} for `predict_columns`; a missing numeric value becomes NUMERIC_MISSING (-2^63)."""
    columns = {}
    for name, kind in fields:
        values = [row.get(name) for row in rows]
        if kind == "numeric":
            checked = (int64_value(name, value) for value in values)
            columns[name] = np.array([NUMERIC_MISSING if v is None else v for v in checked], dtype=np.int64)
        else:
            columns[name] = np.array([(v or "").encode("utf-8") for v in values], dtype=object)
    return columns


def predict_request(rows: list, model_name: str, signature_name: str = "serving_default"):
    """A TF Serving PredictRequest carrying the rows as serialized tf.Examples (input `examples`)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    examples = [example_from_raw(row) for row in rows]
    request.inputs["examples"].CopyFrom(tf.make_tensor_proto(examples, dtype=tf.string, shape=[len(examples)]))
    return request


def rest_instances_payload(rows: list) -> dict:
    """The REST row form: {"signature_name": "serving_default", "instances": [{"b64": ...}, ...]}."""
    return {"signature_name": "serving_default",
            "instances": [{"b64": base64.b64encode(example_from_raw(row)).decode("ascii")} for row in rows]}


def rest_columnar_payload(rows: list, fields: list) -> dict:
    """The REST columnar form for `predict_columns`: {"inputs": {name: [values]}}."""
    columns = columns_from_rows(rows, fields)
    return {"signature_name": "predict_columns",
            "inputs": {name: [v.decode("utf-8") if isinstance(v, bytes) else int(v) for v in values]
                       for name, values in columns.items()}}
