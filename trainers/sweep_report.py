"""The scaling-study report, rebuilt from run directories alone (each run's results.json and flags.txt).

Writes into the sweep's output_dir: runs.csv (one row per run), report.md (paper Table 1 layout: mean
test AUC +- sample std over seeds per model x SE/ME x scale, best SE underlined, best ME bold; then
mean IA and the best epoch the same way, with a warning when runs were stopped by the epoch cap
while still improving) and two plots, auc_vs_scale.png (Figure 8a style) and ia_vs_scale.png. At
scale 1 SE and ME coincide, so the "base" cell counts for both rows.
"""

import csv
import glob
import json
import os
import statistics

COLUMNS = ("label", "model", "embedding", "scale", "seed", "test_auc", "test_logloss", "best_val_auc", "best_epoch",
           "epochs", "mean_ia", "num_sets", "embedding_dim", "params_total", "params_embedding",
           "examples_per_sec", "wall_seconds", "run_dir")
MODES = (("SE", "single"), ("ME", "multi"))


def run_label(run_dir, model):
    """The model name plus the run's interaction arguments from flags.txt: 'dcnv2' or 'dcnv2:num_layers=2'."""
    prefix = "--interaction_arg="
    with open(os.path.join(run_dir, "flags.txt")) as handle:
        arguments = [line.strip()[len(prefix):] for line in handle if line.startswith(prefix)]
    return ":".join([model, *arguments])


def collect_runs(output_dir):
    """One dict per finished run under output_dir/runs, sorted by (label, embedding, scale, seed)."""
    rows = []
    for path in glob.glob(os.path.join(output_dir, "runs", "*", "results.json")):
        run_dir = os.path.dirname(path)
        with open(path) as handle:
            results = json.load(handle)
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


def markdown_table(summary, digits, mark_best):
    """Paper Table 1 layout: an SE and an ME row per model (only the modes it was swept in), one column
    per scale."""
    scales = sorted({scale for _, _, scale in summary})
    most_seeds = max(n for _, _, n in summary.values())
    lines = ["| model | mode | " + " | ".join(map(scale_header, scales)) + " |",
             "|---|---|" + "---|" * len(scales)]
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
            lines.append(f"| {label} | {mode} | " + " | ".join(texts) + " |")
    return "\n".join(lines)


def plot_metric(summary, ylabel, path):
    """One panel per model: SE and ME mean over seeds against scale, error bars one std (Figure 8a)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted({label for label, _, _ in summary})
    scales = sorted({scale for _, _, scale in summary})
    figure, axes = plt.subplots(1, len(labels), figsize=(4.5 * len(labels), 3.6), squeeze=False)
    for axis, label in zip(axes[0], labels):
        for mode, embedding in MODES:
            points = [(position, summary[label, embedding, scale]) for position, scale in enumerate(scales)
                      if (label, embedding, scale) in summary]
            if points:
                axis.errorbar([p for p, _ in points], [cell[0] for _, cell in points],
                              yerr=[cell[1] for _, cell in points], marker="o", capsize=3, label=mode)
        axis.set_xticks(range(len(scales)), [f"{scale}x" for scale in scales])
        axis.set_xlabel("scale")
        axis.set_ylabel(ylabel)
        axis.set_title(label)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


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


def write_report(output_dir):
    """Writes runs.csv, report.md, auc_vs_scale.png and ia_vs_scale.png; returns report.md's path."""
    rows = collect_runs(output_dir)
    if not rows:
        raise FileNotFoundError(f"no finished runs (runs/*/results.json) under {output_dir}")
    write_runs_csv(rows, os.path.join(output_dir, "runs.csv"))
    auc, ia = summarize(rows, "test_auc"), summarize(rows, "mean_ia")
    counts = sorted({n for _, _, n in auc.values()})
    text = "\n\n".join([
        "# Scaling study",
        f"{len(rows)} runs; seeds per cell: {', '.join(map(str, counts))}. Mean ± sample std over seeds. "
        "Underlined: best SE per model; bold: best ME per model. base = scale 1, where SE and ME are the "
        "same model (trained once).",
        "## Test AUC (paper Table 1 layout)",
        markdown_table(auc, 5, mark_best=True),
        "## Mean information abundance at the best epoch",
        markdown_table(ia, 2, mark_best=False),
        "## Best epoch",
        training_length_note(rows),
        markdown_table(summarize(rows, "best_epoch"), 1, mark_best=False),
        "![test AUC vs scale](auc_vs_scale.png)\n\n![mean IA vs scale](ia_vs_scale.png)",
    ]) + "\n"
    plot_metric(auc, "test AUC", os.path.join(output_dir, "auc_vs_scale.png"))
    plot_metric(ia, "mean information abundance", os.path.join(output_dir, "ia_vs_scale.png"))
    path = os.path.join(output_dir, "report.md")
    with open(path, "w") as handle:
        handle.write(text)
    return path
