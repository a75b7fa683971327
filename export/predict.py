"""Batch prediction on raw rows with an exported SavedModel, streamed.

    python -m export.predict --model_dir=models/criteo_dcnv2/1 --input=test.txt --output=preds.csv
    python -m export.predict --model_dir=models/avazu_dnn/1 --input=test.csv --output=preds.csv

Reads the raw format of the data the model was trained on (the schema export.saved_model stores in
assets.extra/): Criteo's train.txt, test.txt or CSV with header; Avazu's CSV with header, with or
without `click`. Reads `--batch_size` rows at a time, runs the `predict_columns` signature and writes one
probability per input row, in input order, under the header `probability`. The output appears only when
complete (written to <output>.partial first, removed on any failure). Bad input (a missing file, a file
of another format, a value that is not a valid raw value, e.g. a number outside int64 or -2^63) is one line
`error: ...` on stderr naming the file, the line and the field, and exit code 2.
"""

import json
import os
import sys
import typing

from absl import app, flags

from datasets.raw_formats import raw_format_for
from datasets.raw_input import read_rows
from datasets.schema import SCHEMA_FILE

EXIT_BAD_INPUT = 2
SCHEMA_COPY = os.path.join("assets.extra", SCHEMA_FILE)  # written by export.saved_model


def check_signature(signature, schema: dict) -> None:
    """The model's predict_columns inputs must be the schema's fields with the dtypes the reader produces."""
    import tensorflow as tf

    expected = {field["name"]: tf.int64 if field["kind"] == "numeric" else tf.string for field in schema["fields"]}
    got = {name: spec.dtype for name, spec in signature.structured_input_signature[1].items()}
    if got != expected:
        raise ValueError(f"the model's predict_columns inputs {sorted(got)} are not the fields of its schema "
                         f"{sorted(expected)}; export the run again with export.saved_model")


def batched(rows: typing.Iterable[dict], size: int) -> typing.Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_exported_schema(model_dir: str) -> dict:
    path = os.path.join(model_dir, SCHEMA_COPY)
    if not os.path.isfile(path):
        raise ValueError(f"{model_dir} has no {SCHEMA_COPY} (exported before export.saved_model stored the "
                         "run's schema); export the run again")
    with open(path) as handle:
        return json.load(handle)


def write_probabilities(signature, fields: list, rows, output, batch_size: int, bar) -> int:
    from export.requests import columns_from_rows

    count = 0
    output.write("probability\n")
    for batch in batched(rows, batch_size):
        probabilities = signature(**columns_from_rows(batch, fields))["probability"].numpy()
        output.writelines(f"{p:.9g}\n" for p in probabilities)
        count += len(batch)
        bar.update(len(batch))
    return count


def predict_file(model_dir: str, input_path: str, output_path: str, batch_size: int = 4096,
                 progress: bool = True) -> int:
    """Writes the probabilities CSV; returns the number of rows predicted. Nothing is left on failure."""
    schema = load_exported_schema(model_dir)
    rows = read_rows(input_path, raw_format_for(schema, input_path))  # checks the layout before TF loads
    import tensorflow as tf
    from tqdm import tqdm

    signature = tf.saved_model.load(model_dir).signatures["predict_columns"]
    check_signature(signature, schema)
    fields = [(field["name"], field["kind"]) for field in schema["fields"]]
    partial = f"{output_path}.partial"
    try:
        with open(partial, "w") as output, tqdm(desc="predicting", unit=" rows", disable=not progress) as bar:
            count = write_probabilities(signature, fields, rows, output, batch_size, bar)
        os.replace(partial, output_path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return count


def usage_error(flag_values) -> "str | None":
    """The one-line problem with the flags, checked before any work; None when they can run."""
    if flag_values.batch_size <= 0:
        return f"--batch_size={flag_values.batch_size} must be positive"
    if not os.path.isfile(os.path.join(flag_values.model_dir, "saved_model.pb")):
        return f"--model_dir={flag_values.model_dir} has no saved_model.pb; export a run with export.saved_model"
    if not os.path.isfile(flag_values.input):
        return f"--input={flag_values.input} does not exist"
    return None


def fail(message: str) -> "typing.NoReturn":
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


FLAGS = flags.FLAGS


def main(argv: list) -> None:
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    problem = usage_error(FLAGS)
    if problem:
        fail(problem)
    try:
        count = predict_file(FLAGS.model_dir, FLAGS.input, FLAGS.output, FLAGS.batch_size)
    except (ValueError, OSError) as error:  # RawInputError and RawValueError are ValueErrors
        fail(str(error))
    print(f"wrote {count} probabilities to {FLAGS.output}")


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Exported SavedModel version directory.")
    flags.DEFINE_string("input", None, "Raw rows in the model's data format: Criteo train.txt/test.txt/CSV, "
                        "Avazu CSV with header (with or without click).")
    flags.DEFINE_string("output", None, "CSV to write: header `probability`, one line per input row.")
    flags.DEFINE_integer("batch_size", 4096, "Rows per model call.")
    flags.mark_flags_as_required(["model_dir", "input", "output"])
    app.run(main)
