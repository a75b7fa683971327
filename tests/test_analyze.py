"""trainers.analyze on tiny run directories."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tf_multiemb import build_model, collapse, diversity, sub_embedding

FIELD_DIMS = [5, 40, 12, 30]
FIELD_NAMES = ["I1", "C1", "C2", "C3"]
PLOTS = ["spectra.png", "field_ia.png", "sub_embedding_ia.png", "interaction_pattern.png", "diversity.png",
         "ia_over_epochs.png"]


def write_run(directory, embedding, scale):
    directory.mkdir()
    model = build_model("dcnv2", FIELD_DIMS, embedding=embedding, scale=scale, embedding_dim=4, hidden_units=(8, 8),
                        num_layers=2)
    model.save(str(directory / "model.keras"))
    schema = {"fields": [{"name": n, "cardinality": d} for n, d in zip(FIELD_NAMES, FIELD_DIMS)]}
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


def test_cli_on_multi_embedding_run_with_single_embedding_comparison(tmp_path):
    me_model = write_run(tmp_path / "me", "multi", 3)
    se_model = write_run(tmp_path / "se", "single", 3)
    output = tmp_path / "out"
    completed = run_cli(f"--run_dir={tmp_path / 'me'}", f"--compare_run_dir={tmp_path / 'se'}",
                        f"--output_dir={output}", "--base_embedding_dim=4")
    assert completed.returncode == 0, completed.stderr[-2000:]
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

    me_diversity = float(re.search(r"^- me: ([\d.]+)$", text, flags=re.M).group(1))
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
