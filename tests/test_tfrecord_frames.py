"""The converter's numpy TFRecord framing against TensorFlow's own writer and reader."""

import numpy as np
import pytest
import tensorflow as tf

from datasets.tfrecord_frames import crc32c_rows, framed


def test_crc32c_of_the_standard_check_string():
    # CRC-32C("123456789") = 0xE3069283, the check value in the CRC catalogue (RFC 3720 uses the same code).
    assert crc32c_rows(np.frombuffer(b"123456789", np.uint8)[None, :])[0] == 0xE3069283


@pytest.mark.parametrize("length", [1, 7, 88, 300])
def test_frames_are_byte_identical_to_tf_record_writer(tmp_path, length):
    records = np.random.default_rng(length).integers(0, 256, (50, length), dtype=np.uint8)
    path = str(tmp_path / "reference.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record.tobytes())
    with open(path, "rb") as handle:
        assert framed(records).tobytes() == handle.read()


def test_tf_data_reads_the_frames_back(tmp_path):
    records = np.random.default_rng(1).integers(0, 256, (20, 33), dtype=np.uint8)
    path = tmp_path / "frames.tfrecord"
    path.write_bytes(framed(records).tobytes())
    read = [item.numpy() for item in tf.data.TFRecordDataset(str(path), compression_type="")]
    assert read == [record.tobytes() for record in records]
