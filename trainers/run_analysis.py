"""The embedding-collapse analysis of a training run: what `python -m trainers.analyze` writes (`analyze_run`).

`summarize_runs` reads a run directory (and a compare run) into summary.json's numbers; `analyze_run` writes
them with the figures (trainers.analysis_figures) and summary.md. The files are listed in trainers/analyze.py.
"""

import json
import os

import keras
import numpy as np

from tf_multiemb import collapse, diversity, sub_embedding
from tf_multiemb.callbacks import embedding_layers
from tf_multiemb.cross_blocks import interaction_pattern
from tf_multiemb.layers.cross_network import CrossNetV2
from trainers.analysis_figures import SPECTRUM_FLOOR, write_figures
from trainers.run_records import load_trained_model


class RunError(Exception):
    """A run directory that cannot be analysed; the message says why and what to do."""


def read_json(path: str) -> dict | None:
    """The JSON object in path; None when the file is absent."""
    if not os.path.isfile(path):
        return None
    with open(path) as file:
        return json.load(file)


class EmbeddingLayout:
    """A model's embeddings as one table: rows per field, sets side by side (any Keras model).

    This library's models have one `FieldEmbedding`; any other model's `keras.layers.Embedding` tables
    (keras-rs ones included) are stacked, one field per table, which needs one common width.
    """

    def __init__(self, table: np.ndarray, rows: list[tuple[int, int]], num_sets: int, embedding_dim: int,
                 names: list[str]):
        self.table, self.rows, self.num_sets, self.embedding_dim, self.names = table, rows, num_sets, embedding_dim, names


def embedding_layout(model: keras.Model) -> EmbeddingLayout:
    """The model's embedding tables as an EmbeddingLayout; RunError when they cannot be laid side by side."""
    layer = getattr(model, "field_embedding", None)
    if layer is not None:
        rows = [layer.field_rows(i) for i in range(len(layer.field_dims))]
        return EmbeddingLayout(keras.ops.convert_to_numpy(layer.embeddings).astype(np.float64), rows,
                               layer.num_sets, layer.embedding_dim, [f"field_{i}" for i in range(len(rows))])
    try:
        tables = {name: keras.ops.convert_to_numpy(t.embeddings) for name, t in embedding_layers(model).items()}
    except ValueError as error:
        raise RunError(f"model.keras: {error}") from None
    widths = {table.shape[1] for table in tables.values()}
    if len(widths) > 1:
        raise RunError(f"the model's embedding tables have different widths {sorted(widths)}; the analyses "
                       "compare fields of one width")
    bounds = np.cumsum([0] + [len(table) for table in tables.values()])
    return EmbeddingLayout(np.concatenate(list(tables.values())).astype(np.float64),
                           list(zip(bounds[:-1].tolist(), bounds[1:].tolist())), 1, widths.pop(), list(tables))


def load_run(run_dir: str) -> tuple[keras.Model, EmbeddingLayout, list[str], list[dict]]:
    """(model, its embedding layout, field names, IA log records) of a run directory."""
    if not os.path.isdir(run_dir):
        raise RunError(f"run directory {run_dir} does not exist; pass the --output_dir of a trainers.fit run")
    model_path = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(model_path):
        raise RunError(f"{model_path} is missing; the run has not saved its model (did trainers.fit finish?)")
    model = load_trained_model(run_dir)
    layout = embedding_layout(model)
    schema = read_json(os.path.join(run_dir, "data_schema", "schema.json"))  # written by trainers.fit
    names = [field["name"] for field in schema["fields"]] if schema else layout.names
    log_path = os.path.join(run_dir, "information_abundance.jsonl")
    records = []
    if os.path.isfile(log_path):
        with open(log_path) as file:
            records = [json.loads(line) for line in file if line.strip()]
    return model, layout, names, records


def describe_run(run_dir: str, layer: EmbeddingLayout) -> dict:
    """What the figures say about a run: a short label ('dcnv2 ME 4x', else the directory name), and a title
    with the embedding layout, the data set and the analysed (best) epoch."""
    results = read_json(os.path.join(run_dir, "results.json")) or {}
    schema = read_json(os.path.join(run_dir, "data_schema", "schema.json")) or {}
    directory = os.path.basename(os.path.normpath(run_dir))
    label = directory
    if results:
        label = f"{results['model']} {'ME' if layer.num_sets > 1 else 'SE'} {results['scale']}x"
    dataset = schema.get("format", "unknown")
    epoch = results.get("best_epoch")
    layout = f"K = {layer.embedding_dim}"
    if layer.num_sets > 1:
        layout = f"M = {layer.num_sets} sets of {layout}"
    when = f"best epoch {epoch} of {results['epochs']}" if epoch else "epoch not recorded (no results.json)"
    return {"label": label, "directory": directory, "dataset": dataset, "epoch": epoch,
            "title": f"{label}: {layout}, {dataset} data, {when}"}


def analyze_embeddings(layer: EmbeddingLayout, base_embedding_dim: int, random_samples: int, seed: int) -> dict:
    """Per-field IA (all sets side by side), IA/K, relative IA, spectra and set diversity of a model's embeddings.

    A field's spectrum holds its rank = min(D_i, K) singular values, divided by the largest (a field with
    fewer rows than the table width has only D_i of them).
    """
    table, rows = layer.table, layer.rows
    width = table.shape[1]
    fields = []
    for start, stop in rows:  # one Gram per field (a field can have millions of rows)
        singular_values = collapse.singular_values_from_gram(collapse.gram(table[start:stop]))
        ia = collapse.information_abundance_from_singular_values(singular_values)
        random_ia = collapse.expected_random_information_abundance(stop - start, width, random_samples, seed)
        rank = min(stop - start, width)
        fields.append({
            "rows": stop - start,
            "rank": rank,
            "ia": ia,
            "ia_per_dimension": ia / width,
            "relative_ia": ia / random_ia,
            "spectrum": collapse.spectrum_normalized_by_largest(singular_values)[:rank].tolist(),
        })
    diversity_sets = layer.num_sets if layer.num_sets > 1 else width // base_embedding_dim
    result = {"num_sets": layer.num_sets, "embedding_dim": layer.embedding_dim, "width": width, "fields": fields,
              "mean_ia": float(np.mean([f["ia"] for f in fields])), "diversity_sets": diversity_sets}
    if diversity_sets >= 2 and width % diversity_sets == 0:
        result["diversity"] = diversity.field_embedding_diversity(table, rows, diversity_sets)
        result["random_diversity"] = diversity.random_embedding_diversity(rows, diversity_sets, width, seed)
    return result


def analyze_cross_network(model: keras.Model, layer: EmbeddingLayout) -> dict:
    """Sub-embedding IA per set (sorted by IA(E_i^{(m)})), correlation factors and interaction pattern."""
    table, rows = layer.table, layer.rows
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


def diversity_bars(analysis: dict, compare: dict | None, labels: list[str]) -> dict[str, float]:
    """{label: mean set diversity} of the run, the compare run (when split into as many sets) and random tables."""
    bars = {}
    if "diversity" in analysis:
        bars[labels[0]] = analysis["diversity"]
    if compare and "diversity" in compare and compare["diversity_sets"] == analysis.get("diversity_sets"):
        bars[labels[1]] = compare["diversity"]
    if bars:
        bars["random"] = analysis["random_diversity"]
    return bars


def write_summary(path: str, summary: dict) -> None:
    """summary.md: the tables behind the figures."""
    analysis, compare, cross = summary["run"], summary["compare"], summary["cross_network"]
    compare_label = summary["runs"]["compare"]["label"] if compare else None
    lines = [f"# Collapse analysis: {summary['runs']['run']['label']}", "",
             "; ".join(run["title"] for run in summary["runs"].values() if run) + ".", "",
             f"Embedding sets M = {analysis['num_sets']}, set width K = {analysis['embedding_dim']}.", "",
             f"Mean IA over fields: {analysis['mean_ia']:.4f}" + (
                 f" ({compare_label}: {compare['mean_ia']:.4f})" if compare else ""), "",
             "| field | IA | IA / (M K) | IA / E[IA(randn)] |" + (f" IA ({compare_label}) |" if compare else ""),
             "|---|---|---|---|" + ("---|" if compare else "")]
    for index, (name, field) in enumerate(zip(summary["fields"], analysis["fields"])):
        row = f"| {name} | {field['ia']:.4f} | {field['ia_per_dimension']:.4f} | {field['relative_ia']:.4f} |"
        if compare:
            row += f" {compare['fields'][index]['ia']:.4f} |"
        lines.append(row)
    if summary["diversity"]:
        lines += ["", "## Embedding-set diversity (principal angles)", ""]
        lines += [f"- {label}: {value:.4f}" for label, value in summary["diversity"].items()]
    if cross:
        lines += ["", "## Sub-embedding IA correlation factors (first cross layer)", "",
                  "| set | source (sum over j vs i) | target (sum over i vs j) |", "|---|---|---|"]
        lines += [f"| {m} | {s['correlation']['source']:.4f} | {s['correlation']['target']:.4f} |"
                  for m, s in enumerate(cross["sets"])]
    if summary["epochs"]:
        lines += ["", "## Mean IA per epoch", "", "| epoch | mean IA |", "|---|---|"]
        lines += [f"| {r['epoch']} | {r['mean_ia']:.4f} |" for r in summary["epochs"]]
    with open(path, "w") as file:
        file.write("\n".join(lines) + "\n")


def distinct_labels(descriptions: list[dict]) -> None:
    """Two runs with the same label (same model, mode and scale) are told apart by their directory names."""
    if len({description["label"] for description in descriptions}) < len(descriptions):
        for description in descriptions:
            description["label"] = description["directory"]


def summarize_runs(run_dir: str, compare_run_dir: str | None = None, base_embedding_dim: int = 10,
                   random_samples: int = 16, seed: int = 0) -> dict:
    """Everything the figures and summary.md show, as written to summary.json."""
    model, layout, names, records = load_run(run_dir)
    analysis = analyze_embeddings(layout, base_embedding_dim, random_samples, seed)
    descriptions = [describe_run(run_dir, layout)]
    compare = None
    if compare_run_dir:
        _, compare_layout, compare_names, _ = load_run(compare_run_dir)
        if compare_names != names:
            raise RunError(f"{compare_run_dir} has different fields than {run_dir}; compare runs on the same data")
        compare = analyze_embeddings(compare_layout, base_embedding_dim, random_samples, seed)
        descriptions.append(describe_run(compare_run_dir, compare_layout))
    distinct_labels(descriptions)
    return {"fields": names, "runs": {"run": descriptions[0], "compare": descriptions[1] if compare else None},
            "spectrum_floor": SPECTRUM_FLOOR, "run": analysis, "compare": compare,
            "cross_network": analyze_cross_network(model, layout)
            if isinstance(getattr(model, "interaction", None), CrossNetV2) else None,
            "diversity": diversity_bars(analysis, compare, [description["label"] for description in descriptions]),
            "epochs": records}


def analyze_run(run_dir: str, output_dir: str, compare_run_dir: str | None = None, base_embedding_dim: int = 10,
                random_samples: int = 16, seed: int = 0) -> list[str]:
    """Writes every figure, summary.md and summary.json for a run; returns the paths written."""
    summary = summarize_runs(run_dir, compare_run_dir, base_embedding_dim, random_samples, seed)
    os.makedirs(output_dir, exist_ok=True)
    written = list(write_figures(summary, output_dir))
    written.append(os.path.join(output_dir, "summary.md"))
    write_summary(written[-1], summary)
    written.append(os.path.join(output_dir, "summary.json"))
    with open(written[-1], "w") as file:
        json.dump(summary, file)
    return written

