"""Shared fixtures: the real 10k Criteo sample through the project's own converter and reader."""

import importlib.util

import numpy as np
import pytest

import trainers  # noqa: F401  first, so that TensorFlow loads with the CLIs' CPU kernels (oneDNN)

from datasets.conversion import convert
from datasets.criteo import TSV as CRITEO_TSV
from datasets.reader import make_dataset
from datasets.schema import SPLITS, field_dims
from tests.sample_data import sample_file

# The Beam conversion's tests run in CI's second venv, the one with the [beam] extra (.ci/run): apache-beam
# 2.77.0 needs pyarrow < 26, so the default install leaves it out (docs/data.md).
collect_ignore = [] if importlib.util.find_spec("apache_beam") else ["test_beam_conversion.py"]


@pytest.fixture(scope="session")
def criteo_10k_dir(tmp_path_factory):
    """tests/data/criteo/train-10k.txt converted with min-count 10, split 8:1:1 (seed 0)."""
    output = tmp_path_factory.mktemp("criteo10k") / "data"
    convert(CRITEO_TSV, sample_file("criteo/train-10k.txt"), str(output), min_count=10)
    return str(output)


@pytest.fixture(scope="session")
def criteo_10k_ids(criteo_10k_dir):
    """{split: (ids int32 (n, 39), labels float32 (n, 1)), "field_dims": [...]} in memory."""
    from datasets.schema import load_schema

    arrays = {}
    for split in SPLITS:
        batches = list(make_dataset(criteo_10k_dir, split, batch_size=4096))
        arrays[split] = (np.concatenate([ids.numpy() for ids, _ in batches]),
                         np.concatenate([labels.numpy() for _, labels in batches]))
    return dict(**arrays, field_dims=field_dims(load_schema(criteo_10k_dir)))


@pytest.fixture(scope="session")
def synthetic_criteo_dir(tmp_path_factory):
    """2,000 synthetic Criteo rows (datasets.synthetic, seed 0) converted with min-count 2."""
    from datasets.synthetic import write_criteo_tsv

    root = tmp_path_factory.mktemp("synthetic_criteo")
    write_criteo_tsv(str(root / "raw.txt"), rows=2000, seed=0)
    convert(CRITEO_TSV, str(root / "raw.txt"), str(root / "data"), min_count=2, overwrite=True)
    return root / "data"
