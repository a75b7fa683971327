"""Training throughput of the model zoo on synthetic Criteo-shaped ids.

    python -m bench.train_throughput --model dcnv2 --embedding multi --scale 10 --baseline --json out.json
    python -m bench.train_throughput --sweep --baseline --json sweep.json
    python -m bench.train_throughput --vocab_sweep --json vocab.json
    python -m bench.train_throughput --embedding multi --scale 10 --settings dense,sparse,sparse+onednn,sparse+xla

A setting is '+'-joined from: `dense` (plain `keras.optimizers.Adam`, every embedding row updated each
step) or `sparse` (`tf_multiemb.optimizers.AdamL2(l2=1e-6, sparse_updates=True)`, touched rows only),
`onednn` (TensorFlow's oneDNN CPU kernels, TF_ENABLE_ONEDNN_OPTS=1; TensorFlow leaves them off on AMD
CPUs), `xla` (`compile(jit_compile=True)`) and `bf16` (the `mixed_bfloat16` dtype policy). The default
is the recommended setting, RECOMMENDED; `--baseline` adds `dense` (plain Keras with TensorFlow's default
kernels) to every configuration and reports each setting's speedup over it.

Every (configuration, setting) pair trains in its own process, because oneDNN is a process-wide
switch. All pairs of one configuration (with --vocab_sweep: of all vocabulary sizes of one embedding
mode) are started side by side and timed in alternating rounds of `--steps` train steps (after two
compiled warm-up steps), one process at a time, so that load from other jobs on a shared machine hits
them alike; examples/s is the median over `--repeats` rounds, speedups and step-time ratios are
medians of per-round ratios.

flops_per_example is counted from operand shapes: one forward pass on a single example runs with
`keras.ops.einsum` and `keras.ops.matmul` wrapped, each contraction adds 2 x (product of the sizes
of all its distinct indices), i.e. 2 x multiply-adds; the training step is taken as 3 x forward
(backward ~ 2 x forward). Elementwise ops, the embedding gather, softmax, BatchNorm, the optimizer
update and layers calling keras internals directly (the final Dense(1), 2 x 400 FLOPs) are not
counted, so utilization (gflops_per_sec / peak_gflops, the best of a few float32 2048 x 2048
matmuls through keras.ops, taken in every trial process when it starts and when it ends, so with and
without oneDNN when both are timed) is a lower bound on an idle machine;
on a shared one, load that changes during the run can still push it past 100%.
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import statistics
import time

import keras
import numpy as np
import psutil

from bench.criteo_shape import CRITEO_VOCABULARY, criteo_like_field_dims
from console.quiet import add_verbosity_argument
from tf_multiemb import BACKBONES, build_model
from tf_multiemb.models.registry import embedding_layout
from tf_multiemb.optimizers import AdamL2

SWEEP_SCALES = (1, 4, 10)
VOCAB_SWEEP = (10_000, 100_000, CRITEO_VOCABULARY, 10_000_000)
TRAINING_FLOPS_PER_FORWARD = 3
BASELINE = "dense"
RECOMMENDED = "sparse+onednn"
SETTING_PARTS = {"dense", "sparse", "xla", "bf16", "onednn"}


def einsum_flops(subscripts, *operands):
    """2 x multiply-adds of an einsum: product over every distinct index's size."""
    inputs = subscripts.replace(" ", "").split("->")[0].split(",")
    sizes = {}
    for labels, operand in zip(inputs, operands):
        for label, size in zip(labels, operand.shape):
            sizes[label] = int(size)
    return 2 * int(np.prod(list(sizes.values())))


def matmul_flops(a, b):
    return 2 * int(np.prod(a.shape)) * int(b.shape[-1])


@contextlib.contextmanager
def counting_contractions(counter):
    """Wraps keras.ops.einsum / matmul so every call adds its FLOPs to counter["flops"]."""
    original_einsum, original_matmul = keras.ops.einsum, keras.ops.matmul

    def einsum(subscripts, *operands, **kwargs):
        counter["flops"] += einsum_flops(subscripts, *operands)
        return original_einsum(subscripts, *operands, **kwargs)

    def matmul(a, b):
        counter["flops"] += matmul_flops(a, b)
        return original_matmul(a, b)

    keras.ops.einsum, keras.ops.matmul = einsum, matmul
    try:
        yield counter
    finally:
        keras.ops.einsum, keras.ops.matmul = original_einsum, original_matmul


def training_flops_per_example(model, num_fields):
    with counting_contractions({"flops": 0}) as counter:
        model(np.zeros((1, num_fields), dtype="int32"), training=False)
    return TRAINING_FLOPS_PER_FORWARD * counter["flops"]


def peak_gflops(size=2048, repeats=5, dtype="float32"):
    """Matmul throughput (GFLOP/s) through keras.ops: the fastest of `repeats` single products,
    so that other jobs on a loaded machine lower the peak as little as possible."""
    rng = np.random.default_rng(0)
    a, b = (keras.ops.convert_to_tensor(rng.normal(size=(size, size)), dtype=dtype) for _ in range(2))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[:1, :1])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[:1, :1])
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def parse_setting(text):
    """'sparse+xla' -> {"sparse": True, "xla": True, "bf16": False, "onednn": False}; exactly one of
    dense / sparse."""
    parts = set(text.split("+"))
    if not parts <= SETTING_PARTS or len(parts & {"dense", "sparse"}) != 1:
        raise argparse.ArgumentTypeError(
            f"setting {text!r}: join 'dense' or 'sparse' with optional 'xla', 'bf16', 'onednn' by '+'")
    return {part: part in parts for part in ("sparse", "xla", "bf16", "onednn")}


def synthetic_batches(field_dims, batch_size, num_batches=4, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.stack([rng.integers(0, d, size=batch_size * num_batches) for d in field_dims], axis=1).astype("int32")
    labels = rng.integers(0, 2, size=(batch_size * num_batches, 1)).astype("float32")
    return ids, labels


class Trial:
    """One compiled model of a (configuration, setting) pair, built in the current process."""

    def __init__(self, name, embedding, scale, vocab, batch_size, setting):
        options = parse_setting(setting)
        field_dims = criteo_like_field_dims(vocab)
        keras.utils.set_random_seed(0)
        keras.config.set_dtype_policy("mixed_bfloat16" if options["bf16"] else "float32")
        try:
            self.model = build_model(name, field_dims, embedding=embedding, scale=scale)
            self.flops = training_flops_per_example(self.model, len(field_dims))
        finally:
            keras.config.set_dtype_policy("float32")
        optimizer = (AdamL2(learning_rate=1e-3, l2=1e-6, sparse_updates=True) if options["sparse"]
                     else keras.optimizers.Adam(1e-3))
        self.model.compile(optimizer=optimizer, loss="binary_crossentropy", jit_compile=options["xla"])
        self.ids, self.labels = synthetic_batches(field_dims, batch_size)
        self.batch_size = batch_size
        self.record = {"model": name, "embedding": embedding, "scale": scale, "vocab": vocab,
                       "batch_size": batch_size, "setting": setting, "parameters": self.model.count_params()}
        self.run(2)  # compiles the train step

    def run(self, steps):
        num_batches = len(self.ids) // self.batch_size
        for step in range(steps):
            rows = slice((step % num_batches) * self.batch_size, (step % num_batches + 1) * self.batch_size)
            loss = self.model.train_on_batch(self.ids[rows], self.labels[rows])
        return float(loss)  # forces the last step to finish

    def time_round(self, steps):
        start = time.perf_counter()
        self.run(steps)
        return time.perf_counter() - start


def kernel_environment(setting):
    """TF_ENABLE_ONEDNN_OPTS for a setting's process: "1" with `onednn`, None (TensorFlow's own default,
    which leaves oneDNN off on AMD CPUs such as this machine's) without."""
    return "1" if parse_setting(setting)["onednn"] else None


def serve_trial(connection, configuration, batch_size, setting, threads):
    """Body of a trial process: builds the Trial, then times one round per request until sent None.

    Sends (record, flops, peak) once built, the seconds of every round, and a last peak at the end."""
    set_threads(*threads)
    trial = Trial(*configuration, batch_size, setting)
    connection.send((trial.record, trial.flops, peak_gflops()))
    while (steps := connection.recv()) is not None:
        connection.send(trial.time_round(steps))
    connection.send(peak_gflops())


class TrialProcess:
    """A Trial in its own process, so that settings needing different process-wide TensorFlow options
    (oneDNN kernels) can be timed side by side; the caller's process waits while a round runs."""

    def __init__(self, configuration, batch_size, setting, threads):
        context = multiprocessing.get_context("spawn")
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=serve_trial, daemon=True,
                                       args=(child_end, configuration, batch_size, setting, threads))
        with environment_variable("TF_ENABLE_ONEDNN_OPTS", kernel_environment(setting)):
            self.process.start()  # a spawned child copies the environment at start
        child_end.close()  # so that a crashed child reads as end-of-file here
        self.description = f"{configuration} {setting}"
        self.record, self.flops, peak = self.receive()
        self.peaks, self.seconds = [peak], []

    def receive(self):
        try:
            return self.connection.recv()
        except EOFError:
            self.process.join()
            raise RuntimeError(f"the trial process of {self.description} died (exit code "
                               f"{self.process.exitcode})") from None

    def time_round(self, steps):
        self.connection.send(steps)
        self.seconds.append(self.receive())

    def close(self):
        """Stops the process; returns the peak it measured at the end."""
        self.connection.send(None)
        self.peaks.append(self.receive())
        self.process.join()
        return max(self.peaks)


@contextlib.contextmanager
def environment_variable(name, value):
    """Sets (or, with None, removes) an environment variable for the duration of the block."""
    saved = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if saved is not None:
            os.environ[name] = saved


def median_ratio(numerators, denominators):
    """Median over rounds of numerator / denominator: robust to load that changes between rounds."""
    return statistics.median(n / d for n, d in zip(numerators, denominators))


def measure(configurations, settings, batch_size, steps, repeats, threads=(0, 0)):
    """Times every (configuration, setting) of a group in alternating rounds; one result dict each.

    Each pair trains in its own process (TrialProcess), one round at a time. speedup_vs_baseline
    compares with the `dense` setting of the same configuration; step_time_vs_first with the group's
    first configuration in the same setting (vocabulary scaling). peak_gflops is the best matmul
    measured in any of the group's processes, when each started and when it ended.
    """
    trials = []
    try:
        for configuration in configurations:
            for setting in settings:
                trials.append(TrialProcess(configuration, batch_size, setting, threads))
        for _ in range(repeats):
            for trial in trials:
                trial.time_round(steps)
    except BaseException:
        for trial in trials:
            trial.process.terminate()
        raise
    peak = max(trial.close() for trial in trials)
    results = []
    for index, trial in enumerate(trials):
        baseline = next((t for t in trials[index - index % len(settings):][:len(settings)]
                         if t.record["setting"] == BASELINE), None)
        first = trials[index % len(settings)]
        examples_per_sec = steps * batch_size / statistics.median(trial.seconds)
        gflops_per_sec = examples_per_sec * trial.flops / 1e9
        results.append(trial.record | {
            "steps": steps, "repeats": repeats, "step_seconds": [s / steps for s in trial.seconds],
            "examples_per_sec": examples_per_sec, "flops_per_example": trial.flops,
            "gflops_per_sec": gflops_per_sec, "peak_gflops": peak, "utilization": gflops_per_sec / peak,
            "speedup_vs_baseline": median_ratio(baseline.seconds, trial.seconds) if baseline else None,
            "step_time_vs_first": median_ratio(trial.seconds, first.seconds),
        })
    return results


def markdown_table(rows):
    lines = ["| model | embedding | scale | vocab | setting | params | examples/s | ms/step | MFLOP/example "
             "| GFLOP/s | utilization | vs dense | step time vs first |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speedup = "" if r["speedup_vs_baseline"] is None else f"{r['speedup_vs_baseline']:.2f}x"
        lines.append(f"| {r['model']} | {r['embedding']} | {r['scale']}x | {r['vocab']:,} | {r['setting']} | "
                     f"{r['parameters'] / 1e6:.1f}M | {r['examples_per_sec']:,.0f} | "
                     f"{1e3 * r['batch_size'] / r['examples_per_sec']:.0f} | {r['flops_per_example'] / 1e6:.2f} | "
                     f"{r['gflops_per_sec']:.1f} | {100 * r['utilization']:.1f}% | {speedup} | "
                     f"{r['step_time_vs_first']:.2f} |")
    return "\n".join(lines)


def embedding_training_bytes(name, embedding, scale, vocab, num_fields=39):
    """float32 bytes the embedding table needs while training: weights, gradient and Adam's two slots."""
    num_sets, width = embedding_layout(name, embedding, scale, num_fields=num_fields)
    return 4 * 4 * vocab * num_sets * width


def too_large(configuration, limit_bytes):
    """Why a configuration cannot run in `limit_bytes` of memory, or None."""
    name, embedding, scale, vocab = configuration
    needed = embedding_training_bytes(name, embedding, scale, vocab)
    if needed <= limit_bytes:
        return None
    return (f"{name} {embedding} {scale}x at vocab {vocab:,}: not run, its embedding needs {needed / 2**30:.1f} GiB "
            f"to train (weights, gradient, 2 Adam slots), over --memory_limit_gb={limit_bytes / 2**30:.1f}")


def set_threads(intra_op, inter_op):
    """TensorFlow thread pools (0 keeps TensorFlow's default); must run before the first op."""
    if keras.backend.backend() == "tensorflow" and (intra_op or inter_op):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Training throughput on synthetic Criteo-shaped ids.")
    add_verbosity_argument(parser)
    parser.add_argument("--model", default="dcnv2", choices=sorted(BACKBONES))
    parser.add_argument("--embedding", default="single", choices=["single", "multi"])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--vocab", type=int, default=CRITEO_VOCABULARY, help="sum of the 39 field cardinalities")
    parser.add_argument("--batch_size", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=5, help="train steps per timed round")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per setting (median reported)")
    parser.add_argument("--settings", default=RECOMMENDED,
                        help="comma-separated settings, e.g. dense,sparse,sparse+onednn,sparse+xla,sparse+bf16 "
                             f"(default {RECOMMENDED})")
    parser.add_argument("--baseline", action="store_true",
                        help="also time plain Keras (dense Adam, TensorFlow's default kernels, no XLA) and report "
                             "every setting's speedup over it")
    parser.add_argument("--intra_op_threads", type=int, default=0, help="TensorFlow intra-op threads (0: default)")
    parser.add_argument("--inter_op_threads", type=int, default=0, help="TensorFlow inter-op threads (0: default)")
    parser.add_argument("--vocabs", default=",".join(map(str, VOCAB_SWEEP)),
                        help="comma-separated vocabulary sizes of --vocab_sweep")
    parser.add_argument("--memory_limit_gb", type=float, default=0.6 * psutil.virtual_memory().total / 2**30,
                        help="skip configurations whose embedding needs more to train (default: 60%% of RAM)")
    parser.add_argument("--sweep_models", default=",".join(BACKBONES), help="comma-separated models of --sweep")
    parser.add_argument("--sweep_scales", default=",".join(map(str, SWEEP_SCALES)),
                        help="comma-separated scales of --sweep")
    parser.add_argument("--json", help="write the results to this JSON file")
    sweeps = parser.add_mutually_exclusive_group()
    sweeps.add_argument("--sweep", action="store_true",
                        help="every --sweep_models x {single, multi} x --sweep_scales (ignores --model/--embedding/"
                             "--scale; multi at 1x is the single-embedding model, so it is not repeated)")
    sweeps.add_argument("--vocab_sweep", action="store_true",
                        help="--model at single and multi 10x for every --vocabs size (ignores --embedding/--scale/--vocab)")
    args = parser.parse_args(argv)
    settings = args.settings.split(",")
    for setting in settings:
        try:
            parse_setting(setting)
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    if args.baseline and BASELINE not in settings:
        settings.insert(0, BASELINE)

    threads = (args.intra_op_threads, args.inter_op_threads)
    # Each group is timed in interleaved rounds: a vocabulary sweep compares its sizes side by side.
    if args.sweep:
        models = args.sweep_models.split(",")
        unknown = sorted(set(models) - set(BACKBONES))
        if unknown:
            parser.error(f"--sweep_models: unknown {unknown}; known: {sorted(BACKBONES)}")
        groups = [[(m, e, int(s), args.vocab)] for m in models for e in ("single", "multi")
                  for s in args.sweep_scales.split(",") if e == "single" or int(s) > 1]
    elif args.vocab_sweep:
        groups = [[(args.model, e, 10, int(v)) for v in args.vocabs.split(",")] for e in ("multi", "single")]
    else:
        groups = [[(args.model, args.embedding, args.scale, args.vocab)]]
    rows, skipped = [], []
    for configurations in groups:
        reasons = [reason for reason in (too_large(c, args.memory_limit_gb * 2**30) for c in configurations) if reason]
        if reasons:
            skipped.extend(reasons)
            print("\n".join(reasons), flush=True)
            continue
        results = measure(configurations, settings, args.batch_size, args.steps, args.repeats, threads)
        rows.extend(results)
        print("\n".join(markdown_table(results).splitlines()[2:]), flush=True)
        if args.json:  # rewritten after every configuration so an interrupted sweep keeps its results
            with open(args.json, "w", encoding="utf-8") as output:
                json.dump(rows, output, indent=2)
    # The best of every process's measurements: load from other jobs lowers a peak, never raises it.
    peak = max(row["peak_gflops"] for row in rows) if rows else float("nan")
    for row in rows:
        row.update(peak_gflops=peak, utilization=row["gflops_per_sec"] / peak)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as output:
            json.dump(rows + [{"skipped": reason} for reason in skipped], output, indent=2)
    print(f"\npeak float32 matmul: {peak:,.0f} GFLOP/s ({keras.backend.backend()} backend)\n")
    print(markdown_table(rows))
    print("\n".join(skipped))


if __name__ == "__main__":
    main()
