"""The backup and best checkpoint of a multi-process JAX run as Orbax checkpoints (keras.callbacks.OrbaxCheckpoint).

A model whose variables span processes cannot go through `model.save_weights`: Orbax writes every process's
shards into one directory that all processes share (under --output_dir), one numbered step per save, which
it commits when complete. Keras' OrbaxCheckpoint writes the whole state (weights, optimizer and metric
variables); `model.load_weights` reads a step back into the variables of the same paths. Variable paths carry
Keras' process-wide name counters, and a checkpoint whose paths differ loads nothing, silently: every restore
here checks the optimizer's step count. Resume rules as for the one-process run (trainers/training_callbacks.py).
"""

import os
import shutil

import jax
import keras
from jax.experimental import multihost_utils
from keras.src.saving.orbax_util import build_orbax_abstract_pytree
from keras.src.utils.module_utils import ocp

from trainers.run_records import START_OVER, ResumeError, write_json_atomically
from trainers.training_callbacks import BestCheckpoint, StopOnNonFiniteLoss, optimizer_steps


def orbax_writer(directory: str, max_to_keep: int, model: keras.Model) -> keras.callbacks.OrbaxCheckpoint:
    """A synchronous OrbaxCheckpoint of `model` into `directory`; `writer.on_epoch_end(n)` saves step n."""
    writer = keras.callbacks.OrbaxCheckpoint(directory, save_freq="epoch", max_to_keep=max_to_keep,
                                             save_on_background=False)
    writer.set_model(model)
    return writer


def load_step(model: keras.Model, step_dir: str) -> None:
    """Sets the model's whole state from one Orbax step, resharded onto the current distribution (as
    `model.load_weights` does for a checkpoint's latest step)."""
    abstract = build_orbax_abstract_pytree(step_dir, model.get_state_tree())
    model.set_state_tree(ocp.load_checkpointables(step_dir, {"pytree": abstract})["pytree"])


def remove_steps_after(state_dir: str, step: int) -> None:
    """Deletes the steps after `step` and the unfinished ones: a run killed after Orbax committed an epoch but
    before its metadata named it resumes from the epoch before, and saving a step that exists fails."""
    for name in os.listdir(state_dir):
        number = name.split(".")[0]
        if ".orbax-checkpoint-tmp" in name or (number.isdigit() and int(number) > step):
            shutil.rmtree(os.path.join(state_dir, name))


class OrbaxBackupAndRestore(keras.callbacks.Callback):
    """`VerifiedBackupAndRestore` for several processes: after every epoch the whole state as Orbax step <epochs
    done> in `state_dir` (the last two kept), then this process's `training_metadata.json` in `backup_dir`
    naming it, written atomically: the commit point `trainers.run_records.resume_point` reads. On resume the
    named step is restored and must have trained that many epochs; a diverged epoch is never backed up.
    """

    def __init__(self, state_dir: str, backup_dir: str, resumed_epochs: int, steps_per_epoch: int,
                 guard: StopOnNonFiniteLoss):
        super().__init__()
        self.state_dir, self.backup_dir, self.guard = state_dir, backup_dir, guard
        self.resumed_epochs, self.steps_per_epoch = resumed_epochs, steps_per_epoch
        self.writer = None

    def on_train_begin(self, logs=None):
        if jax.process_index() == 0 and os.path.isdir(self.state_dir):
            remove_steps_after(self.state_dir, self.resumed_epochs)
        multihost_utils.sync_global_devices("orbax backup pruned")
        if self.resumed_epochs:
            if not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            step_dir = os.path.join(self.state_dir, str(self.resumed_epochs))
            load_step(self.model, step_dir)
            expected, restored = self.resumed_epochs * self.steps_per_epoch, optimizer_steps(self.model)
            if restored != expected:
                raise ResumeError(f"{step_dir} has trained {restored} steps, not the {self.resumed_epochs} epochs x "
                                  f"{self.steps_per_epoch} steps its metadata names; {START_OVER}")
            self.model._initial_epoch = self.resumed_epochs  # as keras.callbacks.BackupAndRestore does
        self.writer = orbax_writer(self.state_dir, 2, self.model)

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.diverged:
            return
        self.writer.on_epoch_end(epoch + 1)
        os.makedirs(self.backup_dir, exist_ok=True)
        write_json_atomically(os.path.join(self.backup_dir, "training_metadata.json"), {"epoch": epoch + 1})

    def on_train_end(self, logs=None):
        """Closes the writer (all processes), then deletes the backup, as BackupAndRestore does after a whole run."""
        self.writer.on_train_end()
        shutil.rmtree(self.backup_dir, ignore_errors=True)
        if jax.process_index() == 0:
            shutil.rmtree(self.state_dir, ignore_errors=True)


class OrbaxBestCheckpoint(BestCheckpoint):
    """`BestCheckpoint` whose weights are an Orbax checkpoint in `state_dir`, one step: the best epoch's.

    Saving is collective, so whether a resumed run saves must be the same decision on every process: the
    epoch of record is the step in the shared `state_dir`, not this process's best.json (a kill may land after
    one process wrote its best.json and before another did). `restore` checks the optimizer's step count.
    """

    def __init__(self, directory: str, state_dir: str, history_aucs: list, steps_per_epoch: int):
        super().__init__(directory, history_aucs)
        self.weights_path, self.steps_per_epoch = state_dir, steps_per_epoch
        self.writer = None

    def recorded_epoch(self):
        """The committed step in `state_dir` (Orbax renames a step's directory to its number when complete)."""
        steps = [int(name) for name in os.listdir(self.weights_path) if name.isdigit()] \
            if os.path.isdir(self.weights_path) else []
        return max(steps, default=None)

    def remove(self):
        super().remove()
        if jax.process_index() == 0:
            shutil.rmtree(self.weights_path, ignore_errors=True)

    def write_weights(self):
        if self.writer is None:  # made after `remove`: a writer keeps a list of the steps it found
            self.writer = orbax_writer(self.weights_path, 1, self.model)
        self.writer.on_epoch_end(self.epoch)

    def restore(self):
        if self.writer is not None:
            self.writer.on_train_end()
        self.model.load_weights(self.weights_path)
        expected = self.epoch * self.steps_per_epoch
        if optimizer_steps(self.model) != expected:
            raise ResumeError(f"{self.weights_path} holds a state of {optimizer_steps(self.model)} steps, not the best "
                              f"epoch {self.epoch}'s {expected}; {START_OVER}")
