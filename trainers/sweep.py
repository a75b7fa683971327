"""The scaling study (paper Table 1, Figure 8a): models x SE/ME x scales x seeds, each run via trainers.fit.

    python -m trainers.sweep --flagfile=configs/criteo/sweep.flags [--shard_index=0 --num_shards=2]
    python -m trainers.sweep --report_only --output_dir=...

Every `trainers.fit` flag passes through (batch_size, learning_rate, weight_decay, patience, epochs,
steps_per_epoch, hidden_units, ...) except the per-run ones (model, embedding, scale, seed), which
come from --models, --embeddings, --scales and --seeds. Each run is `trainers.fit.train` on the
FitConfig the fit CLI builds from the same flags, in <output_dir>/runs/<model>_<se|me>_<s>x_seed<k>/.
A run whose results.json exists is skipped, so an interrupted sweep resumes where it stopped;
--shard_index/--num_shards split the run list round-robin across processes or machines sharing
output_dir. At scale 1 SE and ME are the same model (M = 1, K = K0): it is trained once, as the
paper's shared "base" column. When its runs end, a process rebuilds runs.csv, report.md and the plots
from every run directory under output_dir (trainers.sweep_report).

--models entries may carry interaction arguments for that entry only: `dcnv2:num_layers=2` (ablations).
"""

import dataclasses
import os
import sys
import time

from absl import app, flags

from trainers.config import FitConfig

FLAGS = flags.FLAGS
PER_RUN_FLAGS = ("model", "embedding", "scale", "seed")


@dataclasses.dataclass(frozen=True)
class Job:
    """One training run: a name (its directory under runs/) and its complete FitConfig."""

    name: str
    config: FitConfig


def define_flags():
    from trainers.fit import define_flags as define_fit_flags

    define_fit_flags()
    flags.DEFINE_string("models", "dcnv2", "Comma-separated backbones, each optionally name:arg=value:... .")
    flags.DEFINE_string("embeddings", "single,multi", "Comma-separated embedding modes: single, multi.")
    flags.DEFINE_string("scales", "1,2,3,4,10", "Comma-separated scaling factors (positive integers).")
    flags.DEFINE_integer("seeds", 3, "Repeats per cell, with seeds 0 .. seeds-1.")
    flags.DEFINE_integer("shard_index", 0, "Which share of the runs this process trains (0-based).")
    flags.DEFINE_integer("num_shards", 1, "Number of processes/machines the runs are split across.")
    flags.DEFINE_bool("report_only", False, "Only rebuild runs.csv, report.md and plots from output_dir/runs.")


def parse_list(text, convert, flag, check=lambda value: True):
    """'1,2,10' -> [1, 2, 10]; a clear ValueError naming the flag on anything else."""
    try:
        values = [convert(item.strip()) for item in text.split(",") if item.strip()]
    except ValueError:
        values = []
    if not values or not all(map(check, values)) or len(set(values)) != len(values):
        raise ValueError(f"--{flag}={text!r} must be a comma-separated list of distinct valid values")
    return values


def base_config(per_run_flags):
    """The FitConfig the fit CLI would build from the command line; per-run flags are refused."""
    from trainers.fit import config_from_flags

    given = [name for name in per_run_flags if FLAGS[name].present]
    if given:
        raise ValueError(f"--{given[0]} is set per run by this command; remove it (see --help)")
    config = config_from_flags()
    if config.cpu_devices > 1:
        raise ValueError("--cpu_devices cannot be changed between runs of one process; split the work "
                         "with --num_shards instead")
    return config


def split_model_entry(entry):
    """'dcnv2:num_layers=2' -> ('dcnv2', ('num_layers=2',)); 'pkg.mod:name:k=1' -> ('pkg.mod:name', ('k=1',))."""
    parts = entry.split(":")
    return ":".join(part for part in parts if "=" not in part), tuple(part for part in parts if "=" in part)


def run_name(entry, embedding, scale, seed):
    mode = "se" if embedding == "single" else "me"
    return f"{entry.replace(':', '+')}_{mode}_{scale}x_seed{seed}"


def sweep_jobs(config, entries, embeddings, scales, seeds, output_dir):
    """All runs of the grid, scale 1 once (single), in a fixed order."""
    jobs = []
    for entry in entries:
        model, arguments = split_model_entry(entry)
        for scale in scales:
            for embedding in (["single"] if scale == 1 else embeddings):
                for seed in range(seeds):
                    name = run_name(entry, embedding, scale, seed)
                    jobs.append(Job(name, dataclasses.replace(
                        config, model=model, embedding=embedding, scale=scale, seed=seed,
                        interaction_arg=config.interaction_arg + arguments,
                        output_dir=os.path.join(output_dir, "runs", name))))
    return jobs


def validate_jobs(jobs):
    """trainers.fit's own checks (model, mode, scale, data_dir, ...) on every run, and each distinct
    model's interaction arguments on a tiny model, before any work."""
    import tf_multiemb
    from trainers.config import parse_interaction_args
    from trainers.fit import validate

    for job in jobs:
        validate(job.config)
    for model, arguments in {(job.config.model, job.config.interaction_arg) for job in jobs}:
        try:
            tf_multiemb.build_model(model, [2, 2], embedding_dim=1, hidden_units=(1,),
                                    **parse_interaction_args(arguments))
        except TypeError as error:
            raise ValueError(f"model {model!r} with --interaction_arg {list(arguments)}: {error}") from None


def is_finished(job):
    return os.path.isfile(os.path.join(job.config.output_dir, "results.json"))


def format_seconds(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m{seconds:02d}s"


def run_jobs(jobs, log=print):
    """Trains the unfinished jobs in order; returns the names that failed.

    After each run prints runs done/total, elapsed time and an ETA (mean time per run so far x runs left).
    """
    import keras

    from trainers.fit import train

    pending = [job for job in jobs if not is_finished(job)]
    done = len(jobs) - len(pending)
    log(f"{len(jobs)} runs, {done} already finished, {len(pending)} to train")
    started = time.time()
    failed = []
    for count, job in enumerate(pending, 1):
        try:
            results = train(job.config)
            outcome = f"test AUC {results['test_auc']:.5f}, mean IA {results['mean_ia']:.2f}"
        except Exception as error:  # one bad run must not stop the others; reported below and in the exit code
            failed.append(job.name)
            outcome = f"FAILED: {type(error).__name__}: {error}"
        keras.backend.clear_session()
        elapsed = time.time() - started
        eta = elapsed / count * (len(pending) - count)
        log(f"[{done + count}/{len(jobs)}] {job.name}: {outcome} | elapsed {format_seconds(elapsed)}, "
            f"ETA {format_seconds(eta)}")
    return failed


def main(argv):
    from trainers import sweep_report

    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}")
    if not FLAGS.output_dir:
        sys.exit("error: --output_dir is required")
    failed = []
    if not FLAGS.report_only:
        try:
            config = base_config(PER_RUN_FLAGS)
            entries = parse_list(FLAGS.models, str, "models")
            embeddings = parse_list(FLAGS.embeddings, str, "embeddings", lambda mode: mode in ("single", "multi"))
            scales = parse_list(FLAGS.scales, int, "scales", lambda scale: scale >= 1)
            if FLAGS.seeds < 1 or not 0 <= FLAGS.shard_index < FLAGS.num_shards:
                raise ValueError("need --seeds >= 1 and 0 <= --shard_index < --num_shards")
            jobs = sweep_jobs(config, entries, embeddings, scales, FLAGS.seeds, FLAGS.output_dir)
            validate_jobs(jobs)
        except ValueError as error:
            sys.exit(f"error: {error}")
        failed = run_jobs(jobs[FLAGS.shard_index::FLAGS.num_shards])
    try:
        print(f"wrote {sweep_report.write_report(FLAGS.output_dir)}")
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
    if failed:
        sys.exit(f"error: {len(failed)} runs failed: {', '.join(failed)} (rerun the same command to retry them)")


if __name__ == "__main__":
    define_flags()
    app.run(main)
