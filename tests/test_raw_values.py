"""One rule for a valid numeric raw value (an integer in -2^63+2 .. 2^63-1, text of any length), in the converter,
the reader, the request builders and the serving graph."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from datasets import criteo
from datasets.conversion import convert
from datasets.raw_input import RawInputError
from datasets.schema import load_schema
from datasets.tokens import RawValueError, numeric_token, numeric_tokens_tf, numeric_value, numeric_value_error
from export.preprocessing import RawFeaturePreprocessor
from export.requests import columns_from_rows, example_from_raw
from tests.sample_data import sample_file

INT64_MAX = 9223372036854775807  # 2**63 - 1, written out
INT64_MIN = -9223372036854775808  # -2**63: predict_columns' missing-value marker
RANGE = "the numeric range -9223372036854775806..9223372036854775807"
HUGE = "9" * 5000  # int() refuses texts of more than 4,300 digits


@pytest.mark.parametrize("raw, reason", [
    ("9223372036854775807", None), ("-9223372036854775806", None), ("0000000000000000000000012", None), ("", None),
    ("9223372036854775808", "int64_range"), ("-9223372036854775809", "int64_range"),
    ("-9223372036854775808", "int64_range"), ("-9223372036854775807", "int64_range"),  # the marker; v - 2 wraps
    ("99999999999999999999", "int64_range"), (HUGE, "int64_range"), ("-" + HUGE, "int64_range"),
    ("0" * 5000 + "12", None), ("12.5", "numeric"), (" 1", "numeric"), ("1_0", "numeric"),
    (INT64_MAX, None), (INT64_MAX + 1, "int64_range"), (INT64_MIN, "int64_range"), (INT64_MIN + 1, "int64_range"),
    (INT64_MIN + 2, None), (np.int64(INT64_MIN), "int64_range"), (1.5, "numeric"),
    pytest.param(10**5000, "int64_range", id="10**5000"),  # pytest cannot print its id
])
def test_the_valid_numeric_value_rule(raw, reason):
    error = numeric_value_error(raw)
    assert (error.reason if error else None) == reason


def test_leading_zeros_are_the_same_value_at_any_length():
    assert numeric_token("0000000000000000000000012") == numeric_token("12") == "6"  # floor(ln(12)^2) = 6
    assert numeric_value("0" * 5000 + "12") == 12 and numeric_value("-" + "0" * 5000 + "7") == -7


def test_error_messages_stay_one_short_line_for_huge_values():
    assert str(numeric_value_error(HUGE)) == f"{'9' * 24}... (5000 characters) is outside {RANGE}"
    assert str(numeric_value_error(-(10**5000))) == f"an integer of 16610 bits is outside {RANGE}"


def criteo_lines(count):
    with open(sample_file("criteo/train-10k.txt")) as handle:
        return [next(handle).rstrip("\n").split("\t") for _ in range(count)]


def test_the_converter_counts_out_of_range_values_as_bad_rows_with_their_line(tmp_path):
    lines = criteo_lines(200)
    lines[2][1] = "99999999999999999999"        # line 3, I1
    lines[7][13] = "-9223372036854775809"       # line 8, I13
    lines[4][2] = "9223372036854775807"         # line 5, I2: the largest int64 is kept
    lines[5][3] = "0" * 5000 + "12"             # line 6, I3: 5,002 digits, value 12, kept
    lines[10][4] = HUGE                         # line 11, I4: 5,000 digits
    lines[11][5] = "-9223372036854775808"       # line 12, I5: -2^63
    lines[12][6] = "-9223372036854775807"       # line 13, I6: -2^63 + 1
    lines[13][7] = "-9223372036854775806"       # line 14, I7: -2^63 + 2, the lowest value kept
    path = tmp_path / "raw.txt"
    path.write_text("".join("\t".join(line) + "\n" for line in lines))
    schema = convert(criteo.TSV, str(path), str(tmp_path / "out"), 1, max_bad_fraction=0.05, train_shards=1)
    assert schema["bad_rows"]["by_reason"] == {"int64_range": 5}
    assert schema["bad_rows"]["first_lines"] == [
        {"line": 3, "reason": f"int64_range: I1=99999999999999999999 is outside {RANGE}"},
        {"line": 8, "reason": f"int64_range: I13=-9223372036854775809 is outside {RANGE}"},
        {"line": 11, "reason": f"int64_range: I4={'9' * 24}... (5000 characters) is outside {RANGE}"},
        {"line": 12, "reason": f"int64_range: I5=-9223372036854775808 is outside {RANGE}"},
        {"line": 13, "reason": f"int64_range: I6=-9223372036854775807 is outside {RANGE}"}]
    assert sum(schema["rows"].values()) == 195


@pytest.mark.parametrize("value, problem", [
    ("12.5", "I1='12.5' is not an integer"),
    (HUGE, f"I1={'9' * 24}... (5000 characters) is outside {RANGE}"),
    ("-9223372036854775807", f"I1=-9223372036854775807 is outside {RANGE}"),
])
def test_the_raw_row_reader_names_file_line_and_field(tmp_path, value, problem):
    lines = criteo_lines(4)
    lines[3][1] = value
    path = tmp_path / "raw.txt"
    path.write_text("".join("\t".join(line) + "\n" for line in lines))
    with pytest.raises(RawInputError) as raised:
        list(criteo.raw_rows(str(path)))
    assert str(raised.value) == f"{path} line 4: {problem}"


def test_request_builders_refuse_values_outside_the_range():
    assert example_from_raw({"I1": INT64_MAX}) and columns_from_rows([{"I1": INT64_MIN + 2}], criteo.FIELDS)
    with pytest.raises(RawValueError, match=rf"^I1=9223372036854775808 is outside {RANGE}$"):
        example_from_raw({"I1": INT64_MAX + 1})
    with pytest.raises(RawValueError, match=rf"^I2=-9223372036854775808 is outside {RANGE}$"):
        columns_from_rows([{"I2": INT64_MIN}], criteo.FIELDS)  # would silently read as missing
    with pytest.raises(RawValueError, match=rf"^I3=-9223372036854775807 is outside {RANGE}$"):
        example_from_raw({"I3": INT64_MIN + 1})


EXTREMES = [INT64_MIN + 2, INT64_MIN + 3, -3, 0, 2, 3, 2**53 + 1, INT64_MAX]


@tf.function
def graph_tokens(values):
    return numeric_tokens_tf(values, tf.ones_like(values, tf.bool), "I1")


def test_the_graph_tokenizes_the_extreme_valid_values_as_the_converter_does():
    expected = [numeric_token(str(value)) for value in EXTREMES]
    assert expected[0] == "-9223372036854775808" and expected[-1] == "1906"  # v - 2; floor(ln(2^63 - 1)^2)
    assert [token.decode() for token in graph_tokens(tf.constant(EXTREMES, tf.int64)).numpy()] == expected


@pytest.mark.parametrize("value", [INT64_MIN, INT64_MIN + 1])
def test_the_graph_refuses_what_the_converter_counts_as_a_bad_row(value):
    assert numeric_value_error(str(value)).reason == "int64_range"
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"feature I1 holds a value outside {RANGE}"):
        graph_tokens(tf.constant([5, value], tf.int64))


@pytest.fixture(scope="module")
def preprocessor(tmp_path_factory):
    """The serving graph's preprocessing for 200 real Criteo rows converted with min-count 1."""
    lines = criteo_lines(200)
    path = tmp_path_factory.mktemp("raw") / "raw.txt"
    path.write_text("".join("\t".join(line) + "\n" for line in lines))
    output = tmp_path_factory.mktemp("converted")
    convert(criteo.TSV, str(path), str(output), 1, train_shards=1)
    return RawFeaturePreprocessor(str(output)), null_ids(str(output))


def null_ids(data_dir):
    """Each numeric field's id of the missing token "NULL", read from its vocabulary file (0 when absent)."""
    ids = []
    for field in load_schema(data_dir)["fields"][:13]:
        tokens = (Path(data_dir) / field["vocabulary"]).read_text(encoding="utf-8").splitlines()
        ids.append(tokens.index("NULL") + 1 if "NULL" in tokens else 0)
    return ids


def test_int64_min_is_missing_in_columns_and_refused_as_a_present_value_in_a_tf_example(preprocessor):
    preprocessor, expected = preprocessor
    missing = tf.function(preprocessor.ids_from_examples)(tf.constant([example_from_raw({})]))
    columns = {name: tf.constant(values) for name, values in columns_from_rows([{}], criteo.FIELDS).items()}
    assert columns["I1"].numpy()[0] == INT64_MIN
    np.testing.assert_array_equal(tf.function(preprocessor.ids_from_columns)(columns), missing)
    assert missing.numpy()[0, :13].tolist() == expected and any(expected)
    present_marker = tf.train.Example(features=tf.train.Features(feature={
        "I1": tf.train.Feature(int64_list=tf.train.Int64List(value=[INT64_MIN]))})).SerializeToString()
    with pytest.raises(tf.errors.InvalidArgumentError, match="feature I1 holds a value outside"):
        tf.function(preprocessor.ids_from_examples)(tf.constant([present_marker]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="feature I1 holds a value outside"):
        tf.function(preprocessor.ids_from_columns)(dict(columns, I1=tf.constant([INT64_MIN + 1])))
