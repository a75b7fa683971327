"""datasets.synthetic: deterministic by seed, Criteo/Avazu shapes, teacher click rate, converts cleanly."""

import csv
import doctest
import hashlib
import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from datasets import synthetic
from datasets.avazu import AvazuFormat
from datasets.conversion import convert
from datasets.criteo import TSV

# sha256 of the files the code before --teacher (commit 714004a) wrote for the arguments of the tests below:
# the default teacher's data must not change.
CRITEO_SEED5_20K_SHA256 = "f8ab548154fe981eb9c9bf12e4d9b75871a3ce94702a53dd140ca53e7a384beb"
AVAZU_SEED0_5K_SHA256 = "70b0208c8ae3ffdb2af407e0c667bda329392dab85d1ab8c3ef1b06b170c90a9"
STATED_CLICK_RATE = 0.25  # docs/data.md: every teacher is calibrated to Criteo's ~25%


def test_criteo_tsv_deterministic_and_shaped(tmp_path):
    a, b, c = (tmp_path / name for name in ("a.txt", "b.txt", "c.txt"))
    synthetic.write_criteo_tsv(str(a), 20000, seed=5)
    synthetic.write_criteo_tsv(str(b), 20000, seed=5)
    synthetic.write_criteo_tsv(str(c), 20000, seed=6)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert hashlib.sha256(a.read_bytes()).hexdigest() == CRITEO_SEED5_20K_SHA256
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
    assert hashlib.sha256(path.read_bytes()).hexdigest() == AVAZU_SEED0_5K_SHA256
    schema = convert(AvazuFormat(), str(path), str(tmp_path / "out"), 4)
    assert schema["bad_rows"]["total"] == 0 and sum(schema["rows"].values()) == 5000


def test_cli_tfrecord_directory_records_the_teacher(tmp_path):
    result = subprocess.run([sys.executable, "-m", "datasets.synthetic", "--format=tfrecord", "--rows=3000",
                             f"--output={tmp_path / 'out'}", "--max_cardinality=2000", "--seed=3",
                             "--teacher=random_fm"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    source = json.loads((tmp_path / "out" / "schema.json").read_text())["source"]
    assert source["teacher"]["name"] == "random_fm" and source["teacher"]["width"] == 16  # docs/data.md's width
    assert source["seed"] == 3 and source["max_cardinality"] == 2000
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]  # no staging directory left beside it


def test_failed_tfrecord_directory_leaves_nothing(tmp_path, monkeypatch):
    """A failure after the conversion (here: writing the schema with its teacher) publishes nothing."""
    import datasets.schema

    def fail(schema, data_dir):
        raise OSError("disk full")

    monkeypatch.setattr(datasets.schema, "write_schema", fail)
    with pytest.raises(OSError, match="disk full"):
        synthetic.write_tfrecord_dir(str(tmp_path / "out"), 2000, seed=0, max_cardinality=500)
    assert list(tmp_path.iterdir()) == []


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


def criteo_generator(seed, name, rows=50000):
    generator = synthetic.FieldGenerator(synthetic.criteo_cardinalities(20000), synthetic.CRITEO_MISSING, seed,
                                         synthetic.TeacherShape(name=name))
    return next(generator.chunks(rows))


@pytest.mark.parametrize("name", synthetic.TEACHERS)
def test_each_teacher_is_deterministic_with_the_stated_click_rate(name):
    labels, values = criteo_generator(7, name)
    again_labels, again_values = criteo_generator(7, name)
    other_labels, _ = criteo_generator(8, name)
    np.testing.assert_array_equal(labels, again_labels)
    np.testing.assert_array_equal(values, again_values)
    assert not np.array_equal(labels, other_labels)
    assert abs(labels.mean() - STATED_CLICK_RATE) <= 0.02


def test_teachers_label_the_same_seed_differently():
    labels = {name: criteo_generator(7, name, rows=5000)[0] for name in synthetic.TEACHERS}
    for a, b in itertools.combinations(synthetic.TEACHERS, 2):
        assert np.mean(labels[a] != labels[b]) > 0.05, (a, b)


@pytest.mark.parametrize("name", synthetic.TEACHERS)
def test_every_teacher_keeps_the_pairwise_spread(name):
    generator = synthetic.FieldGenerator([50] * 12, [0.0] * 12, seed=2, teacher_shape=synthetic.TeacherShape(name=name))
    _, values = next(generator.chunks(20000))
    spread = generator.teacher.components(values)["pairwise"].std()
    assert abs(spread - synthetic.TeacherShape.PAIRWISE_STD) < 0.25 * synthetic.TeacherShape.PAIRWISE_STD


def test_shared_subspace_puts_the_same_pairs_in_one_latent_space():
    """Same field pairs as the default, but every pair reads one latent of size patterns x latent_dim."""
    cardinalities = [30] * 10
    separate, shared = (synthetic.TeacherShape(patterns=3, latent_dim=2, name=name).build(
        cardinalities, np.random.default_rng(4)) for name in ("separate_subspaces", "shared_subspace"))
    assert [pair for pairs in shared.pairs for pair in pairs] == [pair for pairs in separate.pairs for pair in pairs]
    assert len(shared.pairs) == 1 and {latent.shape for latent in shared.latents} == {(1, 30, 6)}
    paired = {field for pairs in shared.pairs for pair in pairs for field in pair}
    assert [shared.pattern_dims(field) for field in range(10)] == [6 if field in paired else 0 for field in range(10)]


def test_random_fm_sums_every_field_pair():
    """The FM's pairwise part equals the explicit sum over i < j of <v_i[x_i], v_j[x_j]>."""
    rng = np.random.default_rng(5)
    teacher = synthetic.TeacherShape(name="random_fm").build([7, 4, 9, 3], rng)
    values = np.stack([rng.integers(0, d, size=200) for d in (7, 4, 9, 3)], axis=1)
    explicit = sum(np.sum(teacher.embeddings[i][values[:, i]].astype(np.float64)
                          * teacher.embeddings[j][values[:, j]], axis=1)
                   for i, j in itertools.combinations(range(4), 2))
    parts = teacher.components(values)
    assert set(parts) == {"first_order", "pairwise"}
    np.testing.assert_allclose(parts["pairwise"], explicit, rtol=1e-9, atol=1e-9)
    assert {embedding.shape[1] for embedding in teacher.embeddings} == {16}


def test_unknown_teacher_a_patterned_fm_and_docstring_examples():
    with pytest.raises(ValueError, match="unknown teacher 'fm'"):
        synthetic.TeacherShape(name="fm")
    with pytest.raises(ValueError, match="random_fm has no patterns"):
        synthetic.TeacherShape(patterns=8, name="random_fm")
    result = doctest.testmod(synthetic)
    assert result.failed == 0 and result.attempted >= 2
