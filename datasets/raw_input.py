"""Raw click-log rows as feature dicts, checked value by value: what export.predict and warm-up read.

`read_rows(path, layout)` yields one {field: value} per data line, in file order: numeric values as int (None
when missing), categories as str (None when missing), derived fields (Avazu's --hour_features) filled in as
the converter does. The layout of a file comes from datasets.raw_formats. A line that cannot be used raises
RawInputError naming the file, the line and the field: unlike the converter, which skips and counts bad
lines, prediction must answer every row or none.
"""

import gzip
import itertools
from typing import Iterator

from datasets.raw_parsing import DelimitedFormat, is_gzip
from datasets.tokens import RawValueError, numeric_value

CHUNK_ROWS = 1024  # rows whose derived fields are computed together


class RawInputError(ValueError):
    """A raw input line that cannot be used: `{path} line {number}: {problem}`."""

    def __init__(self, path: str, line_number: int, problem: str):
        super().__init__(f"{path} line {line_number}: {problem}")


def open_binary(path: str):
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def first_line(path: str) -> str:
    with open_binary(path) as handle:
        return handle.readline(1 << 20).decode("utf-8", errors="replace").rstrip("\r\n")


def file_fields(raw_format: DelimitedFormat) -> list:
    """The (name, kind) fields a line of `raw_format` holds, in column order (derived fields excluded)."""
    return raw_format.fields[:raw_format.num_columns - raw_format.feature_start]


def parse_line(path: str, number: int, line: str, raw_format: DelimitedFormat) -> dict:
    """One data line -> {field: int, str or None}; RawInputError on a wrong column count or value."""
    columns = line.split(raw_format.delimiter)
    if len(columns) != raw_format.num_columns:
        raise RawInputError(path, number, f"{len(columns)} columns, expected {raw_format.num_columns}")
    row = {}
    for (name, kind), value in zip(file_fields(raw_format), columns[raw_format.feature_start:]):
        if kind == "numeric":
            try:
                row[name] = numeric_value(value)
            except RawValueError as error:
                raise RawInputError(path, number, f"{name}={error}") from None
        else:
            row[name] = value if value != "" else None
    return row


def numbered_lines(path: str, raw_format: DelimitedFormat) -> Iterator[tuple]:
    """(line number, text) of every data line; a header on line 1 is skipped."""
    with open_binary(path) as handle:
        for number, data in enumerate(handle, 1):
            try:
                line = data.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise RawInputError(path, number, f"invalid UTF-8 at byte {error.start}") from None
            if not (number == 1 and raw_format.is_header(line)):
                yield number, line


def read_rows(path: str, raw_format: DelimitedFormat) -> Iterator[dict]:
    """{field: value} of every data line of a raw file in `raw_format`, derived fields included."""
    complete_rows = getattr(raw_format, "complete_rows", None)  # formats with derived fields define it
    lines = numbered_lines(path, raw_format)
    while chunk := [parse_line(path, number, text, raw_format) for number, text in itertools.islice(lines, CHUNK_ROWS)]:
        if complete_rows is not None:
            complete_rows(chunk)
        yield from chunk

