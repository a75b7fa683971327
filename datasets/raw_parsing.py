"""Reading and validating raw click-log lines: the parsing job of the converter (datasets.conversion).

Splits a file into byte ranges and blocks of whole lines (gzip read as one range), numbers the lines, and
turns a block into good rows with `DelimitedFormat` (Arrow's CSV reader and kernels; a block failing any
check is re-parsed line by line) while every bad line goes to a `BadRowReport` by reason and line number.
Data flow: docs/design.md.
"""

import collections
import gzip
import itertools
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from datasets.tokens import numeric_value_error

MAX_REPORTED_BAD_LINES = 10
BLOCK_BYTES = 16 << 20


class BadRow(ValueError):
    """A line that cannot be used; `reason` is a short category, e.g. 'column_count'."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class BadRowReport:
    def __init__(self):
        self.by_reason = collections.Counter()
        self.examples = []

    def add(self, line_number, error):
        self.by_reason[error.reason] += 1
        if len(self.examples) < MAX_REPORTED_BAD_LINES:
            self.examples.append({"line": line_number, "reason": str(error)})

    def merge(self, other, line_offset):
        """Adds a later range's report whose line numbers are relative to `line_offset`."""
        self.by_reason.update(other.by_reason)
        for example in other.examples[:MAX_REPORTED_BAD_LINES - len(self.examples)]:
            self.examples.append({"line": example["line"] + line_offset, "reason": example["reason"]})

    @property
    def total(self):
        return sum(self.by_reason.values())

    def as_dict(self):
        return {"total": self.total, "by_reason": dict(self.by_reason), "first_lines": self.examples}

    def describe(self):
        lines = [f"  line {e['line']}: {e['reason']}" for e in self.examples]
        return "\n".join([f"{self.total} bad lines ({dict(self.by_reason)}); first ones:"] + lines)


class DelimitedFormat:
    """A delimited click-log layout: which columns hold the label and the fields, how to spot a header.

    `fields` is the ordered list of (name, kind), kind "numeric" (integer, bucketized by
    tokens.numeric_token) or "categorical" (raw string). Columns feature_start.. hold the fields in order.
    """

    def __init__(self, name, fields, delimiter, num_columns, label_column, feature_start, header_first=None):
        self.name = name
        self.fields = fields
        self.delimiter = delimiter
        self.num_columns = num_columns
        self.label_column = label_column
        self.feature_start = feature_start
        self.header_first = header_first
        self.numeric_positions = [i for i, (_, kind) in enumerate(fields) if kind == "numeric"]

    def is_header(self, line):
        """True for the expected header line; formats without one (header_first None) never have it."""
        return self.header_first is not None and line.split(self.delimiter, 1)[0].strip().lower() == self.header_first

    def arrow_block(self, data, first_line, bad_rows, valid_numbers, at_file_start):
        """Good rows of a block of whole lines as (int labels, Arrow string column per field)."""
        columns = self.fast_columns(data, at_file_start)
        if columns is None:
            labels, fields = self.parse_block(data, first_line, bad_rows, valid_numbers, at_file_start)
            columns = [pa.array(column, pa.string()) for column in fields]
            labels = np.asarray(labels, dtype=np.int64) if self.label_column is not None else None
            return labels, columns
        labels = None
        if self.label_column is not None:
            labels = columns[self.label_column].to_numpy(zero_copy_only=False).astype(np.int64)
        return labels, columns[self.feature_start:self.feature_start + len(self.fields)]

    def fast_columns(self, data, at_file_start):
        """All columns of a block via Arrow, or None when any line needs the line-by-line path."""
        if at_file_start:
            end = data.find(b"\n")
            if self.is_header(data[:end if end >= 0 else len(data)].decode("utf-8", errors="replace")):
                data = data[end + 1:] if end >= 0 else b""
        if not data or (b"\r" in data and b"\r" in data.replace(b"\r\n", b"\n")):  # a lone CR
            return None
        names = [str(i) for i in range(self.num_columns)]
        try:
            table = pa_csv.read_csv(
                pa.py_buffer(data),
                read_options=pa_csv.ReadOptions(column_names=names, use_threads=False, block_size=len(data) + 1),
                parse_options=pa_csv.ParseOptions(delimiter=self.delimiter, quote_char=False, ignore_empty_lines=False),
                convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in names},
                                                      strings_can_be_null=False, quoted_strings_can_be_null=False))
        except (pa.ArrowInvalid, UnicodeDecodeError):
            return None
        if table.num_rows != count_lines(data):
            return None
        columns = [column.combine_chunks() for column in table.columns]
        if self.label_column is not None and not pc.all(pc.is_in(columns[self.label_column],
                                                                  value_set=pa.array(["0", "1"]))).as_py():
            return None
        for position in self.numeric_positions:
            if not pc.all(pc.match_substring_regex(columns[self.feature_start + position], INTEGER_PATTERN)).as_py():
                return None
        return columns

    def parse_block(self, data, first_line, bad_rows, valid_numbers, at_file_start):
        """Good rows of a block of whole lines as (labels, feature columns); bad lines go to `bad_rows`.

        `first_line` is the block's first line number (1-based, relative to its byte range); only a
        block at the file start may begin with a header; `valid_numbers` caches, per numeric field, raw
        strings already known to be integers.
        """
        bad = []  # (line number, BadRow), reported in line order
        lines = decoded_lines(data, first_line, bad)
        if at_file_start and lines and lines[0][0] == first_line and self.is_header(lines[0][1]):
            lines = lines[1:]
        rows = [line.split(self.delimiter) for _, line in lines]
        keep = [len(row) == self.num_columns for row in rows]
        for (number, _), row, ok in zip(lines, rows, keep):
            if not ok:
                bad.append((number, BadRow("column_count", f"{len(row)} columns, expected {self.num_columns}")))
        columns = list(zip(*itertools.compress(rows, keep))) if any(keep) else []
        if not columns:
            report_in_order(bad, bad_rows)
            return (), [()] * len(self.fields)
        rejected = {}
        if self.label_column is not None and not set(columns[self.label_column]) <= {"0", "1"}:
            for index, label in enumerate(columns[self.label_column]):
                if label not in ("0", "1"):
                    rejected.setdefault(index, BadRow("label", f"label {label[:20]!r} is not 0 or 1"))
        for position in self.numeric_positions:
            column = columns[self.feature_start + position]
            fresh = set(column) - valid_numbers[position]
            invalid = {value: error for value in fresh if (error := numeric_value_error(value)) is not None}
            valid_numbers[position].update(fresh - invalid.keys())
            if invalid:
                name = self.fields[position][0]
                for index, value in enumerate(column):
                    if value in invalid:
                        rejected.setdefault(index, BadRow(invalid[value].reason, f"{name}={invalid[value]}"))
        if rejected:
            numbers = [number for (number, _), ok in zip(lines, keep) if ok]
            bad.extend((numbers[index], error) for index, error in rejected.items())
            good = [index not in rejected for index in range(len(columns[0]))]
            columns = [tuple(itertools.compress(column, good)) for column in columns]
        report_in_order(bad, bad_rows)
        labels = columns[self.label_column] if self.label_column is not None else ()
        return labels, columns[self.feature_start:self.feature_start + len(self.fields)]


def report_in_order(bad, bad_rows):
    for number, error in sorted(bad, key=lambda item: item[0]):
        bad_rows.add(number, error)


# Integers of at most 18 digits fit int64; longer ones take the line-by-line path (tokens.numeric_value_error).
INTEGER_PATTERN = "^(-?[0-9]{1,18})?$"


def decoded_lines(data, first_line, bad):
    """(line number, text) of each line of `data`; lines that are not UTF-8 are appended to `bad`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        parts = text.split("\n")
        if parts[-1] == "":
            parts.pop()
        return list(zip(itertools.count(first_line), parts))
    lines = []
    raw_lines = data.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()
    for number, raw in zip(itertools.count(first_line), raw_lines):
        try:
            lines.append((number, raw.decode("utf-8").rstrip("\r")))
        except UnicodeDecodeError as error:
            bad.append((number, BadRow("encoding", f"invalid UTF-8 at byte {error.start}")))
    return lines


def is_gzip(path):
    with open(path, "rb") as probe:
        return probe.read(2) == b"\x1f\x8b"


def byte_ranges(path, parts):
    """Splits a plain file into at most `parts` byte ranges of at least one block each; a line belongs to
    the range its first byte is in."""
    if is_gzip(path):
        return [(0, None)]
    size = os.path.getsize(path)
    parts = max(1, min(parts, size // BLOCK_BYTES))
    bounds = [size * i // parts for i in range(parts + 1)]
    return [(start, end) for start, end in zip(bounds[:-1], bounds[1:]) if end > start]


def read_blocks(path, start, end, block_bytes=BLOCK_BYTES):
    """Yields blocks of whole lines whose first byte lies in [start, end) (end None: to EOF, gzip too)."""
    if end is None:
        with (gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")) as handle:
            for data in iter(lambda: handle.read(block_bytes), b""):
                yield data if data.endswith(b"\n") else data + handle.readline()
        return
    with open(path, "rb") as handle:
        position = start
        if start > 0:
            handle.seek(start - 1)
            position = start - 1 + len(handle.readline())
        while position < end:
            data = handle.read(block_bytes)
            if not data:
                return
            if not data.endswith(b"\n"):
                data += handle.readline()
            if position + len(data) > end:
                cut = data.find(b"\n", end - 1 - position)
                yield data if cut < 0 else data[:cut + 1]
                return
            position += len(data)
            yield data


def count_lines(data):
    return data.count(b"\n") + (not data.endswith(b"\n"))


def numbered_blocks(path, start, end):
    """(first line number relative to the range, at file start, block) for the range's blocks."""
    line = 1
    for data in read_blocks(path, start, end):
        yield line, start == 0 and line == 1, data
        line += count_lines(data)
