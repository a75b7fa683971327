"""Paths to the real Criteo/Avazu sample rows kept in tests/data (origin and terms: tests/data/README.md)."""

import os

SAMPLE_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def sample_file(relative_path: str) -> str:
    """The path of one sample file, e.g. `sample_file("criteo/train-10k.txt")`; a missing file is an error."""
    path = os.path.join(SAMPLE_DATA, relative_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: the sample rows ship in tests/data (see its README.md)")
    return path
