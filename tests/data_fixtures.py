"""Helpers for the data tests: the real samples (tests.sample_data) and reading converted output."""

import os


def read_records(data_dir, split=None):
    """All (ids tuple, label) of a converted directory, split by split in shard order."""
    import tensorflow as tf

    from datasets.schema import SPLITS, load_schema

    schema = load_schema(data_dir)
    rows = []
    for name in SPLITS if split is None else (split,):
        for shard in schema["shards"][name]:
            for record in tf.data.TFRecordDataset(os.path.join(data_dir, shard)).as_numpy_iterator():
                feature = tf.train.Example.FromString(record).features.feature
                rows.append((tuple(feature["ids"].int64_list.value), feature["label"].int64_list.value[0]))
    return rows


def shard_bytes(data_dir):
    from datasets.schema import load_schema

    schema = load_schema(data_dir)
    return {name: open(os.path.join(data_dir, name), "rb").read()
            for names in schema["shards"].values() for name in names}
