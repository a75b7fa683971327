"""`trainers.fit` on the TensorFlow backend: tf.data input, MirroredStrategy (multi-worker from TF_CONFIG)."""

import contextlib

import numpy as np
import tensorflow as tf

from trainers.distribution import adapt_to_multi_worker, check_same_resume_epoch, cluster_size, make_strategy


class TensorFlowRuntime:
    """tf.data batches and tf.distribute placement (see trainers/runtime.py for the seam)."""

    default_steps_per_execution = 1  # recorded TensorFlow runs train one step per call

    def placement(self, config):
        return make_strategy(config.cpu_devices)

    def synchronized_batch_norm(self, strategy) -> bool:
        """BatchNorm statistics all-reduced across replicas when there are several (MirroredStrategy)."""
        return strategy.num_replicas_in_sync > 1

    def enable_determinism(self) -> None:
        tf.config.experimental.enable_op_determinism()

    def versions(self) -> dict:
        return {"tensorflow": tf.__version__}

    def check(self, config) -> None:
        """JAX-only options: bf16 matmuls (TensorFlow's bfloat16 is a whole dtype policy, not a matmul setting) and
        row-sharded tables (keras.distribution)."""
        if config.matmul_precision == "bf16":
            raise ValueError("--matmul_precision=bf16 is a JAX-backend option; on TensorFlow choose float32 or tf32")
        if config.shard_embeddings:
            raise ValueError("--shard_embeddings needs the JAX backend: run with KERAS_BACKEND=jax")

    def set_matmul_precision(self, precision: str) -> None:
        tf.config.experimental.enable_tensor_float_32_execution(precision == "tf32")

    def train_batches(self, config, strategy, skipped_steps: int):
        """One seeded, repeated stream, after the steps a resumed run has done.

        Under a multi-worker TF_CONFIG each worker reads its own shard files (every n-th) in per-replica
        batches, so the skip is exact (tf.data's auto-sharding would split every global batch between steps).
        """
        from datasets.reader import make_dataset

        def stream(batch_size, files_shard=(0, 1), batches_per_step=1):
            @tf.autograph.experimental.do_not_convert
            def passes(_):
                data = make_dataset(config.data_dir, "train", batch_size, shuffle=True, seed=config.seed,
                                    files_shard=files_shard)
                return data.repeat()

            # Built inside flat_map, the passes' reshuffle seed generator belongs to one iterator: the throwaway
            # one Keras' fit opens first (a symbolic build) does not advance the training iterator's, which it
            # did by a whole pass's order when a resumed run skipped whole passes.
            return tf.data.Dataset.range(1).flat_map(passes).skip(skipped_steps * batches_per_step)

        def worker_stream(context):
            workers = context.num_input_pipelines
            return stream(context.get_per_replica_batch_size(config.batch_size), (context.input_pipeline_id, workers),
                          context.num_replicas_in_sync // workers)

        if cluster_size() == 1:
            return stream(config.batch_size)
        return strategy.distribute_datasets_from_function(worker_stream)

    def batches(self, config, split: str):
        """One pass over a split, in file order, as (ids, labels) batches."""
        from datasets.reader import make_dataset

        return make_dataset(config.data_dir, split, config.batch_size)

    def labels_and_inputs(self, batches):
        """The labels of a split's batches, and the batches without them for predict, all of full size.

        The last batch is filled up with copies of the first example (predict's caller drops their
        predictions), so predict traces once per model, not again for the remainder; the batch count is
        declared, so Keras does not warn that the data ran out.
        """
        label_batches = [label.numpy() for _, label in batches]
        labels = np.concatenate(label_batches)
        batch_size = len(label_batches[0])
        examples = batches.map(lambda ids, label: ids).unbatch()
        examples = examples.concatenate(examples.take(1).repeat(-len(labels) % batch_size))
        steps = -(-len(labels) // batch_size)
        return labels, examples.batch(batch_size).apply(tf.data.experimental.assert_cardinality(steps))

    def whole_values(self, model):
        """Nothing to gather: every worker holds the whole model."""
        return contextlib.nullcontext(model)

    def prepare_model(self, model, strategy, resumed_epochs: int) -> None:
        """The multi-worker checks and work-arounds (trainers/distribution.py)."""
        if cluster_size() > 1:
            check_same_resume_epoch(strategy, resumed_epochs)
            adapt_to_multi_worker(model)
