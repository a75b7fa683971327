"""Candidate defaults of the main job: base, SE and ME to early stopping at one setting, timed.

    python -m bench.quickstart_candidates --rows=200000 --batch_size=512 --model=dnn --scale=10 --seed=0

Runs trainers.quickstart's data and training steps (no plots, no export) and prints one markdown row:
rows, batch, backbone, scale, seed, test AUC of base / SE / ME (best epochs), ME - SE, SE - base,
wall time of the whole candidate and the load average (the machine is shared).
"""

import os
import time

from absl import app, flags

from trainers import quickstart  # the trainers package first turns on the CLIs' CPU kernels (oneDNN)

quickstart.define_flags(workdir="runs/quickstart_candidates")
FLAGS = flags.FLAGS


def candidate_row(results: dict, runs: list, seconds: float) -> str:
    base, se, me = (results[run.label] for run in runs)
    aucs = " | ".join(f"{r['test_auc']:.5f} ({r['best_epoch']}/{r['epochs']})" for r in (base, se, me))
    return (f"| {FLAGS.rows:,} | {FLAGS.batch_size} | {FLAGS.model} | {FLAGS.scale}x | {FLAGS.patience} | "
            f"{FLAGS.learning_rate:g} | {FLAGS.seed} | {aucs} | {me['test_auc'] - se['test_auc']:+.5f} | "
            f"{se['test_auc'] - base['test_auc']:+.5f} | {seconds:.0f} s | {os.getloadavg()[0]:.2f} |")


def main(argv):
    del argv
    started = time.time()
    runs = quickstart.job_runs(FLAGS.model, FLAGS.scale)
    _, data_dir = quickstart.prepare_data(FLAGS.workdir, FLAGS.rows, FLAGS.seed, quickstart.DATA_TEACHER)
    results = quickstart.train_runs(runs, quickstart.fit_settings(data_dir), os.path.join(FLAGS.workdir, "runs"))
    print("| rows | batch | model | scale | patience | lr | seed | base (best/epochs) | SE | ME | ME - SE | "
          "SE - base | wall | load |")
    print(candidate_row(results, runs, time.time() - started))


if __name__ == "__main__":
    app.run(main)
