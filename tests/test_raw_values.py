"""One rule for a valid numeric raw value (an integer that fits int64), in the converter, the reader and requests."""

import pytest

from datasets import criteo
from datasets.conversion import convert
from datasets.raw_input import RawInputError
from datasets.tokens import RawValueError, numeric_token, numeric_value_error
from export.requests import columns_from_rows, example_from_raw
from tests.sample_data import sample_file

INT64_MAX = 9223372036854775807  # 2**63 - 1, written out


@pytest.mark.parametrize("raw, reason", [
    ("9223372036854775807", None), ("-9223372036854775808", None), ("0000000000000000000000012", None), ("", None),
    ("9223372036854775808", "int64_range"), ("-9223372036854775809", "int64_range"),
    ("99999999999999999999", "int64_range"), ("12.5", "numeric"), (" 1", "numeric"), ("1_0", "numeric"),
    (INT64_MAX, None), (INT64_MAX + 1, "int64_range"), (1.5, "numeric"),
])
def test_the_valid_numeric_value_rule(raw, reason):
    error = numeric_value_error(raw)
    assert (error.reason if error else None) == reason


def test_leading_zeros_are_the_same_value():
    assert numeric_token("0000000000000000000000012") == numeric_token("12") == "6"  # floor(ln(12)^2) = 6


def criteo_lines(count):
    with open(sample_file("criteo/train-10k.txt")) as handle:
        return [next(handle).rstrip("\n").split("\t") for _ in range(count)]


def test_the_converter_counts_out_of_range_values_as_bad_rows_with_their_line(tmp_path):
    lines = criteo_lines(200)
    lines[2][1] = "99999999999999999999"        # line 3, I1
    lines[7][13] = "-9223372036854775809"       # line 8, I13
    lines[4][2] = "9223372036854775807"         # line 5, I2: the largest int64 is kept
    lines[5][3] = "0000000000000000000000012"   # line 6, I3: 25 digits, value 12, kept
    path = tmp_path / "raw.txt"
    path.write_text("".join("\t".join(line) + "\n" for line in lines))
    schema = convert(criteo.TSV, str(path), str(tmp_path / "out"), 1, max_bad_fraction=0.05, train_shards=1)
    assert schema["bad_rows"]["by_reason"] == {"int64_range": 2}
    assert schema["bad_rows"]["first_lines"] == [
        {"line": 3, "reason": "int64_range: I1=99999999999999999999 is outside the int64 range"},
        {"line": 8, "reason": "int64_range: I13=-9223372036854775809 is outside the int64 range"}]
    assert sum(schema["rows"].values()) == 198


def test_the_raw_row_reader_names_file_line_and_field(tmp_path):
    lines = criteo_lines(4)
    lines[3][1] = "12.5"
    path = tmp_path / "raw.txt"
    path.write_text("".join("\t".join(line) + "\n" for line in lines))
    with pytest.raises(RawInputError, match=rf"^{path} line 4: I1='12.5' is not an integer$"):
        list(criteo.raw_rows(str(path)))


def test_request_builders_refuse_values_outside_int64():
    assert example_from_raw({"I1": INT64_MAX}) and columns_from_rows([{"I1": INT64_MAX}], criteo.FIELDS)
    with pytest.raises(RawValueError, match=r"^I1=9223372036854775808 is outside the int64 range$"):
        example_from_raw({"I1": INT64_MAX + 1})
    with pytest.raises(RawValueError, match=r"^I2=-9223372036854775809 is outside the int64 range$"):
        columns_from_rows([{"I2": -INT64_MAX - 2}], criteo.FIELDS)
