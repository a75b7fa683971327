"""Raw value -> vocabulary token: the one definition shared by conversion and serving.

As in the paper's code (REFERENCE.md): a numeric value v becomes the token floor(ln(v)^2) when
v > 2 and v - 2 otherwise; a missing value (numeric or categorical) becomes MISSING_TOKEN;
a categorical value is its raw string. The Python functions serve the converter; the TensorFlow
functions rebuild exactly the same mapping inside an exported graph, and a test holds them equal
on real rows.
"""

import math

MISSING_TOKEN = "NULL"
OOV_ID = 0  # every field's id 0; vocabulary tokens take ids 1..len(vocabulary)


def numeric_token(raw):
    """Token of a numeric field's raw text ('' is missing). Raises ValueError on non-integers."""
    if raw == "":
        return MISSING_TOKEN
    value = int(raw)
    if value > 2:
        return str(int(math.floor(math.log(value) ** 2)))
    return str(value - 2)


def categorical_token(raw):
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
