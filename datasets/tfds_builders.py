"""TensorFlow Datasets builders for Criteo and Avazu from the user's own Kaggle file (manual download).

    tfds build datasets/tfds_builders.py --manual_dir=~/Downloads   # or builder.download_and_prepare(...)

Same preprocessing and split as the direct converter (datasets.conversion): tokens, min-count -> OOV,
seeded 8:1:1 permutation of the good rows, and the same error budget: more bad lines than
`max_bad_fraction` (a builder argument, default 0.001, e.g. `tfds.load(..., builder_kwargs=
{"max_bad_fraction": 0.01})`) stops the build with the bad lines listed; fewer are skipped. Features: `ids` (int64, one per field) and `label`; the field names and
cardinalities D_i are in `info.metadata`. For data that does not fit one machine, see the Beam note in
docs/data.md: this builder is the GeneratorBasedBuilder form of the same two passes. It needs TensorFlow
and tensorflow-datasets (`pip install -e '.[tensorflow]'`); the JAX install trains on the converter's output.
"""

import os

import numpy as np

try:
    import tensorflow_datasets as tfds
except ImportError as error:
    raise ImportError("the TFDS builders need TensorFlow and tensorflow-datasets, which this install lacks "
                      "(pip install -e '.[tensorflow]'); without them, convert with `python -m datasets.criteo` "
                      "or `datasets.avazu` and train on that directory") from error

from datasets import avazu, criteo
from datasets.conversion import SPLIT_FRACTIONS, ConversionError, check_error_budget, count_pass, split_assignment
from datasets.example_encoding import block_ids
from datasets.raw_parsing import numbered_blocks
from datasets.schema import SPLITS
from datasets.value_counting import vocabularies_and_lookups


class ClickLogBuilder(tfds.core.GeneratorBasedBuilder):
    """Shared by the Criteo and Avazu builders; subclasses name the files, format and min-count."""

    VERSION = tfds.core.Version("1.0.0")
    FILE_NAMES = ()
    MIN_COUNT = 10
    SEED = 0

    def __init__(self, *, max_bad_fraction=0.001, **kwargs):
        self.max_bad_fraction = max_bad_fraction
        super().__init__(**kwargs)

    def raw_format(self, path):
        raise NotImplementedError

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "ids": tfds.features.Tensor(shape=(self.NUM_FIELDS,), dtype=np.int64),
                "label": tfds.features.Scalar(dtype=np.int64),
            }),
            supervised_keys=("ids", "label"),
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        paths = [os.path.join(dl_manager.manual_dir, name) for name in self.FILE_NAMES]
        found = [path for path in paths if os.path.isfile(path)]
        if not found:
            raise ConversionError(f"none of {self.FILE_NAMES} in {dl_manager.manual_dir}. "
                                  + self.MANUAL_DOWNLOAD_INSTRUCTIONS)
        path = found[0]
        raw_format = self.raw_format(path)
        counters, bad_rows, _, lines, good = count_pass(raw_format, path, os.cpu_count() or 1)
        check_error_budget(raw_format, path, sum(good), sum(lines), bad_rows, self.max_bad_fraction)
        vocabularies, lookups = vocabularies_and_lookups(raw_format, counters, self.MIN_COUNT)
        assignment = split_assignment(sum(good), self.SEED)
        self.info.metadata.update({
            "fields": [name for name, _ in raw_format.fields],
            "cardinalities": [len(vocabulary) + 1 for vocabulary in vocabularies],
            "min_count": self.MIN_COUNT,
            "split": {"fractions": list(SPLIT_FRACTIONS), "seed": self.SEED},
        })
        return {split: self._generate_examples(raw_format, path, lookups, assignment, index)
                for index, split in enumerate(SPLITS)}

    def _generate_examples(self, raw_format, path, lookups, assignment, split):
        row = 0
        valid_numbers = [set() for _ in raw_format.fields]
        for line, at_start, data in numbered_blocks(path, 0, None):
            labels, columns = raw_format.arrow_block(data, line, _Discard(), valid_numbers, at_start)
            if not len(labels):
                continue
            ids = block_ids(columns, lookups)
            for index in np.flatnonzero(assignment[row:row + len(labels)] == split):
                yield row + int(index), {"ids": ids[index], "label": int(labels[index])}
            row += len(labels)


class _Discard:
    def add(self, line_number, error):
        del line_number, error


class CriteoClicks(ClickLogBuilder):
    """Criteo Display Advertising Challenge (Kaggle), 39 fields."""

    FILE_NAMES = ("train.txt", "train.txt.gz", "train.csv")
    NUM_FIELDS = len(criteo.FIELDS)
    MANUAL_DOWNLOAD_INSTRUCTIONS = ("Download the Criteo Display Advertising Challenge data (Kaggle) and put "
                                    "train.txt (or train.txt.gz) in the manual directory (--manual_dir).")

    def raw_format(self, path):
        return criteo.detect_format(path)


class AvazuClicks(ClickLogBuilder):
    """Avazu CTR prediction (Kaggle), 22 fields hour..C21, min-count 4."""

    FILE_NAMES = ("train.csv", "train.gz", "train.csv.gz", "train")
    NUM_FIELDS = len(avazu.FIELDS)
    MIN_COUNT = 4
    MANUAL_DOWNLOAD_INSTRUCTIONS = ("Download the Avazu CTR prediction data (Kaggle) and put train.csv (or the "
                                    "gzipped train.gz) in the manual directory (--manual_dir).")

    def raw_format(self, path):
        return avazu.AvazuFormat()
