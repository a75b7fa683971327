"""bench.teacher_ceiling: the regenerated rows are the written ones, its ids are the converter's, E[w | ids] is a mean."""

import numpy as np
import pytest

from bench import teacher_ceiling
from datasets import synthetic
from datasets.conversion import convert
from datasets.criteo import TSV
from tf_multiemb.metrics import roc_auc

ROWS, SEED, MAX_CARDINALITY, MIN_COUNT = 6000, 3, 3000, 4


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The Criteo-shaped file datasets.synthetic writes, converted, and the bench's regeneration of it."""
    root = tmp_path_factory.mktemp("teacher")
    synthetic.write_criteo_tsv(str(root / "raw.txt"), ROWS, SEED, MAX_CARDINALITY)
    schema = convert(TSV, str(root / "raw.txt"), str(root / "data"), MIN_COUNT)
    file_labels = [int(line.split("\t", 1)[0]) for line in (root / "raw.txt").read_text().splitlines()]
    return file_labels, schema, teacher_ceiling.regenerate(ROWS, SEED, MAX_CARDINALITY)


def test_regenerated_labels_are_the_written_ones(written):
    file_labels, _, (labels, values, _, _) = written
    assert labels.tolist() == file_labels and values.shape == (ROWS, 39)


def test_field_cardinalities_equal_the_converters(written):
    _, schema, (_, values, tables, _) = written
    assert teacher_ceiling.field_cardinalities(values, tables, MIN_COUNT) == [
        field["cardinality"] for field in schema["fields"]]


def test_teacher_on_ids_averages_weights_within_each_id(written):
    _, _, (labels, values, tables, teacher) = written
    seen = teacher_ceiling.teacher_on_ids(teacher, values, tables, MIN_COUNT)
    for field in (0, 15):  # a numeric field (bucketed) and the largest categorical one (many OOV values)
        raw, projected = teacher.first_order[field][values[:, field]], seen.first_order[field][values[:, field]]
        assert not np.allclose(raw, projected)
        assert np.isclose(raw.mean(), projected.mean())  # E[E[w | id]] = E[w]
        ids = teacher_ceiling.converted_ids(values[:, field], tables[field], field < synthetic.CRITEO_NUMERIC,
                                            MIN_COUNT)[values[:, field]]
        for shared in np.unique(ids)[:5]:
            rows = ids == shared
            assert np.allclose(projected[rows], raw[rows].mean())
    # Seeing ids instead of raw values loses information: the noiseless logit ranks clicks worse.
    logit_raw = sum(teacher.components(values).values())
    logit_ids = sum(seen.components(values).values())
    assert roc_auc(labels, logit_ids) < roc_auc(labels, logit_raw)
