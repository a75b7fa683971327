"""TFDS builders build offline from a manual dir holding real rows, with the converter's ids and split."""

import collections
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tests.data_fixtures import read_records
from tests.sample_data import sample_file

from datasets import criteo
from datasets.conversion import convert
from datasets.schema import load_schema
from datasets.tfds_builders import AvazuClicks, CriteoClicks


def build(builder_class, manual_dir, data_dir):
    builder = builder_class(data_dir=str(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return builder


def rows(builder, split):
    return [(tuple(example["ids"].tolist()), int(example["label"]))
            for example in tfds.as_numpy(builder.as_dataset(split=split))]


def test_criteo_builder_matches_the_converter(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    shutil.copy(sample_file("criteo/train-10k.txt"), manual / "train.txt")
    builder = build(CriteoClicks, manual, tmp_path / "tfds")
    convert(criteo.TSV, str(manual / "train.txt"), str(tmp_path / "converted"), 10)
    schema = load_schema(str(tmp_path / "converted"))
    assert builder.info.metadata["cardinalities"] == [f["cardinality"] for f in schema["fields"]]
    for split in ("train", "val", "test"):
        assert collections.Counter(rows(builder, split)) == collections.Counter(
            read_records(str(tmp_path / "converted"), split))


def test_avazu_builder_and_missing_file(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    with pytest.raises(Exception, match="train.csv"):
        build(AvazuClicks, manual, tmp_path / "tfds")
    shutil.copy(sample_file("avazu/train-10k.csv"), manual / "train.csv")
    builder = build(AvazuClicks, manual, tmp_path / "tfds2")
    assert sum(builder.info.splits[s].num_examples for s in ("train", "val", "test")) == 9999
    assert len(builder.info.metadata["cardinalities"]) == 22
    assert np.all(np.array(rows(builder, "val")[0][0]) >= 0)


def test_criteo_builder_enforces_the_error_budget(tmp_path):
    lines = open(sample_file("criteo/train-10k.txt"), encoding="utf-8").read().splitlines(keepends=True)
    broken = set(range(5, len(lines), 50))  # 2% of the lines lose their last column
    manual = tmp_path / "manual"
    manual.mkdir()
    with open(manual / "train.txt", "w", encoding="utf-8") as handle:
        handle.writelines(line.rsplit("\t", 1)[0] + "\n" if index in broken else line
                          for index, line in enumerate(lines))
    with pytest.raises(Exception, match=f"{len(broken)} of {len(lines)} lines are malformed"):
        build(CriteoClicks, manual, tmp_path / "strict")
    builder = CriteoClicks(data_dir=str(tmp_path / "lenient"), max_bad_fraction=0.05)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    assert sum(builder.info.splits[s].num_examples for s in ("train", "val", "test")) == len(lines) - len(broken)
