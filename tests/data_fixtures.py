"""Paths of the real data samples in ../shared/data (never copied into the repo).

Missing samples skip the test locally and fail it under CI=true (PROVENANCE.md).
"""

import os

import pytest

SHARED_DATA = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


def shared_data(relative):
    path = os.path.join(SHARED_DATA, relative)
    if not os.path.isfile(path):
        message = f"real data sample {path} is missing (expected ../shared/data beside the checkout)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


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
