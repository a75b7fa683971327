"""Avazu CTR prediction (Kaggle train.csv) -> TFRecords.

    python -m datasets.avazu --input=train.csv --output_dir=data/avazu [--hour_features]
    python -m datasets.avazu --input=train.csv --output_dir=data/avazu --runner=beam   # on Apache Beam

Rows are `id,click,hour,C1,banner_pos,...,C21` with a header, CRLF or LF line endings, plain or gzip
(export.predict also reads Kaggle's test.csv, the same without `click`). As in the paper's code
(docs/design.md, "Preprocessing (as in the authors' code)"): 22 categorical fields hour..C21 (id dropped,
click is the label, hour kept as its raw YYMMDDHH string), min-count 4. --hour_features appends two
derived fields, hour_of_day (HH) and weekday (0 = Monday), that are not in the paper's setup.
"""

import pyarrow as pa
import pyarrow.compute as pc
from absl import app, flags

from datasets.criteo import define_conversion_flags, run_conversion
from datasets.raw_input import RawInputError, first_line
from datasets.raw_parsing import DelimitedFormat

COLUMNS = ["id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id",
           "app_domain", "app_category", "device_id", "device_ip", "device_model", "device_type",
           "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21"]
UNLABELLED_COLUMNS = [name for name in COLUMNS if name != "click"]
FIELDS = [(name, "categorical") for name in COLUMNS[2:]]
DERIVED_FIELDS = [("hour_of_day", "categorical"), ("weekday", "categorical")]


class AvazuFormat(DelimitedFormat):
    """The Kaggle layout; with `hour_features`, hour_of_day and weekday are derived from `hour`.

    `labelled=False` is Kaggle's test.csv (no `click` column), read by export.predict only.
    """

    def __init__(self, hour_features: bool = False, labelled: bool = True):
        columns = COLUMNS if labelled else UNLABELLED_COLUMNS
        super().__init__("avazu", FIELDS, ",", num_columns=len(columns), label_column=1 if labelled else None,
                         feature_start=columns.index("hour"), header_first="id")
        self.hour_features = hour_features
        if hour_features:
            self.fields = FIELDS + DERIVED_FIELDS

    def arrow_block(self, data, first_line, bad_rows, valid_numbers, at_file_start):
        labels, columns = super().arrow_block(data, first_line, bad_rows, valid_numbers, at_file_start)
        if not self.hour_features:
            return labels, columns
        return labels, list(columns[:len(FIELDS)]) + hour_features(columns[0])

    def complete_rows(self, rows: list) -> None:
        """Adds the derived fields to raw row dicts (datasets.raw_input), as `arrow_block` derives them."""
        if not self.hour_features:
            return
        derived = hour_features(pa.array([row["hour"] or "" for row in rows], pa.string()))
        for row, *values in zip(rows, *(column.to_pylist() for column in derived)):
            row.update({name: value or None for (name, _), value in zip(DERIVED_FIELDS, values)})


def raw_input_format(path: str, hour_features: bool = False) -> AvazuFormat:
    """The layout of a raw Avazu CSV to predict on, from its header: train.csv's, or test.csv's (no click)."""
    header = first_line(path).split(",")
    for labelled, columns in ((True, COLUMNS), (False, UNLABELLED_COLUMNS)):
        if header == columns:
            return AvazuFormat(hour_features, labelled)
    raise RawInputError(path, 1, f"not an Avazu header ({len(header)} columns starting {header[:3]}); expected "
                                 f"{','.join(COLUMNS[:4])},...,C21, with or without click")


def hour_features(hour):
    """hour_of_day ('00'..'23') and weekday ('0' = Monday) of YYMMDDHH strings; '' where not a valid hour."""
    date = pc.strptime(pc.utf8_slice_codeunits(hour, 0, 6), format="%y%m%d", unit="s", error_is_null=True)
    valid = pc.and_(pc.equal(pc.utf8_length(hour), 8), pc.is_valid(date))
    hour_of_day = pc.if_else(valid, pc.utf8_slice_codeunits(hour, 6, 8), "")
    weekday = pc.if_else(valid, pc.cast(pc.day_of_week(date), pa.string()), "")
    return [hour_of_day.fill_null(""), weekday.fill_null("")]


FLAGS = flags.FLAGS


def main(argv):
    del argv
    run_conversion(lambda path: AvazuFormat(FLAGS.hour_features))


if __name__ == "__main__":
    define_conversion_flags(default_min_count=4)
    flags.DEFINE_bool("hour_features", False, "Also derive hour_of_day and weekday fields from `hour`.")
    app.run(main)
