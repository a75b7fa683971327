"""The numpy reader yields exactly the tf.data reader's rows, reshuffles per epoch, shards by process, checks frames."""

import collections
import itertools
import re
import shutil

import numpy as np
import pytest

from datasets.numpy_reader import CorruptShardError, NumpyReader
from datasets.schema import SPLITS, load_schema


def row_multiset(ids, labels):
    return collections.Counter(tuple(row) + (float(label),) for row, label in zip(ids.tolist(), labels[:, 0]))


def read_all(reader, epoch=0):
    batches = list(reader.epoch(epoch))
    return np.concatenate([ids for ids, _ in batches]), np.concatenate([labels for _, labels in batches])


@pytest.mark.parametrize("split", SPLITS)
def test_each_split_holds_the_rows_the_tf_data_reader_yields(criteo_10k_dir, criteo_10k_ids, split):
    ids, labels = read_all(NumpyReader(criteo_10k_dir, split, batch_size=1000, shuffle=True, seed=3))
    assert ids.dtype == np.int32 and labels.dtype == np.float32 and labels.shape == (len(ids), 1)
    assert row_multiset(ids, labels) == row_multiset(*criteo_10k_ids[split])


def test_unshuffled_order_is_the_file_order_of_the_tf_data_reader(criteo_10k_dir, criteo_10k_ids):
    ids, labels = read_all(NumpyReader(criteo_10k_dir, "val", batch_size=128))
    np.testing.assert_array_equal(ids, criteo_10k_ids["val"][0])
    np.testing.assert_array_equal(labels, criteo_10k_ids["val"][1])


def test_epochs_reshuffle_reproducibly_and_a_resumed_epoch_skips_its_done_batches(criteo_10k_dir):
    reader = NumpyReader(criteo_10k_dir, "train", batch_size=512, shuffle=True, seed=7)
    first, second = read_all(reader, 0)[0], read_all(reader, 1)[0]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, read_all(NumpyReader(criteo_10k_dir, "train", 512, True, seed=7), 0)[0])
    resumed = np.concatenate([ids for ids, _ in reader.epoch(1, skip_batches=3)])
    np.testing.assert_array_equal(resumed, second[3 * 512:])
    assert len(reader) == 16 and sum(len(ids) for ids, _ in reader.epoch(0)) == 8000


def test_processes_read_disjoint_shares_that_cover_the_split(criteo_10k_dir, criteo_10k_ids):
    shares = [read_all(NumpyReader(criteo_10k_dir, "train", 300, True, seed=1, process_index=i, process_count=3))
              for i in range(3)]
    # 9 global batches of 900 rows; the last holds 800: blocks of 300, 300 and 200
    assert [len(ids) for ids, _ in shares] == [2700, 2700, 2600]
    merged = sum((row_multiset(*share) for share in shares), collections.Counter())
    assert merged == row_multiset(*criteo_10k_ids["train"])


def test_the_processes_blocks_concatenate_to_the_one_process_batches(criteo_10k_dir):
    """Row for row, so that every device of a multi-process run sees the rows it sees in one process."""
    single = NumpyReader(criteo_10k_dir, "train", 900, True, seed=4)
    blocks = [NumpyReader(criteo_10k_dir, "train", 300, True, seed=4, process_index=i, process_count=3)
              for i in range(3)]
    for epoch in (0, 1):
        for whole, *parts in zip(single.epoch(epoch), *(reader.epoch(epoch) for reader in blocks)):
            np.testing.assert_array_equal(np.concatenate([ids for ids, _ in parts]), whole[0])
    streams = [reader.full_batches(skip_batches=7) for reader in blocks]
    for whole in itertools.islice(single.full_batches(skip_batches=7), 4):  # across the epoch boundary
        np.testing.assert_array_equal(np.concatenate([next(stream)[0] for stream in streams]), whole[0])


def test_every_process_gets_the_same_batch_count_filled_with_zero_weight_rows(criteo_10k_dir, criteo_10k_ids):
    # 8,000 rows in global batches of 3 x 1,333: the last holds 2 rows, both process 0's
    readers = [NumpyReader(criteo_10k_dir, "train", 1333, process_index=i, process_count=3) for i in range(3)]
    assert [len(reader) for reader in readers] == [3, 3, 3]
    assert [[len(ids) for ids, _ in reader.epoch(0)] for reader in readers] == [[1333, 1333, 2]] + [[1333, 1333, 0]] * 2
    first_row = (criteo_10k_ids["train"][0][0], criteo_10k_ids["train"][1][0])
    all_weights = []
    for reader in readers:
        order = reader.epoch_order(0)
        real_ids, real_labels = read_all(reader)
        batches = [reader.padded_batch(order, batch) for batch in range(3)]
        assert all(len(ids) == len(labels) == len(weights) == 1333 for ids, labels, weights in batches)
        weights = np.concatenate([weights for _, _, weights in batches])
        np.testing.assert_array_equal(weights, np.arange(3 * 1333) < len(real_ids))  # the filler comes last
        ids, labels = (np.concatenate([batch[part] for batch in batches]) for part in (0, 1))
        np.testing.assert_array_equal(ids[weights == 1], real_ids)
        np.testing.assert_array_equal(labels[weights == 1], real_labels)
        assert (ids[weights == 0] == first_row[0]).all() and (labels[weights == 0] == first_row[1]).all()
        all_weights.append(weights.reshape(3, 1333))
    # the last global batch, in process order: its 2 real rows, then all the filler
    np.testing.assert_array_equal(np.concatenate([weights[2] for weights in all_weights]), np.arange(3 * 1333) < 2)


def corrupted_copy(source, tmp_path, damage):
    target = tmp_path / "data"
    shutil.copytree(source, target)
    shard = target / load_schema(str(target))["shards"]["test"][0]
    data = bytearray(shard.read_bytes())
    damage(data)
    shard.write_bytes(bytes(data))
    return str(target)


def flip(offset):
    return lambda data: data.__setitem__(offset, data[offset] ^ 1)


def test_a_flipped_id_byte_is_refused_with_the_shards_path(criteo_10k_dir, tmp_path):
    layout = load_schema(criteo_10k_dir)["record_layout"]
    data_dir = corrupted_copy(criteo_10k_dir, tmp_path, flip(5 * layout["frame_bytes"] + layout["ids_offset"] + 7))
    shard = tmp_path / "data" / load_schema(criteo_10k_dir)["shards"]["test"][0]
    with pytest.raises(CorruptShardError, match=f"^{re.escape(str(shard))}: record 5 fails its CRC-32C check$"):
        NumpyReader(data_dir, "test", 64)
    NumpyReader(data_dir, "val", 64)  # the other splits' shards are intact


def test_a_flipped_length_header_or_header_checksum_byte_is_refused(criteo_10k_dir, tmp_path):
    frame = load_schema(criteo_10k_dir)["record_layout"]["frame_bytes"]
    for record, offset in ((0, 1), (7, 9)):  # a length byte, a byte of the length's checksum
        data_dir = corrupted_copy(criteo_10k_dir, tmp_path / f"{record}", flip(record * frame + offset))
        with pytest.raises(CorruptShardError, match=f"record {record} fails its length header or its CRC-32C check"):
            NumpyReader(data_dir, "test", 64)


def test_a_truncated_shard_is_refused(criteo_10k_dir, tmp_path):
    data_dir = corrupted_copy(criteo_10k_dir, tmp_path, lambda data: data.__delitem__(slice(-3, None)))
    with pytest.raises(CorruptShardError, match="is not a whole number of 93-byte records"):
        NumpyReader(data_dir, "test", 64)


def test_the_training_stream_has_full_batches_covers_each_epoch_and_resumes_exactly(criteo_10k_dir):
    reader = NumpyReader(criteo_10k_dir, "train", batch_size=3000, shuffle=True, seed=2)
    stream = reader.full_batches()
    batches = [next(stream) for _ in range(8)]  # 24,000 rows: three epochs of 8,000
    assert all(len(ids) == 3000 for ids, _ in batches)
    streamed = row_multiset(np.concatenate([ids for ids, _ in batches]), np.concatenate([y for _, y in batches]))
    one_epoch = row_multiset(*read_all(reader))
    assert streamed == {row: 3 * count for row, count in one_epoch.items()}  # every row once per epoch
    assert not np.array_equal(batches[0][0], next(NumpyReader(criteo_10k_dir, "train", 3000, True, 3).full_batches())[0])
    resumed = reader.full_batches(skip_batches=5)
    for ids, _ in batches[5:]:
        np.testing.assert_array_equal(next(resumed)[0], ids)


def test_labels_alone_are_the_decoded_labels_of_every_process_in_the_same_order(criteo_10k_dir):
    expected = read_all(NumpyReader(criteo_10k_dir, "test", batch_size=300))[1]
    for reader in (NumpyReader(criteo_10k_dir, "test", batch_size=300),
                   NumpyReader(criteo_10k_dir, "test", batch_size=100, process_index=1, process_count=3)):
        assert reader.labels().shape == expected.shape and reader.labels().dtype == np.float32
        np.testing.assert_array_equal(reader.labels(), expected)
