"""Information abundance vs data amount and embedding size (paper Table 2, Section 6):

    python -m trainers.data_amount --data_dir=data/criteo --fractions=0.01,0.03,0.1,0.3,1 \
        --embedding_dims=5,10,15,20,25,30,35,40 --multi_embeddings=4x10 --output_dir=runs/criteo_data_amount

Fraction f trains on a subsampled copy of the train split, <output_dir>/data/fraction_<f>/: every
train example is kept when a uniform draw (seed 0, one draw per example in file order) is below f,
so the subsets are random and nested; val, test and the vocabularies are the full data set's
(symlinked), so field_dims and the evaluation are the same for every fraction. Each run trains to
early stopping like trainers.fit (all its flags pass through, except the per-run embedding, scale,
embedding_dim, seed). SE columns use one set of width K; an ME column MxK uses M sets of width K.
report.md: mean IA at the best epoch (and test AUC) per (fraction, embedding size), averaged over
seeds, and ia_vs_data.png (mean IA against the fraction, one line per embedding size), rebuilt from
the run directories alone (trainers.sweep_report.write_data_amount_report).
"""

import dataclasses
import os
import shutil
import sys

from absl import app, flags

from trainers.sweep import Job, base_config, parse_list, run_jobs

FLAGS = flags.FLAGS
PER_RUN_FLAGS = ("embedding", "scale", "embedding_dim", "seed")


def define_flags():
    from trainers.fit import define_flags as define_fit_flags

    define_fit_flags()
    flags.DEFINE_string("fractions", "0.01,0.03,0.1,0.3,1", "Comma-separated fractions of the train split, in (0, 1].")
    flags.DEFINE_string("embedding_dims", "5,10,15,20,25,30,35,40", "Single-embedding sizes K.")
    flags.DEFINE_string("multi_embeddings", "4x10", "Multi-embedding columns MxK, comma-separated ('' for none).")
    flags.DEFINE_integer("seeds", 1, "Repeats per cell, seeds 0 .. seeds-1.")


def parse_multi_embedding(text):
    """'4x10' -> (4, 10)."""
    sets, _, width = text.partition("x")
    return int(sets), int(width)


def subset_dir(output_dir, fraction):
    return os.path.join(output_dir, "data", f"fraction_{fraction:g}")


def write_subset(data_dir, fraction, target):
    """Writes (once) the data set with a random `fraction` of its train examples; returns its directory."""
    import numpy as np
    import tensorflow as tf

    from datasets.schema import SCHEMA_FILE, load_schema, schema_hash, write_schema

    if os.path.isfile(os.path.join(target, SCHEMA_FILE)):
        return target
    schema = load_schema(data_dir)
    staging = target + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    shard = "train-00000-of-00001.tfrecord"
    draws = np.random.default_rng(0)
    rows = 0
    with tf.io.TFRecordWriter(os.path.join(staging, shard)) as writer:
        records = tf.data.TFRecordDataset([os.path.join(data_dir, name) for name in schema["shards"]["train"]])
        for record in records.as_numpy_iterator():
            if draws.random() < fraction:
                writer.write(record)
                rows += 1
    for name in schema["shards"]["val"] + schema["shards"]["test"] + ["vocab"]:
        os.symlink(os.path.abspath(os.path.join(data_dir, name)), os.path.join(staging, name))
    if rows == 0:
        raise ValueError(f"--fractions={fraction:g} keeps none of the {data_dir} train examples; use a larger fraction")
    schema["rows"]["train"] = rows
    schema["shards"]["train"] = [shard]
    schema["subset_of"] = {"data_dir": os.path.abspath(data_dir), "schema_sha256": schema_hash(data_dir),
                           "fraction": fraction, "rule": "keep if uniform(seed 0, per example in order) < fraction"}
    write_schema(schema, staging)
    os.rename(staging, target)
    return target


def data_amount_jobs(config, fractions, embedding_dims, multi_embeddings, seeds, output_dir):
    """One run per fraction x column x seed; data_dir of fraction 1 is the full data set itself."""
    columns = [("single", 1, width) for width in embedding_dims]
    columns += [("multi", sets, width) for sets, width in multi_embeddings]
    jobs = []
    for fraction in fractions:
        for embedding, scale, width in columns:
            for seed in range(seeds):
                column = f"se{width}" if embedding == "single" else f"me{scale}x{width}"
                name = f"fraction_{fraction:g}_{column}_seed{seed}"
                jobs.append(Job(name, dataclasses.replace(
                    config, embedding=embedding, scale=scale, embedding_dim=width, seed=seed,
                    data_dir=config.data_dir if fraction == 1 else subset_dir(output_dir, fraction),
                    output_dir=os.path.join(output_dir, "runs", name))))
    return jobs


def main(argv):
    from trainers.fit import validate
    from trainers.sweep_report import write_data_amount_report  # matplotlib: not for --help or a flag error

    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {argv[1:]}")
    try:
        config = base_config(PER_RUN_FLAGS)
        fractions = parse_list(FLAGS.fractions, float, "fractions", lambda fraction: 0 < fraction <= 1)
        embedding_dims = parse_list(FLAGS.embedding_dims, int, "embedding_dims", lambda width: width >= 1)
        multi_embeddings = (parse_list(FLAGS.multi_embeddings, parse_multi_embedding, "multi_embeddings",
                                       lambda pair: min(pair) >= 1) if FLAGS.multi_embeddings else [])
        if FLAGS.seeds < 1:
            raise ValueError("--seeds must be >= 1")
        jobs = data_amount_jobs(config, fractions, embedding_dims, multi_embeddings, FLAGS.seeds, FLAGS.output_dir)
        for job in jobs:
            validate(dataclasses.replace(job.config, data_dir=config.data_dir))
        for fraction in fractions:
            if fraction < 1:
                write_subset(config.data_dir, fraction, subset_dir(FLAGS.output_dir, fraction))
    except ValueError as error:
        sys.exit(f"error: {error}")
    failed = run_jobs(jobs)
    print(f"wrote {write_data_amount_report(FLAGS.output_dir)}")
    if failed:
        sys.exit(f"error: {len(failed)} runs failed: {', '.join(failed)} (rerun the same command to retry them)")


if __name__ == "__main__":
    define_flags()
    app.run(main)
