"""Raw feature dicts -> serialized tf.Example requests, the form `serving_default` takes."""

import tensorflow as tf


def example_from_raw(features):
    """{"I1": 3, "C1": "68fd1e64", ...} -> serialized tf.Example; None or '' features are left out."""
    feature_map = {}
    for name, value in features.items():
        if value is None or value == "":
            continue
        if isinstance(value, str):
            feature_map[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))
        else:
            feature_map[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
    return tf.train.Example(features=tf.train.Features(feature=feature_map)).SerializeToString()
