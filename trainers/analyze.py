"""Embedding-collapse analysis of a training run (paper Sections 3, 4.1, 5.3; Appendices F, I).

    python -m trainers.analyze --run_dir=runs/dcnv2_me_10x [--compare_run_dir=runs/dcnv2_se_10x]

Reads `model.keras`, `data_schema/schema.json` (field names) and `information_abundance.jsonl` (if present)
from the run directory and writes into --output_dir (default <run_dir>/analysis):
- spectra.png             normalised singular spectrum per field (Figure 1b)
- field_ia.png            IA per field, run vs compare run (Figure 8b)
- sub_embedding_ia.png    IA(E_i^{->j}) heatmap and its row/column sums (Figures 3, 9; DCNv2 only)
- interaction_pattern.png ||W_{i->j}^{(m)}||_F per set (Figure 10b; multi-embedding DCNv2 only)
- diversity.png           principal-angle diversity, run / compare run / random (Figure 10a)
- ia_over_epochs.png      mean IA per epoch from information_abundance.jsonl
- summary.md, summary.json the numbers behind the plots
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import tf_multiemb  # noqa: E402,F401  (registers the custom layers for load_model)
from tf_multiemb import collapse, diversity, sub_embedding  # noqa: E402
from tf_multiemb.cross_blocks import interaction_pattern  # noqa: E402
from tf_multiemb.layers.cross_network import CrossNetV2  # noqa: E402

RUN_DIR = flags.DEFINE_string("run_dir", None, "Training run directory holding model.keras and data_schema/schema.json.",
                              required=True)
OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where plots and summary go (default: <run_dir>/analysis).")
COMPARE_RUN_DIR = flags.DEFINE_string("compare_run_dir", None, "A second run to compare with (e.g. SE vs ME).")
BASE_EMBEDDING_DIM = flags.DEFINE_integer(
    "base_embedding_dim", 10, "K0: a single-embedding table of width s*K0 is split into s sets for diversity.")
RANDOM_SAMPLES = flags.DEFINE_integer("random_samples", 16, "Monte Carlo samples for E[IA(randn_like(E))].")
SEED = flags.DEFINE_integer("seed", 0, "Seed of the random-matrix baselines.")


class RunError(Exception):
    """A run directory that cannot be analysed; the message says why and what to do."""


def load_run(run_dir):
    """(model, field names, IA log records) of a run directory."""
    if not os.path.isdir(run_dir):
        raise RunError(f"run directory {run_dir} does not exist; pass the --output_dir of a trainers.fit run")
    model_path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(model_path):
        raise RunError(f"{model_path} is missing; the run has not saved its model (did trainers.fit finish?)")
    model = keras.saving.load_model(model_path, compile=False)
    num_fields = len(model.field_embedding.field_dims)
    schema_path = os.path.join(run_dir, "data_schema", "schema.json")  # written by trainers.fit
    names = [f"field_{i}" for i in range(num_fields)]
    if os.path.isfile(schema_path):
        with open(schema_path) as file:
            names = [field["name"] for field in json.load(file)["fields"]]
    log_path = os.path.join(run_dir, "information_abundance.jsonl")
    records = []
    if os.path.isfile(log_path):
        with open(log_path) as file:
            records = [json.loads(line) for line in file if line.strip()]
    return model, names, records


def analyze_embeddings(model, base_embedding_dim, random_samples, seed):
    """Per-field IA (all sets side by side), IA/K, relative IA, spectra and set diversity of a model."""
    layer = model.field_embedding
    table = keras.ops.convert_to_numpy(layer.embeddings).astype(np.float64)
    rows = [layer.field_rows(i) for i in range(len(layer.field_dims))]
    width = table.shape[1]
    fields = []
    for start, stop in rows:  # one Gram per field (a field can have millions of rows)
        singular_values = collapse.singular_values_from_gram(collapse.gram(table[start:stop]))
        ia = collapse.information_abundance_from_singular_values(singular_values)
        random_ia = collapse.expected_random_information_abundance(stop - start, width, random_samples, seed)
        fields.append({
            "ia": ia,
            "ia_per_dimension": ia / width,
            "relative_ia": ia / random_ia,
            "spectrum": collapse.spectrum_normalized_by_largest(singular_values).tolist(),
        })
    diversity_sets = layer.num_sets if layer.num_sets > 1 else width // base_embedding_dim
    result = {"num_sets": layer.num_sets, "embedding_dim": layer.embedding_dim, "fields": fields,
              "mean_ia": float(np.mean([f["ia"] for f in fields])), "diversity_sets": diversity_sets}
    if diversity_sets >= 2 and width % diversity_sets == 0:
        result["diversity"] = diversity.field_embedding_diversity(table, rows, diversity_sets)
        result["random_diversity"] = diversity.random_embedding_diversity(rows, diversity_sets, width, seed)
    return result, table, rows


def analyze_cross_network(model, table, rows):
    """Sub-embedding IA per set (sorted by IA(E_i^{(m)})), correlation factors and interaction pattern."""
    layer = model.field_embedding
    kernel = keras.ops.convert_to_numpy(model.interaction.effective_kernels()[0])
    sets = []
    for m in range(layer.num_sets):
        columns = slice(m * layer.embedding_dim, (m + 1) * layer.embedding_dim)
        field_ia = [collapse.information_abundance(table[start:stop, columns]) for start, stop in rows]
        matrix = sub_embedding.dcnv2_sub_embedding_information_abundance(table, rows, kernel, layer.embedding_dim, m)
        sorted_matrix, order = sub_embedding.sort_fields_by_information_abundance(matrix, field_ia)
        sets.append({"order": order.tolist(), "sorted_ia": sorted_matrix.tolist(),
                     "correlation": sub_embedding.interaction_correlation_factors(sorted_matrix)})
    return {"sets": sets, "interaction_pattern": interaction_pattern(kernel, layer.embedding_dim).tolist()}


def plot_spectra(analysis, names, path):
    figure, axis = plt.subplots(figsize=(6, 4))
    colors = plt.cm.viridis(np.linspace(0, 1, len(names)))
    for field, color in zip(analysis["fields"], colors):
        axis.plot(np.arange(1, len(field["spectrum"]) + 1), np.maximum(field["spectrum"], 1e-12), color=color, lw=1)
    axis.set_yscale("log")
    axis.set_xlabel("singular value index")
    axis.set_ylabel("sigma_k / sigma_1")
    axis.set_title("Normalised singular spectra, one line per field (Figure 1b)")
    save(figure, path)


def plot_field_ia(analysis, names, path, compare=None, labels=("run", "compare")):
    figure, axis = plt.subplots(figsize=(max(6, 0.3 * len(names)), 4))
    positions = np.arange(len(names))
    bar_width = 0.4 if compare else 0.8
    axis.bar(positions, [f["ia"] for f in analysis["fields"]], bar_width, label=labels[0])
    if compare:
        axis.bar(positions + bar_width, [f["ia"] for f in compare["fields"]], bar_width, label=labels[1])
        axis.legend()
    axis.set_xticks(positions + (bar_width / 2 if compare else 0), names, rotation=90, fontsize=7)
    axis.set_ylabel("information abundance")
    axis.set_title("IA per field, all sets side by side (Figure 8b)")
    save(figure, path)


def plot_sub_embedding(cross, path, set_index=0):
    entry = cross["sets"][set_index]
    matrix = np.asarray(entry["sorted_ia"])
    correlation = entry["correlation"]
    figure, (heat, rows_axis, columns_axis) = plt.subplots(1, 3, figsize=(13, 4))
    image = heat.imshow(matrix, origin="lower", cmap="coolwarm")
    figure.colorbar(image, ax=heat)
    heat.set_xlabel("j (sorted by IA(E_j))")
    heat.set_ylabel("i (sorted by IA(E_i))")
    heat.set_title(f"IA(E_i->j), set {set_index} (Figure 3a)")
    rows_axis.bar(np.arange(len(matrix)), correlation["source_sums"])
    rows_axis.set_title(f"sum_j IA(E_i->j), corr {correlation['source']:.2f} (Fig. 3b)")
    rows_axis.set_xlabel("i")
    columns_axis.bar(np.arange(len(matrix)), correlation["target_sums"])
    columns_axis.set_title(f"sum_i IA(E_i->j), corr {correlation['target']:.2f} (Fig. 3c)")
    columns_axis.set_xlabel("j")
    save(figure, path)


def plot_interaction_pattern(cross, path):
    pattern = np.asarray(cross["interaction_pattern"])
    figure, axes = plt.subplots(1, len(pattern), figsize=(3 * len(pattern), 3), squeeze=False)
    for m, axis in enumerate(axes[0]):
        axis.imshow(pattern[m], cmap="viridis")
        axis.set_title(f"set {m}")
        axis.set_xlabel("j")
        axis.set_ylabel("i")
    figure.suptitle("||W_i->j^(m)||_F of the first cross layer (Figure 10b)")
    save(figure, path)


def plot_diversity(bars, path):
    figure, axis = plt.subplots(figsize=(4, 3.5))
    axis.bar(list(bars), list(bars.values()))
    axis.set_ylabel("mean diversity")
    axis.set_title("Embedding-set diversity (Figure 10a)")
    save(figure, path)


def plot_ia_over_epochs(records, path):
    figure, axis = plt.subplots(figsize=(5, 3.5))
    axis.plot([r["epoch"] for r in records], [r["mean_ia"] for r in records], marker="o")
    axis.set_xlabel("epoch")
    axis.set_ylabel("mean IA over fields")
    axis.set_title("Information abundance during training")
    save(figure, path)


def save(figure, path):
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def diversity_bars(analysis, compare, labels):
    bars = {}
    if "diversity" in analysis:
        bars[labels[0]] = analysis["diversity"]
    if compare and "diversity" in compare and compare["diversity_sets"] == analysis.get("diversity_sets"):
        bars[labels[1]] = compare["diversity"]
    if bars:
        bars["random"] = analysis["random_diversity"]
    return bars


def write_summary(path, names, analysis, labels, compare, cross, bars, records):
    lines = [f"# Collapse analysis: {labels[0]}", "",
             f"Embedding sets M = {analysis['num_sets']}, set width K = {analysis['embedding_dim']}.", "",
             f"Mean IA over fields: {analysis['mean_ia']:.4f}" + (
                 f" ({labels[1]}: {compare['mean_ia']:.4f})" if compare else ""), "",
             "| field | IA | IA / (M K) | IA / E[IA(randn)] |" + (f" IA ({labels[1]}) |" if compare else ""),
             "|---|---|---|---|" + ("---|" if compare else "")]
    for index, (name, field) in enumerate(zip(names, analysis["fields"])):
        row = f"| {name} | {field['ia']:.4f} | {field['ia_per_dimension']:.4f} | {field['relative_ia']:.4f} |"
        if compare:
            row += f" {compare['fields'][index]['ia']:.4f} |"
        lines.append(row)
    if bars:
        lines += ["", "## Embedding-set diversity (principal angles)", ""]
        lines += [f"- {label}: {value:.4f}" for label, value in bars.items()]
    if cross:
        lines += ["", "## Sub-embedding IA correlation factors (first cross layer)", "",
                  "| set | source (sum over j vs i) | target (sum over i vs j) |", "|---|---|---|"]
        lines += [f"| {m} | {s['correlation']['source']:.4f} | {s['correlation']['target']:.4f} |"
                  for m, s in enumerate(cross["sets"])]
    if records:
        lines += ["", "## Mean IA per epoch", "", "| epoch | mean IA |", "|---|---|"]
        lines += [f"| {r['epoch']} | {r['mean_ia']:.4f} |" for r in records]
    with open(path, "w") as file:
        file.write("\n".join(lines) + "\n")


def analyze_run(run_dir, output_dir, compare_run_dir=None, base_embedding_dim=10, random_samples=16, seed=0):
    """Writes every plot and the summary for a run; returns the list of files written."""
    model, names, records = load_run(run_dir)
    os.makedirs(output_dir, exist_ok=True)
    analysis, table, rows = analyze_embeddings(model, base_embedding_dim, random_samples, seed)
    labels = (os.path.basename(os.path.normpath(run_dir)), None)
    compare = None
    if compare_run_dir:
        compare_model, compare_names, _ = load_run(compare_run_dir)
        if compare_names != names:
            raise RunError(f"{compare_run_dir} has different fields than {run_dir}; compare runs on the same data")
        compare = analyze_embeddings(compare_model, base_embedding_dim, random_samples, seed)[0]
        labels = (labels[0], os.path.basename(os.path.normpath(compare_run_dir)))
    cross = analyze_cross_network(model, table, rows) if isinstance(model.interaction, CrossNetV2) else None
    bars = diversity_bars(analysis, compare, labels)

    written = []

    def output(name):
        written.append(os.path.join(output_dir, name))
        return written[-1]

    plot_spectra(analysis, names, output("spectra.png"))
    plot_field_ia(analysis, names, output("field_ia.png"), compare, labels)
    if cross:
        plot_sub_embedding(cross, output("sub_embedding_ia.png"))
        if analysis["num_sets"] > 1:
            plot_interaction_pattern(cross, output("interaction_pattern.png"))
    if bars:
        plot_diversity(bars, output("diversity.png"))
    if records:
        plot_ia_over_epochs(records, output("ia_over_epochs.png"))
    write_summary(output("summary.md"), names, analysis, labels, compare, cross, bars, records)
    with open(output("summary.json"), "w") as file:
        json.dump({"fields": names, "run": analysis, "compare": compare, "cross_network": cross,
                   "diversity": bars, "epochs": records}, file)
    return written


def main(argv):
    del argv
    output_dir = OUTPUT_DIR.value or os.path.join(RUN_DIR.value, "analysis")
    try:
        written = analyze_run(RUN_DIR.value, output_dir, COMPARE_RUN_DIR.value, BASE_EMBEDDING_DIM.value,
                              RANDOM_SAMPLES.value, SEED.value)
    except RunError as error:
        sys.exit(f"error: {error}")
    for path in written:
        print(path)


if __name__ == "__main__":
    app.run(main)
