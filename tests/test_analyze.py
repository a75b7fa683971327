"""trainers.analyze on tiny run directories: the numbers, and the figures as a reader sees them."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tf_multiemb import build_model, collapse, diversity, sub_embedding
from trainers.analysis_figures import SPECTRUM_FLOOR, write_figures
from trainers.run_analysis import summarize_runs
from trainers.plots import DPI, overlapping_texts, texts_cut_off, visible_texts

FIELD_DIMS = [5, 40, 12, 30]
FIELD_NAMES = ["I1", "C1", "C2", "C3"]
PLOTS = ["spectra.png", "field_ia.png", "sub_embedding_ia.png", "interaction_pattern.png", "diversity.png",
         "ia_over_epochs.png"]


def write_run(directory, embedding, scale, results=None, edit=None):
    """A run directory as trainers.fit leaves it; results.json only when given; edit(model) before saving."""
    directory.mkdir()
    model = build_model("dcnv2", FIELD_DIMS, embedding=embedding, scale=scale, embedding_dim=4, hidden_units=(8, 8),
                        num_layers=2)
    if edit:
        edit(model)
    model.save(str(directory / "model.keras"))
    if results:
        (directory / "results.json").write_text(json.dumps(results))
    schema = {"format": "criteo", "fields": [{"name": n, "cardinality": d} for n, d in zip(FIELD_NAMES, FIELD_DIMS)]}
    (directory / "data_schema").mkdir()
    (directory / "data_schema" / "schema.json").write_text(json.dumps(schema))
    records = [{"epoch": e, "mean_ia": 2.0 + e, "fields": {}} for e in (1, 2)]
    (directory / "information_abundance.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return model


def run_cli(*arguments):
    return subprocess.run([sys.executable, "-m", "trainers.analyze", *arguments], capture_output=True, text=True)


def summary_table(text):
    rows = re.findall(r"^\| (\w+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", text, flags=re.M)
    return {name: [float(v) for v in values] for name, *values in rows}


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """The CLI on a multi-embedding run (with results.json) compared with a single-embedding one (without)."""
    root = tmp_path_factory.mktemp("analyze")
    me_model = write_run(root / "me", "multi", 3, {"model": "dcnv2", "scale": 3, "best_epoch": 2, "epochs": 2})
    se_model = write_run(root / "se", "single", 3)
    output = root / "out"
    completed = run_cli(f"--run_dir={root / 'me'}", f"--compare_run_dir={root / 'se'}", f"--output_dir={output}",
                        "--base_embedding_dim=4")
    assert completed.returncode == 0, completed.stderr[-2000:]
    return me_model, se_model, output, completed


def test_cli_on_multi_embedding_run_with_single_embedding_comparison(compared):
    me_model, se_model, output, completed = compared
    assert completed.stdout.split() == [str(output / name) for name in PLOTS + ["summary.md", "summary.json"]]
    for name in PLOTS + ["summary.md", "summary.json"]:
        assert (output / name).stat().st_size > 0, name

    text = (output / "summary.md").read_text()
    table = summary_table(text)
    me_table, se_table = np.asarray(me_model.field_embedding.embeddings), np.asarray(se_model.field_embedding.embeddings)
    rows = [me_model.field_embedding.field_rows(i) for i in range(len(FIELD_DIMS))]
    assert list(table) == FIELD_NAMES
    for name, (start, stop) in zip(FIELD_NAMES, rows):
        ia, per_dimension, relative, compare_ia = table[name]
        assert ia == pytest.approx(collapse.information_abundance(me_table[start:stop]), abs=1e-4)
        assert per_dimension == pytest.approx(collapse.information_abundance(me_table[start:stop]) / 12, abs=1e-4)
        assert relative == pytest.approx(collapse.relative_information_abundance(me_table[start:stop]), abs=1e-4)
        assert compare_ia == pytest.approx(collapse.information_abundance(se_table[start:stop]), abs=1e-4)

    me_diversity = float(re.search(r"^- dcnv2 ME 3x: ([\d.]+)$", text, flags=re.M).group(1))
    se_diversity = float(re.search(r"^- se: ([\d.]+)$", text, flags=re.M).group(1))
    assert me_diversity == pytest.approx(diversity.field_embedding_diversity(me_table, rows, 3), abs=1e-4)
    assert se_diversity == pytest.approx(diversity.field_embedding_diversity(se_table, rows, 3), abs=1e-4)

    kernel = np.asarray(me_model.interaction.kernels[0])
    field_ia = [collapse.information_abundance(me_table[a:b, 4:8]) for a, b in rows]
    matrix = sub_embedding.dcnv2_sub_embedding_information_abundance(me_table, rows, kernel, 4, set_index=1)
    factors = sub_embedding.interaction_correlation_factors(
        sub_embedding.sort_fields_by_information_abundance(matrix, field_ia)[0])
    source, target = re.search(r"^\| 1 \| (-?[\d.]+) \| (-?[\d.]+) \|$", text, flags=re.M).groups()
    assert float(source) == pytest.approx(factors["source"], abs=1e-4)
    assert float(target) == pytest.approx(factors["target"], abs=1e-4)
    assert "| 2 | 4.0000 |" in text  # mean IA of epoch 2 from the jsonl

    summary = json.loads((output / "summary.json").read_text())
    start, stop = rows[1]
    np.testing.assert_allclose(summary["run"]["fields"][1]["spectrum"],
                               collapse.normalized_singular_spectrum(me_table[start:stop]), atol=1e-9)
    np.testing.assert_allclose(summary["cross_network"]["interaction_pattern"][2],
                               np.linalg.norm(np.asarray(me_model.interaction.kernels[0])[2].reshape(4, 4, 4, 4),
                                              axis=(1, 3)), rtol=1e-5)


def redrawn(output, directory):
    """The figures drawn again from the CLI's summary.json alone: {file name: figure}."""
    summary = json.loads((output / "summary.json").read_text())
    return {path.split("/")[-1]: figure for path, figure in write_figures(summary, str(directory)).items()}


def test_figures_come_from_the_summary_and_their_texts_are_readable(compared, tmp_path):
    output = compared[2]
    figures = redrawn(output, tmp_path)
    assert sorted(figures) == sorted(PLOTS)
    for name, figure in figures.items():
        with Image.open(output / name) as image:
            assert image.format == "PNG"
            assert image.size == tuple(round(inches * DPI) for inches in figure.get_size_inches()), name
        assert (tmp_path / name).read_bytes() == (output / name).read_bytes(), name
        assert overlapping_texts(figure) == [], name
        assert texts_cut_off(figure) == [], name


def test_figures_say_what_they_show(compared, tmp_path):
    """Model, mode and scale, data set and analysed epoch in every figure; every axis labelled."""
    for name, figure in redrawn(compared[2], tmp_path).items():
        words = " ".join(" ".join(text.get_text() for text in visible_texts(figure)).split())  # wrapped lines joined
        assert "dcnv2 ME 3x" in words and "criteo data" in words and "best epoch 2 of 2" in words, name
        for axes in figure.axes:
            if axes.get_label() == "<colorbar>":
                assert axes.get_ylabel(), name
            else:
                assert axes.get_xlabel() and axes.get_ylabel(), (name, axes.get_title())


def concentrate_field_two(model):
    """Field C2 (12 rows, K = 12): rank one plus a 1e-5 component, so its spectrum truly drops below 1e-3."""
    layer = model.field_embedding
    table = np.asarray(layer.embeddings).copy()
    start, stop = layer.field_rows(2)
    rng = np.random.default_rng(0)
    table[start:stop] = (np.outer(rng.standard_normal(stop - start), rng.standard_normal(table.shape[1]))
                         + 1e-5 * rng.standard_normal((stop - start, table.shape[1])))
    layer.embeddings.assign(table)


def test_spectra_stop_at_the_rank_and_keep_real_values_below_the_floor(tmp_path):
    model = write_run(tmp_path / "run", "single", 3, edit=concentrate_field_two)
    summary = summarize_runs(str(tmp_path / "run"), base_embedding_dim=4)
    fields = summary["run"]["fields"]
    assert [field["rows"] for field in fields] == FIELD_DIMS
    assert [field["rank"] for field in fields] == [5, 12, 12, 12]  # min(D_i, K = 12)
    table = np.asarray(model.field_embedding.embeddings, dtype=np.float64)
    for index, field in enumerate(fields):
        start, stop = model.field_embedding.field_rows(index)
        singular_values = np.linalg.svd(table[start:stop], compute_uv=False)
        np.testing.assert_allclose(field["spectrum"], singular_values / singular_values[0], rtol=1e-4, atol=1e-7)
    below = np.flatnonzero(np.asarray(fields[2]["spectrum"]) < SPECTRUM_FLOOR)
    assert below.tolist() == list(range(1, 12))
    assert all(min(field["spectrum"]) > SPECTRUM_FLOOR for index, field in enumerate(fields) if index != 2)

    axis = write_figures(summary, str(tmp_path))[str(tmp_path / "spectra.png")].axes[0]
    curves = [line for line in axis.get_lines() if line.get_linestyle() in ("-", "--")]
    assert [len(line.get_xdata()) for line in curves] == [5, 12, 12, 12]
    assert [line.get_linestyle() for line in curves] == ["--", "-", "-", "-"]  # D_i < K: rank-limited
    assert min(min(line.get_ydata()) for line in curves) == SPECTRUM_FLOOR
    (marks,) = [line for line in axis.get_lines() if line.get_marker() == "v" and len(line.get_xdata())]
    assert marks.get_xdata().tolist() == (below + 1).tolist() and set(marks.get_ydata()) == {SPECTRUM_FLOOR}
    colors = [tuple(line.get_color()) for line in curves]  # viridis over log D_i: 5 darkest, 40 brightest
    assert colors[0] == pytest.approx(tuple(plt_colormap(0.0))) and colors[1] == pytest.approx(tuple(plt_colormap(1.0)))


def plt_colormap(value):
    from matplotlib import colormaps

    return colormaps["viridis"](value)


def test_single_embedding_run_default_output_dir(tmp_path):
    write_run(tmp_path / "se", "single", 1)
    completed = run_cli(f"--run_dir={tmp_path / 'se'}")
    assert completed.returncode == 0, completed.stderr[-2000:]
    output = tmp_path / "se" / "analysis"
    for name in ["spectra.png", "field_ia.png", "sub_embedding_ia.png", "ia_over_epochs.png", "summary.md"]:
        assert (output / name).stat().st_size > 0, name
    assert not (output / "diversity.png").exists()  # one set of K0 columns: nothing to compare


def test_clear_errors(tmp_path):
    missing = run_cli(f"--run_dir={tmp_path / 'nowhere'}")
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1].startswith("error: run directory")
    (tmp_path / "empty").mkdir()
    no_model = run_cli(f"--run_dir={tmp_path / 'empty'}")
    assert no_model.returncode != 0
    assert "model.keras is missing" in no_model.stderr.strip().splitlines()[-1]
