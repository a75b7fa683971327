"""datasets.beam_conversion against the in-process converter on the real Criteo and Avazu samples.

Runs in CI's second venv, the one with the [beam] extra (.ci/run; tests/conftest.py leaves this file out
where apache_beam is not installed). Pipelines run on the FnApiRunner, in this process, with every
connection off this machine refused: nothing may be downloaded.
"""

import collections
import os
import re
import socket
import subprocess
import sys

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing import test_pipeline
from tests.sample_data import sample_file

from datasets import criteo, raw_parsing
from datasets.avazu import AvazuFormat
from datasets.beam_conversion import SIDE_INPUT_MAX_TOKENS, convert_with_beam
from datasets.conversion import ConversionError, convert

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TENSORFLOW_PROBE = ("import atexit, runpy, sys\n"
                    "atexit.register(lambda: print('tensorflow imported:', 'tensorflow' in sys.modules,\n"
                    "                              file=sys.stderr))\n"
                    "module, sys.argv = sys.argv[1], ['-m', *sys.argv[2:]]\n"
                    "runpy.run_module(module, run_name='__main__')\n")
SMALL_BLOCKS = 1 << 16  # byte ranges of 64 KiB: the samples make 17 to 37 ranges, bad rows in several


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    """Refuses every connection to an address that is not this machine's loopback."""
    connect = socket.socket.connect

    def loopback_only(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(address[0]).startswith(("127.", "::1",
                                                                                                 "localhost")):
            raise AssertionError(f"the Beam conversion tried to reach {address}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


@pytest.fixture
def small_ranges(monkeypatch):
    monkeypatch.setattr(raw_parsing, "BLOCK_BYTES", SMALL_BLOCKS)


def fn_api_pipeline():
    return test_pipeline.TestPipeline(runner=FnApiRunner(), options=PipelineOptions([]))


def schema_text(data_dir):
    """schema.json's bytes with the conversion time blanked (the only field that may differ)."""
    with open(os.path.join(data_dir, "schema.json")) as handle:
        return re.sub(r'"conversion_seconds": [0-9.e+-]+', '"conversion_seconds": 0', handle.read())


def file_bytes(data_dir, relative):
    with open(os.path.join(data_dir, relative), "rb") as handle:
        return handle.read()


def frames(data):
    """The TFRecord frames of a file's bytes (8-byte little-endian length, 4-byte CRC, record, 4-byte CRC)."""
    out, position = [], 0
    while position < len(data):
        length = int.from_bytes(data[position:position + 8], "little")
        out.append(data[position:position + length + 16])
        position += length + 16
    return out


def listing(data_dir):
    return sorted(os.path.relpath(os.path.join(root, name), data_dir)
                  for root, _, names in os.walk(data_dir) for name in names)


def assert_same_output(local_dir, beam_dir, schema):
    assert listing(beam_dir) == listing(local_dir)
    assert schema_text(beam_dir) == schema_text(local_dir)
    for field in schema["fields"]:
        assert file_bytes(beam_dir, field["vocabulary"]) == file_bytes(local_dir, field["vocabulary"]), field["name"]
    for names in schema["shards"].values():
        for name in names:
            local_frames = frames(file_bytes(local_dir, name))
            assert collections.Counter(frames(file_bytes(beam_dir, name))) == collections.Counter(local_frames), name


def both_converters(raw_format, path, tmp_path, min_count, **options):
    """(in-process output dir, Beam output dir, in-process schema) of one input."""
    side_input_max_tokens = options.pop("side_input_max_tokens", SIDE_INPUT_MAX_TOKENS)
    schema = convert(raw_format, path, str(tmp_path / "local"), min_count, **options)
    convert_with_beam(raw_format, path, str(tmp_path / "beam"), min_count, **options, pipeline=fn_api_pipeline(),
                      side_input_max_tokens=side_input_max_tokens)
    return str(tmp_path / "local"), str(tmp_path / "beam"), schema


@pytest.mark.parametrize("raw_format, sample, min_count, side_input_max_tokens, joined", [
    (criteo.TSV, "criteo/train-10k.txt", 10, SIDE_INPUT_MAX_TOKENS, "none"),
    (criteo.CSV, "criteo/kaggle-random-4584.csv", 2, 0, "all"),
    (AvazuFormat(hour_features=True), "avazu/train-10k.csv", 4, 0, "all"),
    (AvazuFormat(), "avazu/train-10k.csv", 1, 500, "some"),
], ids=["criteo-side-inputs", "criteo-csv-joined", "avazu-hour-features-joined", "avazu-side-inputs-and-joined"])
def test_the_beam_pipeline_writes_what_the_in_process_converter_writes(raw_format, sample, min_count,
                                                                      side_input_max_tokens, joined, small_ranges,
                                                                      tmp_path):
    local_dir, beam_dir, schema = both_converters(raw_format, sample_file(sample), tmp_path, min_count,
                                                  side_input_max_tokens=side_input_max_tokens)
    assert_same_output(local_dir, beam_dir, schema)
    sizes = [field["cardinality"] - 1 for field in schema["fields"] if field["kind"] == "categorical"]
    num_joined = sum(size > side_input_max_tokens for size in sizes)
    assert {"none": num_joined == 0, "all": num_joined == len(sizes), "some": 0 < num_joined < len(sizes)}[joined]


def criteo_lines_with_bad_rows():
    """2,000 real Criteo lines with bad lines of every reason spread over the file, and a truncated last line."""
    with open(sample_file("criteo/train-10k.txt"), "rb") as handle:
        good = handle.readlines()[:2000]
    columns = good[5].split(b"\t")
    bad = [b"label\t" + b"\t".join(name.encode() for name, _ in criteo.FIELDS) + b"\n",
           b"\t".join(columns[:20]) + b"\n",
           b"\t".join([columns[0], b"12x"] + columns[2:]),
           b"\t".join([b"2"] + columns[1:]),
           good[6].replace(b"\t", b"\t\xff\xfe", 1),
           b"\t".join([columns[0], b"99999999999999999999"] + columns[2:])]
    lines = list(good)
    for number, line in enumerate(bad * 3):
        lines.insert(number * 110, line)
    return lines + [good[7][:40]]


def test_bad_rows_are_reported_and_skipped_as_in_process(small_ranges, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"".join(criteo_lines_with_bad_rows()))
    local_dir, beam_dir, schema = both_converters(criteo.TSV, str(path), tmp_path, 2, max_bad_fraction=0.02,
                                                  train_shards=2)
    assert schema["bad_rows"]["total"] == 19 and len(schema["bad_rows"]["by_reason"]) == 5
    assert schema["bad_rows"]["first_lines"][-1]["line"] > SMALL_BLOCKS // 250  # past the first byte range
    assert_same_output(local_dir, beam_dir, schema)


def test_an_exceeded_error_budget_fails_as_in_process_and_writes_nothing(small_ranges, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"".join(criteo_lines_with_bad_rows()))
    with pytest.raises(ConversionError) as local:
        convert(criteo.TSV, str(path), str(tmp_path / "local"), 2, max_bad_fraction=0.005)
    with pytest.raises(ConversionError) as beam:
        convert_with_beam(criteo.TSV, str(path), str(tmp_path / "beam"), 2, max_bad_fraction=0.005,
                          pipeline=fn_api_pipeline())
    assert str(beam.value) == str(local.value)
    assert "19 of 2019 lines are malformed" in str(local.value)
    assert os.listdir(tmp_path) == ["bad.txt"]


def test_the_cli_runs_the_pipeline_locally_without_downloading_or_tensorflow(tmp_path):
    """`--runner=beam` with no Beam options: the FnApiRunner, with every download sent to a closed port."""
    sample = sample_file("avazu/sample-100.csv")
    closed = "http://127.0.0.1:9"
    env = dict(os.environ, HTTP_PROXY=closed, HTTPS_PROXY=closed, http_proxy=closed, https_proxy=closed,
               NO_PROXY="", no_proxy="")
    result = subprocess.run([sys.executable, "-c", TENSORFLOW_PROBE, "datasets.avazu", "--runner=beam",
                             f"--input={sample}", f"--output_dir={tmp_path / 'beam'}", "--min_count=1",
                             "--train_shards=1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wrote" in result.stdout and result.stderr.splitlines()[-1] == "tensorflow imported: False"
    schema = convert(AvazuFormat(), sample, str(tmp_path / "local"), 1, train_shards=1)
    assert_same_output(str(tmp_path / "local"), str(tmp_path / "beam"), schema)


def test_without_apache_beam_the_cli_says_what_to_install(tmp_path):
    hide_beam = "import runpy, sys\nsys.modules['apache_beam'] = None\nsys.argv[0] = '-m'\n" \
                "runpy.run_module('datasets.criteo', run_name='__main__')\n"
    result = subprocess.run([sys.executable, "-c", hide_beam, "--runner=beam",
                             f"--input={sample_file('criteo/train-10k.txt')}", f"--output_dir={tmp_path / 'out'}"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: --runner=beam needs the [beam] extra (pip install -e '.[beam]')")
    assert os.listdir(tmp_path) == []
