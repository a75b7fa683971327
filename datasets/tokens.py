"""Raw value -> vocabulary token: the one definition shared by conversion, serving and prediction.

As in the paper's code (docs/design.md, "Preprocessing (as in the authors' code)"): a numeric value v
becomes the token floor(ln(v)^2) when v > 2 and v - 2 otherwise; a missing value (numeric or
categorical) becomes MISSING_TOKEN; a categorical value is its raw string. A numeric raw value is valid
when it is '' (missing) or an optional minus followed by ASCII digits, of any length, whose value v lies
in [NUMERIC_MIN, NUMERIC_MAX] = [-2^63 + 2, 2^63 - 1]: int64 (the dtype of the serving signatures) less
-2^63, the serving graph's missing-value marker, and -2^63 + 1, whose token v - 2 would not fit int64.
`numeric_value_error` is that rule, used by the converter (bad rows, reason `int64_range`), the raw-row
reader (export.predict) and the request builders, and `numeric_tokens_tf` enforces it inside the serving
graph. The Python functions serve the converter; the TensorFlow functions rebuild exactly the same
mapping inside an exported graph, and tests hold them equal on real rows and at the extreme values.
"""

import math
import numbers

MISSING_TOKEN = "NULL"
OOV_ID = 0  # every field's id 0; vocabulary tokens take ids 1..len(vocabulary)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NUMERIC_MISSING = INT64_MIN  # the serving graph's (and predict_columns') marker for an absent numeric value
NUMERIC_MIN, NUMERIC_MAX = INT64_MIN + 2, INT64_MAX  # valid values: not the marker, and v - 2 fits int64
NUMERIC_RANGE = f"the numeric range {NUMERIC_MIN}..{NUMERIC_MAX}"


class RawValueError(ValueError):
    """A raw value no field kind accepts; `reason` is the bad-row category ('numeric' or 'int64_range')."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def is_integer_text(value: str) -> bool:
    """'' (missing) or an optional minus followed by ASCII digits; int() alone would accept ' 1' or '1_0'."""
    digits = value[1:] if value.startswith("-") else value
    return value == "" or (digits.isascii() and digits.isdigit())


def shortest_integer_text(text: str) -> str:
    """Integer text without leading zeros ('-007' -> '-7'): int() refuses texts of more than 4,300 digits."""
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    return sign + (digits.lstrip("0") or "0")


def in_numeric_range(raw: "str | numbers.Integral") -> bool:
    """NUMERIC_MIN <= raw <= NUMERIC_MAX, for an integer or non-empty integer text of any length."""
    if isinstance(raw, str):
        raw = shortest_integer_text(raw)
        if len(raw.lstrip("-")) > len(str(NUMERIC_MAX)):  # 20 digits or more: out of range, no int() needed
            return False
    return NUMERIC_MIN <= int(raw) <= NUMERIC_MAX


def shown(raw: "str | numbers.Integral") -> str:
    """`raw` for an error message, at most about 24 characters (a huge integer is never turned into text)."""
    if isinstance(raw, str):
        return raw if len(raw) <= 24 else f"{raw[:24]}... ({len(raw)} characters)"
    return str(raw) if abs(raw) < 10**24 else f"an integer of {int(raw).bit_length()} bits"


def numeric_value_error(raw: "str | int | None") -> "RawValueError | None":
    """Why `raw` (text of a numeric field, or an integer) is not a valid numeric value; None when it is."""
    if raw is None or (isinstance(raw, str) and raw == ""):
        return None
    if isinstance(raw, str):
        if not is_integer_text(raw):
            return RawValueError("numeric", f"{raw[:20]!r} is not an integer")
    elif not isinstance(raw, numbers.Integral):
        return RawValueError("numeric", f"{raw!r} is not an integer")
    if not in_numeric_range(raw):
        return RawValueError("int64_range", f"{shown(raw)} is outside {NUMERIC_RANGE}")
    return None


def numeric_value(raw: "str | int | None") -> "int | None":
    """The integer of a numeric field's raw value (None when missing); raises RawValueError when invalid."""
    error = numeric_value_error(raw)
    if error is not None:
        raise error
    if raw is None or raw == "":
        return None
    return int(shortest_integer_text(raw) if isinstance(raw, str) else raw)


def numeric_token(raw: str) -> str:
    """Token of a numeric field's raw text ('' is missing). Raises RawValueError on invalid values."""
    value = numeric_value(raw)
    if value is None:
        return MISSING_TOKEN
    if value > 2:
        return str(int(math.floor(math.log(value) ** 2)))
    return str(value - 2)


def categorical_token(raw: str) -> str:
    return raw if raw != "" else MISSING_TOKEN


def numeric_tokens_tf(values, present, name: str):
    """numeric_token over an int64 tensor; `present` is False where the value is missing.

    A present value below NUMERIC_MIN (the marker -2^63, or -2^63 + 1) is an InvalidArgumentError naming
    feature `name`, as the converter counts it a bad row: without the check, v - 2 would wrap around.
    """
    import tensorflow as tf  # imported here so that the converter does not load TensorFlow

    check = tf.debugging.assert_greater_equal(
        tf.where(present, values, NUMERIC_MIN), tf.constant(NUMERIC_MIN, tf.int64),
        message=f"feature {name} holds a value outside {NUMERIC_RANGE}")
    with tf.control_dependencies([check]):
        as_float = tf.cast(values, tf.float64)
        bucket = tf.where(values > 2,
                          tf.cast(tf.floor(tf.square(tf.math.log(tf.maximum(as_float, 1.0)))), tf.int64),
                          values - 2)
        return tf.where(present, tf.strings.as_string(bucket), MISSING_TOKEN)


def categorical_tokens_tf(values):
    import tensorflow as tf

    return tf.where(tf.equal(values, ""), MISSING_TOKEN, values)
