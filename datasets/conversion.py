"""Raw click log -> TFRecord shards of int ids + schema.json + vocabularies (DESIGN.md data flow).

Two streaming passes over the input, never the whole file in memory:
  1. parse every line, count tokens per field, count bad lines by reason;
  2. parse again, map tokens to ids (min-count threshold -> OOV id 0), write each row to its split.
The split is a seeded random permutation of the good rows, 8:1:1 (paper Appendix C.2). Output is
written to a temporary sibling directory and renamed into place only when complete, so an aborted
conversion never leaves a directory that looks finished.
"""

import collections
import gzip
import os
import shutil
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from datasets.schema import SPLITS, write_schema
from datasets.tokens import MISSING_TOKEN, OOV_ID

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
MAX_REPORTED_BAD_LINES = 10


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

    @property
    def total(self):
        return sum(self.by_reason.values())

    def as_dict(self):
        return {"total": self.total, "by_reason": dict(self.by_reason), "first_lines": self.examples}

    def describe(self):
        lines = [f"  line {e['line']}: {e['reason']}" for e in self.examples]
        return "\n".join([f"{self.total} bad lines ({dict(self.by_reason)}); first ones:"] + lines)


def open_text(path):
    """Opens plain or gzip-compressed text; undecodable bytes become U+FFFD and are caught by parsing."""
    with open(path, "rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    return opener(path, "rt", encoding="utf-8", errors="replace", newline="")


def parsed_lines(raw_format, path, bad_rows=None, description="reading"):
    """Yields (label, tokens) for every good line; bad lines go to `bad_rows`."""
    with open_text(path) as handle:
        for line_number, line in enumerate(tqdm(handle, desc=description, unit=" rows", mininterval=2), 1):
            line = line.rstrip("\r\n")
            if line_number == 1 and raw_format.is_header(line):
                continue
            try:
                yield raw_format.parse(line)
            except BadRow as error:
                if bad_rows is not None:
                    bad_rows.add(line_number, error)


def build_vocabulary(counter, min_count):
    """Tokens seen at least `min_count` times, most frequent first (ties by token)."""
    kept = [(token, count) for token, count in counter.items() if count >= min_count]
    kept.sort(key=lambda item: (-item[1], item[0]))
    return [token for token, _ in kept]


def split_assignment(num_rows, seed):
    """0/1/2 (train/val/test) for each good row: a seeded permutation cut 8:1:1."""
    order = np.random.default_rng(seed).permutation(num_rows)
    num_train = int(num_rows * SPLIT_FRACTIONS[0])
    num_val = int(num_rows * SPLIT_FRACTIONS[1])
    assignment = np.full(num_rows, 2, dtype=np.int8)
    assignment[order[:num_train]] = 0
    assignment[order[num_train:num_train + num_val]] = 1
    return assignment


def serialize_example(ids, label):
    return tf.train.Example(features=tf.train.Features(feature={
        "ids": tf.train.Feature(int64_list=tf.train.Int64List(value=ids)),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    })).SerializeToString()


def check_input(path):
    if not os.path.isfile(path):
        raise ConversionError(f"input file {path} does not exist")
    if os.path.getsize(path) == 0:
        raise ConversionError(f"input file {path} is empty")


def prepare_output(output_dir, overwrite):
    if os.path.exists(output_dir) and os.listdir(output_dir) and not overwrite:
        raise ConversionError(f"output directory {output_dir} is not empty; pass --overwrite to replace it")
    staging = f"{output_dir.rstrip(os.sep)}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(os.path.join(staging, "vocab"))
    return staging


def publish(staging, output_dir):
    if os.path.exists(output_dir):
        shutil.rmtree(output_dir)
    os.replace(staging, output_dir)


def convert(raw_format, input_path, output_dir, min_count, max_bad_fraction=0.001, seed=0, train_shards=8,
            overwrite=False):
    """Runs both passes and publishes `output_dir`; returns the schema dict."""
    check_input(input_path)
    started = time.time()
    counters = [collections.Counter() for _ in raw_format.fields]
    bad_rows = BadRowReport()
    num_rows = 0
    for _, tokens in parsed_lines(raw_format, input_path, bad_rows, "pass 1/2 counting"):
        for counter, token in zip(counters, tokens):
            counter[token] += 1
        num_rows += 1
    total_lines = num_rows + bad_rows.total
    if num_rows == 0:
        raise ConversionError(f"{input_path} has no valid {raw_format.name} rows. " + bad_rows.describe())
    if bad_rows.total / total_lines > max_bad_fraction:
        raise ConversionError(
            f"{input_path}: {bad_rows.total} of {total_lines} lines are malformed, more than "
            f"--max_bad_fraction={max_bad_fraction}; nothing was written. Is this a {raw_format.name} file? "
            + bad_rows.describe())

    vocabularies = [build_vocabulary(counter, min_count) for counter in counters]
    lookups = [{token: index + 1 for index, token in enumerate(vocab)} for vocab in vocabularies]
    assignment = split_assignment(num_rows, seed)
    shard_counts = {"train": train_shards, "val": max(1, train_shards // 8), "test": max(1, train_shards // 8)}
    staging = prepare_output(output_dir, overwrite)
    shard_names = {split: [f"{split}-{i:05d}-of-{n:05d}.tfrecord" for i in range(n)]
                   for split, n in shard_counts.items()}
    writers = {split: [tf.io.TFRecordWriter(os.path.join(staging, name)) for name in names]
               for split, names in shard_names.items()}
    rows = dict.fromkeys(SPLITS, 0)
    try:
        good = parsed_lines(raw_format, input_path, description="pass 2/2 writing")
        for row_index, (label, tokens) in enumerate(good):
            split = SPLITS[assignment[row_index]]
            ids = [lookup.get(token, OOV_ID) for lookup, token in zip(lookups, tokens)]
            writers[split][rows[split] % shard_counts[split]].write(serialize_example(ids, label))
            rows[split] += 1
    finally:
        for split_writers in writers.values():
            for writer in split_writers:
                writer.close()

    fields = []
    for (name, kind), vocabulary in zip(raw_format.fields, vocabularies):
        relative = os.path.join("vocab", f"{name}.txt")
        with open(os.path.join(staging, relative), "w", encoding="utf-8") as handle:
            handle.writelines(token + "\n" for token in vocabulary)
        fields.append({"name": name, "kind": kind, "cardinality": len(vocabulary) + 1, "vocabulary": relative})
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
        "rows": rows,
        "bad_rows": bad_rows.as_dict(),
        "shards": shard_names,
        "source": {"path": os.path.abspath(input_path), "lines": total_lines},
        "conversion_seconds": round(time.time() - started, 2),
    }
    write_schema(schema, staging)
    publish(staging, output_dir)
    return schema
