"""Export on the real Criteo sample: raw -> id parity with the converter, prediction parity, bad requests."""

import atexit
import itertools
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from datasets.conversion import convert, split_assignment
from datasets.criteo import FIELDS as CRITEO_FIELDS
from datasets.criteo import TSV as CRITEO_TSV
from datasets.schema import load_schema
from datasets.tokens import OOV_ID, categorical_token, numeric_token
from datasets.criteo import raw_rows
from export.requests import columns_from_rows, example_from_raw
from export import saved_model
from export.predict import SCHEMA_COPY
from export.saved_model import WARMUP_FILE, export_run
from trainers.config import FitConfig
from tests.sample_data import sample_file
from trainers.fit import train

CLI = Path(sys.executable).with_name("saved_model_cli")


def real_sample(name):
    """Path of a real Criteo sample in tests/data."""
    return Path(sample_file(f"criteo/{name}"))


@functools.cache
def _convert(train_file):
    base = Path(tempfile.mkdtemp(prefix="tf_multiemb_export_"))
    atexit.register(shutil.rmtree, base, True)
    convert(CRITEO_TSV, str(train_file), str(base / "data"), min_count=10, train_shards=2)
    return base


def converted_sample():
    """Data dir of train-10k converted with min-count 10 (two train shards); built once per session."""
    return _convert(real_sample("train-10k.txt")) / "data"


@functools.cache
def _build_export(train_file):
    base = _convert(train_file)
    train(FitConfig(data_dir=str(base / "data"), output_dir=str(base / "run"), embedding="multi", scale=2,
                    embedding_dim=4, hidden_units="32,32", epochs=1, batch_size=512,
                    interaction_arg=("num_layers=1",), verbose=0))
    export_run(str(base / "run"), str(base / "models" / "criteo_dcnv2" / "1"), str(train_file), warmup_rows=16)
    return base


def trained_export():
    """(base dir, export dir) of one tiny DCNv2 (ME 2x) trained and exported from train-10k; built once per session."""
    base = _build_export(real_sample("train-10k.txt"))
    return base, base / "models" / "criteo_dcnv2" / "1"


@pytest.fixture(scope="module")
def built():
    base, export_dir = trained_export()
    return base, tf.saved_model.load(str(export_dir))


def python_ids(lines, schema_dir):
    """The converter's token definition + the schema's vocabularies, in plain Python."""
    schema = load_schema(schema_dir)
    lookups = []
    for field in schema["fields"]:
        with open(os.path.join(schema_dir, field["vocabulary"]), encoding="utf-8") as handle:
            lookups.append({token.rstrip("\n"): index + 1 for index, token in enumerate(handle)})
    parsed = []
    for line in lines:
        label, *values = line.rstrip("\n").split("\t")
        parsed.append((int(label), [numeric_token(value) if kind == "numeric" else categorical_token(value)
                                    for (_, kind), value in zip(CRITEO_FIELDS, values)]))
    ids = [[lookup.get(token, OOV_ID) for lookup, token in zip(lookups, tokens)] for _, tokens in parsed]
    return np.array(ids), np.array([label for label, _ in parsed])


def tfrecord_ids_in_raw_order(data_dir, num_rows):
    """Undoes the converter's split and round-robin sharding: row i of the raw file -> its written ids and label."""
    schema = load_schema(data_dir)
    assignment = split_assignment(num_rows, schema["split"]["seed"])
    ids = np.full((num_rows, len(schema["fields"])), -1)
    labels = np.full(num_rows, -1)
    for code, split in enumerate(("train", "val", "test")):
        raw_indices = np.flatnonzero(assignment == code)
        shards = schema["shards"][split]
        for shard_index, shard in enumerate(shards):
            for position, record in enumerate(tf.data.TFRecordDataset(os.path.join(data_dir, shard))):
                example = tf.train.Example.FromString(record.numpy())
                row = raw_indices[position * len(shards) + shard_index]
                ids[row] = example.features.feature["ids"].int64_list.value
                labels[row] = example.features.feature["label"].int64_list.value[0]
    return ids, labels


def graph_ids(loaded, rows):
    examples = tf.constant([example_from_raw(row) for row in rows])
    return loaded.signatures["preprocess_examples"](examples=examples)["ids"].numpy()


def test_every_real_row_maps_to_the_same_ids_in_tfrecords_python_and_graph(built):
    base, loaded = built
    train_file = real_sample("train-10k.txt")
    lines = train_file.read_text(encoding="utf-8").splitlines()
    schema = load_schema(str(base / "data"))
    assert schema["bad_rows"]["total"] == 0 and sum(schema["rows"].values()) == len(lines) == 10000

    expected, labels = python_ids(lines, str(base / "run" / "data_schema"))
    written, written_labels = tfrecord_ids_in_raw_order(str(base / "data"), len(lines))
    in_graph = graph_ids(loaded, list(raw_rows(str(train_file))))
    np.testing.assert_array_equal(written_labels, labels)  # the split was undone row for row
    np.testing.assert_array_equal(written, expected)
    np.testing.assert_array_equal(in_graph, expected)
    assert (expected == OOV_ID).any() and (expected > OOV_ID).any()  # both kinds of id are exercised


def test_exported_probabilities_equal_the_keras_model_on_the_same_ids(built):
    base, loaded = built
    rows = list(itertools.islice(raw_rows(str(real_sample("train-10k.txt"))), 2000))
    model = keras.saving.load_model(str(base / "run" / "model.keras"), compile=False)
    ids = graph_ids(loaded, rows)
    in_memory = np.concatenate([np.reshape(model(ids[i:i + 500], training=False), [-1]) for i in range(0, 2000, 500)])
    exported = loaded.signatures["serving_default"](examples=tf.constant([example_from_raw(r) for r in rows]))
    columns = loaded.signatures["predict_columns"](**columns_from_rows(rows, CRITEO_FIELDS))
    np.testing.assert_allclose(exported["probability"].numpy(), in_memory, atol=1e-6, rtol=0)
    np.testing.assert_allclose(columns["probability"].numpy(), in_memory, atol=1e-6, rtol=0)


def test_saved_model_cli_lists_the_signatures_and_the_layout_is_tf_servings():
    _, export_dir = trained_export()
    shown = subprocess.run([str(CLI), "show", "--dir", str(export_dir), "--all"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for signature in ("serving_default", "predict_columns", "preprocess_examples"):
        assert f"signature_def['{signature}']" in shown.stdout
    assert (export_dir / "saved_model.pb").is_file() and (export_dir / "variables").is_dir()
    assert (export_dir / WARMUP_FILE).stat().st_size > 0
    assert export_dir.parent.name == "criteo_dcnv2" and export_dir.name.isdigit()


def test_an_export_interrupted_after_write_out_leaves_no_version_and_no_staging_directory(tmp_path, monkeypatch):
    base, _ = trained_export()
    version = tmp_path / "models" / "criteo_dcnv2" / "1"
    seen = {}

    def interrupted(output_dir, rows, model_name, batch_size=8):
        """Stands in for the warm-up write, which comes after write_out: records what exists, then Ctrl-C."""
        seen.update(saved_model=os.path.isfile(os.path.join(output_dir, "saved_model.pb")), model_name=model_name,
                    versions=[name for name in os.listdir(version.parent) if name.isdigit()])
        raise KeyboardInterrupt

    monkeypatch.setattr(saved_model, "write_warmup_requests", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_run(str(base / "run"), str(version), str(real_sample("train-10k.txt")), warmup_rows=4)
    assert seen == {"saved_model": True, "model_name": "criteo_dcnv2", "versions": []}  # nothing loadable yet
    assert os.listdir(version.parent) == []


def test_a_published_export_holds_its_schema_and_warm_up_file_and_is_never_overwritten():
    base, export_dir = trained_export()
    assert sorted(os.listdir(export_dir.parent)) == ["1"]  # the staging directory was renamed, not copied
    assert (export_dir / SCHEMA_COPY).is_file() and (export_dir / WARMUP_FILE).is_file()
    before = sorted(os.listdir(export_dir))
    with pytest.raises(FileExistsError, match=f"^{export_dir} already exists; choose a new version directory$"):
        export_run(str(base / "run"), str(export_dir), warmup_rows=0)
    assert sorted(os.listdir(export_dir)) == before and sorted(os.listdir(export_dir.parent)) == ["1"]


def test_missing_features_take_the_training_default_and_unknown_categories_the_oov_id(built):
    base, loaded = built
    schema_dir = str(base / "run" / "data_schema")
    empty_line = "1" + "\t" * 39
    missing_expected, _ = python_ids([empty_line], schema_dir)
    np.testing.assert_array_equal(graph_ids(loaded, [{}]), missing_expected)

    first_line = real_sample("train-10k.txt").read_text(encoding="utf-8").splitlines()[0]
    row = next(raw_rows(str(real_sample("train-10k.txt"))))
    unknown = dict(row, C3="never-seen", I5=10**15)
    expected, _ = python_ids([first_line], schema_dir)
    ids = graph_ids(loaded, [unknown])
    assert ids[0, 13 + 2] == OOV_ID
    changed = [13 + 2, 4]
    np.testing.assert_array_equal(np.delete(ids, changed, axis=1), np.delete(expected, changed, axis=1))
    assert np.isfinite(loaded.signatures["serving_default"](examples=tf.constant([example_from_raw(unknown)]))[
        "probability"].numpy()).all()


def two_valued_example(name, values):
    """A serialized tf.Example whose feature `name` holds several int64 values."""
    feature = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Example(features=tf.train.Features(feature={name: feature})).SerializeToString()


def column_tensors(rows):
    """predict_columns inputs as tensors, as TF Serving hands them over (numpy inputs fail in Python binding)."""
    return {name: tf.constant(values) for name, values in columns_from_rows(rows, CRITEO_FIELDS).items()}


def invalid_argument(call, match):
    """Runs `call`; asserts it raised exactly tf.errors.InvalidArgumentError (the documented class) matching."""
    with pytest.raises(tf.errors.InvalidArgumentError, match=match) as raised:
        call()
    assert type(raised.value) is tf.errors.InvalidArgumentError


def test_wrong_dtype_or_shape_is_a_clear_invalid_argument_error(built):
    _, loaded = built
    serving, columns_signature = loaded.signatures["serving_default"], loaded.signatures["predict_columns"]
    wrong_dtype = example_from_raw({"C1": 12345})  # an int64 where a category string is expected
    invalid_argument(lambda: serving(examples=tf.constant([wrong_dtype])), "C1")
    invalid_argument(lambda: serving(examples=tf.constant([example_from_raw({"I1": "3"})])), "I1")
    invalid_argument(lambda: serving(examples=tf.constant([[wrong_dtype]])), "scalar or vector, got shape")
    columns = column_tensors([{}])
    invalid_argument(lambda: columns_signature(**dict(columns, I1=tf.constant([1.5]))), "int64")


def test_a_feature_with_more_than_one_value_is_rejected_through_both_signatures(built):
    _, loaded = built
    serving, columns_signature = loaded.signatures["serving_default"], loaded.signatures["predict_columns"]
    invalid_argument(lambda: serving(examples=tf.constant([two_valued_example("I1", [3, 4])])), "feature I1 ")
    columns = column_tensors([{}, {}])
    two_per_row = tf.constant([[b"a", b"b"], [b"c", b"d"]])
    invalid_argument(lambda: columns_signature(**dict(columns, C7=two_per_row)), "feature C7 ")
    one_each = serving(examples=tf.constant([two_valued_example("I1", [3])]))["probability"].numpy()
    assert one_each.shape == (1,) and np.isfinite(one_each).all()  # a single value still passes the check
