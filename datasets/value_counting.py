"""Counting raw values per field, the vocabularies, and the raw-value -> id lookups of the converter.

Pass 1 of datasets.conversion dictionary-encodes each block's columns and accumulates the counts
(`ValueCounter`, `merged_counts`); between the passes the counts become tokens (datasets.tokens), a
vocabulary per field (min-count -> OOV id 0) and a lookup from raw value to id for pass 2.
Data flow: docs/design.md.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datasets.tokens import MISSING_TOKEN, OOV_ID


def build_vocabulary(token_counts, min_count):
    """Tokens of a (value, count) table seen at least `min_count` times, most frequent first (ties by token)."""
    kept = token_counts.filter(pc.greater_equal(token_counts["count"], min_count))
    return kept.sort_by([("count", "descending"), ("value", "ascending")])["value"].to_pylist()


class ValueCounter:
    """Counts of the values of one string column, accumulated in Arrow (per-block counts, then group_by)."""

    def __init__(self):
        self.parts = []
        self.pending = 0
        self.distinct = 0

    def add(self, values, counts):
        """Adds one block's distinct `values` (Arrow strings) and their `counts`."""
        self.parts.append(pa.table({"value": values, "count": counts}))
        self.pending += len(values)
        if self.pending > max(1 << 16, self.distinct):
            self.compact()

    def compact(self):
        if len(self.parts) > 1:
            self.parts = [merged_counts(self.parts)]
        self.distinct = self.pending = len(self.parts[0]) if self.parts else 0

    def table(self):
        """The counts so far as one Arrow table (value, count), each value once."""
        self.compact()
        return self.parts[0] if self.parts else pa.table({"value": pa.array([], pa.string()),
                                                           "count": pa.array([], pa.int64())})


def merged_counts(tables):
    """One (value, count) table from several, counts of equal values summed."""
    merged = pa.concat_tables(tables).group_by("value").aggregate([("count", "sum")])
    return merged.rename_columns(["value", "count"])


def dictionary_encoded(column):
    """(distinct values, their counts, each row's index into them): one hash pass serves count and lookup."""
    encoded = pc.dictionary_encode(column)
    indices = encoded.indices.to_numpy()
    counts = np.bincount(indices, minlength=len(encoded.dictionary))
    return encoded.dictionary, counts, indices.astype(np.min_scalar_type(max(len(encoded.dictionary) - 1, 0)))


def token_counts(kind, raw_counts):
    """(raw value, count) table -> (token, count) table (tokens.numeric_token / categorical_token)."""
    from datasets.tokens import numeric_token

    if kind == "numeric":
        tokens = pa.array([numeric_token(raw) for raw in raw_counts["value"].to_pylist()], pa.string())
    else:
        tokens = pc.if_else(pc.equal(raw_counts["value"], ""), MISSING_TOKEN, raw_counts["value"])
    return merged_counts([pa.table({"value": tokens, "count": raw_counts["count"]})])


def raw_lookup(kind, raw_counts, vocabulary):
    """(Arrow array of raw values, their ids + a trailing OOV_ID): what index_in + take need in pass 2.

    Token i of the vocabulary has id i + 1 (OOV_ID is 0).
    """
    from datasets.tokens import numeric_token

    if kind == "numeric":
        ids = {token: index + 1 for index, token in enumerate(vocabulary)}
        keys = raw_counts["value"]
        values = [ids.get(numeric_token(raw), OOV_ID) for raw in keys.to_pylist()]
    else:
        keys, values = pa.array(vocabulary, pa.string()), list(range(1, len(vocabulary) + 1))
        if MISSING_TOKEN in vocabulary:
            keys = pa.concat_arrays([keys, pa.array([""], pa.string())])
            values.append(vocabulary.index(MISSING_TOKEN) + 1)
    return keys, np.asarray(values + [OOV_ID], dtype=np.int64)


def vocabularies_and_lookups(raw_format, counters, min_count):
    """Per field: the vocabulary (ids 1..n) and the raw-value lookup of pass 2."""
    vocabularies, lookups = [], []
    for (_, kind), raw_counts in zip(raw_format.fields, counters):
        vocabulary = build_vocabulary(token_counts(kind, raw_counts), min_count)
        vocabularies.append(vocabulary)
        lookups.append(raw_lookup(kind, raw_counts, vocabulary))
    return vocabularies, lookups
