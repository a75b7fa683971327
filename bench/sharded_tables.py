"""Row-sharded embedding tables (`trainers.fit --shard_embeddings`) against DataParallel, on N CPU devices.

    python -m bench.sharded_tables --devices=8 --vocabulary=200000 --json=sharded_tables.json

One process on the JAX backend splits the CPU into `--devices` devices (XLA_FLAGS, set before JAX loads) and
builds the same DCNv2 ME model (Criteo-shaped fields summing to `--vocabulary`, AdamL2) twice: under the
ModelParallel of `--shard_embeddings` and under DataParallel. For each it reports the bytes of the embedding
table and its two Adam moments that each device holds, read from the arrays' `addressable_shards`, and the
time of a train step (`--steps` steps of random ids through `model.fit`, after one warm-up pass; the best of
`--repeats` passes, the two placements alternating). The ratios compare sharded to DataParallel.
"""

import argparse
import json
import os
import sys
import time

from console.quiet import add_verbosity_argument


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=8, help="CPU devices to split the host into.")
    parser.add_argument("--vocabulary", type=int, default=200_000, help="Total table rows (sum D_i).")
    parser.add_argument("--scale", type=int, default=4, help="ME scale: sets of width --embedding_dim.")
    parser.add_argument("--embedding_dim", type=int, default=10, help="Width of one embedding set.")
    parser.add_argument("--batch_size", type=int, default=2048, help="Global batch size.")
    parser.add_argument("--steps", type=int, default=16, help="Train steps per timed pass.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed passes per placement (the best is kept).")
    parser.add_argument("--json", help="Also write the results here.")
    add_verbosity_argument(parser)
    return parser.parse_args(argv)


def table_bytes_per_device(model) -> dict:
    """{device id: bytes} of the embedding table and its Adam moments held by each device."""
    from trainers.jax_distribution import table_and_moments

    held = {}
    for variable in table_and_moments(model.field_embedding.embeddings, model.optimizer):
        for shard in variable.value.addressable_shards:
            held[shard.device.id] = held.get(shard.device.id, 0) + shard.data.nbytes
    return held


def warmed_up_model(args, shard_embeddings: bool, batches) -> tuple:
    """(model, distribution): the model built and compiled under one placement, after one untimed pass."""
    import jax
    import keras

    from bench.criteo_shape import criteo_like_field_dims
    from tf_multiemb import build_model
    from tf_multiemb.optimizers import AdamL2
    from trainers.jax_distribution import data_parallel_or_sharded

    distribution = data_parallel_or_sharded(jax.devices(), shard_embeddings)
    with distribution.scope():
        keras.utils.set_random_seed(0)
        model = build_model("dcnv2", criteo_like_field_dims(args.vocabulary), embedding="multi", scale=args.scale,
                            embedding_dim=args.embedding_dim, hidden_units=(400, 400),
                            table_row_multiple=args.devices if shard_embeddings else 1)
        model.compile(optimizer=AdamL2(learning_rate=1e-3, l2=1e-6), loss="binary_crossentropy",
                      steps_per_execution=4)
        model.optimizer.build(model.trainable_variables)
        model.fit(*batches, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)  # compiles
    return model, distribution


def timed_pass(model, distribution, batches, args) -> float:
    """Milliseconds per train step of one pass over the batches."""
    with distribution.scope():
        started = time.perf_counter()
        model.fit(*batches, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
        return (time.perf_counter() - started) * 1000 / args.steps


def random_batches(args, field_dims):
    import numpy as np

    rng = np.random.default_rng(0)
    rows = args.batch_size * args.steps
    ids = np.stack([rng.integers(0, size, rows) for size in field_dims], axis=1).astype("int32")
    return ids, rng.integers(0, 2, (rows, 1)).astype("float32")


def main(argv=None) -> dict:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={args.devices}"
    from bench.criteo_shape import criteo_like_field_dims

    batches = random_batches(args, criteo_like_field_dims(args.vocabulary))
    runs = {name: warmed_up_model(args, name == "sharded", batches) for name in ("sharded", "data_parallel")}
    step_ms = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (model, distribution) in runs.items():
            step_ms[name].append(timed_pass(model, distribution, batches, args))
    results = {"devices": args.devices, "vocabulary": args.vocabulary, "width": args.scale * args.embedding_dim,
               "batch_size": args.batch_size, "steps": args.steps}
    for name, (model, _) in runs.items():
        held = table_bytes_per_device(model)
        results[name] = {"table_and_moments_bytes_per_device": max(held.values()),
                         "devices_holding": len(held), "step_ms": min(step_ms[name])}
    results["bytes_ratio"] = (results["sharded"]["table_and_moments_bytes_per_device"]
                              / results["data_parallel"]["table_and_moments_bytes_per_device"])
    results["step_time_ratio"] = results["sharded"]["step_ms"] / results["data_parallel"]["step_ms"]
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
