"""Criteo Display Advertising Challenge (Kaggle train.txt) -> TFRecords.

    python -m datasets.criteo --input=train.txt --output_dir=data/criteo

Rows are `label \\t I1..I13 \\t C1..C26`: 13 integer features (may be empty or negative) and 26
categorical hashes (may be empty). Numeric values are bucketed as in the paper's code, min-count
10 (REFERENCE.md).
"""

import sys

from absl import app, flags

from datasets.conversion import BadRow, ConversionError, convert
from datasets.tokens import categorical_token, numeric_token

NUMERIC_FIELDS = [f"I{i}" for i in range(1, 14)]
CATEGORICAL_FIELDS = [f"C{i}" for i in range(1, 27)]


class CriteoFormat:
    name = "criteo"
    fields = [(name, "numeric") for name in NUMERIC_FIELDS] + [(name, "categorical") for name in CATEGORICAL_FIELDS]
    num_columns = 1 + len(NUMERIC_FIELDS) + len(CATEGORICAL_FIELDS)

    @staticmethod
    def is_header(line):
        return False

    def parse(self, line):
        columns = line.split("\t")
        if len(columns) != self.num_columns:
            raise BadRow("column_count", f"{len(columns)} columns, expected {self.num_columns}")
        if columns[0] not in ("0", "1"):
            raise BadRow("label", f"label {columns[0][:20]!r} is not 0 or 1")
        numeric = columns[1:14]
        try:
            tokens = [numeric_token(value) for value in numeric]
        except ValueError:
            raise BadRow("numeric", f"non-integer numeric value in {numeric!r}") from None
        tokens.extend(categorical_token(value) for value in columns[14:])
        if any("\ufffd" in token for token in tokens):
            raise BadRow("encoding", "invalid UTF-8")
        return int(columns[0]), tokens


FLAGS = flags.FLAGS


def define_conversion_flags(default_min_count):
    flags.DEFINE_string("input", None, "Raw input file (plain or .gz).")
    flags.DEFINE_string("output_dir", None, "Directory for TFRecords, schema.json and vocab/.")
    flags.DEFINE_integer("min_count", default_min_count, "Tokens seen fewer times map to the field's OOV id.")
    flags.DEFINE_float("max_bad_fraction", 0.001, "Abort when more than this fraction of lines is malformed.")
    flags.DEFINE_integer("seed", 0, "Seed of the 8:1:1 split permutation.")
    flags.DEFINE_integer("train_shards", 8, "Number of train TFRecord shards (val/test get train_shards/8).")
    flags.DEFINE_bool("overwrite", False, "Replace a non-empty output directory.")
    flags.mark_flags_as_required(["input", "output_dir"])


def run_conversion(raw_format):
    try:
        schema = convert(raw_format, FLAGS.input, FLAGS.output_dir, FLAGS.min_count, FLAGS.max_bad_fraction,
                         FLAGS.seed, FLAGS.train_shards, FLAGS.overwrite)
    except ConversionError as error:
        sys.exit(f"error: {error}")
    dims = [field["cardinality"] for field in schema["fields"]]
    print(f"wrote {FLAGS.output_dir}: rows {schema['rows']}, bad lines {schema['bad_rows']['total']}, "
          f"{len(dims)} fields, sum D_i = {sum(dims)}, max {max(dims)}, min {min(dims)}, "
          f"{schema['conversion_seconds']} s")


def main(argv):
    del argv
    run_conversion(CriteoFormat())


if __name__ == "__main__":
    define_conversion_flags(default_min_count=10)
    app.run(main)
