"""The utilisation ceiling of DCNv2's set-batched cross network: its layers alone, nothing else.

    python -m bench.cross_network_ceiling                 # ME 10x on Criteo: 10 sets of 39 x 10
    python -m bench.cross_network_ceiling --sets 1 --dim 100

Times one training step's worth of `tf_multiemb.layers.CrossNetV2` (forward, and the backward pass
to its input and weights; no embedding, MLP, BatchNorm, dropout or optimizer) on a random
(batch, M, N, K) input, and a float32 2048^2 matmul in the same process, in alternating rounds.
FLOPs are 3 x the forward contractions counted as in bench.train_throughput
(2 x layers x M x batch x (N K)^2 forward). TensorFlow runs with its oneDNN kernels, like `trainers`, unless
TF_ENABLE_ONEDNN_OPTS is set.
"""

import argparse
import os
import statistics
import time

import trainers  # noqa: F401  first, so that TensorFlow loads with the training commands' kernels (oneDNN)

import numpy as np
import tensorflow as tf

from bench.train_throughput import TRAINING_FLOPS_PER_FORWARD, counting_contractions, peak_gflops
from tf_multiemb.layers import CrossNetV2


def cross_network_step(sets, fields, dim, layers, batch_size):
    """A compiled function running CrossNetV2 forward and backward; and its FLOPs per call."""
    layer = CrossNetV2(num_layers=layers)
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=10, help="M, embedding sets")
    parser.add_argument("--fields", type=int, default=39, help="N, fields (Criteo: 39)")
    parser.add_argument("--dim", type=int, default=10, help="K, width of each set")
    parser.add_argument("--layers", type=int, default=4, help="cross layers (the paper's DCNv2: 4)")
    parser.add_argument("--batch_size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds (median step, best peak)")
    args = parser.parse_args(argv)

    step, flops = cross_network_step(args.sets, args.fields, args.dim, args.layers, args.batch_size)
    step()[0].numpy()  # traces and warms up
    seconds, peaks = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()[0].numpy()
        seconds.append(time.perf_counter() - start)
        peaks.append(peak_gflops(repeats=1))
    achieved, peak = flops / statistics.median(seconds) / 1e9, max(peaks)
    print(f"CrossNetV2 M={args.sets} N={args.fields} K={args.dim} x{args.layers} layers, batch {args.batch_size}: "
          f"{1e3 * statistics.median(seconds):.0f} ms per forward+backward, {achieved:.1f} GFLOP/s, "
          f"{100 * achieved / peak:.0f}% of the float32 matmul peak {peak:.0f} GFLOP/s "
          f"(oneDNN {'on' if os.environ['TF_ENABLE_ONEDNN_OPTS'] == '1' else 'off'})")


if __name__ == "__main__":
    main()
