"""datasets.avazu on real Avazu rows (CRLF and LF files): counts, independent cardinalities, derived fields."""

import collections
import csv
import os
import subprocess
import sys

import pytest
from tests.data_fixtures import read_records, shard_bytes
from tests.sample_data import sample_file

from datasets.avazu import COLUMNS, AvazuFormat
from datasets.conversion import ConversionError, convert
from datasets.raw_formats import raw_format_for
from datasets.raw_input import read_rows
from datasets.schema import load_schema


def independent_cardinalities(path, min_count):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == COLUMNS
    counters = [collections.Counter(row[i] or "NULL" for row in rows[1:]) for i in range(2, 24)]
    return len(rows) - 1, [1 + sum(c >= min_count for c in counter.values()) for counter in counters]


@pytest.mark.parametrize("sample, min_count", [("avazu/train-10k.csv", 4), ("avazu/sample-100.csv", 2)])
def test_rows_and_cardinalities(sample, min_count, tmp_path):
    path = sample_file(sample)
    schema = convert(AvazuFormat(), path, str(tmp_path / "out"), min_count, train_shards=2)
    num_rows, expected = independent_cardinalities(path, min_count)
    assert sum(schema["rows"].values()) == num_rows and schema["bad_rows"]["total"] == 0
    assert [f["name"] for f in schema["fields"]] == COLUMNS[2:]
    assert [f["cardinality"] for f in schema["fields"]] == expected
    with open(path, newline="") as handle:
        clicks = collections.Counter(int(row["click"]) for row in csv.DictReader(handle))
    assert collections.Counter(label for _, label in read_records(str(tmp_path / "out"))) == clicks


def test_crlf_and_lf_give_the_same_output(tmp_path):
    with open(sample_file("avazu/train-10k.csv"), "rb") as handle:
        crlf = handle.read()
    assert b"\r\n" in crlf
    (tmp_path / "crlf.csv").write_bytes(crlf)
    (tmp_path / "lf.csv").write_bytes(crlf.replace(b"\r\n", b"\n"))
    for name in ("crlf", "lf"):
        convert(AvazuFormat(), str(tmp_path / f"{name}.csv"), str(tmp_path / name), 4, train_shards=2)
    assert shard_bytes(str(tmp_path / "crlf")) == shard_bytes(str(tmp_path / "lf"))


def test_hour_features(tmp_path):
    schema = convert(AvazuFormat(hour_features=True), sample_file("avazu/train-10k.csv"), str(tmp_path / "out"), 4)
    names = [f["name"] for f in schema["fields"]]
    assert names[-2:] == ["hour_of_day", "weekday"] and len(names) == 24
    vocab = {name: open(os.path.join(tmp_path, "out", "vocab", f"{name}.txt")).read().split()
             for name in ("hour", "hour_of_day", "weekday")}
    assert vocab == {"hour": ["14102100"], "hour_of_day": ["00"], "weekday": ["1"]}  # 2014-10-21 was a Tuesday


def test_header_only_and_bad_rows(tmp_path):
    header = ",".join(COLUMNS) + "\n"
    (tmp_path / "header.csv").write_text(header)
    with pytest.raises(ConversionError, match="no valid avazu rows"):
        convert(AvazuFormat(), str(tmp_path / "header.csv"), str(tmp_path / "out"), 4)
    with open(sample_file("avazu/sample-100.csv")) as handle:
        lines = handle.readlines()
    lines.insert(3, lines[5].replace(",0,", ",7,", 1))
    lines.insert(6, header)
    (tmp_path / "bad.csv").write_text("".join(lines))
    schema = convert(AvazuFormat(), str(tmp_path / "bad.csv"), str(tmp_path / "out"), 1, max_bad_fraction=0.1)
    assert [(e["line"], e["reason"].split(":")[0]) for e in schema["bad_rows"]["first_lines"]] == \
        [(4, "label"), (7, "label")]
    assert sum(schema["rows"].values()) == 100


def test_cli(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-m", "datasets.avazu", f"--input={sample_file('avazu/sample-100.csv')}",
                             f"--output_dir={tmp_path / 'out'}", "--hour_features"],
                            cwd=repo, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    schema = load_schema(str(tmp_path / "out"))
    assert schema["min_count"] == 4 and len(schema["fields"]) == 24


def test_raw_rows_for_an_hour_features_schema_derive_them_as_the_converter_does(tmp_path):
    """2014-10-21 was a Tuesday (weekday 1), 2014-10-26 a Sunday (6); '1410' is no hour (missing)."""
    with open(sample_file("avazu/sample-100.csv")) as handle:
        lines = handle.readlines()[:4]
    lines[2] = lines[2].replace(",14102100,", ",14102623,", 1)
    lines[3] = lines[3].replace(",14102100,", ",1410,", 1)
    path = tmp_path / "hours.csv"
    path.write_text("".join(lines))
    schema = convert(AvazuFormat(hour_features=True), str(path), str(tmp_path / "out"), 1)
    rows = list(read_rows(str(path), raw_format_for(schema, str(path))))
    assert [(row["hour"], row["hour_of_day"], row["weekday"]) for row in rows] == [
        ("14102100", "00", "1"), ("14102623", "23", "6"), ("1410", None, None)]
    vocabulary = {name: (tmp_path / "out" / "vocab" / f"{name}.txt").read_text().split()
                  for name in ("hour_of_day", "weekday")}
    assert vocabulary == {"hour_of_day": ["00", "23", "NULL"], "weekday": ["1", "6", "NULL"]}
