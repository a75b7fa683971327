"""Raw click log -> TFRecord shards of int ids + schema.json + vocabularies (docs/design.md, "Data flow").

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

This module runs the passes and publishes the result; the jobs they use live in their own modules:
raw_parsing (reading and validating lines), value_counting (counts, vocabularies, raw-value -> id lookups),
example_encoding (tf.Example bytes) and worker_pool (`run_parallel` and the state shared with workers).
"""

import contextlib
import os
import pickle
import shutil
import time

import numpy as np

from datasets.example_encoding import ExampleLayout, column_ids, varint_width
from datasets.raw_parsing import BadRowReport, byte_ranges, count_lines, numbered_blocks
from datasets.schema import SPLITS, write_schema
from datasets.tfrecord_frames import framed
from datasets.tokens import MISSING_TOKEN, OOV_ID
from datasets.value_counting import ValueCounter, dictionary_encoded, merged_counts, vocabularies_and_lookups
from datasets.worker_pool import _JOB, _tick, return_freed_memory, run_parallel

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


class ConversionError(RuntimeError):
    """A conversion that must stop before writing anything (bad input, error budget exceeded)."""


def split_assignment(num_rows, seed):
    """0/1/2 (train/val/test) for each good row: a seeded permutation cut 8:1:1."""
    order = np.random.default_rng(seed).permutation(num_rows)
    num_train = int(num_rows * SPLIT_FRACTIONS[0])
    num_val = int(num_rows * SPLIT_FRACTIONS[1])
    assignment = np.full(num_rows, 2, dtype=np.int8)
    assignment[order[:num_train]] = 0
    assignment[order[num_train:num_train + num_val]] = 1
    return assignment


def shard_targets(splits, positions, shard_counts):
    """Shard file of each row (numbered over all splits' shards in SPLITS order): row r of a split goes to
    shard r % count. `splits` holds the rows' 0/1/2; `positions` (rows of each split so far) is advanced."""
    first_file = np.cumsum([0] + list(shard_counts[:-1]))
    target = np.empty(len(splits), dtype=np.int64)
    for split, count in enumerate(shard_counts):
        mask = splits == split
        target[mask] = first_file[split] + (positions[split] + np.arange(mask.sum())) % count
        positions[split] += mask.sum()
    return target


def shard_names(train_shards):
    """{split: [shard file names]}: train_shards train shards, train_shards // 8 (at least 1) for val and test."""
    counts = {"train": train_shards, "val": max(1, train_shards // 8), "test": max(1, train_shards // 8)}
    return {split: [f"{split}-{i:05d}-of-{n:05d}.tfrecord" for i in range(n)] for split, n in counts.items()}


def example_layout(raw_format):
    """The record layout of a format's rows (every id a varint of at most 5 bytes)."""
    return ExampleLayout(5 * len(raw_format.fields))


def vocabulary_widths(vocabulary_sizes):
    """Bytes of each field's padded varint id: enough for the largest id, the vocabulary's size."""
    return [varint_width(size) for size in vocabulary_sizes]


def vocabulary_file(name):
    """A field's vocabulary file, relative to the output directory."""
    return os.path.join("vocab", f"{name}.txt")


def write_vocabulary(staging, name, vocabulary):
    """Writes vocab/<name>.txt under `staging`: one token a line, the token of id 1 first."""
    with open(os.path.join(staging, vocabulary_file(name)), "w", encoding="utf-8") as handle:
        handle.writelines(token + "\n" for token in vocabulary)


def conversion_schema(raw_format, input_path, min_count, seed, vocabulary_sizes, split_counts, bad_rows, names,
                      total_lines, seconds):
    """The schema.json dict of a conversion (vocabulary files at vocab/<field>.txt, `names` from shard_names)."""
    fields = [{"name": name, "kind": kind, "cardinality": size + 1, "vocabulary": vocabulary_file(name)}
              for (name, kind), size in zip(raw_format.fields, vocabulary_sizes)]
    return {
        "format": raw_format.name,
        "label": "label",
        "fields": fields,
        "oov_id": OOV_ID,
        "missing_token": MISSING_TOKEN,
        "numeric_transform": "v > 2: floor(ln(v)^2); else v - 2 (paper code)",
        "min_count": min_count,
        "split": {"rule": "seeded random permutation of the good rows", "fractions": list(SPLIT_FRACTIONS),
                  "seed": seed},
        "rows": {split: int(count) for split, count in zip(SPLITS, split_counts)},
        "bad_rows": bad_rows.as_dict(),
        "shards": names,
        "record_layout": example_layout(raw_format).frame_layout(vocabulary_widths(vocabulary_sizes)),
        "source": {"path": os.path.abspath(input_path), "lines": total_lines},
        "conversion_seconds": round(seconds, 2),
    }


def spill_path(index):
    return os.path.join(_JOB["spill_dir"], f"range{index:05d}.pickle")


def counted_blocks(raw_format, path, start, end, counters, bad_rows):
    """Parses the blocks of one byte range: adds each block's raw-value counts to `counters` (one
    ValueCounter per field) and its bad lines to `bad_rows`, and yields, per block, (lines of the range
    so far, block bytes, int labels of the good rows, per field (distinct raw values, each row's index))."""
    valid_numbers = [set() for _ in raw_format.fields]
    for line, at_start, data in numbered_blocks(path, start, end):
        labels, columns = raw_format.arrow_block(data, line, bad_rows, valid_numbers, at_start)
        encoded = [dictionary_encoded(column) for column in columns]
        for counter, (values, counts, _) in zip(counters, encoded):
            counter.add(values, counts)
        yield line - 1 + count_lines(data), len(data), labels, [(values, rows) for values, _, rows in encoded]


def _count_range(task):
    """Pass 1 over one byte range: raw-value counts per field, bad-row report, lines and good rows.

    With a spill directory, every block's good rows are also saved dictionary-encoded (labels, and per
    field the distinct raw values and each row's index into them), so pass 2 never parses the input again.
    """
    index, (start, end) = task
    raw_format = _JOB["format"]
    counters = [ValueCounter() for _ in raw_format.fields]
    bad_rows = BadRowReport()
    lines, good = 0, 0
    spill = open(spill_path(index), "wb") if _JOB.get("spill_dir") else None
    try:
        for lines, num_bytes, labels, encoded in counted_blocks(raw_format, _JOB["path"], start, end, counters,
                                                                bad_rows):
            if spill and len(labels):
                pickle.dump((labels.astype(np.int8), encoded), spill, protocol=pickle.HIGHEST_PROTOCOL)
            good += len(labels)
            _tick(num_bytes, len(labels))
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
    positions = np.asarray(split_positions, dtype=np.int64)
    try:
        for labels, encoded in spilled_blocks(index):
            ids = np.stack([column_ids(values, lookup)[rows] for (values, rows), lookup in zip(encoded, lookups)],
                           axis=1)
            target = shard_targets(_JOB["assignment"][row:row + len(labels)], positions, shard_counts)
            row += len(labels)
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


@contextlib.contextmanager
def staged(output_dir):
    """A fresh staging directory beside `output_dir`: renamed into place when the block completes, deleted
    when it raises (atomic publish)."""
    staging = prepare_staging(output_dir)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(staging, output_dir)


def convert(raw_format, input_path, output_dir, min_count, max_bad_fraction=0.001, seed=0, train_shards=8,
            overwrite=False, workers=None):
    """Runs both passes and publishes `output_dir`; returns the schema dict."""
    check_input(input_path)
    check_output(output_dir, overwrite)
    workers = workers or os.cpu_count() or 1
    started = time.time()
    with staged(output_dir) as staging:
        try:
            counters, bad_rows, ranges, lines, good = count_pass(raw_format, input_path, workers, staging)
            num_rows, total_lines = sum(good), sum(lines)
            check_error_budget(raw_format, input_path, num_rows, total_lines, bad_rows, max_bad_fraction)
            vocabularies, lookups = vocabularies_and_lookups(raw_format, counters, min_count)
            del counters
            assignment = split_assignment(num_rows, seed)
            names = shard_names(train_shards)
            row_offsets = np.cumsum([0] + good[:-1])
            tasks = [(index, int(offset), np.bincount(assignment[:offset], minlength=3).tolist())
                     for index, offset in enumerate(row_offsets)]
            sizes = [len(vocabulary) for vocabulary in vocabularies]
            _JOB.update(lookups=lookups, assignment=assignment, staging=staging,
                        shard_names=[names[split] for split in SPLITS], widths=vocabulary_widths(sizes),
                        layout=example_layout(raw_format))
            run_parallel(_write_range, tasks, num_rows, "pass 2/2 writing", workers, unit="rows")
            for split_names in names.values():
                for name in split_names:
                    join_parts(staging, name, len(tasks))
            for (name, _), vocabulary in zip(raw_format.fields, vocabularies):
                write_vocabulary(staging, name, vocabulary)
            schema = conversion_schema(raw_format, input_path, min_count, seed, sizes,
                                       np.bincount(assignment, minlength=3), bad_rows, names, total_lines,
                                       time.time() - started)
            write_schema(schema, staging)
        finally:
            _JOB.clear()
    return schema
