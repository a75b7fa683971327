"""Exact evaluation metrics on arrays: every reported test AUC and logloss comes from here.

Kept in the library rather than taken from scikit-learn: the functions are exact (the streaming Keras
AUC bins scores into thresholds; these rank them, ties sharing their mean rank), O(n log n) on a whole
split in memory, and need nothing beyond numpy at run time. tests/test_metrics.py holds them equal, to
1e-9, to an independent O(n^2) pairwise AUC and a per-row logloss, on random scores with ties and on a
trained model's predictions of the real Criteo sample.
"""

import numpy as np


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve by the Mann-Whitney rank sum, ties sharing their mean rank."""
    labels = np.asarray(labels).reshape(-1).astype(bool)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        raise ValueError("roc_auc needs both positive and negative labels")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0  # mean of 1-based ranks start+1..end
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def log_loss(labels, probabilities, epsilon: float = 1e-7) -> float:
    """Mean binary cross-entropy, probabilities clipped to [epsilon, 1 - epsilon] (as Keras clips them)."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64).reshape(-1), epsilon, 1 - epsilon)
    return float(-np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities)))
