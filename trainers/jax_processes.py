"""`trainers.fit` as N processes on JAX: keras.distribution.initialize, run directories, gathered predictions.

Every process runs the same command with its own process id, from the flags (--job_addresses, --num_processes,
--process_id) or from the environment variables keras.distribution.initialize reads
(KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_NUM_PROCESSES, KERAS_DISTRIBUTION_PROCESS_ID), which
a SLURM or Kubernetes job sets per task. DataParallel then spans all processes' devices; each process reads its
block of every global batch (`datasets.numpy_reader.NumpyReader`). Process 0 writes the run directory; the
others write theirs into `<output_dir>/process-<i>-scratch` and delete it at the end. The Orbax checkpoints
(trainers/orbax_callbacks.py) live in --output_dir, which every process must see (a shared file system).
Usage: docs/training.md, "Several processes".
"""

import contextlib
import os

import jax
import keras
import numpy as np

from trainers.config import requested_processes

JOB_ADDRESSES_VARIABLE, PROCESS_ID_VARIABLE = "KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_PROCESS_ID"


def check_process_flags(config) -> None:
    """Refuses a multi-process request that cannot start, in one line (ValueError); JAX is not started."""
    count = requested_processes(config)
    if count < 1:
        raise ValueError(f"--num_processes must be positive, got {count}")
    if count == 1:
        return
    process_id = config.process_id if config.process_id >= 0 else os.environ.get(PROCESS_ID_VARIABLE)
    if process_id is None or not 0 <= int(process_id) < count:
        raise ValueError(f"{count} processes need --process_id (or ${PROCESS_ID_VARIABLE}) in 0..{count - 1}, "
                         f"got {process_id}")
    if not (config.job_addresses or os.environ.get(JOB_ADDRESSES_VARIABLE)):
        raise ValueError(f"{count} processes need --job_addresses (or ${JOB_ADDRESSES_VARIABLE}): process 0's "
                         "host:port")
    if config.batch_size % count:
        raise ValueError(f"--batch_size={config.batch_size} is the global batch: it must split evenly between the "
                         f"{count} processes")


def join_processes(config) -> None:
    """keras.distribution.initialize for a multi-process run (once per Python process), before JAX computes anything.

    The flags win over the environment variables; one process: nothing.
    """
    if requested_processes(config) == 1 or jax.distributed.is_initialized():
        return
    keras.distribution.initialize(config.job_addresses or None, config.num_processes or None,
                                  config.process_id if config.process_id >= 0 else None)
    use_distributed_barriers()


def use_distributed_barriers() -> None:
    """Makes Orbax synchronise processes through the JAX distributed client's barriers.

    By default Orbax synchronises with a collective over all devices (`sync_global_devices`), also from its
    background threads: launched there while the training thread launches its steps, the devices of two
    processes can run the collectives in different orders and wait for each other forever (seen here, about one
    run in four on 2 loaded cores).
    """
    from absl import flags
    import orbax.checkpoint  # noqa: F401  defines the flag

    flags.FLAGS.experimental_orbax_use_distributed_barrier = True


def process_run_dir(output_dir: str) -> str:
    """`output_dir` on process 0 (and in a one-process run); `<output_dir>/process-<i>-scratch` on process i."""
    index = jax.process_index()
    return output_dir if index == 0 else os.path.join(output_dir, f"process-{index}-scratch")


def replicate_predictions(model: keras.Model) -> None:
    """Makes `model.predict` gather every batch's predictions to all processes.

    Under DataParallel over several processes each process holds only its rows' predictions, which numpy cannot
    read (Keras' predict concatenates them with numpy); constrained to be replicated, each process holds the whole
    global batch's, in process order: the one-process order (see `NumpyReader`).
    """
    distribution = keras.distribution.distribution()
    replicated = jax.sharding.NamedSharding(distribution.device_mesh.backend_mesh, jax.sharding.PartitionSpec())
    step = model.predict_step

    def replicated_step(state, data):
        outputs, non_trainable_variables = step(state, data)
        return jax.lax.with_sharding_constraint(outputs, replicated), non_trainable_variables

    model.predict_step = replicated_step


def check_same_resume_epoch(resumed_epochs: int) -> None:
    """Every process resumes from the backup its own run directory names: all must name the same epoch.

    Raises:
        trainers.distribution.WorkerMismatchError: when they differ.
    """
    from jax.experimental import multihost_utils

    from trainers.distribution import WorkerMismatchError

    epochs = sorted(set(np.asarray(multihost_utils.process_allgather(np.int32(resumed_epochs))).tolist()))
    if len(epochs) > 1:
        raise WorkerMismatchError(
            f"the processes' backups end after different epochs {epochs}; each process resumes from "
            "backup/training_metadata.json in its own run directory (process-<i>-scratch/ inside --output_dir for "
            "i > 0): delete backup/ in all of them to start over")


def identity(array):
    """One function object for every gather, so that jax.jit's cache serves every epoch's IA after the first."""
    return array


@contextlib.contextmanager
def whole_values(model: keras.Model):
    """While the block runs, every variable split across processes has its whole value on every process.

    A row-sharded table (and its Adam moments) over several processes is in no process whole, and numpy cannot
    read it: information abundance, `model.save` and the weights digest run inside this block. The gather is a
    collective, so every process enters the block at the same point; the split values come back after it.
    One process, or only replicated variables: nothing changes.
    """
    optimizer_variables = model.optimizer.variables if model.optimizer is not None else []
    split = [variable for variable in [*model.variables, *optimizer_variables]
             if not (variable.value.is_fully_addressable or variable.value.is_fully_replicated)]
    kept = [variable.value for variable in split]
    for variable, value in zip(split, kept):
        replicated = jax.sharding.NamedSharding(value.sharding.mesh, jax.sharding.PartitionSpec())
        variable._value = jax.jit(identity, out_shardings=replicated)(value)  # keeps its layout
    try:
        yield model
    finally:
        for variable, value in zip(split, kept):
            variable._value = value
