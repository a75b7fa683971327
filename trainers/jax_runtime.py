"""`trainers.fit` on the JAX backend: the numpy shard reader and keras.distribution.DataParallel, no TensorFlow.

One process trains on all its local devices; several (trainers/jax_processes.py) on all their devices together.
"""

import os

import jax
import keras
import numpy as np

from datasets.numpy_reader import NumpyReader
from trainers.distribution import cluster_size
from trainers.jax_distribution import data_parallel_or_sharded
from trainers.jax_processes import check_process_flags, check_same_resume_epoch, replicate_predictions, whole_values
from trainers.placement import Placement


JAX_STEPS_PER_EXECUTION = 4  # measured: docs/performance.md, "Feeding the device"
JAX_MATMUL_PRECISION = {"float32": "highest", "tf32": "tensorfloat32", "bf16": "bfloat16"}


class ReaderBatches(keras.utils.PyDataset):
    """One unshuffled pass over a split as a Keras dataset of full-size batches.

    The last batch is filled up to full size (`NumpyReader.padded_batch`), so that one compiled function
    serves every batch and DataParallel can split every batch between the devices: with labels, the filler
    rows get sample weight 0 (`trainers.fit` compiles its metrics as weighted_metrics, so they ignore
    them); with `ids_only` (predict) the caller drops their
    predictions, which come last.

    Keras' loss tracker weighs each batch's loss by its row count, filler included, and the loss sums the
    weighted rows over the batch size; so every real row weighs (rows fed) / (real rows), which makes
    `val_loss` the mean over the real rows, as on TensorFlow. A weight common to all rows leaves the
    weighted metrics (AUC, log loss) as they are.
    """

    def __init__(self, reader: NumpyReader, ids_only: bool = False):
        super().__init__()
        self.reader, self.ids_only = reader, ids_only
        self.order = reader.epoch_order(0)
        self.row_weight = np.float32(len(reader) * reader.global_batch_size / max(reader.total_rows, 1))

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int):
        ids, labels, weights = self.reader.padded_batch(self.order, index)
        return ids if self.ids_only else (ids, labels, weights * self.row_weight)


class JaxRuntime:
    """Numpy-reader batches and DataParallel over all processes' accelerators (see trainers/runtime.py)."""

    default_steps_per_execution = JAX_STEPS_PER_EXECUTION

    def placement(self, config) -> Placement:
        """DataParallel over every process's devices (the MirroredStrategy analogue; one device: no distribution),
        or row-sharded embedding tables with --shard_embeddings (trainers/jax_distribution.py)."""
        devices = jax.devices()
        distribution = data_parallel_or_sharded(devices, config.shard_embeddings)
        if distribution is not None:
            keras.distribution.set_distribution(distribution)
        return Placement(len(devices))

    def synchronized_batch_norm(self, placement: Placement) -> bool:
        """Never needed: under DataParallel one program computes BatchNorm's statistics over the global batch."""
        return False

    def enable_determinism(self) -> None:
        """XLA's deterministic GPU kernels (CPU runs are deterministic already); set before JAX starts."""
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true").strip()

    def set_matmul_precision(self, precision: str) -> None:
        jax.config.update("jax_default_matmul_precision", JAX_MATMUL_PRECISION[precision])

    def versions(self) -> dict:
        return {"jax": jax.__version__}

    def check(self, config) -> None:
        """Refuses what the JAX path does not do, in one line each."""
        if config.sparse_embedding_updates:
            raise ValueError("--sparse_embedding_updates needs the TensorFlow backend (row-sparse gradients); "
                             "on JAX leave it off: the embedding update is dense")
        if cluster_size() > 1:
            raise ValueError("TF_CONFIG multi-worker training runs on the TensorFlow backend; on JAX set "
                             "--num_processes/--process_id/--job_addresses (or their KERAS_DISTRIBUTION_* variables)")
        if config.cpu_devices > 1:
            raise ValueError("--cpu_devices splits the CPU for MirroredStrategy; on JAX set "
                             "XLA_FLAGS=--xla_force_host_platform_device_count=N instead")
        check_process_flags(config)

    def train_batches(self, config, placement, skipped_steps: int):
        """Full batches of the train split's epochs (a new seeded permutation each), after the skipped steps."""
        reader = process_reader(config, "train", shuffle=True, seed=config.seed)
        return reader.full_batches(skip_batches=skipped_steps, workers=config.input_workers)

    def batches(self, config, split: str) -> ReaderBatches:
        return ReaderBatches(process_reader(config, split))

    def labels_and_inputs(self, batches: ReaderBatches):
        return batches.reader.labels(), ReaderBatches(batches.reader, ids_only=True)

    def whole_values(self, model):
        """A context in which numpy can read every weight, tables split across processes too (jax_processes)."""
        return whole_values(model)

    def prepare_model(self, model, placement, resumed_epochs: int) -> None:
        """Several processes: the same resume epoch on all, and predictions gathered to all (jax_processes)."""
        if jax.process_count() > 1:
            check_same_resume_epoch(resumed_epochs)
            replicate_predictions(model)


def process_reader(config, split: str, **options) -> NumpyReader:
    """This process's reader of a split: its block of every global batch of --batch_size rows."""
    return NumpyReader(config.data_dir, split, config.batch_size // jax.process_count(), **options,
                       process_index=jax.process_index(), process_count=jax.process_count())
