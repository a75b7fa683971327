"""datasets.criteo on real Criteo rows: counts, cardinalities, ids, determinism, bad input, CLI errors."""

import collections
import gzip
import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tests.data_fixtures import read_records, shard_bytes
from tests.sample_data import sample_file

from datasets import criteo
from datasets.conversion import ConversionError, convert
from datasets.schema import load_schema
from datasets.tokens import numeric_token, numeric_tokens_tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIN_COUNT = 10


def independent_tokens(line):
    """The paper's transform written out again: (label, 39 tokens) of a Kaggle train.txt line."""
    columns = line.rstrip("\n").split("\t")
    tokens = []
    for raw in columns[1:14]:
        if raw == "":
            tokens.append("NULL")
        else:
            value = int(raw)
            tokens.append(str(math.floor(math.log(value) ** 2)) if value > 2 else str(value - 2))
    tokens.extend(raw if raw else "NULL" for raw in columns[14:])
    return int(columns[0]), tokens


@pytest.fixture(scope="module")
def train_10k():
    return sample_file("criteo/train-10k.txt")


@pytest.fixture(scope="module")
def converted(train_10k, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("criteo") / "out")
    convert(criteo.TSV, train_10k, out, MIN_COUNT, train_shards=4)
    return out


def test_rows_per_split_sum_to_all_lines(converted):
    rows = load_schema(converted)["rows"]
    assert rows == {"train": 8000, "val": 1000, "test": 1000}
    assert sum(rows.values()) == 10000
    assert len(read_records(converted)) == 10000


def test_cardinalities_match_an_independent_count(converted, train_10k):
    counters = [collections.Counter() for _ in range(39)]
    with open(train_10k, encoding="utf-8") as lines:
        for line in lines:
            for counter, token in zip(counters, independent_tokens(line)[1]):
                counter[token] += 1
    expected = [1 + sum(count >= MIN_COUNT for count in counter.values()) for counter in counters]
    assert [field["cardinality"] for field in load_schema(converted)["fields"]] == expected


def test_every_row_has_the_ids_of_its_tokens(converted, train_10k):
    schema = load_schema(converted)
    vocabularies = []
    for field in schema["fields"]:
        with open(os.path.join(converted, field["vocabulary"]), encoding="utf-8") as handle:
            tokens = handle.read().splitlines()
        assert len(tokens) + 1 == field["cardinality"]
        vocabularies.append({token: index + 1 for index, token in enumerate(tokens)})
    with open(train_10k, encoding="utf-8") as lines:
        expected = collections.Counter()
        for line in lines:
            label, tokens = independent_tokens(line)
            expected[(tuple(v.get(t, 0) for v, t in zip(vocabularies, tokens)), label)] += 1
    assert collections.Counter(read_records(converted)) == expected


@pytest.mark.parametrize("raw, token", [("", "NULL"), ("0", "-2"), ("1", "-1"), ("2", "0"), ("3", "1"),
                                        ("100", "21"), ("-1", "-3"), ("-2", "-4"), ("7", "3")])
def test_numeric_transform_hand_worked(raw, token):
    assert numeric_token(raw) == token
    present = raw != ""
    tf_token = numeric_tokens_tf(tf.constant([int(raw) if present else 0], tf.int64), tf.constant([present]), "I1")
    assert tf_token.numpy()[0].decode() == token


def test_ids_are_deterministic_across_runs_and_worker_counts(converted, train_10k, tmp_path):
    again = str(tmp_path / "again")
    convert(criteo.TSV, train_10k, again, MIN_COUNT, train_shards=4, workers=1)
    assert shard_bytes(again) == shard_bytes(converted)
    for name in ("C3", "I5"):
        with open(os.path.join(again, "vocab", f"{name}.txt"), "rb") as a, \
                open(os.path.join(converted, "vocab", f"{name}.txt"), "rb") as b:
            assert a.read() == b.read()


def write_lines(path, lines, mode="w"):
    with open(path, mode) as handle:
        handle.write("".join(lines) if mode == "w" else b"".join(lines))


def test_bad_lines_are_counted_with_line_numbers_and_skipped(train_10k, tmp_path):
    with open(train_10k, "rb") as handle:
        good = handle.readlines()[:300]
    header = b"label\t" + b"\t".join(n.encode() for n, _ in criteo.FIELDS) + b"\n"
    columns = good[5].split(b"\t")
    bad = {
        1: (header, "label"),
        4: (b"\t".join(columns[:20]) + b"\n", "column_count"),
        7: (b"\t".join([columns[0], b"12x"] + columns[2:]), "numeric"),
        10: (b"\t".join([b"2"] + columns[1:]), "label"),
        13: (good[6].replace(b"\t", b"\t\xff\xfe", 1), "encoding"),
    }
    lines = list(good)
    for number in sorted(bad):
        lines.insert(number - 1, bad[number][0])
    lines.append(good[7][:40])  # truncated last line, no newline
    bad[len(lines)] = (None, "column_count")
    path = tmp_path / "bad.txt"
    write_lines(path, lines, "wb")
    schema = convert(criteo.TSV, str(path), str(tmp_path / "out"), 1, max_bad_fraction=0.1, train_shards=1)
    report = schema["bad_rows"]
    assert report["total"] == len(bad)
    assert [(e["line"], e["reason"].split(":")[0]) for e in report["first_lines"]] == \
        [(number, reason) for number, (_, reason) in sorted(bad.items())]
    assert sum(schema["rows"].values()) == 300
    clean = tmp_path / "clean.txt"
    write_lines(clean, good, "wb")
    convert(criteo.TSV, str(clean), str(tmp_path / "clean_out"), 1, train_shards=1)
    assert shard_bytes(str(tmp_path / "out")) == shard_bytes(str(tmp_path / "clean_out"))


def test_only_the_first_ten_bad_lines_are_listed(train_10k, tmp_path):
    with open(train_10k) as handle:
        lines = handle.readlines()[:100]
    lines[10:10] = ["oops\n"] * 15
    write_lines(tmp_path / "bad.txt", lines)
    schema = convert(criteo.TSV, str(tmp_path / "bad.txt"), str(tmp_path / "out"), 1, max_bad_fraction=0.5)
    assert schema["bad_rows"]["total"] == 15
    assert [e["line"] for e in schema["bad_rows"]["first_lines"]] == list(range(11, 21))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_corruption_leaves_good_rows_ids_unchanged(train_10k, tmp_path, seed):
    """Fuzz: garbage lines inserted at random places are all reported; the good rows' output is identical."""
    rng = random.Random(seed)
    with open(train_10k, "rb") as handle:
        good = handle.readlines()[:2000]
    lines, inserted = list(good), []
    for _ in range(20):
        donor = bytearray(rng.choice(good))
        kind = rng.randrange(4)
        if kind == 0:
            del donor[rng.randrange(len(donor) - 1):-1]
        elif kind == 1:
            donor[rng.randrange(len(donor) - 1)] = rng.choice(b"\xff\x80\xc3")
        elif kind == 2:
            donor[0:1] = rng.choice([b"x", b"-1", b"01", b"", b"0\t"])
        else:
            donor = bytearray(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))).replace(b"\n", b"") + b"\n")
        position = rng.randrange(len(lines) + 1)
        lines.insert(position, bytes(donor))
        inserted.append(bytes(donor))
    write_lines(tmp_path / "fuzz.txt", lines, "wb")
    write_lines(tmp_path / "clean.txt", good, "wb")
    fuzzed = convert(criteo.TSV, str(tmp_path / "fuzz.txt"), str(tmp_path / "fuzz_out"), 2, max_bad_fraction=0.1,
                     train_shards=2)
    convert(criteo.TSV, str(tmp_path / "clean.txt"), str(tmp_path / "clean_out"), 2, train_shards=2)
    still_good = sum(criteo.TSV.parse_block(line, 1, _Ignore(), [set() for _ in range(39)], False)[0] != ()
                     for line in inserted)
    assert fuzzed["bad_rows"]["total"] == len(inserted) - still_good
    if still_good == 0:
        assert shard_bytes(str(tmp_path / "fuzz_out")) == shard_bytes(str(tmp_path / "clean_out"))


class _Ignore:
    def add(self, *args):
        pass


def test_error_budget_aborts_and_writes_nothing(train_10k, tmp_path):
    with open(train_10k) as handle:
        lines = handle.readlines()[:100]
    lines[50:50] = ["not\ta\tcriteo\tline\n"] * 5
    write_lines(tmp_path / "bad.txt", lines)
    out = tmp_path / "out"
    with pytest.raises(ConversionError, match=r"(?s)5 of 105 lines are malformed.*--max_bad_fraction=0.01.*line 51"):
        convert(criteo.TSV, str(tmp_path / "bad.txt"), str(out), 1, max_bad_fraction=0.01)
    assert sorted(os.listdir(tmp_path)) == ["bad.txt"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "datasets.criteo", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_cli_missing_and_empty_input_fail_with_one_line(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    for path, message in ((tmp_path / "nope.txt", "does not exist"), (empty, "is empty")):
        result = run_cli(f"--input={path}", f"--output_dir={tmp_path / 'out'}")
        assert result.returncode != 0
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and message in last and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_converts_and_refuses_to_overwrite(train_10k, tmp_path):
    out = tmp_path / "out"
    result = run_cli(f"--input={train_10k}", f"--output_dir={out}", "--train_shards=2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sum D_i" in result.stdout and load_schema(str(out))["rows"]["train"] == 8000
    result = run_cli(f"--input={train_10k}", f"--output_dir={out}")
    assert result.returncode != 0 and "--overwrite" in result.stderr.strip().splitlines()[-1]


def test_gzip_input_gives_the_same_output(train_10k, converted, tmp_path):
    packed = tmp_path / "train.txt.gz"
    with open(train_10k, "rb") as source, gzip.open(packed, "wb") as target:
        target.write(source.read())
    convert(criteo.detect_format(str(packed)), str(packed), str(tmp_path / "out"), MIN_COUNT, train_shards=4)
    assert shard_bytes(str(tmp_path / "out")) == shard_bytes(converted)


def test_kaggle_csv_with_header(tmp_path):
    path = sample_file("criteo/kaggle-random-4584.csv")
    assert criteo.detect_format(path) is criteo.CSV
    schema = convert(criteo.CSV, path, str(tmp_path / "out"), 2)
    assert sum(schema["rows"].values()) == 4584 and schema["bad_rows"]["total"] == 0
    labels = [label for _, label in read_records(str(tmp_path / "out"))]
    assert abs(np.mean(labels) - 0.269) < 0.005


def test_raw_rows_labelled_unlabelled_and_csv(train_10k):
    rows = list(criteo.raw_rows(sample_file("criteo/test-unlabeled-10k.txt")))
    assert len(rows) == 10000 and list(rows[0]) == [name for name, _ in criteo.FIELDS]
    with open(train_10k) as handle:
        first = handle.readline().rstrip("\n").split("\t")
    row = next(criteo.raw_rows(train_10k))
    assert row["I1"] == (int(first[1]) if first[1] else None) and row["C1"] == (first[14] or None)
    csv_rows = list(criteo.raw_rows(sample_file("criteo/kaggle-random-4584.csv")))
    assert len(csv_rows) == 4584
    assert all(isinstance(r["I2"], int) for r in csv_rows) and any(r["I12"] is None for r in csv_rows)


def test_hand_encoded_examples_parse_like_tf_train_example():
    from datasets.example_encoding import ExampleLayout, example_bytes, varint_width

    ids = np.array([[0, 1, 127, 128, 70000], [5, 16383, 16384, 2**21, 3]])
    widths = [varint_width(m) for m in (5, 16383, 16384, 2**21, 70000)]
    padded = ExampleLayout(40).records(ids, np.array([1, 0]), widths)
    serialized = [row.tobytes() for row in padded] + [example_bytes(ids[0].tolist(), 1)]
    parsed = tf.io.parse_example(tf.constant(serialized), {"ids": tf.io.FixedLenFeature([5], tf.int64),
                                                            "label": tf.io.FixedLenFeature([1], tf.int64)})
    assert parsed["ids"].numpy().tolist() == [ids[0].tolist(), ids[1].tolist(), ids[0].tolist()]
    assert parsed["label"].numpy()[:, 0].tolist() == [1, 0, 1]
    reference = tf.train.Example()
    reference.features.feature["ids"].int64_list.value.extend(ids[1].tolist())
    reference.features.feature["label"].int64_list.value.append(0)
    assert tf.train.Example.FromString(serialized[1]) == reference


def _die(task):
    os._exit(3)


def test_a_worker_that_dies_stops_the_conversion_instead_of_hanging():
    from concurrent.futures.process import BrokenProcessPool

    from datasets.worker_pool import run_parallel

    with pytest.raises(BrokenProcessPool):
        run_parallel(_die, [0, 1], total=2, description="test", workers=2, unit="rows")
