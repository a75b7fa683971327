"""Train and evaluate one model: `python -m trainers.fit --flagfile=configs/criteo/dcnv2_me_4x.flags`.

Adam (coupled L2 weight decay), batch 2048, early stopping on validation AUC with the best
weights restored, test metrics with those weights (paper Appendix C.2). MirroredStrategy over
the visible GPUs (one replica on a CPU-only machine; --cpu_devices=N splits the CPU into N logical
devices). On JAX, DataParallel over all devices, or with --shard_embeddings each device holds 1/N of the
embedding table's rows (trainers/jax_distribution.py). After every epoch the information abundance of every
field's embedding is logged to TensorBoard and to information_abundance.jsonl.

The run directory receives results.json, information_abundance.jsonl, tensorboard/,
checkpoints/, model.keras (best weights), data_schema/ (schema + vocabularies, for export),
flags.txt (the resolved flagfile) and run_info.json (versions, data hash, git commit).

Fault tolerance: keras.callbacks.BackupAndRestore keeps the last finished epoch in backup/; rerunning
the same command after a crash resumes there, once its logs, backup and best checkpoint are matched
(trainers/run_records.py `resume_point`, trainers/training_callbacks.py, trainers/run_callbacks.py) or refused with a one-line
ResumeError. The train stream is one seeded sequence from which a resumed run skips the batches already
consumed, and every dropout layer is reseeded from (seed, layer, epoch), so a resumed run ends with the
same metrics as an uninterrupted one. A NaN/Inf loss stops training with an error; that epoch is neither
the best checkpoint nor backed up.

Multi-worker training: when TF_CONFIG names several tasks, every worker runs the same command under
MultiWorkerMirroredStrategy; each reads its own train shard files (`train_stream`). The chief (the "chief" task,
else worker 0) writes the run directory; the other workers write theirs into a scratch directory inside
--output_dir and delete it at the end (`worker_run_dir`). Keras 3.15's TensorFlow trainer needs two
work-arounds there (`adapt_to_multi_worker`).

Multi-process training on JAX: every process runs the same command with its own --process_id (or the
KERAS_DISTRIBUTION_* variables), joins the others through keras.distribution.initialize and trains under
DataParallel over all their devices, reading its block of every global batch. Process 0 writes the run
directory, the others a scratch directory they delete; the backup and the best checkpoint are Orbax
checkpoints in --output_dir (trainers/jax_processes.py, trainers/orbax_callbacks.py).
"""

import dataclasses
import json
import math
import os
import shutil
import sys
import time

from absl import app, flags

from trainers.config import HELP, FitConfig, hidden_units, parse_interaction_args, requested_processes
from trainers.distribution import WorkerMismatchError, cluster_size, worker_run_dir
from trainers.run_lock import RunDirectoryBusy, run_directory_lock
from trainers.runtime import announce_devices, current_runtime
from trainers.run_records import (ResumeError, best_epoch_index, copy_schema, read_epoch_log, resume_point,
                                  weights_digest, write_run_info)


def define_flags():
    for field in dataclasses.fields(FitConfig):
        default = field.default
        if isinstance(default, bool):
            flags.DEFINE_bool(field.name, default, HELP[field.name])
        elif isinstance(default, int):
            flags.DEFINE_integer(field.name, default, HELP[field.name])
        elif isinstance(default, float):
            flags.DEFINE_float(field.name, default, HELP[field.name])
        elif isinstance(default, tuple):
            flags.DEFINE_multi_string(field.name, list(default), HELP[field.name])
        else:
            flags.DEFINE_string(field.name, default, HELP[field.name])


def config_from_flags():
    values = {field.name: flags.FLAGS[field.name].value for field in dataclasses.fields(FitConfig)}
    values["interaction_arg"] = tuple(values["interaction_arg"])
    return FitConfig(**values)


MATMUL_PRECISIONS = ("float32", "tf32", "bf16")


class ConfigError(ValueError):
    """Arguments that cannot run; `main` prints it as one line."""


def validate(config: FitConfig) -> None:
    """Fails fast, before any work, on arguments that cannot run (ConfigError)."""
    from tf_multiemb.models.registry import check_model_arguments

    try:
        check_model_arguments(config.model, config.embedding, config.scale)
        parse_interaction_args(config.interaction_arg)
        current_runtime().check(config)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    check_run_shape(config)


def check_run_shape(config: FitConfig) -> None:
    """The data, output, batch and cluster arguments."""
    import keras

    from datasets.schema import SCHEMA_FILE, load_schema

    if not config.data_dir or not os.path.isfile(os.path.join(config.data_dir, SCHEMA_FILE)):
        raise ConfigError(f"--data_dir={config.data_dir!r} has no {SCHEMA_FILE}; convert the raw data first "
                          "with `python -m datasets.criteo --input=... --output_dir=...`")
    if not config.output_dir:
        raise ConfigError("--output_dir is required")
    if config.batch_size < 1 or config.epochs < 1:
        raise ConfigError("--batch_size and --epochs must be positive")
    if config.input_workers < 0 or config.steps_per_execution < 0:
        raise ConfigError("--input_workers and --steps_per_execution must be 0 or more")
    if config.matmul_precision not in MATMUL_PRECISIONS:
        raise ConfigError(f"--matmul_precision must be one of {', '.join(MATMUL_PRECISIONS)}, "
                          f"got {config.matmul_precision!r}")
    if requested_processes(config) > 1 and keras.backend.backend() != "jax":
        raise ConfigError("--num_processes (KERAS_DISTRIBUTION_NUM_PROCESSES) is for the JAX backend; on TensorFlow "
                          "name the workers in TF_CONFIG")
    if cluster_size() > 1 and config.cpu_devices > 1:
        raise ConfigError("--cpu_devices splits one machine's CPU; it does not apply to a multi-worker TF_CONFIG")
    if cluster_size() > len(load_schema(config.data_dir)["shards"]["train"]):
        raise ConfigError(f"TF_CONFIG names {cluster_size()} workers, more than the train split's shard files: "
                          "every worker reads its own; convert the data with more (--train_shards)")


def build_compiled_model(config, schema, synchronized_batch_norm: bool, steps_per_execution: int = 1,
                         table_row_multiple: int = 1):
    import keras

    import tf_multiemb
    from datasets.schema import field_dims
    from tf_multiemb.optimizers import AdamL2

    model = tf_multiemb.build_model(
        config.model, field_dims(schema), embedding=config.embedding, scale=config.scale,
        embedding_dim=config.embedding_dim or None, hidden_units=hidden_units(config), dropout=config.dropout,
        synchronized_batch_norm=synchronized_batch_norm, table_row_multiple=table_row_multiple,
        **parse_interaction_args(config.interaction_arg))
    model.compile(
        optimizer=AdamL2(learning_rate=config.learning_rate, l2=config.weight_decay,
                         sparse_updates=config.sparse_embedding_updates),
        loss="binary_crossentropy",
        weighted_metrics=[keras.metrics.AUC(num_thresholds=2000, name="auc"),
                          keras.metrics.BinaryCrossentropy(name="logloss")],
        steps_per_execution=steps_per_execution,
    )
    return model


def steps_per_execution(config: FitConfig, runtime, steps_per_epoch: int) -> int:
    """Train steps per compiled call: the flag, else the runtime's default, lowered to the largest divisor of
    `steps_per_epoch` (an epoch, and so a resumed run's skipped batches, stays a whole number of calls)."""
    requested = min(config.steps_per_execution or runtime.default_steps_per_execution, steps_per_epoch)
    return max(steps for steps in range(1, requested + 1) if steps_per_epoch % steps == 0)


def table_row_multiple(config: FitConfig, placement) -> int:
    """A row-sharded table's rows are padded to a multiple of the device count (one shard per replica)."""
    return placement.num_replicas_in_sync if config.shard_embeddings else 1


def callback_config(config: FitConfig, placement) -> FitConfig:
    """The config the callbacks see: over several devices every step's callbacks run on the training thread.

    On JAX, Keras 3.15 converts the step's logs to floats in its callback thread while the training thread
    computes the epoch's metrics; over several devices both are programs with collectives, and two threads
    that start them in different orders on different devices deadlock (8 CPU devices on 2 cores, 2026-12-07:
    3 of 12 `--shard_embeddings` runs and 2 of 4 DataParallel runs aborted after XLA's collective timeout;
    0 of 12 with the callbacks in step). TensorFlow never runs them off the training thread.
    """
    return dataclasses.replace(config, async_callbacks=config.async_callbacks and placement.num_replicas_in_sync == 1)


def evaluate(model, runtime, batches) -> tuple[float, float]:
    """Exact AUC and logloss of the model's predictions over a whole split."""
    from tf_multiemb.metrics import log_loss, roc_auc

    labels, inputs = runtime.labels_and_inputs(batches)
    probabilities = model.predict(inputs, verbose=0)[:len(labels)]
    return roc_auc(labels, probabilities), log_loss(labels, probabilities)


class TrainingRun:
    """One job's state between its steps: runtime, placement, run directory, schema, model and callbacks."""

    def __init__(self, config: FitConfig, run_dir: str):
        from datasets.schema import load_schema

        self.config = config
        self.started = time.time()
        self.runtime = current_runtime()
        if config.deterministic:
            self.runtime.enable_determinism()
        self.runtime.set_matmul_precision(config.matmul_precision)
        self.strategy = self.runtime.placement(config)
        announce_devices(self.strategy.num_replicas_in_sync)
        self.run_dir = run_dir
        self.schema = load_schema(config.data_dir)
        self.resumed_epochs = resume_point(self.run_dir)
        self.model = self.callbacks = None


def prepare_run_directory(run: TrainingRun) -> None:
    """Seeds, and records what the run needs to be reproduced and exported."""
    import keras

    os.makedirs(run.run_dir, exist_ok=True)
    keras.utils.set_random_seed(run.config.seed)
    copy_schema(run.config.data_dir, run.run_dir)
    write_run_info(run.config, run.run_dir, run.runtime.versions())


def fit_model(run: TrainingRun) -> None:
    """Builds the model and trains it to early stopping, then loads the best checkpoint's weights."""
    from trainers.run_callbacks import training_callbacks

    config, runtime = run.config, run.runtime
    steps_per_epoch = config.steps_per_epoch or math.ceil(run.schema["rows"]["train"] / config.batch_size)
    train_data = runtime.train_batches(config, run.strategy, run.resumed_epochs * steps_per_epoch)
    with run.strategy.scope():
        run.model = build_compiled_model(config, run.schema, runtime.synchronized_batch_norm(run.strategy),
                                         steps_per_execution(config, runtime, steps_per_epoch),
                                         table_row_multiple(config, run.strategy))
    runtime.prepare_model(run.model, run.strategy, run.resumed_epochs)
    run.callbacks = training_callbacks(callback_config(config, run.strategy), run.run_dir, run.schema,
                                       run.resumed_epochs, steps_per_epoch)
    # A run killed after its early-stopping epoch's backup trains no further epoch (fit only restores and checks).
    epochs = run.resumed_epochs if run.callbacks["early_stopping"].stopped_in_history() else config.epochs
    with run.strategy.scope():
        run.model.fit(train_data, validation_data=runtime.batches(config, "val"),
                      epochs=epochs, steps_per_epoch=steps_per_epoch,
                      callbacks=list(run.callbacks.values()), verbose=config.verbose, shuffle=False)
    checkpoint, guard = run.callbacks["checkpoint"], run.callbacks["nonfinite"]
    if guard.diverged:
        best = f"{checkpoint.weights_path} (epoch {checkpoint.epoch})" if checkpoint.epoch else "none"
        raise FloatingPointError(f"training loss became NaN/Inf in epoch {guard.diverged_epoch}; stopped. The best "
                                 f"checkpoint so far is {best}; try a lower --learning_rate")
    checkpoint.restore()


def final_results(run: TrainingRun, test_auc: float, test_logloss: float) -> dict:
    """results.json's contents: test metrics with the best weights, the epoch history and the run's facts."""
    config, model = run.config, run.model
    with open(os.path.join(run.run_dir, "information_abundance.jsonl")) as handle:
        ia_records = [json.loads(line) for line in handle]
    epoch_log = read_epoch_log(os.path.join(run.run_dir, "epochs.csv"))
    val_aucs = [row["val_auc"] for row in epoch_log]
    best_epoch = best_epoch_index(val_aucs)
    return {
        "model": config.model, "embedding": config.embedding, "scale": config.scale,
        "num_sets": model.num_sets, "embedding_dim": model.embedding_dim, "seed": config.seed,
        "test_auc": test_auc, "test_logloss": test_logloss,
        "best_val_auc": float(val_aucs[best_epoch]), "best_epoch": best_epoch + 1, "epochs": len(val_aucs),
        "mean_ia": ia_records[best_epoch]["mean_ia"],
        "params_total": int(model.count_params()), "params_embedding": int(model.embedding_parameter_count()),
        "examples_per_sec": run.callbacks["throughput"].examples_per_sec(),
        "num_replicas": run.strategy.num_replicas_in_sync,
        "train_loss": [row["loss"] for row in epoch_log],
        "val_auc": val_aucs,
        "resumed_from_epoch": run.resumed_epochs,
        "weights_sha256": weights_digest(model),
        "wall_seconds": round(time.time() - run.started, 1),
    }


def train(config: FitConfig) -> dict:
    """Runs one training job end to end and returns the results dict (also written to results.json).

    Rerunning a job whose run directory holds a backup/ (an interrupted run) resumes it. Under a multi-worker
    TF_CONFIG, or on several JAX processes, the results are the chief's (process 0's); the others return the same.
    The run directory is locked for the whole job: RunDirectoryBusy when another live process trains there.
    """
    validate(config)
    run_dir = join_processes(config)
    with run_directory_lock(run_dir):
        return train_in_locked_directory(config, run_dir)


def join_processes(config: FitConfig) -> str:
    """This process's run directory, once a JAX multi-process run has joined its processes (before JAX starts):
    --output_dir on the chief worker or process 0, a scratch directory inside it on the others."""
    import keras

    if keras.backend.backend() != "jax":
        return worker_run_dir(config.output_dir)
    from trainers import jax_processes

    jax_processes.join_processes(config)
    return jax_processes.process_run_dir(config.output_dir)


def train_in_locked_directory(config: FitConfig, run_dir: str) -> dict:
    """`train`'s work, once the run directory is this process's."""
    run = TrainingRun(config, run_dir)
    prepare_run_directory(run)
    fit_model(run)
    test_metrics = evaluate(run.model, run.runtime, run.runtime.batches(config, "test"))
    with run.runtime.whole_values(run.model):
        run.model.save(os.path.join(run.run_dir, "model.keras"))
        results = final_results(run, *test_metrics)
    with open(os.path.join(run.run_dir, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    if run.run_dir != config.output_dir:
        shutil.rmtree(run.run_dir)
    return results


def main(argv):
    from datasets.numpy_reader import CorruptShardError  # numpy: not imported for --help

    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}")
    try:
        results = train(config_from_flags())
    except (ConfigError, FloatingPointError, WorkerMismatchError, RunDirectoryBusy, ResumeError,
            CorruptShardError) as error:
        sys.exit(f"error: {error}")
    print(json.dumps({key: results[key] for key in (
        "model", "embedding", "scale", "test_auc", "test_logloss", "best_val_auc", "epochs", "mean_ia",
        "params_total", "params_embedding", "examples_per_sec", "resumed_from_epoch", "weights_sha256")}, indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(main)
