"""Read throughput of the input pipelines: examples/s parsed into batches.

    python -m bench.read_throughput --data_dir=data/criteo --batch_size=2048 --json=read.json
    python -m bench.read_throughput --data_dir=data/criteo --reader=numpy --shuffle

`--reader=tf` times datasets.reader.make_dataset (tf.data), `--reader=numpy` datasets.numpy_reader
(memory-mapped shards, no TensorFlow).
"""

import argparse
import json
import time

from console.quiet import add_verbosity_argument


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_verbosity_argument(parser)
    parser.add_argument("--data_dir", required=True, help="A converted directory (schema.json + TFRecords).")
    parser.add_argument("--split", default="train")
    parser.add_argument("--batch_size", type=int, default=2048)
    parser.add_argument("--shuffle", action="store_true", help="Shuffle examples (seeded) as training does.")
    parser.add_argument("--epochs", type=int, default=2, help="Passes; the first warms the page cache.")
    parser.add_argument("--reader", choices=("tf", "numpy"), default="tf")
    parser.add_argument("--json", default="read_throughput.json")
    args = parser.parse_args()
    epochs = numpy_epochs(args) if args.reader == "numpy" else tf_epochs(args)
    results = []
    for epoch in range(args.epochs):
        started, examples = time.time(), 0
        for ids, _ in epochs(epoch):
            examples += int(ids.shape[0])
        seconds = time.time() - started
        results.append({"epoch": epoch, "examples": examples, "seconds": round(seconds, 2),
                        "examples_per_s": round(examples / seconds), "batch_size": args.batch_size,
                        "shuffle": args.shuffle, "reader": args.reader})
    print("| epoch | examples | seconds | examples/s |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['epoch']} | {r['examples']:,} | {r['seconds']} | {r['examples_per_s']:,} |")
    with open(args.json, "w") as handle:
        json.dump(results, handle, indent=2)


def tf_epochs(args):
    from datasets.reader import make_dataset

    dataset = make_dataset(args.data_dir, args.split, args.batch_size, shuffle=args.shuffle,
                           seed=0 if args.shuffle else None)
    return lambda epoch: dataset


def numpy_epochs(args):
    from datasets.numpy_reader import NumpyReader

    return NumpyReader(args.data_dir, args.split, args.batch_size, shuffle=args.shuffle, seed=0).epoch


if __name__ == "__main__":
    main()
