"""Export a training run as a SavedModel for TF Serving, raw-feature preprocessing in the graph.

    python -m export.saved_model --run_dir=runs/criteo/dcnv2_me_4x --output_dir=models/criteo_dcnv2/1

Signatures:
  serving_default   examples: serialized tf.Example of raw features (string [batch]) -> probability
  predict_columns   one named tensor per raw feature ([batch]; numeric missing = int64 min) -> probability
Missing features are allowed; unknown categories map to the field's OOV id.
"""

import os
import sys

import keras
import tensorflow as tf
from absl import app, flags

import tf_multiemb  # noqa: F401  (registers the serializable layers)
from export.preprocessing import RawFeaturePreprocessor


def load_run(run_dir):
    model_path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"{model_path} not found: --run_dir must be a finished `trainers.fit` run")
    return keras.saving.load_model(model_path, compile=False), RawFeaturePreprocessor(os.path.join(run_dir, "data_schema"))


def export_model(model, preprocessor, output_dir):
    """Writes the SavedModel; returns output_dir."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(preprocessor)

    def probability(ids):
        return {"probability": tf.reshape(model(ids, training=False), [-1])}

    archive.add_endpoint(
        "serving_default",
        lambda examples: probability(preprocessor.ids_from_examples(examples)),
        input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    archive.add_endpoint(
        "predict_columns",
        lambda columns: probability(preprocessor.ids_from_columns(columns)),
        input_signature=[preprocessor.column_spec()])
    archive.write_out(output_dir, verbose=False)
    return output_dir


def export_run(run_dir, output_dir):
    model, preprocessor = load_run(run_dir)
    return export_model(model, preprocessor, output_dir)


FLAGS = flags.FLAGS


def main(argv):
    del argv
    if os.path.exists(os.path.join(FLAGS.output_dir, "saved_model.pb")):
        sys.exit(f"error: {FLAGS.output_dir} already holds a SavedModel; choose a new version directory")
    try:
        export_run(FLAGS.run_dir, FLAGS.output_dir)
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
    print(f"exported {FLAGS.run_dir} -> {FLAGS.output_dir} (signatures: serving_default, predict_columns)")


if __name__ == "__main__":
    flags.DEFINE_string("run_dir", None, "A finished trainers.fit run directory.")
    flags.DEFINE_string("output_dir", None, "Versioned export directory, e.g. models/criteo_dcnv2/1.")
    flags.mark_flags_as_required(["run_dir", "output_dir"])
    app.run(main)
