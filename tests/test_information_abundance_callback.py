"""tf_multiemb.callbacks.InformationAbundance on any Keras model: found tables, explicit tables, field rows, steps."""

import json

import keras
import keras_rs
import numpy as np
import pytest

from tf_multiemb.callbacks import InformationAbundance
from tf_multiemb.collapse import information_abundance

FIELDS = {"user": 11, "item": 13, "city": 5}


def plain_model(embedding_class=keras.layers.Embedding):
    """One embedding layer per field, concatenated into a logistic regression: nothing from tf_multiemb."""
    inputs = {name: keras.Input((1,), dtype="int32", name=name) for name in FIELDS}
    embedded = [keras.layers.Flatten()(embedding_class(size, 6, name=f"{name}_table")(inputs[name]))
                for name, size in FIELDS.items()]
    output = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()(embedded))
    model = keras.Model(inputs, output)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    return model


def batches(rows=64, seed=0):
    rng = np.random.default_rng(seed)
    ids = {name: rng.integers(0, size, (rows, 1)) for name, size in FIELDS.items()}
    return ids, rng.integers(0, 2, (rows, 1)).astype("float32")


def test_plain_keras_model_gets_one_record_per_epoch_with_a_value_per_table(tmp_path):
    model, log_file = plain_model(), tmp_path / "ia.jsonl"
    ids, labels = batches()
    model.fit(ids, labels, batch_size=16, epochs=3, verbose=0, callbacks=[InformationAbundance(log_file=log_file)])
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [record["epoch"] for record in records] == [1, 2, 3]
    assert set(records[-1]["fields"]) == {f"{name}_table" for name in FIELDS}
    for name in FIELDS:  # the last record measures the trained weights
        table = keras.ops.convert_to_numpy(model.get_layer(f"{name}_table").embeddings)
        assert records[-1]["fields"][f"{name}_table"]["ia"] == pytest.approx(information_abundance(table))
    assert records[0]["fields"]["user_table"]["ia"] != records[-1]["fields"]["user_table"]["ia"]


def test_field_rows_split_a_shared_table_into_fields_with_known_ia():
    rng = np.random.default_rng(3)
    table = np.zeros((10, 4), "float32")
    table[0:4] = np.outer(rng.standard_normal(4), rng.standard_normal(4))  # rank 1: IA = 1
    table[4:8] = 3.0 * np.eye(4)  # four equal singular values: IA = 4
    table[8:10] = rng.standard_normal((2, 4))
    callback = InformationAbundance(tables=[keras.Variable(table, name="shared")],
                                    field_rows={"low": (0, 4), "full": (4, 8), "rest": (8, 10)})
    entries = callback.information_abundance()
    assert entries["low"]["ia"] == pytest.approx(1.0)
    assert entries["full"]["ia"] == pytest.approx(4.0)
    assert entries["rest"]["ia"] == pytest.approx(information_abundance(table[8:10]))


def test_every_n_steps_logs_at_those_global_steps_besides_each_epoch():
    model, (ids, labels) = plain_model(), batches()
    callback = InformationAbundance(every_n_steps=3)
    model.fit(ids, labels, batch_size=16, epochs=2, verbose=0, callbacks=[callback])  # 4 steps an epoch
    steps = [(r["epoch"], r.get("step")) for r in callback.records]
    assert steps == [(1, 3), (1, None), (2, 6), (2, None)]


def trained_ia(model) -> list[float]:
    return [information_abundance(keras.ops.convert_to_numpy(model.get_layer(f"{name}_table").embeddings))
            for name in FIELDS]


def every_n_steps_run(tables_as: str) -> dict:
    """Two epochs of 4 steps logging the IA of explicit tables (the model's "layers" or their "variables") every
    2 steps, beside an identical model trained on the first 2 batches alone.

    Returns {"positions": [[epoch, step or None], ...], "names": the last record's entry names,
    "records": [[IA per table], ...], "after_two_steps": the twin's IA per table, "trained": the model's}.
    """
    model, twin = plain_model(), plain_model()
    twin.set_weights(model.get_weights())
    layers = [model.get_layer(f"{name}_table") for name in FIELDS]
    callback = InformationAbundance(tables=[layer.embeddings for layer in layers] if tables_as == "variables"
                                    else layers, every_n_steps=2)
    ids, labels = batches()
    model.fit(ids, labels, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[callback])
    twin.fit({name: column[:32] for name, column in ids.items()}, labels[:32], batch_size=16, shuffle=False, verbose=0)
    return {"positions": [[r["epoch"], r.get("step")] for r in callback.records],
            "names": list(callback.records[-1]["fields"]),
            "records": [[entry["ia"] for entry in r["fields"].values()] for r in callback.records],
            "after_two_steps": trained_ia(twin), "trained": trained_ia(model)}


def check_every_n_steps_run(run: dict, tables_as: str) -> None:
    """Each step's record measures that step's weights, under each table's own name."""
    suffix = "_table/embeddings" if tables_as == "variables" else "_table"
    assert run["names"] == [name + suffix for name in FIELDS]
    assert run["positions"] == [[1, 2], [1, 4], [1, None], [2, 6], [2, 8], [2, None]]
    assert run["records"][0] == pytest.approx(run["after_two_steps"], rel=1e-6)
    assert run["records"][4] == pytest.approx(run["trained"], rel=1e-6)  # step 8 ends the fit
    assert run["records"][0] != pytest.approx(run["trained"], rel=1e-3)


@pytest.mark.parametrize("tables_as", ["layers", "variables"])
def test_every_n_steps_with_explicit_tables_measures_each_steps_weights(tables_as):
    check_every_n_steps_run(every_n_steps_run(tables_as), tables_as)


def test_every_n_steps_with_explicit_tables_on_jax_where_fit_detaches_the_variables(tmp_path):
    from tests.test_jax_backend import run_without_tensorflow

    run_without_tensorflow("tests.jax_checks", "information_abundance_steps", tmp_path / "ia.json")
    result = json.loads((tmp_path / "ia.json").read_text())
    # Keras' JAX fit (keras/src/backend/jax/trainer.py) leaves every model variable without a value
    # mid-epoch; a callback's read of `self.model` reattaches them (keras/src/callbacks/callback.py).
    assert result["readable_before_and_after_reading_model"] == [[False, True]] * 4
    for tables_as in ("layers", "variables"):
        check_every_n_steps_run(result[tables_as], tables_as)


def test_keras_rs_embedding_layers_are_found():
    model = plain_model(embedding_class=keras_rs.layers.EmbedReduce)
    callback = InformationAbundance()
    callback.set_model(model)
    assert set(callback.information_abundance()) == {f"{name}_table" for name in FIELDS}


def test_a_model_without_embeddings_names_the_fix():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    callback = InformationAbundance()
    callback.set_model(model)
    with pytest.raises(ValueError, match="found no embedding layer in the model .*; pass tables= explicitly"):
        callback.information_abundance()


def test_trainers_analyze_reads_a_plain_keras_models_run(tmp_path):
    from trainers.run_analysis import analyze_run

    model, (ids, labels) = plain_model(), batches()
    model.fit(ids, labels, batch_size=16, epochs=2, verbose=0,
              callbacks=[InformationAbundance(log_file=tmp_path / "information_abundance.jsonl")])
    model.save(tmp_path / "model.keras")
    written = analyze_run(str(tmp_path), str(tmp_path / "analysis"))
    summary = json.loads((tmp_path / "analysis" / "summary.json").read_text())
    assert summary["fields"] == [f"{name}_table" for name in FIELDS]
    assert [len(field["spectrum"]) for field in summary["run"]["fields"]] == [6, 6, 5]  # rank min(D_i, K = 6)
    table = keras.ops.convert_to_numpy(model.get_layer("city_table").embeddings)
    assert summary["run"]["fields"][2]["ia"] == pytest.approx(information_abundance(table))
    assert [record["epoch"] for record in summary["epochs"]] == [1, 2]
    assert summary["cross_network"] is None and any(path.endswith("spectra.png") for path in written)


def test_every_n_steps_with_steps_per_execution_logs_at_the_first_step_seen_past_each_multiple():
    """Keras calls the batch hooks at steps 2, 4, ... with steps_per_execution=2 (was: counted as steps 1, 2, ...)."""
    model, (ids, labels) = plain_model(), batches(rows=128)
    model.compile(optimizer="adam", loss="binary_crossentropy", steps_per_execution=2)
    callback = InformationAbundance(every_n_steps=3)
    model.fit(ids, labels, batch_size=16, epochs=2, verbose=0, callbacks=[callback])  # 8 steps an epoch
    steps = [(r["epoch"], r.get("step")) for r in callback.records]
    assert steps == [(1, 4), (1, 6), (1, None), (2, 10), (2, 12), (2, 16), (2, None)]
