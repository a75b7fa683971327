"""tf_multiemb.metrics against independent definitions: an exact O(n^2) pairwise AUC and a per-row logloss."""

import json
import math
import time

import keras
import numpy as np
import pytest

from datasets.reader import make_dataset
from tf_multiemb.metrics import log_loss, roc_auc
from tests.test_export import trained_export


def pairwise_auc(labels, scores):
    """The AUC by definition: over all (positive, negative) pairs, 1 when the positive scores higher, 1/2 on ties."""
    labels, scores = np.asarray(labels).reshape(-1), np.asarray(scores, dtype=np.float64).reshape(-1)
    positives, negatives = scores[labels == 1], scores[labels == 0]
    wins = np.sum(positives[:, None] > negatives[None, :]) + 0.5 * np.sum(positives[:, None] == negatives[None, :])
    return wins / (len(positives) * len(negatives))


def per_row_log_loss(labels, probabilities, epsilon=1e-7):
    """Mean of -ln p(label) row by row, with p clipped to [epsilon, 1 - epsilon]."""
    total = 0.0
    for label, probability in zip(np.reshape(labels, -1), np.reshape(probabilities, -1)):
        clipped = min(max(float(probability), epsilon), 1 - epsilon)
        total -= math.log(clipped if label == 1 else 1 - clipped)
    return total / np.size(labels)


def test_a_hand_worked_auc():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75  # 3 of the 4 pairs are ordered right


@pytest.mark.parametrize("labels, scores, expected", [
    ([1, 0, 1, 0], [0.3, 0.3, 0.3, 0.3], 0.5),             # one tie group: every pair counts 1/2
    ([1, 1, 0, 0, 0], [0.9, 0.8, 0.7, 0.2, 0.1], 1.0),
    ([[1], [1], [0]], [[0.1], [0.2], [0.3]], 0.0),          # (n, 1) shapes, as model.predict returns
    ([True, False, True, False], [0.5, 0.5, 0.7, 0.1], 0.875),  # (1/2 + 1 + 1 + 1) / 4
])
def test_edge_cases_worked_by_hand(labels, scores, expected):
    assert roc_auc(labels, scores) == expected


def test_a_single_class_is_refused():
    with pytest.raises(ValueError, match="^roc_auc needs both positive and negative labels$"):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_scores_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(3000) < 0.25).astype(np.int64)
    scores = np.round(rng.random(3000) + 0.3 * labels, 1)  # about 14 distinct values: ties everywhere
    probabilities = np.clip(rng.random(3000) * 1.2 - 0.1, 0.0, 1.0)  # includes exact 0 and 1 (clipped)
    assert len(np.unique(scores)) < 20 and (probabilities == 0).any() and (probabilities == 1).any()
    assert roc_auc(labels, scores) == pytest.approx(pairwise_auc(labels, scores), abs=1e-12)
    assert log_loss(labels, probabilities) == pytest.approx(per_row_log_loss(labels, probabilities), abs=1e-9)


def test_two_million_distinct_scores_take_well_under_two_seconds():
    """A loop per distinct score took about 5 s here; the sort-and-search form about 0.2 s."""
    rng = np.random.default_rng(0)
    labels, scores = rng.random(2_000_000) < 0.25, rng.random(2_000_000)
    started = time.perf_counter()
    roc_auc(labels, scores)
    assert time.perf_counter() - started < 2.0


def test_the_real_samples_predictions_and_the_reported_test_metrics():
    base, _ = trained_export()
    run_dir = base / "run"
    model = keras.saving.load_model(str(run_dir / "model.keras"), compile=False)
    test_split = make_dataset(str(base / "data"), "test", 512)
    labels = np.concatenate([label.numpy() for _, label in test_split]).reshape(-1)
    probabilities = model.predict(test_split.map(lambda ids, label: ids), verbose=0).reshape(-1)
    assert len(labels) == 1000 and 0 < labels.mean() < 1
    independent_auc, independent_loss = pairwise_auc(labels, probabilities), per_row_log_loss(labels, probabilities)
    assert roc_auc(labels, probabilities) == pytest.approx(independent_auc, abs=1e-12)
    assert log_loss(labels, probabilities) == pytest.approx(independent_loss, abs=1e-9)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["test_auc"] == pytest.approx(independent_auc, abs=1e-9)
    assert results["test_logloss"] == pytest.approx(independent_loss, abs=1e-9)
