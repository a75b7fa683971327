"""Train and evaluate one model: `python -m trainers.fit --flagfile=configs/criteo/dcnv2_me_4x.flags`.

Adam (coupled L2 weight decay), batch 2048, early stopping on validation AUC with the best
weights restored, test metrics with those weights (paper Appendix C.2). MirroredStrategy over
the visible GPUs (one replica on a CPU-only machine; --cpu_devices=N splits the CPU into N logical
devices). After every epoch the information abundance of every field's embedding is logged to
TensorBoard and to information_abundance.jsonl.

The run directory receives results.json, information_abundance.jsonl, tensorboard/,
checkpoints/, model.keras (best weights), data_schema/ (schema + vocabularies, for export),
flags.txt (the resolved flagfile) and run_info.json (versions, data hash, git commit).

Fault tolerance: keras.callbacks.BackupAndRestore keeps the last finished epoch in backup/; rerunning
the same command after a crash resumes there. The train stream is one seeded, repeated sequence from
which a resumed run skips the batches already consumed, and dropout is reseeded from (seed, epoch), so
a resumed run ends with the same metrics as an uninterrupted one. A NaN/Inf loss stops training with an
error; that epoch's validation metrics are withheld so the best checkpoint is kept.

Multi-worker training: when TF_CONFIG names several tasks, every worker runs the same command under
MultiWorkerMirroredStrategy; each reads its own train shard files (`train_stream`). The chief (the "chief" task,
else worker 0) writes the run directory; the other workers write theirs into a scratch directory inside
--output_dir and delete it at the end (`worker_run_dir`). Keras 3.15's TensorFlow trainer needs two
work-arounds there (`adapt_to_multi_worker`).
"""

import csv
import dataclasses
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time

from absl import app, flags

from trainers.config import HELP, FitConfig, as_flagfile, hidden_units, parse_interaction_args


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


def validate(config):
    """Fails fast, before any work, on arguments that cannot run."""
    from datasets.schema import SCHEMA_FILE, load_schema
    from tf_multiemb.models.registry import check_model_arguments

    check_model_arguments(config.model, config.embedding, config.scale)
    if not config.data_dir or not os.path.isfile(os.path.join(config.data_dir, SCHEMA_FILE)):
        raise ValueError(f"--data_dir={config.data_dir!r} has no {SCHEMA_FILE}; convert the raw data first "
                         "with `python -m datasets.criteo --input=... --output_dir=...`")
    if not config.output_dir:
        raise ValueError("--output_dir is required")
    if config.batch_size < 1 or config.epochs < 1:
        raise ValueError("--batch_size and --epochs must be positive")
    parse_interaction_args(config.interaction_arg)
    if cluster_size() > 1 and config.cpu_devices > 1:
        raise ValueError("--cpu_devices splits one machine's CPU; it does not apply to a multi-worker TF_CONFIG")
    if cluster_size() > len(load_schema(config.data_dir)["shards"]["train"]):
        raise ValueError(f"TF_CONFIG names {cluster_size()} workers, more than the train split's shard files: "
                         "every worker reads its own; convert the data with more (--train_shards)")


def tf_config():
    return json.loads(os.environ.get("TF_CONFIG") or "{}")


def cluster_size():
    """Number of tasks TF_CONFIG names (1 without it)."""
    return max(sum(len(addresses) for addresses in tf_config().get("cluster", {}).values()), 1)


def worker_run_dir(output_dir):
    """`output_dir` on the chief (the "chief" task, else worker 0; no TF_CONFIG: this process).

    Other workers run the same code (each resumes from its own backup and restores its own best checkpoint)
    in `<output_dir>/<type>-<index>-scratch`, which they delete when they finish.
    """
    config = tf_config()
    task_type, index = config.get("task", {}).get("type", "chief"), config.get("task", {}).get("index", 0)
    if task_type == "chief" or (task_type == "worker" and index == 0 and "chief" not in config.get("cluster", {})):
        return output_dir
    return os.path.join(output_dir, f"{task_type}-{index}-scratch")


class WorkerMismatchError(RuntimeError):
    """Workers disagree on state that every worker must share."""


def check_same_resume_epoch(strategy, resumed_epochs):
    """Each worker restores the backup in its own run directory: all must resume after the same epoch."""
    import tensorflow as tf

    per_replica = strategy.experimental_distribute_values_from_function(lambda _: tf.constant([resumed_epochs]))
    epochs = sorted(set(strategy.gather(per_replica, axis=0).numpy().tolist()))
    if len(epochs) > 1:
        raise WorkerMismatchError(
            f"the workers' backups end after different epochs {epochs}; each worker resumes from backup/ in its "
            "own run directory (non-chief workers: <type>-<index>-scratch/ inside --output_dir): restore the "
            "missing ones, or delete them all to start over")


def adapt_to_multi_worker(model):
    """Works around two failures of Keras 3.15's TensorFlow trainer under MultiWorkerMirroredStrategy.

    1. fit() reduces its first PerReplica batch eagerly, for a symbolic build, and fails. The model forgets the
       strategy it was built under, so Keras skips that build (metrics are built while tracing): fit() takes
       the strategy in scope, and predict() outside the scope runs on this worker alone.
    2. Every step's scalar logs are reduced with strategy.reduce(MEAN, axis=0), which fails on scalars: the
       steps return them with shape (1,), whose mean over axis 0 is the mean over all replicas.
    """
    import tensorflow as tf

    model._distribute_strategy = None

    def with_vector_logs(step):
        return lambda data: {name: tf.reshape(value, [1]) for name, value in step(data).items()}

    model.train_step = with_vector_logs(model.train_step)
    model.test_step = with_vector_logs(model.test_step)


def make_strategy(cpu_devices):
    import tensorflow as tf

    if cluster_size() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpu_devices)])
    return tf.distribute.MirroredStrategy()


def build_compiled_model(config, schema, num_replicas):
    import keras

    import tf_multiemb
    from datasets.schema import field_dims
    from tf_multiemb.optimizers import AdamL2

    model = tf_multiemb.build_model(
        config.model, field_dims(schema), embedding=config.embedding, scale=config.scale,
        embedding_dim=config.embedding_dim or None, hidden_units=hidden_units(config), dropout=config.dropout,
        synchronized_batch_norm=num_replicas > 1, **parse_interaction_args(config.interaction_arg))
    model.compile(
        optimizer=AdamL2(learning_rate=config.learning_rate, l2=config.weight_decay,
                         sparse_updates=config.sparse_embedding_updates),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(num_thresholds=2000, name="auc"),
                 keras.metrics.BinaryCrossentropy(name="logloss")],
    )
    return model


def copy_schema(data_dir, run_dir):
    """The exporter rebuilds preprocessing from this copy alone."""
    from datasets.schema import SCHEMA_FILE

    target = os.path.join(run_dir, "data_schema")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(data_dir, "vocab"), os.path.join(target, "vocab"))
    shutil.copy(os.path.join(data_dir, SCHEMA_FILE), target)


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def write_run_info(config, run_dir):
    import keras
    import numpy
    import tensorflow as tf

    from datasets.schema import schema_hash

    with open(os.path.join(run_dir, "flags.txt"), "w") as handle:
        handle.write(as_flagfile(config))
    info = {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": numpy.__version__,
            "python": sys.version.split()[0], "data_schema_sha256": schema_hash(config.data_dir),
            "git_commit": git_commit()}
    with open(os.path.join(run_dir, "run_info.json"), "w") as handle:
        json.dump(info, handle, indent=2)


def tensorboard_scalar_writer(run_dir):
    """A scalar_writer for InformationAbundanceCallback writing to tensorboard/information_abundance."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(os.path.join(run_dir, "tensorboard", "information_abundance"))

    def write(tag, value, step):
        with writer.as_default():
            tf.summary.scalar(tag, value, step=step)
        writer.flush()

    return write


def completed_epochs(backup_dir):
    """Epochs a previous, interrupted run finished (BackupAndRestore's metadata); 0 for a fresh run."""
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    with open(path) as handle:
        return json.load(handle)["epoch"]


def read_epoch_log(path):
    """Rows of the CSVLogger file as {column: float}; [] when absent."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as handle:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def truncate_logs(run_dir, epochs):
    """Keeps the first `epochs` records of the per-epoch logs (a crash may have logged an unsaved epoch)."""
    for name, header_lines in (("epochs.csv", 1), ("information_abundance.jsonl", 0)):
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            with open(path) as handle:
                lines = handle.readlines()[:header_lines + epochs] if epochs else []
            with open(path, "w") as handle:
                handle.writelines(lines)


def weights_digest(model):
    """sha256 over all model weights: equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()


def training_callbacks(config, run_dir, schema, resumed_epochs):
    """The fit callbacks; EarlyStopping and ModelCheckpoint continue from a resumed run's epoch log."""
    import keras

    from datasets.schema import field_names
    from tf_multiemb.callbacks import InformationAbundanceCallback, ThroughputCallback

    class DropoutReseed(keras.callbacks.Callback):
        """Dropout seeds from (seed, epoch), so a resumed epoch draws the masks an uninterrupted one would."""

        def on_epoch_begin(self, epoch, logs=None):
            for variable in self.model.variables:
                if "seed_generator_state" in variable.path:
                    variable.assign([config.seed, epoch + 1])

    class StopOnNonFiniteLoss(keras.callbacks.Callback):
        """Stops at the first NaN/Inf batch loss and withholds that epoch's val_* metrics from later callbacks."""

        diverged = False

        def on_train_batch_end(self, batch, logs=None):
            if logs and not _finite(float(logs["loss"])):
                self.diverged = self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if self.diverged and logs is not None:
                for key in [key for key in logs if key.startswith("val_")]:
                    del logs[key]

    nonfinite = StopOnNonFiniteLoss()

    class FiniteInformationAbundance(InformationAbundanceCallback):
        """IA of diverged (NaN) embeddings is meaningless: skipped."""

        def on_epoch_end(self, epoch, logs=None):
            if not nonfinite.diverged:
                super().on_epoch_end(epoch, logs)

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if history_aucs:
                best = max(range(len(history_aucs)), key=history_aucs.__getitem__)
                self.best, self.best_epoch, self.wait = history_aucs[best], best, len(history_aucs) - 1 - best

    history_aucs = [row["val_auc"] for row in read_epoch_log(os.path.join(run_dir, "epochs.csv"))]
    checkpoint = keras.callbacks.ModelCheckpoint(
        os.path.join(run_dir, "checkpoints", "best.weights.h5"), monitor="val_auc", mode="max",
        save_best_only=True, save_weights_only=True, initial_value_threshold=max(history_aucs, default=None))
    return {
        "throughput": ThroughputCallback(config.batch_size),
        "reseed": DropoutReseed(),
        "nonfinite": nonfinite,
        "information_abundance": FiniteInformationAbundance(
            os.path.join(run_dir, "information_abundance.jsonl"), field_names(schema), tensorboard_scalar_writer(run_dir)),
        "tensorboard": keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")),
        "checkpoint": checkpoint,
        "early_stopping": ResumableEarlyStopping(monitor="val_auc", mode="max", patience=config.patience),
        "epoch_log": keras.callbacks.CSVLogger(os.path.join(run_dir, "epochs.csv"), append=resumed_epochs > 0),
        "backup": keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"), save_freq="epoch"),  # last
    }


def train_stream(config, strategy, skipped_steps):
    """The train batches: one seeded, repeated stream, after the steps a resumed run has done.

    Under a multi-worker TF_CONFIG each worker reads its own shard files (every n-th) in per-replica batches,
    so the skip is exact (tf.data's auto-sharding would split every global batch between steps).
    """
    from datasets.reader import make_dataset

    def stream(batch_size, files_shard=(0, 1), batches_per_step=1):
        data = make_dataset(config.data_dir, "train", batch_size, shuffle=True, seed=config.seed,
                            files_shard=files_shard)
        return data.repeat().skip(skipped_steps * batches_per_step)

    def worker_stream(context):
        workers = context.num_input_pipelines
        return stream(context.get_per_replica_batch_size(config.batch_size), (context.input_pipeline_id, workers),
                      context.num_replicas_in_sync // workers)

    if cluster_size() == 1:
        return stream(config.batch_size)
    return strategy.distribute_datasets_from_function(worker_stream)


def evaluate(model, dataset):
    """Exact test AUC and logloss of the model's predictions over a whole split.

    Every predict() batch has the full batch shape (the last one is filled up with copies of the first
    example, whose predictions are dropped), so predict() traces once per model, not again for the remainder;
    the batch count is declared, so Keras does not warn that the data ran out.
    """
    import numpy as np
    import tensorflow as tf

    from tf_multiemb.metrics import log_loss, roc_auc

    label_batches = [label.numpy() for _, label in dataset]
    labels = np.concatenate(label_batches)
    batch_size = len(label_batches[0])
    examples = dataset.map(lambda ids, label: ids).unbatch()
    examples = examples.concatenate(examples.take(1).repeat(-len(labels) % batch_size))
    steps = -(-len(labels) // batch_size)
    batches = examples.batch(batch_size).apply(tf.data.experimental.assert_cardinality(steps))
    probabilities = model.predict(batches, verbose=0)[:len(labels)]
    return roc_auc(labels, probabilities), log_loss(labels, probabilities)


def train(config):
    """Runs one training job end to end and returns the results dict (also written to results.json).

    Rerunning a job whose run directory holds a backup/ (an interrupted run) resumes it. Under a multi-worker
    TF_CONFIG the results are the chief's; the other workers return the same.
    """
    validate(config)
    import keras
    import tensorflow as tf

    from datasets.reader import make_dataset
    from datasets.schema import load_schema

    started = time.time()
    strategy = make_strategy(config.cpu_devices)
    run_dir = worker_run_dir(config.output_dir)
    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    schema = load_schema(config.data_dir)
    copy_schema(config.data_dir, run_dir)
    write_run_info(config, run_dir)

    resumed_epochs = completed_epochs(os.path.join(run_dir, "backup"))
    steps_per_epoch = config.steps_per_epoch or math.ceil(schema["rows"]["train"] / config.batch_size)
    train_data = train_stream(config, strategy, resumed_epochs * steps_per_epoch)
    val_data = make_dataset(config.data_dir, "val", config.batch_size)
    test_data = make_dataset(config.data_dir, "test", config.batch_size)
    with strategy.scope():
        model = build_compiled_model(config, schema, strategy.num_replicas_in_sync)
    if cluster_size() > 1:
        check_same_resume_epoch(strategy, resumed_epochs)
        adapt_to_multi_worker(model)

    ia_log = os.path.join(run_dir, "information_abundance.jsonl")
    truncate_logs(run_dir, resumed_epochs)
    callbacks = training_callbacks(config, run_dir, schema, resumed_epochs)
    with strategy.scope():
        model.fit(train_data, validation_data=val_data, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
                  callbacks=list(callbacks.values()), verbose=config.verbose)
    best_checkpoint = os.path.join(run_dir, "checkpoints", "best.weights.h5")
    if callbacks["nonfinite"].diverged:
        raise FloatingPointError(f"training loss became NaN/Inf; stopped. The best checkpoint so far is "
                                 f"{best_checkpoint if os.path.isfile(best_checkpoint) else 'none (diverged in epoch 1)'}; "
                                 "try a lower --learning_rate")
    model.load_weights(best_checkpoint)

    test_auc, test_logloss = evaluate(model, test_data)
    model.save(os.path.join(run_dir, "model.keras"))
    with open(ia_log) as handle:
        ia_records = [json.loads(line) for line in handle]
    epoch_log = read_epoch_log(os.path.join(run_dir, "epochs.csv"))
    val_aucs = [row["val_auc"] for row in epoch_log]
    best_epoch = max(range(len(val_aucs)), key=val_aucs.__getitem__)
    results = {
        "model": config.model, "embedding": config.embedding, "scale": config.scale,
        "num_sets": model.num_sets, "embedding_dim": model.embedding_dim, "seed": config.seed,
        "test_auc": test_auc, "test_logloss": test_logloss,
        "best_val_auc": float(val_aucs[best_epoch]), "best_epoch": best_epoch + 1, "epochs": len(val_aucs),
        "mean_ia": ia_records[best_epoch]["mean_ia"],
        "params_total": int(model.count_params()), "params_embedding": int(model.embedding_parameter_count()),
        "examples_per_sec": callbacks["throughput"].examples_per_sec(), "num_replicas": strategy.num_replicas_in_sync,
        "train_loss": [row["loss"] for row in epoch_log],
        "val_auc": val_aucs,
        "resumed_from_epoch": resumed_epochs,
        "weights_sha256": weights_digest(model),
        "wall_seconds": round(time.time() - started, 1),
    }
    with open(os.path.join(run_dir, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    if run_dir != config.output_dir:
        shutil.rmtree(run_dir)
    return results


def _finite(value):
    return value == value and abs(value) != float("inf")


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}")
    config = config_from_flags()
    try:
        validate(config)
    except ValueError as error:
        sys.exit(f"error: {error}")
    try:
        results = train(config)
    except (FloatingPointError, WorkerMismatchError) as error:
        sys.exit(f"error: {error}")
    print(json.dumps({key: results[key] for key in (
        "model", "embedding", "scale", "test_auc", "test_logloss", "best_val_auc", "epochs", "mean_ia",
        "params_total", "params_embedding", "examples_per_sec", "resumed_from_epoch", "weights_sha256")}, indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(main)
