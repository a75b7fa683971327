"""tf.data input pipeline over converted TFRecords (docs/design.md, "Data flow").

Interleave shards -> shuffle examples -> batch -> parse the whole batch with one parse_example ->
prefetch. Yields (ids int32 (batch, N), label float32 (batch, 1)).
"""

import os

import tensorflow as tf

from datasets.schema import load_schema

SHUFFLE_BUFFER = 65536


def parse_batch(serialized, num_fields):
    features = tf.io.parse_example(serialized, {
        "ids": tf.io.FixedLenFeature([num_fields], tf.int64),
        "label": tf.io.FixedLenFeature([1], tf.int64),
    })
    return tf.cast(features["ids"], tf.int32), tf.cast(features["label"], tf.float32)


def make_dataset(data_dir, split, batch_size, shuffle=False, seed=None, drop_remainder=False, files_shard=(0, 1)):
    """Batches of one split ("train", "val" or "test") of a converted data set.

    `files_shard=(index, count)` reads every count-th shard file from the index-th (one worker's files).
    Distributed over several workers by a strategy, every worker reads all these files and keeps its own
    batches (auto-sharding by data: a split may have fewer files than there are workers).
    """
    schema = load_schema(data_dir)
    index, count = files_shard
    files = [os.path.join(data_dir, name) for name in schema["shards"][split][index::count]]
    num_fields = len(schema["fields"])
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if shuffle:
        dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(lambda serialized: parse_batch(serialized, num_fields),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.deterministic = seed is not None or not shuffle
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
