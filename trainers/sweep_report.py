"""The reports of the scaling study (trainers.sweep) and the data-amount study (trainers.data_amount),
rebuilt from run directories alone (each run's results.json, flags.txt and data_schema/schema.json).

Scaling study (`write_report`), into the sweep's output_dir: runs.csv (one row per run), report.md
(paper Table 1 layout: mean test AUC +- sample std over seeds per model x SE/ME x scale, best SE
underlined, best ME bold; then mean IA and the best epoch the same way, with a warning when runs were
stopped by the epoch cap while still improving) and two plots, auc_vs_scale.png (Figure 8a style) and
ia_vs_scale.png. At scale 1 SE and ME coincide, so the "base" cell counts for both rows.

Data-amount study (`write_data_amount_report`): report.md (paper Table 2 layout: mean IA at the best
epoch, and test AUC, per train fraction x embedding size, means over seeds) and ia_vs_data.png.
"""

import csv
import glob
import json
import os
import statistics
import textwrap

from matplotlib.figure import Figure

from trainers.plots import new_figure, save

COLUMNS = ("label", "model", "embedding", "scale", "seed", "test_auc", "test_logloss", "best_val_auc", "best_epoch",
           "epochs", "mean_ia", "num_sets", "embedding_dim", "params_total", "params_embedding",
           "examples_per_sec", "wall_seconds", "run_dir")
MODES = (("SE", "single"), ("ME", "multi"))


def finished_runs(output_dir: str) -> list[tuple[str, dict]]:
    """(run directory, results.json) of every finished run under output_dir/runs; FileNotFoundError if none."""
    runs = []
    for path in sorted(glob.glob(os.path.join(output_dir, "runs", "*", "results.json"))):
        with open(path) as handle:
            runs.append((os.path.dirname(path), json.load(handle)))
    if not runs:
        raise FileNotFoundError(f"no finished runs (runs/*/results.json) under {output_dir}")
    return runs


def run_flags(run_dir: str, name: str) -> list[str]:
    """The values of --name in the run's flags.txt (the resolved trainers.fit flags)."""
    prefix = f"--{name}="
    with open(os.path.join(run_dir, "flags.txt")) as handle:
        return [line.strip()[len(prefix):] for line in handle if line.startswith(prefix)]


def run_label(run_dir: str, model: str) -> str:
    """The model name plus the run's interaction arguments from flags.txt: 'dcnv2' or 'dcnv2:num_layers=2'."""
    return ":".join([model, *run_flags(run_dir, "interaction_arg")])


def dataset_name(run_dir: str) -> str:
    """The run's data set, as its schema names the format: 'criteo', 'avazu'."""
    with open(os.path.join(run_dir, "data_schema", "schema.json")) as handle:
        return json.load(handle).get("format", "unknown")


def collect_runs(output_dir):
    """One dict per finished run under output_dir/runs, sorted by (label, embedding, scale, seed)."""
    rows = []
    for run_dir, results in finished_runs(output_dir):
        row = {key: results.get(key) for key in COLUMNS}
        row.update(label=run_label(run_dir, results["model"]), run_dir=os.path.relpath(run_dir, output_dir))
        rows.append(row)
    return sorted(rows, key=lambda row: (row["label"], row["embedding"], row["scale"], row["seed"]))


def cell_values(rows, label, embedding, scale, metric):
    """The metric over seeds of one table cell; scale 1 is the shared base of both modes."""
    return [row[metric] for row in rows
            if row["label"] == label and row["scale"] == scale and (scale == 1 or row["embedding"] == embedding)]


def mean_std(values):
    """(mean, sample standard deviation); std 0 for a single value (the table then shows no std)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def swept_modes(rows, label):
    """The embedding modes a model was swept in: those of its runs above scale 1, or both modes when it
    has base runs only (the base is both). A model swept with --embeddings=single gets no ME row."""
    scaled = {row["embedding"] for row in rows if row["label"] == label and row["scale"] != 1}
    return [embedding for _, embedding in MODES if embedding in scaled or not scaled]


def summarize(rows, metric):
    """{(label, embedding, scale): (mean, std, n)} over every cell that has runs."""
    summary = {}
    scales = sorted({row["scale"] for row in rows})
    for label in sorted({row["label"] for row in rows}):
        modes = swept_modes(rows, label)
        for scale in scales:
            for embedding in modes:
                values = cell_values(rows, label, embedding, scale, metric)
                if values:
                    summary[label, embedding, scale] = (*mean_std(values), len(values))
    return summary


def scale_header(scale):
    return "base" if scale == 1 else f"{scale}x"


def cell_text(mean, std, n, digits, most_seeds):
    """'mean ± std'; a single seed has no std, so just its value; '(n=k)' where a cell has fewer seeds
    than the table's fullest cell."""
    text = f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"
    return text if n == most_seeds else f"{text} (n={n})"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table; the first column left as is, every row as long as the header."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def scaling_table(summary: dict, digits: int, mark_best: bool) -> str:
    """Paper Table 1 layout: an SE and an ME row per model (only the modes it was swept in), one column
    per scale."""
    scales = sorted({scale for _, _, scale in summary})
    most_seeds = max(n for _, _, n in summary.values())
    rows = []
    for label in sorted({label for label, _, _ in summary}):
        for mode, embedding in MODES:
            cells = {scale: summary[label, embedding, scale] for scale in scales if (label, embedding, scale) in summary}
            if not cells:
                continue
            best = max(cells, key=lambda scale: cells[scale][0]) if mark_best else None
            texts = []
            for scale in scales:
                if scale not in cells:
                    texts.append("")
                    continue
                text = cell_text(*cells[scale], digits, most_seeds)
                if scale == best:
                    text = f"<u>{text}</u>" if embedding == "single" else f"**{text}**"
                texts.append(text)
            rows.append([label, mode, *texts])
    return markdown_table(["model", "mode", *map(scale_header, scales)], rows)


def plot_panels(panels: dict, axis_labels: tuple[str, str], title: str, path: str, ticks: tuple | None = None,
                log_x: bool = False) -> Figure:
    """One panel per entry of panels {panel title: {series label: [(x, mean, std)]}}, error bars one std."""
    figure, axes = new_figure(4.8 * len(panels), 4.0, len(panels))
    for axis, (panel, series) in zip(axes, panels.items()):
        for label, points in series.items():
            x, mean, std = zip(*points)
            axis.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=label)
        if log_x:
            axis.set_xscale("log")
        if ticks:
            axis.minorticks_off()  # a log axis would add labels such as 3x10^1 between the given ticks
            axis.set_xticks(*ticks)
        axis.set_xlabel(axis_labels[0])
        axis.set_ylabel(axis_labels[1])
        axis.set_title(panel, fontsize=10)
        axis.legend(fontsize=8)
    figure.suptitle("\n".join(textwrap.wrap(title, 14 * len(panels) + 40)), fontsize=10)
    return save(figure, path)


def plot_metric(summary: dict, ylabel: str, path: str, title: str) -> Figure:
    """One panel per model: SE and ME mean over seeds against scale, error bars one std (Figure 8a)."""
    scales = sorted({scale for _, _, scale in summary})
    panels = {label: {mode: [(position, *summary[label, embedding, scale][:2]) for position, scale in enumerate(scales)
                             if (label, embedding, scale) in summary]
                      for mode, embedding in MODES if (label, embedding) in {key[:2] for key in summary}}
              for label in sorted({label for label, _, _ in summary})}
    return plot_panels(panels, ("scaling factor s (embedding size s x K0)", ylabel), title, path,
                       ticks=(range(len(scales)), [scale_header(scale) for scale in scales]))


def write_runs_csv(rows, path):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def still_improving(rows):
    """Runs whose best validation AUC came at their last epoch: stopped by the --epochs cap, not by
    early stopping, so their test AUC is not the converged one."""
    return [row for row in rows if row["best_epoch"] == row["epochs"]]


def training_length_note(rows):
    capped = still_improving(rows)
    if not capped:
        return "No run had its best validation AUC at its last epoch: each trained past its best epoch."
    return (f"**{len(capped)} of {len(rows)} runs had their best validation AUC at their last epoch**: the "
            "--epochs cap stopped them while still improving, so their AUCs are not converged ones (the paper "
            "trains until early stopping; rerun with a larger --epochs into a new --output_dir, since finished "
            "runs are skipped whatever their flags).")


def write_markdown(output_dir: str, blocks: list[str]) -> str:
    """Writes the blocks, a blank line apart, to output_dir/report.md; returns its path."""
    path = os.path.join(output_dir, "report.md")
    with open(path, "w") as handle:
        handle.write("\n\n".join(blocks) + "\n")
    return path


def study_caption(output_dir: str, run_dir: str, count: int) -> str:
    """What a study's figures show: data set, run count, and which epoch's numbers."""
    return (f"{dataset_name(os.path.join(output_dir, run_dir))} data, {count} runs, "
            "each at its best-validation epoch; mean ± one std over seeds")


def write_report(output_dir: str) -> str:
    """Writes runs.csv, report.md, auc_vs_scale.png and ia_vs_scale.png; returns report.md's path."""
    rows = collect_runs(output_dir)
    write_runs_csv(rows, os.path.join(output_dir, "runs.csv"))
    auc, ia = summarize(rows, "test_auc"), summarize(rows, "mean_ia")
    counts = sorted({n for _, _, n in auc.values()})
    caption = study_caption(output_dir, rows[0]["run_dir"], len(rows))
    plot_metric(auc, "test AUC", os.path.join(output_dir, "auc_vs_scale.png"), f"Test AUC vs scale: {caption}")
    plot_metric(ia, "mean IA over fields (max = s x K0)", os.path.join(output_dir, "ia_vs_scale.png"),
                f"Mean information abundance vs scale: {caption}")
    return write_markdown(output_dir, [
        "# Scaling study",
        f"{len(rows)} runs; seeds per cell: {', '.join(map(str, counts))}. Mean ± sample std over seeds. "
        "Underlined: best SE per model; bold: best ME per model. base = scale 1, where SE and ME are the "
        "same model (trained once).",
        "## Test AUC (paper Table 1 layout)",
        scaling_table(auc, 5, mark_best=True),
        "## Mean information abundance at the best epoch",
        scaling_table(ia, 2, mark_best=False),
        "## Best epoch",
        training_length_note(rows),
        scaling_table(summarize(rows, "best_epoch"), 1, mark_best=False),
        "![test AUC vs scale](auc_vs_scale.png)\n\n![mean IA vs scale](ia_vs_scale.png)",
    ])


def collect_data_amount_runs(output_dir: str) -> list[dict]:
    """One dict per finished data-amount run: fraction (from its schema's subset_of), embedding column
    label and sort key, seed, mean_ia, test_auc and run_dir."""
    runs = []
    for run_dir, results in finished_runs(output_dir):
        with open(os.path.join(run_dir, "data_schema", "schema.json")) as handle:
            fraction = json.load(handle).get("subset_of", {}).get("fraction", 1.0)
        sets, width = results["num_sets"], results["embedding_dim"]
        if results["embedding"] == "single":
            column, key = f"{width}", (0, width)
        else:
            column, key = f"{sets * width}, ME ({sets}x{width})", (1, sets * width)
        runs.append({"fraction": fraction, "column": column, "key": key, "seed": results["seed"],
                     "mean_ia": results["mean_ia"], "test_auc": results["test_auc"],
                     "run_dir": os.path.relpath(run_dir, output_dir)})
    return runs


def data_amount_cells(runs: list[dict], metric: str) -> dict:
    """{(fraction, column): (mean, std, n)} over seeds, by increasing fraction."""
    groups = {}
    for run in sorted(runs, key=lambda run: run["fraction"]):
        groups.setdefault((run["fraction"], run["column"]), []).append(run[metric])
    return {cell: (*mean_std(values), len(values)) for cell, values in groups.items()}


def data_amount_columns(runs: list[dict]) -> list[str]:
    """The embedding-size columns: SE by size, then ME by total size."""
    return [column for _, column in sorted({(run["key"], run["column"]) for run in runs})]


def data_amount_table(runs: list[dict], metric: str, digits: int) -> str:
    """Rows: fractions; columns: embedding sizes (SE, then ME); cells: mean over seeds."""
    cells, columns = data_amount_cells(runs, metric), data_amount_columns(runs)
    rows = [[f"{fraction * 100:g}% data"] + [f"{cells[fraction, column][0]:.{digits}f}"
                                             if (fraction, column) in cells else "" for column in columns]
            for fraction in sorted({run["fraction"] for run in runs})]
    return markdown_table(["data", *columns], rows)


def plot_data_amount(runs: list[dict], path: str, title: str) -> Figure:
    """Mean IA against the train fraction, one line per embedding size (paper Table 2 as a figure)."""
    cells = data_amount_cells(runs, "mean_ia")
    series = {column: [(fraction * 100, mean, std) for (fraction, name), (mean, std, _) in cells.items()
                       if name == column] for column in data_amount_columns(runs)}
    percents = sorted({fraction * 100 for fraction, _ in cells})
    return plot_panels({"one line per embedding size K (legend)": series},
                       ("train data used (% of the train split, log scale)", "mean IA over fields"), title, path,
                       ticks=(percents, [f"{percent:g}%" for percent in percents]), log_x=True)


def write_data_amount_report(output_dir: str) -> str:
    """Writes report.md (paper Table 2 layout) and ia_vs_data.png; returns report.md's path."""
    runs = collect_data_amount_runs(output_dir)
    caption = study_caption(output_dir, runs[0]["run_dir"], len(runs))
    plot_data_amount(runs, os.path.join(output_dir, "ia_vs_data.png"),
                     f"Information abundance vs data amount: {caption}")
    return write_markdown(output_dir, [
        "# Information abundance vs data amount (paper Table 2)",
        f"{len(runs)} runs; cells are means over seeds. Mean IA over fields at the best-validation epoch.",
        "## Mean information abundance", data_amount_table(runs, "mean_ia", 2),
        "## Test AUC", data_amount_table(runs, "test_auc", 5),
        "![mean IA vs data amount](ia_vs_data.png)",
    ])
