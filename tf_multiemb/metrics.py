"""Exact evaluation metrics on arrays: every reported test AUC and logloss comes from here.

Kept in the library rather than taken from scikit-learn: the functions are exact (the streaming Keras
AUC bins scores into thresholds; this one counts ordered pairs, ties counting one half), O(n log n) on a
whole split in memory, and need nothing beyond numpy at run time. tests/test_metrics.py holds them equal,
to 1e-12, to an independent O(n^2) pairwise AUC and a per-row logloss, on random scores with ties and on
a trained model's predictions of the real Criteo sample.
"""

import numpy as np


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve: the share of (positive, negative) pairs ranked right, ties counting 1/2.

    Exact and vectorised: both classes' scores are sorted once and every positive counts the negatives
    below it and tied with it by binary search, in integers, so the only rounding is the final
    division; O(n log n), about 1 s for 5M scores on two CPU cores.

    Args:
        labels: array-like of 0/1 (or bool), any shape; flattened.
        scores: array-like of the same size, any shape; higher means more likely positive.

    Returns:
        The AUC, a float in [0, 1].

    Raises:
        ValueError: the labels hold only one class.

    Example:

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    labels = np.asarray(labels).reshape(-1).astype(bool)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    negatives, positives = np.sort(scores[~labels]), np.sort(scores[labels])
    if len(positives) == 0 or len(negatives) == 0:
        raise ValueError("roc_auc needs both positive and negative labels")
    below = np.searchsorted(negatives, positives, side="left").sum(dtype=np.int64)
    below_or_tied = np.searchsorted(negatives, positives, side="right").sum(dtype=np.int64)
    return (int(below) + int(below_or_tied)) / (2 * len(positives) * len(negatives))


def log_loss(labels, probabilities, epsilon: float = 1e-7) -> float:
    """Mean binary cross-entropy, probabilities clipped to [epsilon, 1 - epsilon] (as Keras clips them)."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64).reshape(-1), epsilon, 1 - epsilon)
    return float(-np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities)))
