"""The callbacks one `trainers.fit` run trains with, by role and in the order Keras must call them.

One process keeps its backup and best checkpoint as .weights.h5 files in the run directory
(trainers/training_callbacks.py); a multi-process JAX run keeps them as Orbax checkpoints in --output_dir,
which every process shares (trainers/orbax_callbacks.py).
"""

import contextlib
import os

import keras

from trainers.config import requested_processes
from trainers.run_records import read_epoch_log
from trainers.training_callbacks import (BestCheckpoint, DropoutReseed, FiniteInformationAbundance,
                                         ResumableEarlyStopping, StopOnNonFiniteLoss, VerifiedBackupAndRestore,
                                         tensorboard_callbacks)
from tf_multiemb.callbacks import ThroughputCallback


def training_callbacks(config, run_dir: str, schema: dict, resumed_epochs: int, steps_per_epoch: int) -> dict:
    """The fit callbacks by role, in the order Keras must call them (the backup, then the best checkpoint, last)."""
    from datasets.schema import field_names

    history_aucs = [row["val_auc"] for row in read_epoch_log(os.path.join(run_dir, "epochs.csv"))]
    nonfinite = StopOnNonFiniteLoss(async_safe=config.async_callbacks)
    backup_dir, checkpoint_dir = os.path.join(run_dir, "backup"), os.path.join(run_dir, "checkpoints")
    whole_values = contextlib.nullcontext
    if requested_processes(config) > 1:
        from trainers.jax_processes import whole_values  # JAX and Orbax only
        from trainers.orbax_callbacks import OrbaxBackupAndRestore, OrbaxBestCheckpoint

        backup = OrbaxBackupAndRestore(os.path.join(config.output_dir, "backup", "state"), backup_dir, resumed_epochs,
                                       steps_per_epoch, nonfinite)
        checkpoint = OrbaxBestCheckpoint(checkpoint_dir, os.path.join(config.output_dir, "checkpoints", "best"),
                                         history_aucs, steps_per_epoch)
    else:
        backup = VerifiedBackupAndRestore(backup_dir, resumed_epochs, steps_per_epoch, nonfinite)
        checkpoint = BestCheckpoint(checkpoint_dir, history_aucs)
    scalar_writer, tensorboard = tensorboard_callbacks(run_dir)
    return {
        "throughput": ThroughputCallback(config.batch_size),
        "reseed": DropoutReseed(config.seed),
        "nonfinite": nonfinite,
        "information_abundance": FiniteInformationAbundance(
            nonfinite, log_file=os.path.join(run_dir, "information_abundance.jsonl"),
            field_names=field_names(schema), scalar_writer=scalar_writer, whole_values=whole_values),
        **({"tensorboard": tensorboard} if tensorboard else {}),
        "early_stopping": ResumableEarlyStopping(history_aucs, monitor="val_auc", mode="max",
                                                 patience=config.patience),
        "epoch_log": keras.callbacks.CSVLogger(os.path.join(run_dir, "epochs.csv"), append=resumed_epochs > 0),
        "backup": backup,
        "checkpoint": checkpoint,
    }
