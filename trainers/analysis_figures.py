"""The figures of `trainers.analyze`, drawn from its summary.json alone (`write_figures`).

Every figure names the run(s) it shows: model, SE/ME and scale, the data set and the epoch whose weights
were analysed (the best validation epoch, which model.keras holds).
"""

import os
import textwrap

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from trainers.plots import integer_ticks, new_figure, save

SPECTRUM_FLOOR = 1e-3  # the paper's Figure 1b spans about 1e-3 .. 1
PANEL_WIDTH = 5.4  # inches per spectrum panel
CARDINALITY_COLORS = colormaps["viridis"]


def compared_runs(summary: dict) -> list[tuple[dict, dict]]:
    """[(description, analysis)] of the run and, when there is one, the compare run."""
    runs = [(summary["runs"]["run"], summary["run"])]
    if summary["compare"]:
        runs.append((summary["runs"]["compare"], summary["compare"]))
    return runs


def wrapped(text: str, inches: float) -> str:
    """The text in lines that fit a span of `inches` at the titles' 9-10 pt (about 11 characters an inch)."""
    return "\n".join(textwrap.wrap(text, int(11 * inches)))


def runs_caption(summary: dict) -> str:
    return "; ".join(description["title"] for description, _ in compared_runs(summary))


def plot_spectra(summary: dict) -> Figure:
    """One panel per run: every field's singular values up to its rank min(D_i, K), divided by the largest."""
    runs = compared_runs(summary)
    figure, axes = new_figure(PANEL_WIDTH * len(runs) + 1.0, 4.6, len(runs), sharey=True)
    rows = [field["rows"] for field in summary["run"]["fields"]]
    norm = LogNorm(vmin=min(rows), vmax=max(max(rows), min(rows) + 1))
    for axis, (description, analysis) in zip(axes, runs):
        for field in analysis["fields"]:
            draw_spectrum(axis, field, analysis["width"], CARDINALITY_COLORS(norm(field["rows"])))
        axis.set_yscale("log")
        axis.set_ylim(SPECTRUM_FLOOR * 0.7, 1.5)
        axis.set_xlim(0.5, analysis["width"] + 0.5)
        integer_ticks(axis)
        axis.set_xlabel("singular value index k")
        axis.set_ylabel(r"$\sigma_k / \sigma_1$ (normalised singular value)")
        axis.set_title(wrapped(description["title"], PANEL_WIDTH), fontsize=9)
        axis.legend(handles=spectrum_legend(analysis), fontsize=7, loc="lower left")
    figure.colorbar(ScalarMappable(norm=norm, cmap=CARDINALITY_COLORS), ax=axes,
                    label=r"field cardinality $D_i$ (rows of $E_i$)")
    figure.suptitle(r"Normalised singular spectrum of each field's embedding $E_i$ (cf. paper Fig. 1b)")
    return figure


def draw_spectrum(axis, field: dict, width: int, color) -> None:
    """Solid for a field of rank K, dashed for a rank-limited one (D_i < K); values under the floor as ▼."""
    spectrum = np.asarray(field["spectrum"])
    index = np.arange(1, len(spectrum) + 1)
    axis.plot(index, np.maximum(spectrum, SPECTRUM_FLOOR), color=color, lw=1,
              ls="--" if field["rows"] < width else "-")
    below = spectrum < SPECTRUM_FLOOR
    axis.plot(index[below], np.full(below.sum(), SPECTRUM_FLOOR), "v", color=color, ms=4)


def spectrum_legend(analysis: dict) -> list[Line2D]:
    """Line styles, and the floor marker where a spectrum goes below it."""
    handles = [Line2D([], [], color="gray", label=rf"$D_i \geq K$ = {analysis['width']}: K values"),
               Line2D([], [], color="gray", ls="--", label=r"$D_i < K$: rank-limited, $D_i$ values")]
    if any(min(field["spectrum"]) < SPECTRUM_FLOOR for field in analysis["fields"]):
        handles.append(Line2D([], [], color="gray", ls="", marker="v", label=f"below {SPECTRUM_FLOOR:g}, drawn at it"))
    return handles


def plot_field_ia(summary: dict) -> Figure:
    """IA(E_i) per field, run and compare run side by side (paper Fig. 8b)."""
    runs = compared_runs(summary)
    names = summary["fields"]
    width = max(6.5, 0.32 * len(names))
    figure, (axis,) = new_figure(width, 4.4)
    positions = np.arange(len(names))
    bar_width = 0.8 / len(runs)
    for offset, (description, analysis) in enumerate(runs):
        axis.bar(positions + offset * bar_width, [field["ia"] for field in analysis["fields"]], bar_width,
                 label=description["label"])
    axis.set_xticks(positions + bar_width * (len(runs) - 1) / 2, names, rotation=90, fontsize=7)
    axis.set_xlabel("field")
    axis.set_ylabel(rf"IA($E_i$) (max = K = {summary['run']['width']})")
    axis.legend(fontsize=8)
    axis.set_title(wrapped(f"Information abundance per field, all sets side by side (cf. paper Fig. 8b). "
                           f"{runs_caption(summary)}", width), fontsize=9)
    return figure


def plot_sub_embedding(summary: dict, set_index: int = 0) -> Figure:
    """IA(E_i->j) heatmap and its row and column sums (paper Fig. 3)."""
    entry = summary["cross_network"]["sets"][set_index]
    matrix = np.asarray(entry["sorted_ia"])
    correlation = entry["correlation"]
    figure, (heat, sources, targets) = new_figure(15, 4.8, 3)
    image = heat.imshow(matrix, origin="lower", cmap="coolwarm")
    figure.colorbar(image, ax=heat, label=r"IA($E_{i \to j}$)")
    heat.set_xlabel(r"field $j$ (sorted by IA($E_j$))")
    heat.set_ylabel(r"field $i$ (sorted by IA($E_i$))")
    heat.set_title(rf"IA($E_{{i \to j}}$), set {set_index} (Fig. 3a)", fontsize=10)
    for axis, sums, factor, (summed, axis_name) in ((sources, "source_sums", "source", ("j", "i")),
                                                    (targets, "target_sums", "target", ("i", "j"))):
        axis.bar(np.arange(len(matrix)), correlation[sums])
        axis.set_xlabel(rf"field ${axis_name}$ (sorted by IA($E_{axis_name}$))")
        axis.set_ylabel(rf"$\sum_{summed}$ IA($E_{{i \to j}}$)")
        axis.set_title(f"sum over {summed}; correlation with the order {correlation[factor]:.2f} "
                       f"(Fig. 3{'b' if summed == 'j' else 'c'})",
                       fontsize=10)
    figure.suptitle(wrapped(f"Sub-embedding IA of the first cross layer (cf. paper Fig. 3): "
                            f"{summary['runs']['run']['title']}", 15), fontsize=10)
    return figure


def plot_interaction_pattern(summary: dict) -> Figure:
    """||W_{i->j}^{(m)}||_F of the first cross layer, one panel per embedding set (paper Fig. 10b)."""
    pattern = np.asarray(summary["cross_network"]["interaction_pattern"])
    width = 3.2 * len(pattern) + 1.0
    figure, axes = new_figure(width, 3.8, len(pattern))
    for m, axis in enumerate(axes):
        image = axis.imshow(pattern[m], cmap="viridis", vmin=pattern.min(), vmax=pattern.max())
        axis.set_title(f"set {m}", fontsize=10)
        axis.set_xlabel(r"field $j$")
        axis.set_ylabel(r"field $i$")
    figure.colorbar(image, ax=axes, label=r"$\|W_{i \to j}^{(m)}\|_F$")
    figure.suptitle(wrapped(f"Interaction pattern of the first cross layer (cf. paper Fig. 10b): "
                            f"{summary['runs']['run']['title']}", width), fontsize=10)
    return figure


def plot_diversity(summary: dict) -> Figure:
    """Mean principal-angle diversity of the embedding sets: run, compare run, random (paper Fig. 10a)."""
    bars = summary["diversity"]
    figure, (axis,) = new_figure(6.5, 1.4 + 0.45 * len(bars))
    axis.barh(list(bars), list(bars.values()), color=["C0", "C1", "C7"][:len(bars)])
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("mean diversity 1 − mean cos(principal angle) over set pairs and fields")
    axis.set_ylabel("embedding table")
    axis.set_title(wrapped(f"Embedding-set diversity, {summary['run']['diversity_sets']} sets per field "
                           f"(cf. paper Fig. 10a). {runs_caption(summary)}", 6.5), fontsize=9)
    return figure


def plot_ia_over_epochs(summary: dict) -> Figure:
    """Mean IA over fields after every epoch, from information_abundance.jsonl."""
    records = summary["epochs"]
    description = summary["runs"]["run"]
    figure, (axis,) = new_figure(6, 4)
    axis.plot([record["epoch"] for record in records], [record["mean_ia"] for record in records], marker="o",
              label=description["label"])
    if description.get("epoch"):
        axis.axvline(description["epoch"], color="gray", ls=":", label="best epoch (analysed weights)")
    integer_ticks(axis)
    axis.set_xlabel("epoch")
    axis.set_ylabel(rf"mean IA($E_i$) over fields (max = {summary['run']['width']})")
    axis.legend(fontsize=8)
    axis.set_title(wrapped(f"Information abundance during training: {description['title']}", 6), fontsize=9)
    return figure


def write_figures(summary: dict, output_dir: str) -> dict[str, Figure]:
    """Draws every figure the summary has data for into output_dir; returns {path: figure}."""
    drawn = {"spectra.png": plot_spectra, "field_ia.png": plot_field_ia}
    if summary["cross_network"]:
        drawn["sub_embedding_ia.png"] = plot_sub_embedding
        if summary["run"]["num_sets"] > 1:
            drawn["interaction_pattern.png"] = plot_interaction_pattern
    if summary["diversity"]:
        drawn["diversity.png"] = plot_diversity
    if summary["epochs"]:
        drawn["ia_over_epochs.png"] = plot_ia_over_epochs
    return {path: save(plot(summary), path)
            for path, plot in ((os.path.join(output_dir, name), plot) for name, plot in drawn.items())}
