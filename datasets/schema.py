"""`schema.json`: the contract between converted data, models and the exporter (docs/design.md, "schema.json").

Holds the ordered fields (name, kind, cardinality D_i with the OOV id included, vocabulary file),
the split rule, row counts and bad-row counts. The model needs only `field_dims`; the exporter
rebuilds the raw-feature preprocessing from the fields and their vocabulary files.
"""

import hashlib
import json
import os

SCHEMA_FILE = "schema.json"
SPLITS = ("train", "val", "test")


def field_dims(schema):
    return [field["cardinality"] for field in schema["fields"]]


def field_names(schema):
    return [field["name"] for field in schema["fields"]]


def load_schema(data_dir):
    path = os.path.join(data_dir, SCHEMA_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: --data_dir must be a directory written by `python -m datasets.criteo` "
            "(or datasets.avazu)")
    with open(path) as handle:
        return json.load(handle)


def write_schema(schema, data_dir):
    with open(os.path.join(data_dir, SCHEMA_FILE), "w") as handle:
        json.dump(schema, handle, indent=2)


def schema_hash(data_dir):
    """sha256 of schema.json: identifies the data a run was trained on."""
    with open(os.path.join(data_dir, SCHEMA_FILE), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def vocabulary_path(data_dir, field):
    return os.path.join(data_dir, field["vocabulary"])
