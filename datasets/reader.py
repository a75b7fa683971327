"""tf.data input pipeline over converted TFRecords (DESIGN.md data flow).

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


def make_dataset(data_dir, split, batch_size, shuffle=False, seed=None, drop_remainder=False, shard_by_file=True):
    """Batches of one split ("train", "val" or "test") of a converted data set.

    Under a multi-worker strategy each worker reads its own shard files (`shard_by_file`), or, for a
    split with fewer files than workers, every worker reads all files and keeps its own batches.
    """
    schema = load_schema(data_dir)
    files = [os.path.join(data_dir, name) for name in schema["shards"][split]]
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
    policy = tf.data.experimental.AutoShardPolicy
    options.experimental_distribute.auto_shard_policy = policy.FILE if shard_by_file else policy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
