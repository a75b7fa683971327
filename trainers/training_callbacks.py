"""The callbacks of `trainers.fit`: IA after every epoch, early stopping and checkpoints that survive a resume.

A resumed run (keras.callbacks.BackupAndRestore) continues the epoch log of the interrupted one, so early
stopping and the best checkpoint pick up where they were, and every dropout layer is reseeded from (seed, layer,
epoch) so a resumed epoch draws the masks an uninterrupted one would.

At the end of an epoch the logs are written first, then the backup (its metadata file is the commit point),
then the best checkpoint. On resume the restored weights must have trained exactly the backed-up epochs
(`VerifiedBackupAndRestore`), and the best checkpoint must be the logged best epoch's, else it is rewritten
from the restored weights when that epoch is the last one (`BestCheckpoint`); what cannot be matched is a
ResumeError. Run directory layout: docs/design.md.
"""

import contextlib
import hashlib
import importlib
import json
import math
import os
import shutil
import threading

import keras

from tf_multiemb.callbacks import InformationAbundance
from trainers.run_records import START_OVER, ResumeError, best_epoch_index, write_json_atomically


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
    """Stops at the first NaN/Inf batch loss and withholds that epoch's val_* metrics from later callbacks.

    With `async_safe` (JAX: Keras then runs the batch-end hooks in a worker thread, where it converts the
    step's loss to a float) the check never makes the training thread wait for the step it just dispatched;
    it waits only when the checks fall more than `max_lag` calls behind, so training stops at most
    `max_lag` + 1 calls after the bad step. The logged loss is the epoch's running mean, which stays
    non-finite once a batch loss was (a binary cross-entropy is never -Inf), so a late check still catches it,
    and Keras runs every pending hook before `on_epoch_end`.

    Args:
        async_safe: whether Keras may run the batch-end hook off the training thread.
        max_lag: train calls the training thread may run ahead of the checks.
    """

    def __init__(self, async_safe: bool = True, max_lag: int = 8):
        super().__init__()
        self.async_safe, self.max_lag = async_safe, max_lag
        self.diverged = False
        self.diverged_epoch = None  # counted from 1
        self._checks = threading.Condition()
        self._started = self._checked = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = self._checked = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._started += 1
        with self._checks:
            # the timeout only keeps a hook that raised (Keras re-raises it at the next dispatch) from hanging fit
            self._checks.wait_for(lambda: self._checked >= self._started - 1 - self.max_lag, timeout=60)

    def on_train_batch_end(self, batch, logs=None):
        try:
            if logs and not math.isfinite(float(logs["loss"])):
                self.diverged = True
                self._model.stop_training = True  # not self.model: on JAX that reattaches the state mid-epoch
        finally:
            with self._checks:
                self._checked += 1
                self._checks.notify_all()

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged:
            self.diverged_epoch = epoch + 1
            for key in [key for key in logs or {} if key.startswith("val_")]:
                del logs[key]


class FiniteInformationAbundance(InformationAbundance):
    """The IA callback, skipped once `guard` has seen the loss diverge (IA of NaN embeddings means nothing).

    `whole_values(model)` is the context it measures in: the runtime's, which gathers tables split across
    processes (trainers/jax_processes.py).
    """

    def __init__(self, guard: StopOnNonFiniteLoss, *args, whole_values=contextlib.nullcontext, **kwargs):
        super().__init__(*args, **kwargs)
        self.guard, self.whole_values = guard, whole_values

    def on_epoch_end(self, epoch, logs=None):
        if not self.guard.diverged:
            with self.whole_values(self.model):
                super().on_epoch_end(epoch, logs)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that starts from the validation AUCs of the epochs a resumed run already logged."""

    def __init__(self, history_aucs: list, **kwargs):
        super().__init__(**kwargs)
        self.history_aucs = history_aucs

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.history_aucs:
            self.best_epoch = best_epoch_index(self.history_aucs)
            self.best, self.wait = self.history_aucs[self.best_epoch], self.history_wait()

    def history_wait(self) -> int:
        """Logged epochs after the best one."""
        return len(self.history_aucs) - 1 - best_epoch_index(self.history_aucs) if self.history_aucs else 0

    def stopped_in_history(self) -> bool:
        """Whether the logged epochs already met the patience (the run was killed after the stopping epoch's
        backup), as Keras decides it: an improving epoch never stops."""
        return self.history_wait() >= max(self.patience, 1)


class BestCheckpoint(keras.callbacks.Callback):
    """The weights of the epoch with the highest val_auc (`best.weights.h5`) and that epoch (`best.json`).

    An epoch without val_auc (a diverged one: StopOnNonFiniteLoss withholds it) is never saved, where
    keras.callbacks.ModelCheckpoint saves when its monitored key is missing. It runs after the backup, so a
    kill can only keep the checkpoint of the logged best epoch from being written when that epoch is the last
    one logged: on resume `on_train_begin` then writes it from the restored weights, and refuses any other
    mismatch.
    """

    def __init__(self, directory: str, history_aucs: list):
        super().__init__()
        self.weights_path = os.path.join(directory, "best.weights.h5")
        self.record_path = os.path.join(directory, "best.json")
        self.logged_epochs = len(history_aucs)
        self.best = max(history_aucs, default=None)
        self.epoch = best_epoch_index(history_aucs) + 1 if history_aucs else None

    def recorded_epoch(self):
        """The epoch `best.json` names; None without a readable one."""
        try:
            with open(self.record_path) as handle:
                return json.load(handle)["epoch"]
        except (OSError, ValueError, KeyError):
            return None

    def on_train_begin(self, logs=None):
        if self.epoch is None:  # a fresh run: a checkpoint left by an earlier run in this directory is not its own
            self.remove()
        elif (recorded := self.recorded_epoch()) != self.epoch:
            if self.epoch != self.logged_epochs:
                raise ResumeError(f"{self.record_path} names {f'epoch {recorded}' if recorded else 'no epoch'} but "
                                  f"the logged best epoch is {self.epoch}; {START_OVER}")
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        auc = (logs or {}).get("val_auc")
        if auc is not None and (self.best is None or auc > self.best):
            self.best, self.epoch = float(auc), epoch + 1
            self.save()

    def remove(self):
        """Deletes the checkpoint an earlier run left."""
        for path in (self.weights_path, self.record_path):
            if os.path.isfile(path):
                os.remove(path)

    def save(self):
        """Writes the model's weights, then the record naming their epoch."""
        os.makedirs(os.path.dirname(self.record_path), exist_ok=True)
        self.write_weights()
        write_json_atomically(self.record_path, {"epoch": self.epoch})

    def write_weights(self):
        self.model.save_weights(self.weights_path, overwrite=True)

    def restore(self):
        """Loads the best epoch's weights into the model."""
        self.model.load_weights(self.weights_path)


def optimizer_steps(model: keras.Model) -> int:
    """The train steps the model's optimizer has applied (restored with the weights from a checkpoint)."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class VerifiedBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore (keeping the previous epoch's copy) whose restored weights must have trained the epochs
    that its metadata names, and which never backs up a diverged epoch.

    A kill between the weights write and the metadata write leaves the next epoch's weights beside the
    previous epoch's metadata: the restored optimizer has then run more than resumed_epochs x steps_per_epoch
    steps, and the previous epoch's copy (`*.bkp`) replaces the weights if it has run exactly that many.
    """

    async_safe = True  # save_freq="epoch": Keras' batch-end hook only returns

    def __init__(self, backup_dir: str, resumed_epochs: int, steps_per_epoch: int, guard: StopOnNonFiniteLoss):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=True)
        self.resumed_epochs, self.steps_per_epoch, self.guard = resumed_epochs, steps_per_epoch, guard

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        expected, restored = self.resumed_epochs * self.steps_per_epoch, optimizer_steps(self.model)
        if restored != expected and not self.restore_previous(expected):
            raise ResumeError(f"{self._weights_path} has trained {restored} steps, not the {self.resumed_epochs} "
                              f"epochs x {self.steps_per_epoch} steps its metadata names (were --steps_per_epoch or "
                              f"--batch_size changed?); {START_OVER}")

    def restore_previous(self, expected_steps: int) -> bool:
        """Restores the previous epoch's copy, and makes it the backup, if it trained `expected_steps`."""
        if not os.path.isfile(self._prev_weights_path):
            return False
        previous = os.path.join(self.backup_dir, "previous.weights.h5")  # load_weights wants this suffix
        shutil.copyfile(self._prev_weights_path, previous)
        self.model.load_weights(previous)
        if optimizer_steps(self.model) != expected_steps:
            os.remove(previous)
            return False
        os.replace(previous, self._weights_path)
        return True

    def on_epoch_end(self, epoch, logs=None):
        if not self.guard.diverged:
            super().on_epoch_end(epoch, logs)


def tensorboard_callbacks(run_dir: str) -> tuple:
    """(IA scalar writer, keras TensorBoard callback) when TensorFlow is importable, else (None, None) and a line."""
    try:
        importlib.import_module("tensorflow")  # TensorBoard's writers need it
    except ImportError:
        print("TensorBoard logs skipped: TensorFlow is not installed (epochs.csv and information_abundance.jsonl "
              "are written)")
        return None, None
    return tensorboard_scalar_writer(run_dir), EpochTensorBoard(os.path.join(run_dir, "tensorboard"))


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """keras.callbacks.TensorBoard with its defaults (update_freq="epoch", no profiling), marked `async_safe`.

    With those defaults its batch hooks write nothing per step (no writer is made the default) but the train
    graph of a TensorFlow tf.function, once: reading `self.model` for it would reattach the JAX state from
    Keras' worker thread mid-step, and a jitted JAX function has no graph, so it is skipped on JAX. The
    TensorFlow backend never dispatches callbacks asynchronously, so it is left as it was there.
    """

    async_safe = True

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if keras.backend.backend() == "jax":
            self._should_write_train_graph = False


def tensorboard_scalar_writer(run_dir: str):
    """A scalar_writer for InformationAbundance writing to tensorboard/information_abundance."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(os.path.join(run_dir, "tensorboard", "information_abundance"))

    def write(tag, value, step):
        with writer.as_default():
            tf.summary.scalar(tag, value, step=step)
        writer.flush()

    return write
