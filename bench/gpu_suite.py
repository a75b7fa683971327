"""The GPU suite: one command that measures what a GPU machine is lent for, within a time budget.

    KERAS_BACKEND=jax python -m bench.gpu_suite --output_dir=gpu_results

Runs on a bare Linux GPU machine with JAX (CUDA), numpy and the wheels the README lists; it never
imports TensorFlow. In order, while `--budget_seconds` lasts:
1. writes `--rows` synthetic Criteo-shaped rows and converts them (`datasets.synthetic`, `datasets.criteo`);
2. times the model zoo at 1x and 10x, SE and ME (`bench.train_throughput --sweep`, model only);
3. times DCNv2 ME 10x through `trainers.fit`, input pipeline included (`--fit_steps` steps per epoch);
4. measures the host-side ceiling of that loop (`bench.host_ceiling` at `--batch_size`, `--fit_steps` steps);
5. trains DCNv2 base, SE 10x and ME 10x to early stopping, one seed at a time, up to `--seeds`.
Writes `suite.json` (everything measured) and `report.md` (the tables) into `--output_dir` after every
step, so a suite stopped by its budget or its caller still leaves what it measured.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS
EARLY_STOPPING_MODELS = (("dcnv2", "single", 1), ("dcnv2", "single", 10), ("dcnv2", "multi", 10))


class Suite:
    """What the suite has measured so far, written to suite.json and report.md after every step."""

    def __init__(self, output_dir: str, budget_seconds: float):
        self.output_dir, self.deadline = output_dir, time.time() + budget_seconds
        self.started = time.time()
        self.results = {"flags": {name: FLAGS[name].value for name in FLAGS if name in SUITE_FLAGS},
                        "devices": device_names(), "steps": {}}
        os.makedirs(output_dir, exist_ok=True)

    def seconds_left(self) -> float:
        return self.deadline - time.time()

    def record(self, step: str, value) -> None:
        self.results["steps"][step] = value
        self.results["elapsed_seconds"] = round(time.time() - self.started, 1)
        with open(os.path.join(self.output_dir, "suite.json"), "w") as handle:
            json.dump(self.results, handle, indent=2)
        with open(os.path.join(self.output_dir, "report.md"), "w") as handle:
            handle.write(report(self.results))
        print(f"[{self.results['elapsed_seconds']:.0f}s] {step} done", flush=True)


def device_names() -> list[str]:
    import jax

    return [str(device) for device in jax.devices()]


def prepare_data(suite: Suite) -> str:
    from datasets.conversion import convert
    from datasets.criteo import TSV
    from datasets.synthetic import write_criteo_tsv

    raw, data_dir = os.path.join(suite.output_dir, "synthetic.txt"), os.path.join(suite.output_dir, "data")
    started = time.time()
    write_criteo_tsv(raw, FLAGS.rows, seed=0)
    schema = convert(TSV, raw, data_dir, min_count=10, overwrite=True)
    os.remove(raw)
    suite.record("data", {"rows": schema["rows"], "sum_cardinality": sum(f["cardinality"] for f in schema["fields"]),
                          "seconds": round(time.time() - started, 1)})
    return data_dir


def time_zoo(suite: Suite) -> None:
    """Model-only examples/s of every backbone at 1x and 10x (bench.train_throughput, one process each)."""
    path = os.path.join(suite.output_dir, "zoo.json")
    command = [sys.executable, "-m", "bench.train_throughput", "--sweep", f"--sweep_scales={FLAGS.zoo_scales}",
               f"--sweep_models={FLAGS.zoo_models}", "--settings=dense+xla", f"--steps={FLAGS.zoo_steps}",
               "--repeats=2", f"--batch_size={FLAGS.batch_size}", f"--json={path}"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=max(suite.seconds_left(), 1))
    if completed.returncode != 0:
        raise RuntimeError(f"bench.train_throughput failed:\n{completed.stderr[-2000:]}")
    with open(path) as handle:
        rows = json.load(handle)
    suite.record("zoo", [{key: row.get(key) for key in ("model", "embedding", "scale", "examples_per_sec",
                                                          "gflops_per_sec", "skipped")} for row in rows])


def fit_config(data_dir: str, model: str, embedding: str, scale: int, seed: int, **overrides):
    from trainers.config import FitConfig

    name = f"{model}_{embedding}_{scale}x_seed{seed}"
    settings = {"batch_size": FLAGS.batch_size, "epochs": FLAGS.epochs, "patience": 3, "verbose": 0,
                "output_dir": os.path.join(suite_runs_dir(), name), **overrides}
    return FitConfig(data_dir=data_dir, model=model, embedding=embedding, scale=scale, seed=seed, **settings)


def suite_runs_dir() -> str:
    return os.path.join(FLAGS.output_dir, "runs")


def time_fit(suite: Suite, data_dir: str) -> None:
    """DCNv2 ME 10x through trainers.fit: the best epoch's examples/s after the first (which compiles)."""
    from trainers.fit import train

    config = fit_config(data_dir, "dcnv2", "multi", 10, 0, epochs=3, steps_per_epoch=FLAGS.fit_steps,
                        output_dir=os.path.join(suite_runs_dir(), "fit_throughput"))
    results = train(config)
    suite.record("fit_throughput", {"model": "dcnv2 ME 10x", "batch_size": FLAGS.batch_size,
                                    "steps_per_epoch": FLAGS.fit_steps, "examples_per_sec": results["examples_per_sec"]})


def time_host_ceiling(suite: Suite, data_dir: str) -> None:
    """trainers.fit's examples/s with a negligible model, new loop and baseline (bench.host_ceiling)."""
    path = os.path.join(suite.output_dir, "host_ceiling.json")
    command = [sys.executable, "-m", "bench.host_ceiling", f"--data_dir={data_dir}", f"--batch_sizes={FLAGS.batch_size}",
               f"--steps={FLAGS.fit_steps}", "--repeats=1", f"--json={path}"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=max(suite.seconds_left(), 1))
    if completed.returncode != 0:
        raise RuntimeError(f"bench.host_ceiling failed:\n{completed.stderr[-2000:]}")
    with open(path) as handle:
        suite.record("host_ceiling", json.load(handle)[0])


def train_to_early_stopping(suite: Suite, data_dir: str) -> None:
    """Base, SE 10x and ME 10x to early stopping, a seed at a time, while the budget allows a whole seed."""
    from trainers.fit import train

    runs, seed_seconds = [], 0.0
    for seed in range(FLAGS.seeds):
        if seed and suite.seconds_left() < 1.2 * seed_seconds:
            break
        started = time.time()
        for model, embedding, scale in EARLY_STOPPING_MODELS:
            results = train(fit_config(data_dir, model, embedding, scale, seed))
            runs.append({key: results[key] for key in ("model", "embedding", "scale", "seed", "test_auc",
                                                       "test_logloss", "best_epoch", "epochs", "mean_ia",
                                                       "examples_per_sec", "wall_seconds")})
            suite.record("early_stopping", runs)
        seed_seconds = time.time() - started


def report(results: dict) -> str:
    """report.md: the tables of every step measured so far (the sweep report's table code)."""
    from trainers.sweep_report import markdown_table, scaling_table, summarize

    steps = results["steps"]
    lines = [f"# GPU suite\n\nDevices: {', '.join(results['devices'])}. Elapsed: {results.get('elapsed_seconds')} s.\n"]
    if "data" in steps:
        lines.append(f"Data: {steps['data']['rows']} rows, sum D_i = {steps['data']['sum_cardinality']:,}, "
                     f"generated and converted in {steps['data']['seconds']} s.\n")
    if "zoo" in steps:
        rows = [[r["model"], r["embedding"], f"{r['scale']}x",
                 f"{r['examples_per_sec']:,.0f}" if r.get("examples_per_sec") else "skipped"] for r in steps["zoo"]]
        lines += ["## Model-only throughput (examples/s)\n", markdown_table(["model", "mode", "scale", "examples/s"], rows), ""]
    if "fit_throughput" in steps:
        fit = steps["fit_throughput"]
        lines.append(f"## Through trainers.fit\n\n{fit['model']}, batch {fit['batch_size']}, input pipeline "
                     f"included: {fit['examples_per_sec']:,.0f} examples/s.\n")
    if "host_ceiling" in steps:
        host = steps["host_ceiling"]
        lines.append(f"## Host-side ceiling of trainers.fit\n\nBatch {host['batch_size']}, negligible model: "
                     f"{host['examples_per_sec']:,.0f} examples/s ({host['ms_per_step']} ms/step); with the loop's "
                     f"speed-ups off {host['baseline_examples_per_sec']:,.0f} examples/s.\n")
    if "early_stopping" in steps:
        runs = [{**run, "label": run["model"]} for run in steps["early_stopping"]]
        lines += ["## DCNv2 to early stopping (test AUC, mean ± std over seeds)\n",
                  scaling_table(summarize(runs, "test_auc"), digits=5, mark_best=True)]
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    suite = Suite(FLAGS.output_dir, FLAGS.budget_seconds)
    data_dir = prepare_data(suite)
    time_zoo(suite)
    time_fit(suite, data_dir)
    time_host_ceiling(suite, data_dir)
    train_to_early_stopping(suite, data_dir)
    print(f"wrote {os.path.join(FLAGS.output_dir, 'report.md')}")


SUITE_FLAGS = ("rows", "seeds", "epochs", "batch_size", "budget_seconds", "zoo_models", "zoo_scales", "zoo_steps",
               "fit_steps")

if __name__ == "__main__":
    flags.DEFINE_string("output_dir", None, "Where data, runs, suite.json and report.md go.", required=True)
    flags.DEFINE_integer("rows", 1_000_000, "Synthetic rows to generate and convert.")
    flags.DEFINE_integer("seeds", 3, "Seeds of the early-stopping runs, if the budget allows.")
    flags.DEFINE_integer("epochs", 10, "Epoch cap of the early-stopping runs (patience 3).")
    flags.DEFINE_integer("batch_size", 2048, "Batch size of every step (the paper's).")
    flags.DEFINE_float("budget_seconds", 450, "Stop starting new seeds once this is spent.")
    flags.DEFINE_string("zoo_models", "dnn,ipnn,nfwfm,xdeepfm,dcnv2,finalmlp,autoint,fm", "Backbones to time.")
    flags.DEFINE_string("zoo_scales", "1,10", "Scales to time the zoo at.")
    flags.DEFINE_integer("zoo_steps", 20, "Timed train steps per round of the zoo benchmark.")
    flags.DEFINE_integer("fit_steps", 200, "Steps per epoch of the trainers.fit throughput run.")
    app.run(main)
