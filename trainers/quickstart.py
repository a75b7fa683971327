"""The main job on an embedded default, no download needed:

    python -m trainers.quickstart

Generates a synthetic Criteo-shaped log, converts it to TFRecords, trains DCNv2 single-embedding
and multi-embedding at 4x, prints test AUC/logloss and per-field information abundance for both,
exports the multi-embedding model as a SavedModel and answers one raw-feature prediction request
against the export.
"""

import os

from absl import app, flags

FLAGS = flags.FLAGS


def print_results_table(runs):
    print("\n| model | test AUC | test logloss | mean IA | epochs | params (embedding) | train ex/s |")
    print("|---|---|---|---|---|---|---|")
    for name, results in runs.items():
        print(f"| {name} | {results['test_auc']:.4f} | {results['test_logloss']:.4f} | {results['mean_ia']:.2f} | "
              f"{results['epochs']} | {results['params_total']:,} ({results['params_embedding']:,}) | "
              f"{results['examples_per_sec']:,.0f} |")


def print_field_ia_table(run_dirs):
    import json

    records = {}
    for name, run_dir in run_dirs.items():
        with open(os.path.join(run_dir, "results.json")) as handle:
            best_epoch = json.load(handle)["best_epoch"]
        with open(os.path.join(run_dir, "information_abundance.jsonl")) as handle:
            records[name] = [json.loads(line) for line in handle][best_epoch - 1]["fields"]
    names = list(run_dirs)
    print("\nInformation abundance per field at the best epoch (ME: all sets side by side; max = K total)")
    print("| field | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for field in records[names[0]]:
        print(f"| {field} | " + " | ".join(f"{records[n][field]['ia']:.2f}" for n in names) + " |")


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf

    from datasets.conversion import convert
    from datasets.criteo import TSV as CRITEO_TSV, raw_rows
    from datasets.synthetic import write_criteo_tsv
    from export.requests import example_from_raw
    from export.saved_model import export_run
    from trainers.config import FitConfig
    from trainers.fit import train

    os.makedirs(FLAGS.workdir, exist_ok=True)
    raw_path = os.path.join(FLAGS.workdir, "synthetic_criteo.txt")
    data_dir = os.path.join(FLAGS.workdir, "data")
    print(f"[1/5] writing {FLAGS.rows:,} synthetic Criteo rows to {raw_path}")
    write_criteo_tsv(raw_path, FLAGS.rows, seed=FLAGS.seed)
    print(f"[2/5] converting to TFRecords in {data_dir}")
    schema = convert(CRITEO_TSV, raw_path, data_dir, min_count=10, overwrite=True)
    print(f"      rows {schema['rows']}, sum D_i = {sum(f['cardinality'] for f in schema['fields']):,}")

    runs, run_dirs = {}, {}
    for step, embedding in ((3, "single"), (4, "multi")):
        name = f"dcnv2 {'SE' if embedding == 'single' else 'ME'} {FLAGS.scale}x"
        run_dirs[name] = os.path.join(FLAGS.workdir, f"dcnv2_{embedding}_{FLAGS.scale}x")
        print(f"[{step}/5] training {name} -> {run_dirs[name]}")
        runs[name] = train(FitConfig(data_dir=data_dir, model="dcnv2", embedding=embedding, scale=FLAGS.scale,
                                     batch_size=FLAGS.batch_size, epochs=FLAGS.epochs, seed=FLAGS.seed,
                                     output_dir=run_dirs[name], verbose=2))
    print_results_table(runs)
    print_field_ia_table(run_dirs)

    me_run = run_dirs[f"dcnv2 ME {FLAGS.scale}x"]
    export_dir = os.path.join(FLAGS.workdir, "export", f"dcnv2_me_{FLAGS.scale}x", "1")
    print(f"\n[5/5] exporting {me_run} -> {export_dir}")
    export_run(me_run, export_dir)
    request = next(iter(raw_rows(raw_path)))
    serving = tf.saved_model.load(export_dir).signatures["serving_default"]
    probability = serving(examples=tf.constant([example_from_raw(request)]))["probability"].numpy()
    print(f"prediction request (raw features of the first synthetic row): click probability "
          f"{float(np.squeeze(probability)):.4f}")


if __name__ == "__main__":
    flags.DEFINE_string("workdir", "runs/quickstart", "Where data, runs and the export go.")
    flags.DEFINE_integer("rows", 60000, "Synthetic rows to generate.")
    flags.DEFINE_integer("epochs", 4, "Epoch cap per model (early stopping on validation AUC, patience 3).")
    flags.DEFINE_integer("batch_size", 1024, "Batch size.")
    flags.DEFINE_integer("scale", 4, "Scaling factor of both models.")
    flags.DEFINE_integer("seed", 0, "Seed of data and training.")
    app.run(main)
