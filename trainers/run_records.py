"""The records a run directory keeps besides the model: schema copy, flags, versions, epoch logs, digests.

Layout of the whole run directory: docs/design.md, "Run directory".
"""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys

from trainers.config import as_flagfile
from trainers.run_lock import repair_log_tail


def write_json_atomically(path: str, record, indent=None) -> None:
    """Writes `record` as JSON to `path` through a temporary sibling renamed over it: a reader (a resumed
    run) sees the old file or the whole new one, never a part."""
    with open(path + ".tmp", "w") as handle:
        json.dump(record, handle, indent=indent)
    os.replace(path + ".tmp", path)


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


def write_run_info(config, run_dir, backend_versions):
    """flags.txt (the resolved flags) and run_info.json (library versions, the data's schema hash, git commit)."""
    import keras
    import numpy

    from datasets.schema import schema_hash

    with open(os.path.join(run_dir, "flags.txt"), "w") as handle:
        handle.write(as_flagfile(config))
    info = {**backend_versions, "keras_backend": keras.backend.backend(), "keras": keras.__version__,
            "numpy": numpy.__version__, "python": sys.version.split()[0], "data_schema_sha256": schema_hash(config.data_dir),
            "git_commit": git_commit()}
    with open(os.path.join(run_dir, "run_info.json"), "w") as handle:
        json.dump(info, handle, indent=2)


BACKUP_FILES = ("latest.weights.h5", "training_metadata.json")


def recorded_model_spec(run_dir):
    """The --model a trainers.fit run was trained with, from its flags.txt ("dcnv2", "package.module:name");
    None for a directory that trainers.fit did not write (a plain Keras model's run)."""
    path = os.path.join(run_dir, "flags.txt")
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return next((line.split("=", 1)[1].strip() for line in handle if line.startswith("--model=")), None)


def load_trained_model(run_dir):
    """The run's model.keras, after importing the module that registers its backbone (package.module:name)."""
    import keras

    import tf_multiemb  # noqa: F401  registers the library's layers
    from tf_multiemb.models.registry import import_backbone

    spec = recorded_model_spec(run_dir)
    if spec is not None:
        import_backbone(spec)
    return keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)


class ResumeError(RuntimeError):
    """The files of an interrupted run cannot be matched into one consistent state; `main` prints it as one line."""


START_OVER = "delete its backup/ to train from the start"


def completed_epochs(backup_dir):
    """Epochs a previous, interrupted run finished (BackupAndRestore's metadata); 0 for a fresh run.

    A run killed while it wrote the small metadata file leaves it unreadable: the previous epoch's backup
    (BackupAndRestore's double checkpoint, `*.bkp`) then replaces both files. A run killed while it wrote the
    weights leaves the old metadata, and BackupAndRestore itself falls back to the previous weights.
    """
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    try:
        with open(path) as handle:
            return json.load(handle)["epoch"]
    except (ValueError, KeyError):
        if not os.path.isfile(path + ".bkp"):
            return 0
        use_previous_backup(backup_dir)
        return completed_epochs(backup_dir)


def use_previous_backup(backup_dir):
    """Replaces the backup by the previous epoch's copy (`*.bkp`)."""
    for name in BACKUP_FILES:
        shutil.copyfile(os.path.join(backup_dir, name + ".bkp"), os.path.join(backup_dir, name))


def previous_backup_epochs(backup_dir):
    """Epochs of the previous epoch's backup copy (`*.bkp`); None without a readable one."""
    try:
        with open(os.path.join(backup_dir, "training_metadata.json.bkp")) as handle:
            return json.load(handle)["epoch"]
    except (OSError, ValueError, KeyError):
        return None


EPOCH_LOGS = (("epochs.csv", 1), ("information_abundance.jsonl", 0))  # (file, header lines)


def intact_log_lines(path):
    """The lines of a per-epoch log, its torn or NUL-padded tail (a crash) cut off first; [] when absent."""
    if not os.path.isfile(path):
        return []
    repair_log_tail(path)
    with open(path) as handle:
        return handle.readlines()


def resume_point(run_dir):
    """The epochs an interrupted run in `run_dir` resumes after (0: a fresh run), its logs cut back to them.

    The backup (backup/) decides; the per-epoch logs keep their first that many records (a crash may have
    logged an epoch the backup lacks), and a backup without a finished epoch is removed. When a log lacks the
    backup's last epoch (a power loss kept the backup but not the log line), the previous epoch's backup copy
    replaces the backup if it ends where the logs do.

    Raises:
        ResumeError: the logs end more than one epoch before the backup, or no backup copy ends where they do.
    """
    backup_dir = os.path.join(run_dir, "backup")
    epochs = completed_epochs(backup_dir)
    if epochs == 0:  # killed before its first backup was complete: nothing to resume
        shutil.rmtree(backup_dir, ignore_errors=True)
    logs = {name: (header, intact_log_lines(os.path.join(run_dir, name))) for name, header in EPOCH_LOGS}
    logged = min(max(len(lines) - header, 0) for header, lines in logs.values())
    if logged < epochs:
        if logged != epochs - 1 or previous_backup_epochs(backup_dir) != logged:
            raise ResumeError(f"the epoch logs in {run_dir} end after epoch {logged} but its backup after epoch "
                              f"{epochs}, and no backup copy ends where the logs do; {START_OVER}")
        use_previous_backup(backup_dir)
        epochs = logged
    for name, (header, lines) in logs.items():
        if lines:
            with open(os.path.join(run_dir, name), "w") as handle:
                handle.writelines(lines[:header + epochs] if epochs else [])
    return epochs


def read_epoch_log(path):
    """Rows of the CSVLogger file as {column: float}; [] when absent."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as handle:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def best_epoch_index(val_aucs):
    """Index of the first epoch with the highest validation AUC (Keras' early stopping and checkpoint: an
    equal AUC is no improvement)."""
    return max(range(len(val_aucs)), key=val_aucs.__getitem__)


def weights_digest(model):
    """sha256 over all model weights: equal digests mean bit-identical weights."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()
