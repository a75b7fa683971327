"""ME against SE on each synthetic teacher (issue 35): the main job's protocol per teacher and seed, then a report.

    python -m bench.teacher_comparison --teacher=random_fm --seed=0 --workdir=runs/teachers
    python -m bench.teacher_comparison --report_only --workdir=runs/teachers --figure=teachers.png

A run writes the main job's data with another teacher (`datasets.synthetic`: the rows, seed, largest
field of 20,000 values, min-count 10 and split seed 0 of trainers.quickstart.prepare_data, so the
default teacher gives the main job's very shards), trains trainers.quickstart's base, SE and ME to
early stopping with its settings (DNN 10x, batch 512, patience 2 by default), and writes
<workdir>/<teacher>_seed<k>/comparison.json: the teacher as schema.json records it, the three results,
the wall time and the load average. --report_only reads every comparison.json under workdir (and the
main job's quickstart.json files given as --main_job_json, for the default teacher) and prints a
markdown table with a row per teacher (test AUC per mode as mean ± sample std over seeds, the paired
ME - SE and SE - base differences, mean IA at the best epoch) and saves the figure: test AUC by mode,
one group of bars per teacher, each seed a dot.
"""

import glob
import json
import os
import textwrap
import time

from absl import app, flags

from datasets import synthetic
from trainers import quickstart  # the trainers package first turns on the CLIs' CPU kernels (oneDNN)
from trainers.plots import new_figure, save
from trainers.run_records import write_json_atomically
from trainers.sweep_report import markdown_table, mean_std

quickstart.define_flags(workdir="runs/teacher_comparison")
synthetic.define_teacher_flags()
flags.DEFINE_bool("report_only", False, "Only print the table of workdir's runs and save the figure.")
flags.DEFINE_list("main_job_json", [], "--report_only: the main job's quickstart.json files, added as the default "
                  "teacher's seeds.")
flags.DEFINE_string("figure", None, "Where --report_only saves the figure (default <workdir>/teacher_comparison.png).")
FLAGS = flags.FLAGS

RESULT_FILE = "comparison.json"
MODES = ("base", "SE", "ME")  # trainers.quickstart.job_runs' order
MAX_CARDINALITY, MIN_COUNT, SPLIT_SEED = 20000, 10, 0  # trainers.quickstart.prepare_data's data


def run_comparison(shape: synthetic.TeacherShape, workdir: str) -> dict:
    """One teacher and seed (FLAGS.seed): its data, base / SE / ME to early stopping; writes and returns the record."""
    started = time.time()
    directory = os.path.join(workdir, f"{shape.name}_seed{FLAGS.seed}")
    data_dir = os.path.join(directory, "data")
    schema = synthetic.write_tfrecord_dir(data_dir, FLAGS.rows, FLAGS.seed, MAX_CARDINALITY, MIN_COUNT, shape,
                                          split_seed=SPLIT_SEED)
    runs = quickstart.job_runs(FLAGS.model, FLAGS.scale)
    results = quickstart.train_runs(runs, quickstart.fit_settings(data_dir), os.path.join(directory, "runs"))
    record = {"teacher": schema["source"]["teacher"], "seed": FLAGS.seed, "rows": FLAGS.rows,
              "labels": {mode: run.label for mode, run in zip(MODES, runs)},
              "results": {mode: results[run.label] for mode, run in zip(MODES, runs)},
              "wall_seconds": round(time.time() - started, 1), "load_average": os.getloadavg()}
    write_json_atomically(os.path.join(directory, RESULT_FILE), record, indent=2)
    return record


def main_job_records(paths: list) -> list:
    """Records of the default teacher from trainers.quickstart's quickstart.json files (the main job's seeds)."""
    records = []
    for path in paths:
        with open(path) as handle:
            results = json.load(handle)["results"]
        labels = dict(zip(MODES, results))  # the job's training order: base, SE, ME
        records.append({"teacher": {"name": synthetic.TEACHERS[0]}, "seed": results[labels["base"]]["seed"],
                        "rows": None, "labels": labels,
                        "results": {mode: results[label] for mode, label in labels.items()}})
    return records


def load_records(workdir: str, main_job_jsons: list = ()) -> dict:
    """{teacher: [records by seed]}, teachers in TEACHERS' order: every comparison.json under workdir plus the
    main job's quickstart.json files (default teacher); FileNotFoundError if there is none."""
    loaded = main_job_records(main_job_jsons)
    for path in sorted(glob.glob(os.path.join(workdir, "*", RESULT_FILE))):
        with open(path) as handle:
            loaded.append(json.load(handle))
    if not loaded:
        raise FileNotFoundError(f"no {RESULT_FILE} under {workdir}/*/ and no --main_job_json")
    records = {name: sorted((record for record in loaded if record["teacher"]["name"] == name),
                            key=lambda record: record["seed"]) for name in synthetic.TEACHERS}
    return {name: group for name, group in records.items() if group}


def values(group: list, mode: str, metric: str = "test_auc") -> list:
    return [record["results"][mode][metric] for record in group]


def spread_text(numbers: list, digits: int = 5, signed: bool = False) -> str:
    """'mean ± sample std' ('mean' alone for one number)."""
    mean, std = mean_std(numbers)
    text = f"{mean:+.{digits}f}" if signed else f"{mean:.{digits}f}"
    return f"{text} ± {std:.{digits}f}" if len(numbers) > 1 else text


def paired_differences(group: list, mode: str, reference: str) -> list:
    """mode's test AUC minus reference's, seed by seed (the two models share each seed's data)."""
    return [a - b for a, b in zip(values(group, mode), values(group, reference))]


def report_table(records: dict) -> str:
    """Markdown: per teacher, the seeds, test AUC per mode, the paired ME - SE and SE - base, mean IA per mode."""
    labels = next(iter(records.values()))[0]["labels"]
    header = ["teacher", "seeds", *(f"{labels[mode]} AUC" for mode in MODES), "ME - SE", "SE - base",
              *(f"{mode} mean IA" for mode in MODES)]
    rows = [[name, ",".join(str(record["seed"]) for record in group),
             *(spread_text(values(group, mode)) for mode in MODES),
             spread_text(paired_differences(group, "ME", "SE"), signed=True),
             spread_text(paired_differences(group, "SE", "base"), signed=True),
             *(spread_text(values(group, mode, "mean_ia"), digits=2) for mode in MODES)]
            for name, group in records.items()]
    return markdown_table(header, rows)


def plot_teachers(records: dict, path: str, title: str):
    """Test AUC by mode: one group of bars (mean, error bar one sample std) per teacher; each seed's three
    models are dots joined by a line (the models of a seed share its data and teacher)."""
    figure, (axis,) = new_figure(2.0 * len(records) + 3.5, 4.2)
    labels = next(iter(records.values()))[0]["labels"]
    width = 0.8 / len(MODES)
    offsets = [(index - (len(MODES) - 1) / 2) * width for index in range(len(MODES))]
    for offset, mode in zip(offsets, MODES):
        spreads = [mean_std(values(group, mode)) for group in records.values()]
        axis.bar([index + offset for index in range(len(records))], [mean for mean, _ in spreads], width,
                 yerr=[std for _, std in spreads], capsize=3, ecolor="0.55", label=labels[mode])
    for index, group in enumerate(records.values()):
        for record in group:
            first = index == 0 and record is group[0]
            axis.plot([index + offset for offset in offsets], [record["results"][mode]["test_auc"] for mode in MODES],
                      "k.-", linewidth=0.8, markersize=5, label="one seed" if first else None)
    aucs = [auc for group in records.values() for mode in MODES for auc in values(group, mode)]
    margin = 0.3 * (max(aucs) - min(aucs)) or 0.001
    axis.set_ylim(min(aucs) - margin, max(aucs) + margin)
    axis.set_xticks(range(len(records)), [f"{name}\n({len(group)} seeds)" for name, group in records.items()])
    axis.set_ylabel("test AUC (best-validation epoch)")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="bars: mean ± std", title_fontsize=8)
    figure.suptitle("\n".join(textwrap.wrap(title, 70)), fontsize=10)
    return save(figure, path)


def figure_title(records: dict) -> str:
    first = next(iter(records.values()))[0]
    rows = sorted({record["rows"] for group in records.values() for record in group if record["rows"]})
    return (f"{first['labels']['base'].split()[0].upper()} base / SE / ME to early stopping on "
            f"{', '.join(f'{count:,}' for count in rows)} synthetic rows per teacher and seed")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    if FLAGS.report_only:
        records = load_records(FLAGS.workdir, FLAGS.main_job_json)
        print(report_table(records))
        figure_path = FLAGS.figure or os.path.join(FLAGS.workdir, "teacher_comparison.png")
        plot_teachers(records, figure_path, figure_title(records))
        print(f"figure: {figure_path}")
        return
    record = run_comparison(synthetic.teacher_shape_from_flags(), FLAGS.workdir)
    print(f"{record['teacher']['name']} seed {record['seed']}: " + ", ".join(
        f"{record['labels'][mode]} {record['results'][mode]['test_auc']:.5f}" for mode in MODES)
        + f"; {record['wall_seconds']:.0f} s, load {record['load_average'][0]:.2f}")


if __name__ == "__main__":
    app.run(main)
