"""The callbacks of `trainers.fit`: IA after every epoch, early stopping and checkpoints that survive a resume.

A resumed run (keras.callbacks.BackupAndRestore) continues the epoch log of the interrupted one, so early
stopping and the best checkpoint pick up where they were, and every dropout layer is reseeded from (seed, layer,
epoch) so a resumed epoch draws the masks an uninterrupted one would. Run directory layout: docs/design.md.
"""

import hashlib
import importlib
import math
import os

import keras

from tf_multiemb.callbacks import InformationAbundance, ThroughputCallback
from trainers.run_records import read_epoch_log


def dropout_stream_seed(seed: int, generator_index: int, epoch: int) -> int:
    """A 32-bit seed for one (run seed, seed generator, epoch): a different key for each (up to hash collisions)."""
    digest = hashlib.blake2b(f"{seed}/{generator_index}/{epoch}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


class DropoutReseed(keras.callbacks.Callback):
    """Restarts every seed generator of the model at each epoch on a stream of its own.

    Each generator's state becomes [dropout_stream_seed(seed, its index, epoch), 0]; Keras then counts the
    second element up by one per draw within the epoch. Different generators and different epochs get
    different keys, so no two dropout layers share a mask and no step reuses another epoch's key, and a
    resumed run (which starts at an epoch boundary) draws exactly the masks of an uninterrupted one.
    The index is the generator's position in `model.variables`: variable paths carry Keras' process-wide
    name counters (a second model built in one process has `seed_generator_2`), the order does not.

    Args:
        seed: the run's `--seed`.
    """

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        states = [variable for variable in self.model.variables if "seed_generator_state" in variable.path]
        for index, state in enumerate(states):
            state.assign([dropout_stream_seed(self.seed, index, epoch), 0])


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops at the first NaN/Inf batch loss and withholds that epoch's val_* metrics from later callbacks."""

    def __init__(self):
        super().__init__()
        self.diverged = False

    def on_train_batch_end(self, batch, logs=None):
        if logs and not math.isfinite(float(logs["loss"])):
            self.diverged = self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged and logs is not None:
            for key in [key for key in logs if key.startswith("val_")]:
                del logs[key]


class FiniteInformationAbundance(InformationAbundance):
    """The IA callback, skipped once `guard` has seen the loss diverge (IA of NaN embeddings means nothing)."""

    def __init__(self, guard: StopOnNonFiniteLoss, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.guard = guard

    def on_epoch_end(self, epoch, logs=None):
        if not self.guard.diverged:
            super().on_epoch_end(epoch, logs)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that starts from the validation AUCs of the epochs a resumed run already logged."""

    def __init__(self, history_aucs: list, **kwargs):
        super().__init__(**kwargs)
        self.history_aucs = history_aucs

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.history_aucs:
            best = max(range(len(self.history_aucs)), key=self.history_aucs.__getitem__)
            self.best, self.best_epoch = self.history_aucs[best], best
            self.wait = len(self.history_aucs) - 1 - best


def tensorboard_callbacks(run_dir: str) -> tuple:
    """(IA scalar writer, keras TensorBoard callback) when TensorFlow is importable, else (None, None) and a line."""
    try:
        importlib.import_module("tensorflow")  # TensorBoard's writers need it
    except ImportError:
        print("TensorBoard logs skipped: TensorFlow is not installed (epochs.csv and information_abundance.jsonl "
              "are written)")
        return None, None
    return tensorboard_scalar_writer(run_dir), keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard"))


def tensorboard_scalar_writer(run_dir: str):
    """A scalar_writer for InformationAbundance writing to tensorboard/information_abundance."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(os.path.join(run_dir, "tensorboard", "information_abundance"))

    def write(tag, value, step):
        with writer.as_default():
            tf.summary.scalar(tag, value, step=step)
        writer.flush()

    return write


def training_callbacks(config, run_dir: str, schema: dict, resumed_epochs: int) -> dict:
    """The fit callbacks by role, in the order Keras must call them (BackupAndRestore last)."""
    from datasets.schema import field_names

    history_aucs = [row["val_auc"] for row in read_epoch_log(os.path.join(run_dir, "epochs.csv"))]
    nonfinite = StopOnNonFiniteLoss()
    scalar_writer, tensorboard = tensorboard_callbacks(run_dir)
    checkpoint = keras.callbacks.ModelCheckpoint(
        os.path.join(run_dir, "checkpoints", "best.weights.h5"), monitor="val_auc", mode="max",
        save_best_only=True, save_weights_only=True, initial_value_threshold=max(history_aucs, default=None))
    return {
        "throughput": ThroughputCallback(config.batch_size),
        "reseed": DropoutReseed(config.seed),
        "nonfinite": nonfinite,
        "information_abundance": FiniteInformationAbundance(
            nonfinite, log_file=os.path.join(run_dir, "information_abundance.jsonl"),
            field_names=field_names(schema), scalar_writer=scalar_writer),
        **({"tensorboard": tensorboard} if tensorboard else {}),
        "checkpoint": checkpoint,
        "early_stopping": ResumableEarlyStopping(history_aucs, monitor="val_auc", mode="max",
                                                 patience=config.patience),
        "epoch_log": keras.callbacks.CSVLogger(os.path.join(run_dir, "epochs.csv"), append=resumed_epochs > 0),
        "backup": keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"), save_freq="epoch",
                                                   double_checkpoint=True),  # a kill mid-write keeps the last one
    }
