"""Batch prediction on raw Kaggle Criteo rows with an exported SavedModel, streamed.

    python -m export.predict --model_dir=models/criteo_dcnv2/1 --input=test.txt --output=preds.csv

Reads `--batch_size` rows at a time (test.txt without label, or train.txt with it), runs the
`predict_columns` signature and writes one probability per input row, in input order, under the
header `probability`. The output appears only when complete (written to <output>.partial first).
"""

import os
import sys

from absl import app, flags

from datasets.criteo import FIELDS, raw_rows


def check_signature(signature):
    """The model must take exactly the Criteo raw features with the dtypes this reader produces."""
    import tensorflow as tf

    expected = {name: tf.int64 if kind == "numeric" else tf.string for name, kind in FIELDS}
    got = {name: spec.dtype for name, spec in signature.structured_input_signature[1].items()}
    if got != expected:
        raise ValueError(f"the model's predict_columns inputs {sorted(got)} are not the Kaggle Criteo fields "
                         "I1..I13, C1..C26; export.predict reads Criteo rows only")


def batched(rows, size):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_file(model_dir, input_path, output_path, batch_size=4096, progress=True):
    """Writes the probabilities CSV; returns the number of rows predicted."""
    import tensorflow as tf
    from tqdm import tqdm

    from export.requests import columns_from_rows

    signature = tf.saved_model.load(model_dir).signatures["predict_columns"]
    check_signature(signature)
    partial = f"{output_path}.partial"
    count = 0
    with open(partial, "w") as output, tqdm(desc="predicting", unit=" rows", disable=not progress) as bar:
        output.write("probability\n")
        for batch in batched(raw_rows(input_path), batch_size):
            probabilities = signature(**columns_from_rows(batch, FIELDS))["probability"].numpy()
            output.writelines(f"{p:.9g}\n" for p in probabilities)
            count += len(batch)
            bar.update(len(batch))
    os.replace(partial, output_path)
    return count


FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}")
    if not os.path.isfile(os.path.join(FLAGS.model_dir, "saved_model.pb")):
        sys.exit(f"error: --model_dir={FLAGS.model_dir} has no saved_model.pb; export a run with export.saved_model")
    if not os.path.isfile(FLAGS.input):
        sys.exit(f"error: --input={FLAGS.input} does not exist")
    try:
        count = predict_file(FLAGS.model_dir, FLAGS.input, FLAGS.output, FLAGS.batch_size)
    except ValueError as error:
        if os.path.exists(f"{FLAGS.output}.partial"):
            os.remove(f"{FLAGS.output}.partial")
        sys.exit(f"error: {error}")
    print(f"wrote {count} probabilities to {FLAGS.output}")


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Exported SavedModel version directory.")
    flags.DEFINE_string("input", None, "Raw Kaggle Criteo rows (test.txt: 39 columns; train.txt: label first).")
    flags.DEFINE_string("output", None, "CSV to write: header `probability`, one line per input row.")
    flags.DEFINE_integer("batch_size", 4096, "Rows per model call.")
    flags.mark_flags_as_required(["model_dir", "input", "output"])
    app.run(main)
