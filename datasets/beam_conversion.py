"""Raw click log -> the converter's output, as an Apache Beam pipeline (`--runner=beam`; docs/data.md).

The same two passes as datasets.conversion, built from its parse and encode code, on any Beam runner:
  1. each byte range of the input (one per 16 MiB block) is parsed (`counted_blocks`); its good rows
     leave as dictionary-encoded blocks, its raw-value counts as ((field, raw value), count) pairs summed
     per key, its line and bad-row counts as one summary per range. Raw values become tokens
     (tokens.numeric_token / categorical_token), token counts are summed per key, tokens under the
     min-count are dropped, and each field's vocabulary is sorted by (-count, token) (build_vocabulary).
  2. one step merges the range summaries in file order (bad-row report with file line numbers, the
     error budget) and cuts the seeded 8:1:1 permutation of the good rows (split_assignment) into one
     slice per block; each block is joined with its slice, mapped to ids, encoded to tf.Example bytes
     and TFRecord frames (ExampleLayout, framed) and sent to the shard the in-process converter picks
     (row r of a split -> shard r % shards), where one writer per shard appends the frames.
A field's vocabulary reaches pass 2 as a side input when it has at most `side_input_max_tokens` tokens
(numeric fields always: a few hundred buckets); a larger one is joined instead: every (field, raw
value) a block holds is matched with the vocabulary's (raw value, id) pairs by CoGroupByKey, and the
ids go back to their block by a second CoGroupByKey on the block's key.

The output equals the in-process converter's: the same vocabulary files, the same schema.json but for
`conversion_seconds`, and per shard the same records, in another order. The launcher
stages the output beside its final name, reads the pipeline's summary, raises the in-process converter's
ConversionError when the error budget is exceeded, and publishes only a finished directory. Input and
output are paths on a filesystem that every worker sees.
"""

import os
import pickle
import shlex
import time

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.options.pipeline_options import PipelineOptions

from datasets.conversion import (ConversionError, check_error_budget, check_input, check_output, conversion_schema,
                                 counted_blocks, example_layout, shard_names, shard_targets, split_assignment,
                                 staged, vocabulary_widths, write_vocabulary)
from datasets.example_encoding import column_ids
from datasets.raw_parsing import BadRowReport, DelimitedFormat, byte_ranges
from datasets.schema import SPLITS, write_schema
from datasets.tfrecord_frames import framed
from datasets.tokens import categorical_token, numeric_token
from datasets.value_counting import ValueCounter, build_vocabulary, raw_lookup

SIDE_INPUT_MAX_TOKENS = 1_000_000  # about 160 MB per field in a worker: the token list and its Arrow lookup
SUMMARY_FILE = "beam-summary.pickle"  # what the pipeline tells the launcher; removed before publishing
DEFAULT_RUNNER = "FnApiRunner"  # local and in-process; the DirectRunner may fetch the Prism binary at run time


def new_pipeline(options: str = "") -> beam.Pipeline:
    """A pipeline with Beam options from a command-line string (--beam_pipeline_options).

    The runner defaults to FnApiRunner; e.g. "--runner=FlinkRunner --flink_master=host:8081" runs on Flink.
    """
    return beam.Pipeline(options=PipelineOptions([f"--runner={DEFAULT_RUNNER}", *shlex.split(options)]))


class _ParseRange(beam.DoFn):
    """Pass 1 over one byte range: encoded blocks (main output), raw-value counts and the range's summary."""

    def __init__(self, raw_format, path):
        self.raw_format, self.path = raw_format, path

    def process(self, task):
        index, (start, end) = task
        counters = [ValueCounter() for _ in self.raw_format.fields]
        bad_rows, lines, good, blocks = BadRowReport(), 0, 0, []
        for lines, _, labels, encoded in counted_blocks(self.raw_format, self.path, start, end, counters, bad_rows):
            if len(labels):
                yield (index, good), (labels.astype(np.int8), encoded)
                blocks.append((good, len(labels)))
            good += len(labels)
        for field, counter in enumerate(counters):
            table = counter.table()
            for value, count in zip(table["value"].to_pylist(), table["count"].to_pylist()):
                yield beam.pvalue.TaggedOutput("counts", ((field, value), count))
        yield beam.pvalue.TaggedOutput("ranges", (index, bad_rows, lines, blocks))


def _token_count(raw_format, keyed_count):
    """((field, raw value), count) -> ((field, token), count)."""
    (field, raw), count = keyed_count
    kind = raw_format.fields[field][1]
    return (field, numeric_token(raw) if kind == "numeric" else categorical_token(raw)), count


def _vocabulary(keyed_tokens, min_count):
    """(field, [(token, count) or None]) -> (field, vocabulary sorted by (-count, token))."""
    field, items = keyed_tokens
    pairs = [item for item in items if item is not None]
    table = pa.table({"value": pa.array([token for token, _ in pairs], pa.string()),
                      "count": pa.array([count for _, count in pairs], pa.int64())})
    return field, build_vocabulary(table, min_count)


def _is_joined(raw_format, field, size, side_input_max_tokens):
    """True when the field's vocabulary goes to pass 2 by a join rather than as a side input."""
    return raw_format.fields[field][1] == "categorical" and size > side_input_max_tokens


def _summary(ranges, sizes, raw_format, input_path, max_bad_fraction, seed, staging):
    """Merges the range summaries in file order, checks the error budget and writes the summary file;
    yields ((range, first row), (split of each row, rows of each split before the block)) per block."""
    bad_rows, line_offset, blocks = BadRowReport(), 0, []
    for index, range_bad, lines, range_blocks in sorted(ranges, key=lambda item: item[0]):
        bad_rows.merge(range_bad, line_offset)
        line_offset += lines
        blocks.extend(((index, start), length) for start, length in range_blocks)
    num_rows = sum(length for _, length in blocks)
    summary = {"bad_rows": bad_rows, "lines": line_offset, "sizes": [sizes[field] for field in range(len(sizes))]}
    try:
        check_error_budget(raw_format, input_path, num_rows, line_offset, bad_rows, max_bad_fraction)
    except ConversionError as error:
        summary["error"] = str(error)
    assignment = split_assignment(num_rows, seed) if "error" not in summary else np.zeros(0, np.int8)
    summary["split_counts"] = np.bincount(assignment, minlength=3).tolist()
    with open(os.path.join(staging, SUMMARY_FILE), "wb") as handle:
        pickle.dump(summary, handle)
    if "error" in summary:
        return
    positions, row = np.zeros(3, np.int64), 0
    for key, length in blocks:
        splits = assignment[row:row + length]
        yield key, (splits, positions.copy())
        positions += np.bincount(splits, minlength=3)
        row += length


def _value_uses(keyed_block, sizes, raw_format, side_input_max_tokens):
    """((field, raw value), (block key, index into the block's values)) for every value of a joined field."""
    key, (_, encoded) = keyed_block
    for field, (values, _) in enumerate(encoded):
        if _is_joined(raw_format, field, sizes[field], side_input_max_tokens):
            for index, value in enumerate(values.to_pylist()):
                yield (field, value), (key, index)


def _vocabulary_ids(keyed_vocabulary, raw_format, sizes, side_input_max_tokens):
    """((field, raw value), id) for every raw value of a joined field's vocabulary (raw_lookup's keys)."""
    field, vocabulary = keyed_vocabulary
    if _is_joined(raw_format, field, len(vocabulary), side_input_max_tokens):
        keys, ids = raw_lookup("categorical", None, vocabulary)
        yield from (((field, raw), int(id_)) for raw, id_ in zip(keys.to_pylist(), ids))


def _joined_ids(keyed_group):
    """((field, raw value), {"ids": [id], "uses": [(block key, index)]}) -> (block key, (field, index, id))."""
    (field, _), group = keyed_group
    id_ = group["ids"][0] if group["ids"] else 0  # a value outside the vocabulary: the OOV id
    for key, index in group["uses"]:
        yield key, (field, index, id_)


class _EncodeBlock(beam.DoFn):
    """Pass 2 for one block: ids, tf.Example bytes and TFRecord frames; yields (shard, frames bytes)."""

    def __init__(self, raw_format, shard_counts):
        self.raw_format, self.shard_counts = raw_format, shard_counts
        self.lookups = {}  # categorical side-input lookups, built once per worker

    def process(self, keyed_group, vocabularies, sizes):
        _, group = keyed_group
        if not group["splits"]:  # the error budget was exceeded: nothing is encoded
            return
        [(labels, encoded)], [(splits, positions)] = group["block"], group["splits"]
        joined = {}
        for field, index, id_ in group["joined"]:
            joined.setdefault(field, []).append((index, id_))
        ids = np.stack([self.field_ids(field, values, rows, vocabularies, joined.get(field, []))
                        for field, (values, rows) in enumerate(encoded)], axis=1)
        widths = vocabulary_widths([sizes[field] for field in range(len(encoded))])
        frames = framed(example_layout(self.raw_format).records(ids, labels, widths))
        target = shard_targets(splits, positions, self.shard_counts)
        for shard in np.unique(target):
            yield int(shard), frames[target == shard].tobytes()

    def field_ids(self, field, values, rows, vocabularies, joined):
        if field not in vocabularies:  # joined: ids of the block's values, OOV where none matched
            ids = np.zeros(len(values), np.int64)
            for index, id_ in joined:
                ids[index] = id_
            return ids[rows]
        if self.raw_format.fields[field][1] == "numeric":  # lookup of this block's raw values (few buckets)
            return column_ids(values, raw_lookup("numeric", {"value": values}, vocabularies[field]))[rows]
        if field not in self.lookups:
            self.lookups[field] = raw_lookup("categorical", None, vocabularies[field])
        return column_ids(values, self.lookups[field])[rows]


def _write_shard(keyed_frames, staging, names):
    shard, chunks = keyed_frames
    with open(os.path.join(staging, names[shard]), "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)


def build_pipeline(pipeline: beam.Pipeline, raw_format: DelimitedFormat, input_path: str, staging: str,
                   min_count: int, max_bad_fraction: float, seed: int, train_shards: int,
                   side_input_max_tokens: int) -> None:
    """Adds the conversion's transforms to `pipeline`; running it fills `staging` (less schema.json)."""
    fields = len(raw_format.fields)
    names = shard_names(train_shards)
    flat_names = [name for split in SPLITS for name in names[split]]
    ranges = byte_ranges(input_path, os.path.getsize(input_path))  # one range per block of BLOCK_BYTES
    parsed = (pipeline | "byte ranges" >> beam.Create(list(enumerate(ranges)))
              | "parse" >> beam.ParDo(_ParseRange(raw_format, input_path)).with_outputs("counts", "ranges",
                                                                                         main="blocks"))
    kept = (parsed.counts | "sum raw values" >> beam.CombinePerKey(sum)
            | "tokens" >> beam.Map(lambda item: _token_count(raw_format, item))
            | "sum tokens" >> beam.CombinePerKey(sum)
            | "min count" >> beam.Filter(lambda item: item[1] >= min_count)
            | "by field" >> beam.Map(lambda item: (item[0][0], (item[0][1], item[1]))))
    every_field = pipeline | "every field" >> beam.Create([(field, None) for field in range(fields)])
    vocabularies = ((kept, every_field) | "with every field" >> beam.Flatten() | "group fields" >> beam.GroupByKey()
                    | "vocabularies" >> beam.Map(_vocabulary, min_count))
    _ = vocabularies | "write vocabularies" >> beam.Map(
        lambda item: write_vocabulary(staging, raw_format.fields[item[0]][0], item[1]))
    sizes = beam.pvalue.AsDict(vocabularies | "sizes" >> beam.Map(lambda item: (item[0], len(item[1]))))
    side_vocabularies = beam.pvalue.AsDict(vocabularies | "side inputs" >> beam.Filter(
        lambda item: not _is_joined(raw_format, item[0], len(item[1]), side_input_max_tokens)))
    splits = (pipeline | "once" >> beam.Create([None])
              | "summary and split" >> beam.FlatMap(
                  lambda _, ranges, sizes: _summary(ranges, sizes, raw_format, input_path, max_bad_fraction, seed,
                                                    staging),
                  beam.pvalue.AsList(parsed.ranges), sizes))
    uses = parsed.blocks | "values of joined fields" >> beam.FlatMap(_value_uses, sizes, raw_format,
                                                                     side_input_max_tokens)
    vocabulary_ids = vocabularies | "ids of joined fields" >> beam.FlatMap(_vocabulary_ids, raw_format, sizes,
                                                                           side_input_max_tokens)
    joined = ({"ids": vocabulary_ids, "uses": uses} | "join values" >> beam.CoGroupByKey()
              | "ids to blocks" >> beam.FlatMap(_joined_ids))
    shard_counts = [len(names[split]) for split in SPLITS]
    frames = ({"block": parsed.blocks, "splits": splits, "joined": joined} | "join blocks" >> beam.CoGroupByKey()
              | "encode" >> beam.ParDo(_EncodeBlock(raw_format, shard_counts), side_vocabularies, sizes))
    every_shard = pipeline | "every shard" >> beam.Create([(shard, b"") for shard in range(len(flat_names))])
    _ = ((frames, every_shard) | "with every shard" >> beam.Flatten() | "group shards" >> beam.GroupByKey()
         | "write shards" >> beam.Map(_write_shard, staging, flat_names))


def convert_with_beam(raw_format: DelimitedFormat, input_path: str, output_dir: str, min_count: int,
                      max_bad_fraction: float = 0.001, seed: int = 0, train_shards: int = 8, overwrite: bool = False,
                      pipeline: "beam.Pipeline | None" = None,
                      side_input_max_tokens: int = SIDE_INPUT_MAX_TOKENS) -> dict:
    """datasets.conversion.convert as a Beam pipeline; returns the schema dict.

    Args:
        raw_format: the input's layout (datasets.raw_parsing.DelimitedFormat).
        input_path: the raw file (plain or gzip), readable by every worker.
        output_dir: where the TFRecord shards, schema.json and vocab/ are published.
        min_count: tokens seen fewer times map to the field's OOV id 0.
        max_bad_fraction: the error budget: more bad lines raise ConversionError and nothing is written.
        seed: the seed of the 8:1:1 split permutation.
        train_shards: train shards (val and test get train_shards // 8, at least 1).
        overwrite: replace a non-empty `output_dir`.
        pipeline: the beam.Pipeline to run on (default: `new_pipeline()`, the local FnApiRunner).
        side_input_max_tokens: vocabularies up to this many tokens go to pass 2 as side inputs, larger
            categorical ones by a join.

    Returns:
        The schema dict written to `output_dir`/schema.json.

    Example:
        >>> from datasets import criteo
        >>> convert_with_beam(criteo.TSV, "train.txt", "data/criteo", min_count=10)  # doctest: +SKIP
    """
    check_input(input_path)
    check_output(output_dir, overwrite)
    started = time.time()
    with staged(output_dir) as staging:
        pipeline = pipeline or new_pipeline()
        build_pipeline(pipeline, raw_format, input_path, staging, min_count, max_bad_fraction, seed, train_shards,
                       side_input_max_tokens)
        pipeline.run().wait_until_finish()
        summary_path = os.path.join(staging, SUMMARY_FILE)
        with open(summary_path, "rb") as handle:
            summary = pickle.load(handle)
        os.remove(summary_path)
        if "error" in summary:
            raise ConversionError(summary["error"])
        schema = conversion_schema(raw_format, input_path, min_count, seed, summary["sizes"], summary["split_counts"],
                                   summary["bad_rows"], shard_names(train_shards), summary["lines"],
                                   time.time() - started)
        write_schema(schema, staging)
    return schema
