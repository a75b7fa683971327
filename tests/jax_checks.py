"""Computations the JAX-backend tests run in a process without TensorFlow (tests/run_without_tensorflow.py).

    python tests/run_without_tensorflow.py tests.jax_checks rows DATA_DIR SPLIT OUT.npz
    python tests/run_without_tensorflow.py tests.jax_checks step MODEL.keras BATCH.npz OUT.npz
    python tests/run_without_tensorflow.py tests.jax_checks sharded_step MODEL.keras BATCH.npz OUT.npz
    python tests/run_without_tensorflow.py tests.jax_checks predict MODEL.keras IDS.npz OUT.npz
    python tests/run_without_tensorflow.py tests.jax_checks sharded_predict MODEL.keras IDS.npz OUT.npz
    python tests/run_without_tensorflow.py tests.jax_checks information_abundance_steps OUT.json
    python tests/run_without_tensorflow.py tests.jax_checks validate CONFIG.json WEIGHTS.h5 OUT.json
    python tests/run_without_tensorflow.py tests.jax_checks fit_loop DATA_DIR OUT.json
    python tests/run_without_tensorflow.py tests.jax_checks orbax_round_trip WORK_DIR OUT.json
    python tests/run_without_tensorflow.py tests.jax_checks first_step DATA_DIR OUT.npz [--num_processes=2 ...]
"""

import json
import sys

# First, so that it picks the JAX backend (KERAS_BACKEND is unset and TensorFlow missing), as the [jax]
# install does; it also registers the model classes the saved files name.
import tf_multiemb  # noqa: F401

import jax
import keras
import numpy as np


def rows(data_dir, split, out):
    """Every row of a split, as the numpy reader yields them (shuffled, seed 5)."""
    from datasets.numpy_reader import NumpyReader

    batches = list(NumpyReader(data_dir, split, batch_size=512, shuffle=True, seed=5).epoch(0))
    np.savez(out, ids=np.concatenate([b[0] for b in batches]), labels=np.concatenate([b[1] for b in batches]))


def loss_and_gradients(model, batch) -> dict:
    """Binary cross-entropy of one batch (inference mode) and its gradient for every trainable variable, in order,
    computed by one compiled function (as a train step is)."""
    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss(values):
        probabilities, _ = model.stateless_call(values, non_trainable, batch["ids"], training=False)
        return keras.ops.mean(keras.losses.binary_crossentropy(batch["labels"], probabilities))

    value, gradients = jax.jit(jax.value_and_grad(loss))([v.value for v in model.trainable_variables])
    return {"loss": np.asarray(value), **{f"gradient_{i}": np.asarray(g) for i, g in enumerate(gradients)}}


def step(model_path, batch_path, out):
    """`loss_and_gradients` of a saved model on a saved batch."""
    np.savez(out, **loss_and_gradients(keras.saving.load_model(model_path, compile=False), np.load(batch_path)))


def sharded_step(model_path, batch_path, out):
    """`loss_and_gradients` of a saved model loaded on one device and again with its table row-sharded over all
    devices (`--shard_embeddings`), and the rows each device holds of the table and of Adam's two moments."""
    from tf_multiemb.optimizers import AdamL2
    from trainers.jax_distribution import data_parallel_or_sharded, table_and_moments

    batch = np.load(batch_path)
    unsharded = loss_and_gradients(keras.saving.load_model(model_path, compile=False), batch)
    results = {f"unsharded_{k}": v for k, v in unsharded.items()}
    distribution = data_parallel_or_sharded(jax.devices(), shard_embeddings=True)
    with distribution.scope():
        model = keras.saving.load_model(model_path, compile=False)
        optimizer = AdamL2()
        optimizer.build(model.trainable_variables)
    split_batch = {k: keras.distribution.distribute_tensor(v, distribution.get_data_layout(v.shape))
                   for k, v in batch.items()}  # the batch split between the devices, as fit feeds it
    results.update({f"sharded_{k}": v for k, v in loss_and_gradients(model, split_batch).items()})
    results["batch_rows_per_device"] = np.array(split_batch["ids"].sharding.shard_shape(batch["ids"].shape)[0])
    variables = table_and_moments(model.field_embedding.embeddings, optimizer)
    assert [v.name.rsplit("_", 1)[-1] for v in variables[1:]] == ["momentum", "velocity"]
    for name, variable in zip(("table", "momentum", "velocity"), variables):
        results[f"shards_{name}"] = np.array([  # (first row, end row, columns, device id) of every shard
            (s.index[0].start or 0, s.index[0].stop or variable.shape[0], s.data.shape[1], s.device.id)
            for s in variable.value.addressable_shards])
    np.savez(out, **results)


def predict(model_path, ids_path, out):
    model = keras.saving.load_model(model_path, compile=False)
    np.savez(out, probabilities=model.predict(np.load(ids_path)["ids"], verbose=0))


def sharded_predict(model_path, ids_path, out):
    """`predict` with the model's table row-sharded over all devices (`--shard_embeddings`)."""
    from trainers.jax_distribution import data_parallel_or_sharded

    with data_parallel_or_sharded(jax.devices(), shard_embeddings=True).scope():
        predict(model_path, ids_path, out)


def validate(config_path, weights_path, out):
    """`trainers.fit`'s validation figures on JAX (the JAX runtime's val batches) for a model's weights."""
    from datasets.schema import load_schema
    from trainers.config import FitConfig
    from trainers.fit import build_compiled_model
    from trainers.jax_runtime import JaxRuntime

    with open(config_path) as handle:
        config = FitConfig(**json.load(handle))
    model = build_compiled_model(config, load_schema(config.data_dir), synchronized_batch_norm=False)
    model.load_weights(weights_path)
    with open(out, "w") as handle:
        json.dump(model.evaluate(JaxRuntime().batches(config, "val"), verbose=0, return_dict=True), handle)


class ValueProbe(keras.callbacks.Callback):
    """After each step: whether a variable's value can be read, before and after this callback reads `self.model`."""

    def __init__(self, variable):
        super().__init__()
        self.variable, self.seen = variable, []

    def readable(self) -> bool:
        try:
            keras.ops.convert_to_numpy(self.variable)
        except TypeError:  # its value is None: 'NoneType' object is not callable
            return False
        return True

    def on_train_batch_end(self, batch, logs=None):
        before = self.readable()
        _ = self.model
        self.seen.append([before, self.readable()])


def information_abundance_steps(out):
    """InformationAbundance(tables=[...], every_n_steps=2) runs (tests/test_information_abundance_callback.py),
    and what a callback sees of a variable mid-epoch."""
    from tests.test_information_abundance_callback import batches, every_n_steps_run, plain_model

    model, (ids, labels) = plain_model(), batches()
    probe = ValueProbe(model.get_layer("user_table").embeddings)
    model.fit(ids, labels, batch_size=16, verbose=0, callbacks=[probe])
    with open(out, "w") as handle:
        json.dump({"readable_before_and_after_reading_model": probe.seen,
                   **{tables_as: every_n_steps_run(tables_as) for tables_as in ("layers", "variables")}}, handle)


class StepCounter(keras.callbacks.Callback):
    """Counts the train steps fit starts (its batch-begin hook runs on the training thread)."""

    def __init__(self):
        super().__init__()
        self.started = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.started += 1


def fit_loop(data_dir, out):
    """Whether Keras dispatches `trainers.fit`'s callbacks asynchronously (with and without --async_callbacks), and
    how many steps a fit runs when batch 5's loss is NaN, with the NaN guard async."""
    from datasets.schema import load_schema
    from tests.test_information_abundance_callback import FIELDS, plain_model
    from trainers.config import FitConfig
    from trainers.run_callbacks import training_callbacks
    from trainers.training_callbacks import StopOnNonFiniteLoss

    model, flags = plain_model(), {}
    for async_callbacks in (True, False):
        config = FitConfig(data_dir=data_dir, output_dir=out + ".run", async_callbacks=async_callbacks)
        callbacks = training_callbacks(config, out + ".run", load_schema(data_dir), 0, 10)
        flags[str(async_callbacks)] = keras.callbacks.CallbackList(list(callbacks.values()), model=model)._async_train
    guard, counter = StopOnNonFiniteLoss(), StepCounter()
    labels = np.zeros((200 * 16, 1), np.float32)
    labels[5 * 16] = np.nan
    ids = {name: np.zeros((len(labels), 1), np.int32) for name in FIELDS}
    model.fit(ids, labels, batch_size=16, shuffle=False, verbose=0, callbacks=[guard, counter])
    with open(out, "w") as handle:
        json.dump({"async_train": flags, "diverged": guard.diverged, "steps_started": counter.started}, handle)


def orbax_round_trip(work_dir, out):
    """The multi-process backup's save and restore on one process: a model trained 3 steps (Adam), backed up as
    epoch 1 of 3 steps; restored into the same model rebuilt (the same variable paths, as in a resumed run) and
    into one built beside it (other paths: Orbax then loads nothing)."""
    import os

    from tests.test_information_abundance_callback import batches, plain_model
    from trainers.orbax_callbacks import OrbaxBackupAndRestore
    from trainers.run_records import ResumeError
    from trainers.training_callbacks import StopOnNonFiniteLoss

    def backup(model, resumed_epochs):
        callback = OrbaxBackupAndRestore(os.path.join(work_dir, "state"), os.path.join(work_dir, "backup"),
                                         resumed_epochs, 3, StopOnNonFiniteLoss())
        callback.set_model(model)
        callback.on_train_begin()
        return callback

    def values(model):
        return [keras.ops.convert_to_numpy(v).tobytes() for v in model.variables + model.optimizer.variables]

    keras.utils.set_random_seed(0)
    model = plain_model()
    ids, labels = batches(rows=48)
    model.fit(ids, labels, batch_size=16, verbose=0)
    backup(model, 0).on_epoch_end(0)
    keras.backend.clear_session()  # Keras' name counters restart, as in a new process
    keras.utils.set_random_seed(1)
    rebuilt = plain_model()
    rebuilt.optimizer.build(rebuilt.trainable_variables)
    before = values(rebuilt)
    backup(rebuilt, 1)
    try:
        backup(plain_model(), 1)
        other_paths = "restored"
    except ResumeError as error:
        other_paths = str(error)
    with open(os.path.join(work_dir, "backup", "training_metadata.json")) as handle:
        metadata = json.load(handle)
    with open(out, "w") as handle:
        json.dump({"variables": len(values(model)),
                   "bit_equal": [a == b for a, b in zip(values(model), values(rebuilt))],
                   "equal_before_restore": sum(a == b for a, b in zip(values(model), before)),
                   "metadata": metadata, "other_paths": other_paths}, handle)


def first_step(data_dir, out, *process_flags):
    """`trainers.fit`'s placement, initial model and first train batch, on one process or on several (joined by
    the fit flags, e.g. --num_processes=2 --process_id=0 --job_addresses=...): the global batch's binary
    cross-entropy (inference mode) and its gradient for every trainable variable, which process 0 writes."""
    from datasets.schema import load_schema
    from trainers.config import FitConfig
    from trainers.fit import build_compiled_model
    from trainers.jax_processes import join_processes
    from trainers.jax_runtime import JaxRuntime

    settings = dict(flag[2:].split("=") for flag in process_flags)
    config = FitConfig(data_dir=data_dir, model="dnn", embedding="multi", scale=2, embedding_dim=6,
                       hidden_units="32,16", batch_size=512, seed=1, job_addresses=settings.get("job_addresses", ""),
                       num_processes=int(settings.get("num_processes", 0)),
                       process_id=int(settings.get("process_id", -1)))
    join_processes(config)
    runtime = JaxRuntime()
    placement = runtime.placement(config)
    keras.utils.set_random_seed(config.seed)
    model = build_compiled_model(config, load_schema(data_dir), synchronized_batch_norm=False)
    distribution = keras.distribution.distribution()
    batch = [jax.make_array_from_process_local_data(distribution.get_data_layout(part.shape).backend_layout, part)
             for part in next(runtime.train_batches(config, placement, 0))]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss(values, ids, labels):
        probabilities, _ = model.stateless_call(values, non_trainable, ids, training=False)
        return keras.ops.mean(keras.losses.binary_crossentropy(labels, probabilities))

    replicated = jax.sharding.NamedSharding(distribution.device_mesh.backend_mesh, jax.sharding.PartitionSpec())
    value, gradients = jax.jit(jax.value_and_grad(loss), out_shardings=replicated)(
        [v.value for v in model.trainable_variables], *batch)
    if jax.process_index() == 0:
        np.savez(out, loss=np.asarray(value), devices=placement.num_replicas_in_sync,
                 **{f"gradient_{i}": np.asarray(g) for i, g in enumerate(gradients)})


if __name__ == "__main__":
    assert keras.backend.backend() == "jax"
    {"rows": rows, "step": step, "sharded_step": sharded_step, "predict": predict, "sharded_predict": sharded_predict,
     "validate": validate, "information_abundance_steps": information_abundance_steps, "fit_loop": fit_loop,
     "orbax_round_trip": orbax_round_trip, "first_step": first_step}[sys.argv[1]](*sys.argv[2:])
