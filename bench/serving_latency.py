"""In-process latency of an exported SavedModel's serving_default (tf.Example requests from real rows).

    python -m bench.serving_latency --model_dir=models/criteo_dcnv2/1 --input=test.txt --output=latency.json

Per batch size: p50 / p99 / mean milliseconds per call over --iterations timed calls after --warmup calls,
request serialization excluded (as in a server, where the tensor arrives already built).
"""

import itertools
import json
import platform
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS


def measure(signature, examples, iterations, warmup):
    import numpy as np

    for _ in range(warmup):
        signature(examples=examples)
    timings = []
    for _ in range(iterations):
        started = time.perf_counter()
        signature(examples=examples)["probability"].numpy()
        timings.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": float(np.percentile(timings, 50)), "p99_ms": float(np.percentile(timings, 99)),
            "mean_ms": float(np.mean(timings)), "iterations": iterations}


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}")
    import tensorflow as tf

    from datasets.criteo import raw_rows
    from export.requests import example_from_raw

    batch_sizes = [int(size) for size in FLAGS.batch_sizes.split(",")]
    rows = list(itertools.islice(raw_rows(FLAGS.input), max(batch_sizes)))
    if len(rows) < max(batch_sizes):
        sys.exit(f"error: --input has {len(rows)} rows, fewer than the largest batch size {max(batch_sizes)}")
    signature = tf.saved_model.load(FLAGS.model_dir).signatures["serving_default"]
    results = {"model_dir": FLAGS.model_dir, "tensorflow": tf.__version__, "cpu": platform.processor() or platform.machine(),
               "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                           "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
               "batches": {}}
    for size in batch_sizes:
        examples = tf.constant([example_from_raw(row) for row in rows[:size]])
        results["batches"][str(size)] = measure(signature, examples, FLAGS.iterations, FLAGS.warmup)
    text = json.dumps(results, indent=2)
    if FLAGS.output:
        with open(FLAGS.output, "w") as handle:
            handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Exported SavedModel version directory.")
    flags.DEFINE_string("input", None, "Raw Kaggle Criteo rows to build requests from.")
    flags.DEFINE_string("batch_sizes", "1,256", "Comma-separated request batch sizes.")
    flags.DEFINE_integer("iterations", 500, "Timed calls per batch size.")
    flags.DEFINE_integer("warmup", 20, "Untimed calls before timing.")
    flags.DEFINE_string("output", None, "Write the JSON results here as well.")
    flags.mark_flags_as_required(["model_dir", "input"])
    app.run(main)
