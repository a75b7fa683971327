"""Raw features -> per-field ids inside a TensorFlow graph, rebuilt from a run's schema.

The same token definition as the converter (datasets/tokens.py) followed by a vocabulary lookup
from the schema's vocabulary files, which travel with the SavedModel as assets. Tokens outside the
vocabulary, and values of features absent from a request, map exactly as in training (missing ->
the "NULL" token, unknown -> OOV id 0). A numeric value outside the converter's range (tokens.NUMERIC_MIN
and above) is an InvalidArgumentError naming the feature, as the converter counts it a bad row; in
`predict_columns`, -2^63 (NUMERIC_MISSING) marks a missing value, while in a tf.Example a missing
feature is simply absent.
"""

import os

import tensorflow as tf

from datasets.schema import load_schema
from datasets.tokens import NUMERIC_MISSING, categorical_tokens_tf, numeric_tokens_tf


class RawFeaturePreprocessor(tf.Module):
    """Maps serialized tf.Examples or named raw feature tensors to ids (batch, N) int32."""

    def __init__(self, schema_dir: str):
        super().__init__(name="raw_feature_preprocessor")
        schema = load_schema(schema_dir)
        self.fields = [(field["name"], field["kind"]) for field in schema["fields"]]
        self.tables = []
        for field in schema["fields"]:
            vocabulary = tf.saved_model.Asset(os.path.join(schema_dir, field["vocabulary"]))
            initializer = tf.lookup.TextFileInitializer(
                vocabulary, key_dtype=tf.string, key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
                value_dtype=tf.int64, value_index=tf.lookup.TextFileIndex.LINE_NUMBER)
            self.tables.append(tf.lookup.StaticHashTable(initializer, default_value=-1))

    def feature_dtype(self, kind: str) -> tf.DType:
        return tf.int64 if kind == "numeric" else tf.string

    def example_spec(self) -> dict:
        return {name: tf.io.RaggedFeature(self.feature_dtype(kind)) for name, kind in self.fields}

    def column_spec(self) -> dict:
        """Named raw tensors for the columnar signature: one value per row, numeric missing = -2^63."""
        return {name: tf.TensorSpec([None], self.feature_dtype(kind), name=name) for name, kind in self.fields}

    def ids_from_examples(self, serialized: tf.Tensor) -> tf.Tensor:
        """tf.Examples -> ids; a feature with more than one value is an InvalidArgumentError naming it."""
        parsed = tf.io.parse_example(serialized, self.example_spec())
        columns, present = {}, {}
        for name, kind in self.fields:
            lengths = parsed[name].row_lengths()
            check = tf.debugging.assert_less_equal(
                lengths, tf.ones_like(lengths),
                message=f"feature {name} holds more than one value in an example; it takes at most one")
            with tf.control_dependencies([check]):
                default = NUMERIC_MISSING if kind == "numeric" else ""
                columns[name] = parsed[name].to_tensor(default_value=default, shape=[None, 1])[:, 0]
            present[name] = lengths > 0
        return self.ids(columns, present)

    def ids_from_columns(self, columns: dict) -> tf.Tensor:
        """Named raw tensors -> ids; a tensor that is not one value per row is an InvalidArgumentError naming it."""
        columns = {name: one_value_per_row(name, columns[name]) for name, _ in self.fields}
        present = {name: tf.not_equal(columns[name], NUMERIC_MISSING) for name, kind in self.fields
                   if kind == "numeric"}
        return self.ids(columns, present)

    def ids(self, columns: dict, present: dict) -> tf.Tensor:
        """[batch] raw tensors -> ids (batch, N); `present[name]`: where numeric field `name` has a value."""
        ids = []
        for (name, kind), table in zip(self.fields, self.tables):
            if kind == "numeric":
                tokens = numeric_tokens_tf(columns[name], present[name], name)
            else:
                tokens = categorical_tokens_tf(columns[name])
            ids.append(table.lookup(tokens) + 1)  # vocabulary line k has id k + 1; unknown -> -1 + 1 = OOV 0
        return tf.cast(tf.stack(ids, axis=1), tf.int32)


def one_value_per_row(name: str, values: tf.Tensor) -> tf.Tensor:
    """`values` as [batch]; InvalidArgumentError naming the feature when it holds more than one value per row.

    A loaded signature passes a tensor of the right dtype but another shape on unchecked (e.g. [batch, 2] for a
    [batch] input), so the check runs in the graph, on the runtime shape.
    """
    check = tf.debugging.assert_equal(
        tf.size(values), tf.shape(values)[0],
        message=f"feature {name} holds more than one value per row; it takes one ([batch])")
    with tf.control_dependencies([check]):
        return tf.reshape(values, [-1])
