"""Where `trainers.fit` runs: one process, several local devices, or several workers named by TF_CONFIG.

MirroredStrategy over the visible GPUs (one replica on a CPU-only machine; `--cpu_devices=N` splits the CPU
into N logical devices). When TF_CONFIG names several tasks, every worker runs the same command under
MultiWorkerMirroredStrategy and reads its own train shard files. The chief (the "chief" task, else worker 0)
writes the run directory; the other workers write theirs into a scratch directory inside --output_dir and
delete it at the end (`worker_run_dir`). Keras 3.15's TensorFlow trainer needs two work-arounds there
(`adapt_to_multi_worker`). Usage: docs/distributed.md.
"""

import json
import os


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
