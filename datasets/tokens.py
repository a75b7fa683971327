"""Raw value -> vocabulary token: the one definition shared by conversion, serving and prediction.

As in the paper's code (docs/design.md, "Preprocessing (as in the authors' code)"): a numeric value v
becomes the token floor(ln(v)^2) when v > 2 and v - 2 otherwise; a missing value (numeric or
categorical) becomes MISSING_TOKEN; a categorical value is its raw string. A numeric raw value is valid
when it is '' (missing) or an optional minus followed by ASCII digits whose value fits int64 (the dtype
of the serving signatures): `numeric_value_error` is that rule, used by the converter (bad rows), the
raw-row reader (export.predict) and the request builders. The Python functions serve the converter; the
TensorFlow functions rebuild exactly the same mapping inside an exported graph, and a test holds them
equal on real rows.
"""

import math
import numbers

MISSING_TOKEN = "NULL"
OOV_ID = 0  # every field's id 0; vocabulary tokens take ids 1..len(vocabulary)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class RawValueError(ValueError):
    """A raw value no field kind accepts; `reason` is the bad-row category ('numeric' or 'int64_range')."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def is_integer_text(value: str) -> bool:
    """'' (missing) or an optional minus followed by ASCII digits; int() alone would accept ' 1' or '1_0'."""
    digits = value[1:] if value.startswith("-") else value
    return value == "" or (digits.isascii() and digits.isdigit())


def numeric_value_error(raw: "str | int | None") -> "RawValueError | None":
    """Why `raw` (text of a numeric field, or an integer) is not a valid numeric value; None when it is."""
    if raw is None or (isinstance(raw, str) and raw == ""):
        return None
    if isinstance(raw, str):
        if not is_integer_text(raw):
            return RawValueError("numeric", f"{raw[:20]!r} is not an integer")
    elif not isinstance(raw, numbers.Integral):
        return RawValueError("numeric", f"{raw!r} is not an integer")
    if not INT64_MIN <= int(raw) <= INT64_MAX:
        return RawValueError("int64_range", f"{str(raw)[:24]} is outside the int64 range")
    return None


def numeric_value(raw: "str | int | None") -> "int | None":
    """The integer of a numeric field's raw value (None when missing); raises RawValueError when invalid."""
    error = numeric_value_error(raw)
    if error is not None:
        raise error
    return None if raw is None or raw == "" else int(raw)


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


def numeric_tokens_tf(values, present):
    """numeric_token over an int64 tensor; `present` is False where the value is missing."""
    import tensorflow as tf  # imported here so that the converter does not load TensorFlow

    as_float = tf.cast(values, tf.float64)
    bucket = tf.where(values > 2,
                      tf.cast(tf.floor(tf.square(tf.math.log(tf.maximum(as_float, 1.0)))), tf.int64),
                      values - 2)
    return tf.where(present, tf.strings.as_string(bucket), MISSING_TOKEN)


def categorical_tokens_tf(values):
    import tensorflow as tf

    return tf.where(tf.equal(values, ""), MISSING_TOKEN, values)
