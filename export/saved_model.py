"""Export a training run as a SavedModel for TF Serving, raw-feature preprocessing in the graph.

    python -m export.saved_model --run_dir=runs/criteo/dcnv2_me_4x --output_dir=models/criteo_dcnv2/1

The output directory is TF Serving's <base>/<model_name>/<version> (version: a positive integer).
Signatures:
  serving_default      examples: serialized tf.Example of raw features (string [batch]) -> probability
  predict_columns      one named tensor per raw feature ([batch]; numeric missing = -2^63) -> probability
  preprocess_examples  examples -> ids (int32 [batch, N]): the in-graph raw -> id mapping, for parity checks
Missing features take the training default (the missing token); unknown categories map to the field's
OOV id; a feature holding more than one value is an InvalidArgumentError naming it. assets.extra/ holds
tf_serving_warmup_requests (PredictionLog warm-up requests built from real rows of the run's own raw
format: Criteo TSV/CSV or Avazu CSV) and schema.json (the run's data schema, which export.predict reads).
The version directory appears only complete: everything is written into a hidden sibling
(`.<version>.partial-...`, removed on any failure) that is then renamed into place, so TF Serving
polling the base path never loads a version without its warm-up file or schema.
Layout and signatures: docs/design.md, "Export signatures".
"""

import itertools
import os
import shutil
import sys

import keras
import tensorflow as tf
from absl import app, flags
from tensorflow_serving.apis import prediction_log_pb2

from datasets.raw_formats import raw_format_for
from datasets.raw_input import read_rows
from datasets.schema import SCHEMA_FILE, load_schema
from export.predict import SCHEMA_COPY
from export.preprocessing import RawFeaturePreprocessor
from export.requests import predict_request
from export.staged_directory import staged_directory
from trainers.run_records import load_trained_model

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def load_run(run_dir: str) -> "tuple[keras.Model, RawFeaturePreprocessor]":
    """(Keras model without table padding, RawFeaturePreprocessor) of a finished run."""
    model_path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"{model_path} not found: --run_dir must be a finished `trainers.fit` run")
    preprocessor = RawFeaturePreprocessor(os.path.join(run_dir, "data_schema"))
    return without_table_padding(load_trained_model(run_dir)), preprocessor


def without_table_padding(model: keras.Model) -> keras.Model:
    """The model with its embedding table cut to the real rows: a `--shard_embeddings` run pads the table with
    zero rows to a multiple of its device count (`FieldEmbedding(row_multiple=N)`), which no id reaches."""
    table = model.field_embedding
    if table.padded_rows == table.vocabulary_size:
        return model
    unpadded = model.__class__.from_config({**model.get_config(), "table_row_multiple": 1})
    unpadded.build((None, len(table.field_dims)))
    for source, target in zip(model.weights, unpadded.weights):
        value = keras.ops.convert_to_numpy(source)
        target.assign(value[:table.vocabulary_size] if source is table.embeddings else value)
    return unpadded


def write_warmup_requests(output_dir: str, rows: list, model_name: str, batch_size: int = 8) -> str:
    """TF Serving warm-up: PredictionLog records of serving_default requests, `batch_size` rows each."""
    path = os.path.join(output_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for start in range(0, len(rows), batch_size):
            request = predict_request(rows[start:start + batch_size], model_name)
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def export_model(model, preprocessor: RawFeaturePreprocessor, output_dir: str, model_name: str,
                 warmup_rows=()) -> str:
    """Writes the SavedModel into `output_dir`, in place (export_run publishes atomically); returns output_dir.

    Warm-up requests for TF Serving model `model_name` are built from `warmup_rows` (raw feature dicts).
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(preprocessor)
    examples_spec = [tf.TensorSpec([None], tf.string, name="examples")]

    def probability(ids):
        return {"probability": tf.reshape(model(ids, training=False), [-1])}

    archive.add_endpoint("serving_default", lambda examples: probability(preprocessor.ids_from_examples(examples)),
                         input_signature=examples_spec)
    archive.add_endpoint("predict_columns", lambda columns: probability(preprocessor.ids_from_columns(columns)),
                         input_signature=[preprocessor.column_spec()])
    archive.add_endpoint("preprocess_examples", lambda examples: {"ids": preprocessor.ids_from_examples(examples)},
                         input_signature=examples_spec)
    archive.write_out(output_dir, verbose=False)
    if warmup_rows:
        write_warmup_requests(output_dir, list(warmup_rows), model_name)
    return output_dir


def warmup_rows_of(schema: dict, warmup_input: "str | None", count: int) -> list:
    """The first `count` rows of `warmup_input` (default: the file the run's data was converted from)."""
    if count <= 0:
        return []
    path = warmup_input or schema.get("source", {}).get("path")
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f"warm-up input {path} not found; pass --warmup_input=<raw rows of the run's "
                                f"{schema['format']} format> or --warmup_rows=0")
    return list(itertools.islice(read_rows(path, raw_format_for(schema, path)), count))


def export_run(run_dir: str, output_dir: str, warmup_input: "str | None" = None, warmup_rows: int = 32) -> str:
    """Exports a run with its schema into `output_dir`, which appears only complete; returns output_dir.

    FileExistsError when output_dir exists and is not empty; warm-up rows are read (and checked) before
    anything is written; on any failure nothing is left behind.
    """
    with staged_directory(output_dir) as staging:
        model, preprocessor = load_run(run_dir)
        schema_dir = os.path.join(run_dir, "data_schema")
        rows = warmup_rows_of(load_schema(schema_dir), warmup_input, warmup_rows)
        model_name = os.path.basename(os.path.dirname(os.path.abspath(output_dir)))  # <base>/<model>/<version>
        export_model(model, preprocessor, staging, model_name, rows)
        os.makedirs(os.path.dirname(os.path.join(staging, SCHEMA_COPY)), exist_ok=True)
        shutil.copy(os.path.join(schema_dir, SCHEMA_FILE), os.path.join(staging, SCHEMA_COPY))
    return output_dir


FLAGS = flags.FLAGS


def main(argv: list) -> None:
    del argv
    if not os.path.basename(os.path.normpath(FLAGS.output_dir)).isdigit():
        sys.exit(f"error: --output_dir={FLAGS.output_dir} must end in a version number, e.g. models/criteo_dcnv2/1")
    try:
        export_run(FLAGS.run_dir, FLAGS.output_dir, FLAGS.warmup_input, FLAGS.warmup_rows)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        sys.exit(f"error: {error}")
    print(f"exported {FLAGS.run_dir} -> {FLAGS.output_dir} "
          "(signatures: serving_default, predict_columns, preprocess_examples)")


if __name__ == "__main__":
    flags.DEFINE_string("run_dir", None, "A finished trainers.fit run directory.")
    flags.DEFINE_string("output_dir", None, "Versioned export directory, e.g. models/criteo_dcnv2/1.")
    flags.DEFINE_string("warmup_input", None, "Raw rows in the run's format (Criteo TSV/CSV, Avazu CSV) for TF "
                        "Serving warm-up requests (default: the file the run's data was converted from).")
    flags.DEFINE_integer("warmup_rows", 32, "Number of warm-up rows (0: no warm-up file).")
    flags.mark_flags_as_required(["run_dir", "output_dir"])
    app.run(main)
