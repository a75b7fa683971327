"""datasets.synthetic: deterministic by seed, Criteo/Avazu shapes, teacher click rate, converts cleanly."""

import csv
import subprocess
import sys

import numpy as np

from datasets import synthetic
from datasets.avazu import AvazuFormat
from datasets.conversion import convert
from datasets.criteo import TSV


def test_criteo_tsv_deterministic_and_shaped(tmp_path):
    a, b, c = (tmp_path / name for name in ("a.txt", "b.txt", "c.txt"))
    synthetic.write_criteo_tsv(str(a), 20000, seed=5)
    synthetic.write_criteo_tsv(str(b), 20000, seed=5)
    synthetic.write_criteo_tsv(str(c), 20000, seed=6)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    rows = [line.split("\t") for line in a.read_text().splitlines()]
    assert {len(row) for row in rows} == {40}
    assert 0.22 < np.mean([int(row[0]) for row in rows]) < 0.28
    assert np.mean([row[12] == "" for row in rows]) > 0.7  # I12 mostly missing, as in Criteo
    schema = convert(TSV, str(a), str(tmp_path / "out"), 10)
    assert schema["bad_rows"]["total"] == 0 and sum(schema["rows"].values()) == 20000


def test_full_scale_cardinalities_match_criteo_and_avazu():
    criteo = synthetic.criteo_cardinalities(synthetic.CRITEO_FULL_MAX)[synthetic.CRITEO_NUMERIC:]
    assert max(criteo) == 190000 and 1.0e6 < sum(criteo) < 1.1e6 and min(criteo) == 3  # + missing + OOV
    avazu = synthetic.AVAZU_CARDINALITIES
    assert max(avazu) == 1610000 and 1.9e6 < sum(avazu) + len(synthetic.AVAZU_HOURS) < 2.1e6


def test_teacher_has_signal(tmp_path):
    """A tree-free check that labels depend on the planted interactions: one pair's values shift the click rate."""
    generator = synthetic.FieldGenerator([20] * 6, [0.0] * 6, seed=1)
    labels, values = next(generator.chunks(50000))
    rates = [labels[values[:, 0] == v].mean() for v in range(5)]
    assert 0.2 < labels.mean() < 0.3 and np.ptp(rates) > 0.05


def test_avazu_csv_converts(tmp_path):
    path = tmp_path / "avazu.csv"
    synthetic.write_avazu_csv(str(path), 5000, seed=0, max_cardinality=3000)
    with open(path, newline="") as handle:
        header = next(csv.reader(handle))
    assert header == synthetic.AVAZU_COLUMNS
    schema = convert(AvazuFormat(), str(path), str(tmp_path / "out"), 4)
    assert schema["bad_rows"]["total"] == 0 and sum(schema["rows"].values()) == 5000


def test_cli_tfrecord_directory(tmp_path):
    result = subprocess.run([sys.executable, "-m", "datasets.synthetic", "--format=tfrecord", "--rows=3000",
                             f"--output={tmp_path / 'out'}", "--max_cardinality=2000"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "schema.json").is_file()


def test_teacher_shape_changes_the_rank_asked_for_not_the_signal_spread():
    """A richer shape gives each field more latent directions while the pairwise logit keeps its spread."""
    cardinalities = [50] * 12
    spreads, dims = [], []
    for shape in (synthetic.TeacherShape(), synthetic.TeacherShape(patterns=8, latent_dim=8)):
        generator = synthetic.FieldGenerator(cardinalities, [0.0] * 12, seed=2, teacher_shape=shape)
        _, values = next(generator.chunks(20000))
        spreads.append(generator.teacher.components(values)["pairwise"].std())
        dims.append(np.mean([generator.teacher.pattern_dims(field) for field in range(12)]))
    assert dims[1] > 4 * dims[0]
    for spread in spreads:
        assert abs(spread - synthetic.TeacherShape.PAIRWISE_STD) < 0.25 * synthetic.TeacherShape.PAIRWISE_STD
