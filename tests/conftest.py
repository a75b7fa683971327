"""Shared fixtures. `criteo_10k_ids` is a minimal in-test tokenisation of the Criteo sample
(REFERENCE.md preprocessing), to be swapped for datasets/criteo.py once that converter lands."""

import collections
import math
import os
import pathlib

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
CRITEO_SAMPLE = REPO_ROOT / ".." / "shared" / "data" / "criteo" / "train-10k.txt"
NUM_NUMERIC, NUM_CATEGORICAL, MIN_COUNT = 13, 26, 10


def numeric_token(raw):
    """'' -> 'NULL'; v > 2 -> floor(ln(v)^2); else v - 2 (the authors' Criteo transform)."""
    if raw == "":
        return "NULL"
    value = int(raw)
    return str(int(math.floor(math.log(value) ** 2))) if value > 2 else str(value - 2)


def tokenize_criteo(path):
    """Rows of (label, 39 tokens); raises on a malformed line, naming it."""
    labels, rows = [], []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            columns = line.rstrip("\n").split("\t")
            if len(columns) != 1 + NUM_NUMERIC + NUM_CATEGORICAL:
                raise ValueError(f"{path}:{number}: expected 40 tab-separated columns, got {len(columns)}")
            labels.append(int(columns[0]))
            rows.append([numeric_token(v) for v in columns[1:1 + NUM_NUMERIC]] + columns[1 + NUM_NUMERIC:])
    return np.asarray(labels, dtype="float32"), rows


def encode_fields(rows, min_count):
    """Per-field vocabularies: tokens seen >= min_count times get ids 1.., everything else OOV id 0."""
    num_fields = len(rows[0])
    ids = np.zeros((len(rows), num_fields), dtype="int32")
    field_dims = []
    for field in range(num_fields):
        counts = collections.Counter(row[field] for row in rows)
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        vocabulary = {token: index + 1 for index, token in enumerate(kept)}
        ids[:, field] = [vocabulary.get(row[field], 0) for row in rows]
        field_dims.append(len(vocabulary) + 1)
    return ids, field_dims


@pytest.fixture(scope="session")
def criteo_10k_ids():
    if not CRITEO_SAMPLE.is_file():
        pytest.fail(f"Criteo sample missing: {CRITEO_SAMPLE} (expected the shared data checkout beside the repo; "
                    f"CI={os.environ.get('CI', '')!r})")
    labels, rows = tokenize_criteo(CRITEO_SAMPLE)
    ids, field_dims = encode_fields(rows, MIN_COUNT)
    order = np.random.default_rng(0).permutation(len(labels))
    train_end, val_end = int(0.8 * len(order)), int(0.9 * len(order))
    parts = {"train": order[:train_end], "val": order[train_end:val_end], "test": order[val_end:]}
    split = {name: (ids[index], labels[index]) for name, index in parts.items()}
    return dict(**split, field_dims=field_dims)
