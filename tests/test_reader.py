"""datasets.reader: every row of a split exactly once, seeded shuffling is reproducible."""

import collections

import numpy as np
import pytest
from tests.data_fixtures import read_records
from tests.sample_data import sample_file

from datasets import criteo
from datasets.conversion import convert
from datasets.reader import make_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("reader") / "criteo")
    convert(criteo.TSV, sample_file("criteo/train-10k.txt"), out, 10, train_shards=4)
    return out


def rows_of(dataset):
    rows = []
    for ids, labels in dataset:
        assert ids.dtype.name == "int32" and labels.dtype.name == "float32"
        rows.extend(zip(map(tuple, ids.numpy().tolist()), labels.numpy()[:, 0].astype(int).tolist()))
    return rows


@pytest.mark.parametrize("split", ["train", "val", "test"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_row_exactly_once(data_dir, split, shuffle):
    rows = rows_of(make_dataset(data_dir, split, 300, shuffle=shuffle, seed=3))
    assert collections.Counter(rows) == collections.Counter(read_records(data_dir, split))


def test_seeded_shuffle_is_reproducible_and_shuffles_examples(data_dir):
    first = rows_of(make_dataset(data_dir, "train", 256, shuffle=True, seed=7))
    again = rows_of(make_dataset(data_dir, "train", 256, shuffle=True, seed=7))
    plain = rows_of(make_dataset(data_dir, "train", 256))
    assert first == again and first != plain
    positions = {row: index for index, row in enumerate(plain)}
    first_batch = [positions[row] for row in first[:256]]
    assert np.ptp(first_batch) > 2000  # examples, not whole batches, are shuffled


def test_drop_remainder(data_dir):
    batches = list(make_dataset(data_dir, "val", 300, drop_remainder=True))
    assert [int(ids.shape[0]) for ids, _ in batches] == [300, 300, 300]
