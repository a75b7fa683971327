"""Paths to the real Criteo/Avazu rows in ../shared/data (never copied into the repository).

Under CI=true a missing file is an error; elsewhere too, since no test stands in for real data.
"""

import os

SHARED_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")


def shared_data_file(relative_path):
    path = os.path.normpath(os.path.join(SHARED_DATA, relative_path))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing: tests need the real samples in ../shared/data beside the checkout "
            f"(CI={os.environ.get('CI', 'unset')})")
    return path
