"""The host-side ceiling of `trainers.fit` on JAX: examples/s of the real training loop when the device does ~nothing.

    python -m bench.host_ceiling --data_dir=DIR --batch_sizes=2048,8192 --json=host_ceiling.json
    python -m bench.host_ceiling --data_dir=DIR --batch_sizes=2048 --model_side --json=model_side.json

Each measurement is one `trainers.fit.train` run (`--steps` steps per epoch, 2 epochs; the rate is the second
epoch's, from `ThroughputCallback`) in a process of its own. The ceiling runs train a DNN whose embeddings
have width 1 and whose MLP is one unit, so the time per step is the loop's host work: reading and decoding the
batch, dispatching the step and the callbacks. Each batch size is timed with the loop as configured
(`examples_per_sec`) and with its speed-ups off (`baseline_examples_per_sec`: --input_workers=0
--steps_per_execution=1 --noasync_callbacks, the loop before issue 33), alternately, `--repeats` times
each (the best is kept). No GPU can train faster through `trainers.fit` than this ceiling.

`--model_side` also times DCNv2 ME 10x through `trainers.fit` on JAX and on TensorFlow (one process each)
and reports the share of its step that the host's ceiling takes: host_fraction = ceiling ms per step /
model ms per step on JAX.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from console.quiet import add_verbosity_argument

BASELINE = {"input_workers": 0, "steps_per_execution": 1, "async_callbacks": False}
TINY_MODEL = {"model": "dnn", "embedding_dim": 1, "hidden_units": "1", "dropout": 0.0}
ME_10X = {"model": "dcnv2", "embedding": "multi", "scale": 10}


def measure(backend: str, data_dir: str, batch_size: int, steps: int, settings: dict) -> float:
    """Examples/s of one `trainers.fit` run with `settings` (FitConfig fields) on `backend`, in a new process."""
    request = json.dumps({"data_dir": data_dir, "batch_size": batch_size, "steps": steps, "settings": settings})
    completed = subprocess.run([sys.executable, "-m", "bench.host_ceiling", "--run", request], capture_output=True,
                               text=True, env={**os.environ, "KERAS_BACKEND": backend})
    if completed.returncode != 0:
        raise RuntimeError(f"trainers.fit on {backend} failed:\n{completed.stderr[-3000:]}")
    return float(completed.stdout.strip().splitlines()[-1])


def run_one(request: str) -> None:
    """The child process: trains once and prints the examples/s."""
    from trainers.config import FitConfig
    from trainers.fit import train

    request = json.loads(request)
    with tempfile.TemporaryDirectory() as output_dir:
        config = FitConfig(data_dir=request["data_dir"], batch_size=request["batch_size"], epochs=2, patience=2,
                           steps_per_epoch=request["steps"], verbose=0, output_dir=output_dir,
                           **request["settings"])
        print(train(config)["examples_per_sec"])


def ceiling(args, batch_size: int) -> dict:
    """New loop vs baseline at one batch size, interleaved, best of `repeats` each."""
    new, baseline = [], []
    for _ in range(args.repeats):
        baseline.append(measure("jax", args.data_dir, batch_size, args.steps, {**TINY_MODEL, **BASELINE}))
        new.append(measure("jax", args.data_dir, batch_size, args.steps, TINY_MODEL))
    return {"batch_size": batch_size, "examples_per_sec": round(max(new)),
            "baseline_examples_per_sec": round(max(baseline)), "ms_per_step": round(1000 * batch_size / max(new), 3),
            "baseline_ms_per_step": round(1000 * batch_size / max(baseline), 3)}


def model_side(args, row: dict) -> dict:
    """DCNv2 ME 10x through trainers.fit on JAX and TensorFlow at the row's batch size, and the host's share."""
    rates = {backend: measure(backend, args.data_dir, row["batch_size"], args.steps, ME_10X)
             for backend in ("jax", "tensorflow")}
    model_ms = 1000 * row["batch_size"] / rates["jax"]
    return {"me10x_jax_examples_per_sec": round(rates["jax"]), "me10x_tensorflow_examples_per_sec":
            round(rates["tensorflow"]), "me10x_jax_ms_per_step": round(model_ms, 3),
            "host_fraction": round(row["ms_per_step"] / model_ms, 3)}


def summary(rows: list[dict]) -> str:
    parts = [f"batch {row['batch_size']}: {row['examples_per_sec']:,} ex/s ({row['ms_per_step']} ms/step), "
             f"baseline {row['baseline_examples_per_sec']:,} ex/s ({row['baseline_ms_per_step']} ms/step)"
             + (f"; DCNv2 ME 10x JAX {row['me10x_jax_examples_per_sec']:,} ex/s, TensorFlow "
                f"{row['me10x_tensorflow_examples_per_sec']:,} ex/s, host {row['host_fraction']:.0%} of the JAX step"
                if "host_fraction" in row else "") for row in rows]
    return "host ceiling: " + " | ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_verbosity_argument(parser)
    parser.add_argument("--data_dir", help="A converted directory (python -m datasets.criteo).")
    parser.add_argument("--batch_sizes", default="2048,8192", help="Comma-separated batch sizes.")
    parser.add_argument("--steps", type=int, default=200, help="Train steps per epoch of every run.")
    parser.add_argument("--repeats", type=int, default=2, help="Runs of each loop per batch size (best kept).")
    parser.add_argument("--model_side", action="store_true", help="Also time DCNv2 ME 10x on JAX and TensorFlow.")
    parser.add_argument("--json", default="host_ceiling.json")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # one measurement, in a child process
    args = parser.parse_args()
    if args.run:
        return run_one(args.run)
    if not args.data_dir:
        parser.error("--data_dir is required")
    rows = []
    for batch_size in (int(size) for size in args.batch_sizes.split(",")):
        rows.append(ceiling(args, batch_size))
        print(json.dumps(rows[-1]), flush=True)
        if args.model_side:
            rows[-1].update(model_side(args, rows[-1]))
            print(json.dumps(rows[-1]), flush=True)
    with open(args.json, "w") as handle:
        json.dump(rows, handle, indent=2)
    print(summary(rows))


if __name__ == "__main__":
    main()
