"""Cost of the information-abundance callback relative to a training epoch, at Criteo scale.

    python -m bench.ia_overhead --train_rows=36640000 --steps=5 --json=ia_overhead.json

For each configuration (DCNv2 SE 1x, SE 10x, ME 10x on a Criteo-shaped table, sum D_i = 1.07M):
times one call of the callback's computation (a float64 K x K Gram per field, then eigenvalues,
per set and for all sets together) and the model's training step (batch 2048, Adam, after one
warm-up step), and reports IA seconds / (train_rows / 2048 * step seconds): the fraction of an
epoch the callback adds. Prints a markdown table.
"""

import argparse
import json
import time

import numpy as np

from bench.criteo_shape import criteo_like_field_dims
from console.quiet import add_verbosity_argument
from tf_multiemb import build_model
from tf_multiemb.callbacks import InformationAbundance

CONFIGURATIONS = (("single", 1), ("single", 10), ("multi", 10))


def seconds(function, repeats):
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


def measure(embedding, scale, field_dims, batch_size, steps, train_rows, log_path):
    model = build_model("dcnv2", field_dims, embedding=embedding, scale=scale)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    ids = np.stack([rng.integers(0, d, batch_size) for d in field_dims], axis=1).astype("int32")
    labels = rng.integers(0, 2, (batch_size, 1)).astype("float32")
    model.train_on_batch(ids, labels)
    step_seconds = seconds(lambda: model.train_on_batch(ids, labels), steps)
    callback = InformationAbundance(log_file=log_path)
    callback.set_model(model)
    ia_seconds = seconds(callback.information_abundance, 2)
    epoch_seconds = train_rows / batch_size * step_seconds
    return {"embedding": embedding, "scale": scale, "num_sets": model.num_sets, "width": model.embedding_dim,
            "ia_seconds": ia_seconds, "step_seconds": step_seconds, "epoch_seconds": epoch_seconds,
            "overhead": ia_seconds / epoch_seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_verbosity_argument(parser)
    parser.add_argument("--vocab", type=int, default=1_070_000, help="sum of field cardinalities")
    parser.add_argument("--train_rows", type=int, default=36_640_000, help="rows per epoch (Criteo 8/10 split)")
    parser.add_argument("--batch_size", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per configuration")
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args()
    field_dims = criteo_like_field_dims(args.vocab)
    rows = [measure(embedding, scale, field_dims, args.batch_size, args.steps, args.train_rows, "/dev/null")
            for embedding, scale in CONFIGURATIONS]
    print("| config | IA s | train step s | epoch s (est.) | IA / epoch |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['embedding']} {row['scale']}x ({row['num_sets']} x {row['width']}) | {row['ia_seconds']:.2f} | "
              f"{row['step_seconds']:.3f} | {row['epoch_seconds']:.0f} | {100 * row['overhead']:.3f}% |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
