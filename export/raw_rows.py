"""Raw Kaggle Criteo rows -> feature dicts, streamed: test.txt (39 columns) or train.txt (label first).

Uses CriteoFormat's field list and datasets.tokens' semantics: numeric columns are integers or empty,
categorical columns are raw strings; an empty value is a missing feature ('' is kept, the graph maps
it to the field's missing token exactly as the converter does).
"""

from datasets.conversion import open_text
from datasets.criteo import CriteoFormat

FIELDS = CriteoFormat.fields


class RawRowError(ValueError):
    """A raw line that cannot be read; the message names file, line and reason."""


def parse_row(line, path="<input>", line_number=0):
    columns = line.rstrip("\r\n").split("\t")
    if len(columns) == len(FIELDS) + 1:
        columns = columns[1:]
    elif len(columns) != len(FIELDS):
        raise RawRowError(f"{path}:{line_number}: {len(columns)} tab-separated columns, expected {len(FIELDS)} "
                          f"(Kaggle test.txt) or {len(FIELDS) + 1} (train.txt)")
    row = {}
    for (name, kind), value in zip(FIELDS, columns):
        if kind == "numeric" and value != "":
            try:
                value = int(value)
            except ValueError:
                raise RawRowError(f"{path}:{line_number}: {name}={value[:20]!r} is not an integer") from None
        row[name] = value
    return row


def read_rows(path, limit=None):
    """Yields one feature dict per line of `path` (plain or gzip), at most `limit` of them."""
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, 1):
            if limit is not None and line_number > limit:
                return
            yield parse_row(line, path, line_number)
