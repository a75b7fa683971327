"""Raw click log -> TFRecord shards of int ids + schema.json + vocabularies (DESIGN.md data flow).

Two streaming passes, never the whole file in memory, each parallel over byte ranges of the file
(one worker process per core; gzip input is read by one worker):
  1. parse every line, count raw values per field, count bad lines by reason, and spill the good rows
     dictionary-encoded (per block and field: the distinct raw values and each row's index into them)
     to the staging directory, about 0.4x the input size on disk;
  2. read the spill, map raw values to ids (min-count threshold -> OOV id 0), write each row to its split.
Blocks of lines are parsed by Arrow's CSV reader into string columns and validated with Arrow
kernels; a block that fails any check is re-parsed line by line in Python, which reports each bad line
with its number. Counting (dictionary_encode + bincount), id lookup (index_in), tf.Example encoding (a fixed byte layout
filled by numpy, `ExampleLayout`) and TFRecord framing with checksums (`tfrecord_frames`) are vectorised:
no Python loop runs per row, and the converter never imports TensorFlow. The split is a seeded random
permutation of the good rows, 8:1:1 (paper Appendix C.2); row r of a split goes to shard r % shards, so
the output is byte-identical for any number of workers. Output is written to a temporary sibling
directory and renamed into place only when complete (atomic publish): an aborted conversion never leaves
a directory that looks finished.
"""

import collections
import concurrent.futures
import ctypes
import gzip
import itertools
import multiprocessing
import os
import pickle
import shutil
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from tqdm import tqdm

from datasets.schema import SPLITS, write_schema
from datasets.tfrecord_frames import framed
from datasets.tokens import MISSING_TOKEN, OOV_ID, numeric_value_error

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
MAX_REPORTED_BAD_LINES = 10
BLOCK_BYTES = 16 << 20


class BadRow(ValueError):
    """A line that cannot be used; `reason` is a short category, e.g. 'column_count'."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class ConversionError(RuntimeError):
    """A conversion that must stop before writing anything (bad input, error budget exceeded)."""


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


def build_vocabulary(token_counts, min_count):
    """Tokens of a (value, count) table seen at least `min_count` times, most frequent first (ties by token)."""
    kept = token_counts.filter(pc.greater_equal(token_counts["count"], min_count))
    return kept.sort_by([("count", "descending"), ("value", "ascending")])["value"].to_pylist()


def split_assignment(num_rows, seed):
    """0/1/2 (train/val/test) for each good row: a seeded permutation cut 8:1:1."""
    order = np.random.default_rng(seed).permutation(num_rows)
    num_train = int(num_rows * SPLIT_FRACTIONS[0])
    num_val = int(num_rows * SPLIT_FRACTIONS[1])
    assignment = np.full(num_rows, 2, dtype=np.int8)
    assignment[order[:num_train]] = 0
    assignment[order[num_train:num_train + num_val]] = 1
    return assignment


def varint(value):
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(field_tag, payload):
    return bytes([field_tag]) + varint(len(payload)) + payload


class ExampleLayout:
    """tf.Example bytes for {"ids": int64 list, "label": int64} built from precomputed pieces.

    An Example is Features(1) -> map entries(1) {key(1), Feature(2) -> Int64List(3) -> packed value(1)};
    only the packed ids vary, so each record is prefix[len(packed ids)] + packed ids + label entry.
    """

    def __init__(self, max_packed_bytes):
        self.label_entry = {label: length_delimited(0x0A, length_delimited(0x0A, b"label") + length_delimited(
            0x12, length_delimited(0x1A, length_delimited(0x0A, varint(label))))) for label in (0, 1)}
        self.label_rows = np.stack([np.frombuffer(self.label_entry[label], np.uint8) for label in (0, 1)])
        self.prefix = [self._prefix(size, len(self.label_entry[0])) for size in range(max_packed_bytes + 1)]

    @staticmethod
    def _prefix(size, label_entry_size):
        int64_list = 1 + len(varint(size)) + size
        feature = 1 + len(varint(int64_list)) + int64_list
        entry = 5 + 1 + len(varint(feature)) + feature
        features = 1 + len(varint(entry)) + entry + label_entry_size
        return (b"\x0a" + varint(features) + b"\x0a" + varint(entry) + b"\x0a\x03ids\x12" + varint(feature)
                + b"\x1a" + varint(int64_list) + b"\x0a" + varint(size))

    def frame_layout(self, widths):
        """Where a framed record's pieces sit (schema.json's "record_layout"; TFRecord frame: 12 header bytes)."""
        prefix = len(self.prefix[sum(widths)])
        record = prefix + sum(widths) + len(self.label_entry[0])
        return {"frame_bytes": record + 16, "ids_offset": 12 + prefix, "field_widths": list(widths),
                "label_offset": 12 + record - 1}

    def records(self, ids, labels, widths):
        """Serialized tf.Examples of a block as one (rows, record bytes) uint8 matrix.

        Field f's id is a varint padded to widths[f] bytes (continuation bits on the leading bytes; protobuf
        decoders, TF's parse_example included, accept padded varints), so every record has the same layout.
        """
        columns = [np.frombuffer(self.prefix[sum(widths)], np.uint8)[None, :].repeat(len(ids), 0)]
        for field, width in enumerate(widths):
            values = ids[:, field].astype(np.uint64)
            for index in range(width):
                byte = (values >> np.uint64(7 * index)) & np.uint64(0x7F)
                columns.append((byte | np.uint64(0x80 if index < width - 1 else 0)).astype(np.uint8)[:, None])
        columns.append(self.label_rows[labels])
        return np.concatenate(columns, axis=1)


def varint_width(max_value):
    """Bytes of the varint encoding of max_value (at least 1)."""
    return max(1, (int(max_value).bit_length() + 6) // 7)


def example_bytes(ids, label):
    """Serialized tf.Example with int64 lists `ids` and [label], canonical encoding (tests, serving warm-up)."""
    packed = b"".join(varint(i) for i in ids)
    layout = ExampleLayout(len(packed))
    return layout.prefix[len(packed)] + packed + layout.label_entry[int(label)]


class ValueCounter:
    """Counts of the values of one string column, accumulated in Arrow (per-block counts, then group_by)."""

    def __init__(self):
        self.parts = []
        self.pending = 0
        self.distinct = 0

    def add(self, values, counts):
        """Adds one block's distinct `values` (Arrow strings) and their `counts`."""
        self.parts.append(pa.table({"value": values, "count": counts}))
        self.pending += len(values)
        if self.pending > max(1 << 16, self.distinct):
            self.compact()

    def compact(self):
        if len(self.parts) > 1:
            self.parts = [merged_counts(self.parts)]
        self.distinct = self.pending = len(self.parts[0]) if self.parts else 0

    def table(self):
        """The counts so far as one Arrow table (value, count), each value once."""
        self.compact()
        return self.parts[0] if self.parts else pa.table({"value": pa.array([], pa.string()),
                                                           "count": pa.array([], pa.int64())})


def merged_counts(tables):
    """One (value, count) table from several, counts of equal values summed."""
    merged = pa.concat_tables(tables).group_by("value").aggregate([("count", "sum")])
    return merged.rename_columns(["value", "count"])


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return None


LIBC = _libc()


def return_freed_memory():
    """Hands memory freed by the last block back to the OS (Arrow's pool, then glibc's heap).

    Without this a worker's RSS creeps up with every block although little stays allocated: the
    allocators keep freed pages for reuse, fragmented.
    """
    pa.default_memory_pool().release_unused()
    if LIBC is not None:
        LIBC.malloc_trim(0)


_JOB = {}  # state handed to forked workers (set before the pool starts, read-only there)


def _tick(num_bytes, num_rows):
    for key, amount in (("bytes", num_bytes), ("rows", num_rows)):
        with _JOB[key].get_lock():
            _JOB[key].value += amount


def numbered_blocks(path, start, end):
    """(first line number relative to the range, at file start, block) for the range's blocks."""
    line = 1
    for data in read_blocks(path, start, end):
        yield line, start == 0 and line == 1, data
        line += count_lines(data)


def column_ids(values, lookup):
    """int64 ids of an Arrow string array (unknown raw values -> OOV_ID); lookup from `raw_lookup`."""
    keys, ids_of = lookup
    return ids_of[pc.index_in(values, value_set=keys).fill_null(len(keys)).to_numpy()]


def block_ids(columns, lookups):
    """(rows, fields) int64 ids of a block's Arrow columns."""
    return np.stack([column_ids(column, lookup) for column, lookup in zip(columns, lookups)], axis=1)


def dictionary_encoded(column):
    """(distinct values, their counts, each row's index into them): one hash pass serves count and lookup."""
    encoded = pc.dictionary_encode(column)
    indices = encoded.indices.to_numpy()
    counts = np.bincount(indices, minlength=len(encoded.dictionary))
    return encoded.dictionary, counts, indices.astype(np.min_scalar_type(max(len(encoded.dictionary) - 1, 0)))


def spill_path(index):
    return os.path.join(_JOB["spill_dir"], f"range{index:05d}.pickle")


def _count_range(task):
    """Pass 1 over one byte range: raw-value counts per field, bad-row report, lines and good rows.

    With a spill directory, every block's good rows are also saved dictionary-encoded (labels, and per
    field the distinct raw values and each row's index into them), so pass 2 never parses the input again.
    """
    index, (start, end) = task
    raw_format = _JOB["format"]
    counters = [ValueCounter() for _ in raw_format.fields]
    bad_rows = BadRowReport()
    valid_numbers = [set() for _ in raw_format.fields]
    lines, good = 0, 0
    spill = open(spill_path(index), "wb") if _JOB.get("spill_dir") else None
    try:
        for line, at_start, data in numbered_blocks(_JOB["path"], start, end):
            labels, columns = raw_format.arrow_block(data, line, bad_rows, valid_numbers, at_start)
            encoded = [dictionary_encoded(column) for column in columns]
            for counter, (values, counts, _) in zip(counters, encoded):
                counter.add(values, counts)
            if spill and len(labels):
                pickle.dump((labels.astype(np.int8), [(values, rows) for values, _, rows in encoded]), spill,
                            protocol=pickle.HIGHEST_PROTOCOL)
            good += len(labels)
            lines = line - 1 + count_lines(data)
            _tick(len(data), len(labels))
            return_freed_memory()
    finally:
        if spill:
            spill.close()
    return [counter.table() for counter in counters], bad_rows, lines, good


def spilled_blocks(index):
    """(labels, encoded columns) of each block pass 1 spilled for byte range `index`."""
    with open(spill_path(index), "rb") as handle:
        while handle.peek(1):
            yield pickle.load(handle)


def _write_range(task):
    """Pass 2 over one byte range's spill: writes its rows to per-range part files of every shard."""
    index, row, split_positions = task
    lookups, widths, layout = _JOB["lookups"], _JOB["widths"], _JOB["layout"]
    shard_counts = [len(names) for names in _JOB["shard_names"]]
    files = [open(os.path.join(_JOB["staging"], f"{name}.part{index:05d}"), "wb")
             for names in _JOB["shard_names"] for name in names]
    first_file = np.cumsum([0] + shard_counts[:-1])
    positions = np.asarray(split_positions, dtype=np.int64)
    try:
        for labels, encoded in spilled_blocks(index):
            ids = np.stack([column_ids(values, lookup)[rows] for (values, rows), lookup in zip(encoded, lookups)],
                           axis=1)
            splits = _JOB["assignment"][row:row + len(labels)].astype(np.int64)
            row += len(labels)
            target = np.empty(len(labels), dtype=np.int64)
            for split, count in enumerate(shard_counts):
                mask = splits == split
                target[mask] = first_file[split] + (positions[split] + np.arange(mask.sum())) % count
                positions[split] += mask.sum()
            frames = framed(layout.records(ids, labels, widths))
            order = np.argsort(target, kind="stable")
            bounds = np.cumsum(np.bincount(target, minlength=len(files)))
            for handle, first, last in zip(files, np.concatenate([[0], bounds[:-1]]), bounds):
                handle.write(frames[order[first:last]].tobytes())
            _tick(0, len(labels))
            return_freed_memory()
    finally:
        for handle in files:
            handle.close()
    os.remove(spill_path(index))


def run_parallel(function, tasks, total, description, workers, unit="bytes"):
    """function(task) for every task, with a progress bar over `total` input bytes or rows (`unit`), showing
    rows/s and the ETA. Several tasks run in a pool of forked workers; one task runs in this process."""
    context = multiprocessing.get_context("fork")
    _JOB["bytes"], _JOB["rows"] = context.Value("q", 0), context.Value("q", 0)
    started = time.time()
    with tqdm(total=total, desc=description, unit="B" if unit == "bytes" else " rows", unit_scale=True,
              mininterval=1) as bar:
        if len(tasks) == 1:
            results = [function(tasks[0])]
            bar.update(_JOB[unit].value - bar.n)
            return results
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(tasks)), mp_context=context) as pool:
            futures = [pool.submit(function, task) for task in tasks]  # a worker that dies raises, never hangs
            while concurrent.futures.wait(futures, timeout=0.2).not_done:
                rows = _JOB["rows"].value
                bar.update(_JOB[unit].value - bar.n)
                bar.set_postfix_str(f"{rows:,} rows, {rows / max(time.time() - started, 1e-9):,.0f} rows/s",
                                    refresh=False)
            return [future.result() for future in futures]


def token_counts(kind, raw_counts):
    """(raw value, count) table -> (token, count) table (tokens.numeric_token / categorical_token)."""
    from datasets.tokens import numeric_token

    if kind == "numeric":
        tokens = pa.array([numeric_token(raw) for raw in raw_counts["value"].to_pylist()], pa.string())
    else:
        tokens = pc.if_else(pc.equal(raw_counts["value"], ""), MISSING_TOKEN, raw_counts["value"])
    return merged_counts([pa.table({"value": tokens, "count": raw_counts["count"]})])


def raw_lookup(kind, raw_counts, vocabulary):
    """(Arrow array of raw values, their ids + a trailing OOV_ID): what index_in + take need in pass 2.

    Token i of the vocabulary has id i + 1 (OOV_ID is 0).
    """
    from datasets.tokens import numeric_token

    if kind == "numeric":
        ids = {token: index + 1 for index, token in enumerate(vocabulary)}
        keys = raw_counts["value"]
        values = [ids.get(numeric_token(raw), OOV_ID) for raw in keys.to_pylist()]
    else:
        keys, values = pa.array(vocabulary, pa.string()), list(range(1, len(vocabulary) + 1))
        if MISSING_TOKEN in vocabulary:
            keys = pa.concat_arrays([keys, pa.array([""], pa.string())])
            values.append(vocabulary.index(MISSING_TOKEN) + 1)
    return keys, np.asarray(values + [OOV_ID], dtype=np.int64)


def count_pass(raw_format, input_path, workers, spill_dir=None):
    """Pass 1: (raw-value count table per field, bad-row report, byte ranges, lines and good rows per range).

    With `spill_dir`, each range's good rows are also spilled there for pass 2 (`_count_range`).
    """
    ranges = byte_ranges(input_path, workers)
    _JOB.update(format=raw_format, path=input_path, spill_dir=spill_dir)
    total = os.path.getsize(input_path) if ranges[0][1] is not None else None
    results = run_parallel(_count_range, list(enumerate(ranges)), total, "pass 1/2 counting", workers)
    counts = [merged_counts(tables) for tables in zip(*(result[0] for result in results))]
    bad_rows, line_offset = BadRowReport(), 0
    for _, range_bad, lines, _ in results:
        bad_rows.merge(range_bad, line_offset)
        line_offset += lines
    return counts, bad_rows, ranges, [r[2] for r in results], [r[3] for r in results]


def check_error_budget(raw_format, input_path, num_rows, total_lines, bad_rows, max_bad_fraction):
    """Raises ConversionError when pass 1 found no good row or more bad lines than the budget allows."""
    if num_rows == 0:
        raise ConversionError(f"{input_path} has no valid {raw_format.name} rows. " + bad_rows.describe())
    if bad_rows.total / total_lines > max_bad_fraction:
        raise ConversionError(
            f"{input_path}: {bad_rows.total} of {total_lines} lines are malformed, more than "
            f"--max_bad_fraction={max_bad_fraction}; nothing was written. Is this a {raw_format.name} file? "
            + bad_rows.describe())


def check_input(path):
    if not os.path.isfile(path):
        raise ConversionError(f"input file {path} does not exist")
    if os.path.getsize(path) == 0:
        raise ConversionError(f"input file {path} is empty")


def check_output(output_dir, overwrite):
    if os.path.exists(output_dir) and os.listdir(output_dir) and not overwrite:
        raise ConversionError(f"output directory {output_dir} is not empty; pass --overwrite to replace it")


def prepare_staging(output_dir):
    staging = f"{output_dir.rstrip(os.sep)}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(os.path.join(staging, "vocab"))
    return staging


def join_parts(staging, name, num_parts):
    """Concatenates per-range part files (TFRecord files concatenate) into shard `name`."""
    target = os.path.join(staging, name)
    parts = [os.path.join(staging, f"{name}.part{index:05d}") for index in range(num_parts)]
    os.replace(parts[0], target)
    with open(target, "ab") as out:
        for part in parts[1:]:
            with open(part, "rb") as handle:
                shutil.copyfileobj(handle, out, 16 << 20)
            os.remove(part)


def publish(staging, output_dir):
    if os.path.exists(output_dir):
        shutil.rmtree(output_dir)
    os.replace(staging, output_dir)


def vocabularies_and_lookups(raw_format, counters, min_count):
    """Per field: the vocabulary (ids 1..n) and the raw-value lookup of pass 2."""
    vocabularies, lookups = [], []
    for (_, kind), raw_counts in zip(raw_format.fields, counters):
        vocabulary = build_vocabulary(token_counts(kind, raw_counts), min_count)
        vocabularies.append(vocabulary)
        lookups.append(raw_lookup(kind, raw_counts, vocabulary))
    return vocabularies, lookups


def convert(raw_format, input_path, output_dir, min_count, max_bad_fraction=0.001, seed=0, train_shards=8,
            overwrite=False, workers=None):
    """Runs both passes and publishes `output_dir`; returns the schema dict."""
    check_input(input_path)
    check_output(output_dir, overwrite)
    workers = workers or os.cpu_count() or 1
    started = time.time()
    staging = prepare_staging(output_dir)
    try:
        counters, bad_rows, ranges, lines, good = count_pass(raw_format, input_path, workers, staging)
        num_rows, total_lines = sum(good), sum(lines)
        check_error_budget(raw_format, input_path, num_rows, total_lines, bad_rows, max_bad_fraction)
        vocabularies, lookups = vocabularies_and_lookups(raw_format, counters, min_count)
        del counters
        assignment = split_assignment(num_rows, seed)
        shard_counts = {"train": train_shards, "val": max(1, train_shards // 8), "test": max(1, train_shards // 8)}
        shard_names = {split: [f"{split}-{i:05d}-of-{n:05d}.tfrecord" for i in range(n)]
                       for split, n in shard_counts.items()}
        row_offsets = np.cumsum([0] + good[:-1])
        tasks = [(index, int(offset), np.bincount(assignment[:offset], minlength=3).tolist())
                 for index, offset in enumerate(row_offsets)]
        widths = [varint_width(len(vocabulary)) for vocabulary in vocabularies]
        layout = ExampleLayout(5 * len(raw_format.fields))
        _JOB.update(lookups=lookups, assignment=assignment, staging=staging,
                    shard_names=[shard_names[split] for split in SPLITS], widths=widths, layout=layout)
        run_parallel(_write_range, tasks, num_rows, "pass 2/2 writing", workers, unit="rows")
        for names in shard_names.values():
            for name in names:
                join_parts(staging, name, len(tasks))
        fields = []
        for (name, kind), vocabulary in zip(raw_format.fields, vocabularies):
            relative = os.path.join("vocab", f"{name}.txt")
            with open(os.path.join(staging, relative), "w", encoding="utf-8") as handle:
                handle.writelines(token + "\n" for token in vocabulary)
            fields.append({"name": name, "kind": kind, "cardinality": len(vocabulary) + 1, "vocabulary": relative})
        counts = np.bincount(assignment, minlength=3)
        schema = {
            "format": raw_format.name,
            "label": "label",
            "fields": fields,
            "oov_id": OOV_ID,
            "missing_token": MISSING_TOKEN,
            "numeric_transform": "v > 2: floor(ln(v)^2); else v - 2 (paper code)",
            "min_count": min_count,
            "split": {"rule": "seeded random permutation of the good rows", "fractions": list(SPLIT_FRACTIONS),
                      "seed": seed},
            "rows": {split: int(count) for split, count in zip(SPLITS, counts)},
            "bad_rows": bad_rows.as_dict(),
            "shards": shard_names,
            "record_layout": layout.frame_layout(widths),
            "source": {"path": os.path.abspath(input_path), "lines": total_lines},
            "conversion_seconds": round(time.time() - started, 2),
        }
        write_schema(schema, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _JOB.clear()
    publish(staging, output_dir)
    return schema
