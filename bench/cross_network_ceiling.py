"""The utilisation ceiling of DCNv2's set-batched cross network: its layers alone, nothing else.

    python -m bench.cross_network_ceiling                 # ME 10x on Criteo: 10 sets of 39 x 10
    python -m bench.cross_network_ceiling --sets 1 --dim 100
    python -m bench.cross_network_ceiling --sets 1 --dim 100 --ranks full,195   # SE 10x, full vs low rank
    python -m bench.cross_network_ceiling --sets 4 --per_set    # ME 4x: built-in vs PerSet(keras-rs FeatureCross)

Times one training step's worth of `tf_multiemb.layers.CrossNetV2` (forward, and the backward pass
to its input and weights; no embedding, MLP, BatchNorm, dropout or optimizer) on a random
(batch, M, N, K) input, and a float32 2048^2 matmul in the same process, in alternating rounds.
With several `--ranks` (full-rank W_l, or the low-rank U_l V_l^T of rank r) every layer is timed in
the same rounds and each line also gives its step time as a ratio to the first. `--per_set` adds the same
cross network written for one set from keras-rs `FeatureCross` layers and made set-specific by
`tf_multiemb.layers.PerSet` (one copy per set, called set by set), timed in the same rounds: the cost of
bringing your own interaction against the built-in set-batched layer.
FLOPs are 3 x the forward contractions counted as in bench.train_throughput (forward: 2 x layers x
M x batch x (N K)^2 at full rank, 2 x layers x M x batch x 2 N K r at rank r). TensorFlow runs with
its oneDNN kernels, like `trainers`, unless TF_ENABLE_ONEDNN_OPTS is set.
"""

import argparse
import os
import statistics
import time

import trainers  # noqa: F401  first, so that TensorFlow loads with the training commands' kernels (oneDNN)

import keras
import keras_rs
import numpy as np
import tensorflow as tf

from bench.train_throughput import TRAINING_FLOPS_PER_FORWARD, counting_contractions, peak_gflops
from console.quiet import add_verbosity_argument
from tf_multiemb.layers import CrossNetV2, PerSet


@keras.saving.register_keras_serializable(package="bench")
class FeatureCrossStack(keras.layers.Layer):
    """One set's DCNv2 cross network from keras-rs layers, (batch, N, K) -> (batch, N*K): a user's interaction."""

    def __init__(self, num_layers: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.crosses = [keras_rs.layers.FeatureCross(diag_scale=0.0) for _ in range(num_layers)]

    def call(self, embeddings):
        x0 = keras.ops.reshape(embeddings, (-1, embeddings.shape[1] * embeddings.shape[2]))
        x = x0
        for cross in self.crosses:
            x = cross(x0, x)
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "num_layers": self.num_layers}


def cross_network_step(layer, sets, fields, dim, batch_size):
    """A compiled function running an interaction layer forward and backward; and its FLOPs per call."""
    inputs = tf.constant(np.random.default_rng(0).normal(size=(batch_size, sets, fields, dim)), tf.float32)
    with counting_contractions({"flops": 0}) as counter:
        layer(inputs)  # builds the layer; counts its forward contractions

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(layer(inputs))
        return tape.gradient(loss, [inputs] + layer.trainable_variables)

    return step, TRAINING_FLOPS_PER_FORWARD * counter["flops"]


def parse_ranks(text):
    """'full,195' -> [None, 195]: None is the full-rank kernel, r the low-rank projection_dim."""
    return [None if item.strip() == "full" else int(item) for item in text.split(",") if item.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_verbosity_argument(parser)
    parser.add_argument("--sets", type=int, default=10, help="M, embedding sets")
    parser.add_argument("--fields", type=int, default=39, help="N, fields (Criteo: 39)")
    parser.add_argument("--dim", type=int, default=10, help="K, width of each set")
    parser.add_argument("--layers", type=int, default=4, help="cross layers (the paper's DCNv2: 4)")
    parser.add_argument("--batch_size", type=int, default=2048)
    parser.add_argument("--ranks", type=parse_ranks, default=[None],
                        help="comma list of cross kernels to time: 'full' (W_l) or a rank r (U_l V_l^T)")
    parser.add_argument("--per_set", action="store_true",
                        help="also time PerSet around a one-set keras-rs FeatureCross stack")
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds (median step, best peak)")
    args = parser.parse_args(argv)

    variants = {("full rank" if rank is None else f"rank {rank}"): CrossNetV2(num_layers=args.layers,
                                                                              projection_dim=rank)
                for rank in args.ranks}
    if args.per_set:
        variants["PerSet(keras-rs FeatureCross), full rank"] = PerSet(FeatureCrossStack(args.layers))
    steps = [cross_network_step(layer, args.sets, args.fields, args.dim, args.batch_size)
             for layer in variants.values()]
    if args.per_set:  # keras.layers.Dense's matmuls escape the counter; the arithmetic is full rank's
        full_rank = cross_network_step(CrossNetV2(num_layers=args.layers), args.sets, args.fields, args.dim, 1)
        steps[-1] = (steps[-1][0], full_rank[1] * args.batch_size)
    for step, _ in steps:
        step()[0].numpy()  # traces and warms up
    seconds, peaks = [[] for _ in steps], []
    for _ in range(args.repeats):
        for (step, _), times in zip(steps, seconds):
            start = time.perf_counter()
            step()[0].numpy()
            times.append(time.perf_counter() - start)
        peaks.append(peak_gflops(repeats=1))
    peak, first_median = max(peaks), statistics.median(seconds[0])
    for name, (_, flops), times in zip(variants, steps, seconds):
        median = statistics.median(times)
        achieved = flops / median / 1e9
        print(f"cross network M={args.sets} N={args.fields} K={args.dim} x{args.layers} layers, "
              f"{name}, batch {args.batch_size}: "
              f"{1e3 * median:.0f} ms per forward+backward ({median / first_median:.2f}x the first), "
              f"{achieved:.1f} GFLOP/s, {100 * achieved / peak:.0f}% of the float32 matmul peak "
              f"{peak:.0f} GFLOP/s (oneDNN {'on' if os.environ['TF_ENABLE_ONEDNN_OPTS'] == '1' else 'off'})")


if __name__ == "__main__":
    main()
