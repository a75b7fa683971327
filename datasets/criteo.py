"""Criteo Display Advertising Challenge (Kaggle) -> TFRecords, and raw rows for prediction.

    python -m datasets.criteo --input=train.txt --output_dir=data/criteo
    python -m datasets.criteo --input=train.txt --output_dir=data/criteo --runner=beam   # on Apache Beam

Accepted inputs (plain or gzip): Kaggle `train.txt` (tab-separated `label, I1..I13, C1..C26`, no header),
the CSV variant with header `Id,Label,I1..I13,C1..C26`, and, for `raw_rows` only, the unlabelled
`test.txt` (39 tab-separated columns). I1..I13 are int64 integers (may be empty or negative), C1..C26
hashes (may be empty). Numeric values are bucketized as in the paper's code; min-count 10 (docs/design.md,
"Preprocessing (as in the authors' code)").
"""

import sys

from absl import app, flags

from datasets.conversion import ConversionError, convert
from datasets.raw_input import RawInputError, first_line, read_rows
from datasets.raw_parsing import DelimitedFormat

NUMERIC_FIELDS = [f"I{i}" for i in range(1, 14)]
CATEGORICAL_FIELDS = [f"C{i}" for i in range(1, 27)]
FIELDS = [(name, "numeric") for name in NUMERIC_FIELDS] + [(name, "categorical") for name in CATEGORICAL_FIELDS]

TSV = DelimitedFormat("criteo", FIELDS, "\t", num_columns=40, label_column=0, feature_start=1)
CSV = DelimitedFormat("criteo_csv", FIELDS, ",", num_columns=41, label_column=1, feature_start=2, header_first="id")
UNLABELLED_TSV = DelimitedFormat("criteo_unlabelled", FIELDS, "\t", num_columns=39, label_column=None,
                                 feature_start=0)


def detect_format(path: str) -> DelimitedFormat:
    """TSV or CSV layout of a labelled file (for conversion) from its first line."""
    line = first_line(path)
    return CSV if "\t" not in line and line.count(",") >= 39 else TSV


def raw_input_format(path: str) -> DelimitedFormat:
    """The layout of a raw file to predict on: train.txt (40 columns), test.txt (39) or the CSV (41)."""
    line = first_line(path)
    for layout in (TSV, UNLABELLED_TSV, CSV):
        if len(line.split(layout.delimiter)) == layout.num_columns:
            return layout
    raise RawInputError(path, 1, f"not a Criteo row: {line.count(chr(9)) + 1} tab-separated columns; expected 40 "
                                 "(train.txt) or 39 (test.txt) tab-separated, or 41 comma-separated (CSV)")


def raw_rows(path: str):
    """Yields {I1: int or None, ..., C1: str or None} for every row of a Criteo TSV/CSV (labelled or not).

    The label and the Id column are dropped; a malformed line raises RawInputError (a ValueError) naming
    its line number. Feed the dicts to the exported model's raw-feature signatures (unknown categories map
    to OOV there).
    """
    return read_rows(path, raw_input_format(path))


FLAGS = flags.FLAGS


def define_conversion_flags(default_min_count):
    flags.DEFINE_string("input", None, "Raw input file (plain or .gz).")
    flags.DEFINE_string("output_dir", None, "Directory for TFRecords, schema.json and vocab/.")
    flags.DEFINE_integer("min_count", default_min_count, "Tokens seen fewer times map to the field's OOV id.")
    flags.DEFINE_float("max_bad_fraction", 0.001, "Abort when more than this fraction of lines is malformed.")
    flags.DEFINE_integer("seed", 0, "Seed of the 8:1:1 split permutation.")
    flags.DEFINE_integer("train_shards", 8, "Number of train TFRecord shards (val/test get train_shards/8).")
    flags.DEFINE_bool("overwrite", False, "Replace a non-empty output directory.")
    flags.DEFINE_integer("workers", None, "Worker processes of --runner=local (default: all cores; gzip input "
                                          "uses one).")
    flags.DEFINE_enum("runner", "local", ["local", "beam"], "local: the in-process converter (the fast path on one "
                      "machine); beam: the same passes as an Apache Beam pipeline (the [beam] extra, docs/data.md).")
    flags.DEFINE_string("beam_pipeline_options", "", "Beam options for --runner=beam, e.g. '--runner=FlinkRunner "
                        "--flink_master=host:8081' (default: the local FnApiRunner).")
    flags.mark_flags_as_required(["input", "output_dir"])


def convert_from_flags(raw_format):
    """Runs the converter FLAGS.runner names on FLAGS.input; returns the schema dict."""
    if FLAGS.runner == "local":
        return convert(raw_format, FLAGS.input, FLAGS.output_dir, FLAGS.min_count, FLAGS.max_bad_fraction,
                       FLAGS.seed, FLAGS.train_shards, FLAGS.overwrite, FLAGS.workers)
    try:
        from datasets.beam_conversion import convert_with_beam, new_pipeline
    except ImportError as error:
        raise ConversionError(f"--runner=beam needs the [beam] extra (pip install -e '.[beam]'): {error}") from None
    return convert_with_beam(raw_format, FLAGS.input, FLAGS.output_dir, FLAGS.min_count, FLAGS.max_bad_fraction,
                             FLAGS.seed, FLAGS.train_shards, FLAGS.overwrite,
                             new_pipeline(FLAGS.beam_pipeline_options))


def run_conversion(raw_format_for_input):
    """Converts FLAGS.input with raw_format_for_input(path); exits with a one-line error on bad input."""
    try:
        schema = convert_from_flags(raw_format_for_input(FLAGS.input))
    except (ConversionError, OSError) as error:
        sys.exit(f"error: {error}")
    dims = [field["cardinality"] for field in schema["fields"]]
    print(f"wrote {FLAGS.output_dir}: rows {schema['rows']}, bad lines {schema['bad_rows']['total']}, "
          f"{len(dims)} fields, sum D_i = {sum(dims)}, max {max(dims)}, min {min(dims)}, "
          f"{schema['conversion_seconds']} s")


def input_format(path):
    from datasets.conversion import check_input

    check_input(path)
    return detect_format(path)


def main(argv):
    del argv
    run_conversion(input_format)


if __name__ == "__main__":
    define_conversion_flags(default_min_count=10)
    app.run(main)
