"""The toy experiment of the interaction-collapse theory (paper Section 4.1 Evidence II, Appendix G, Figure 4).

Three fields, D1 = D2 = 100. Every (x1, x2) pair occurs once, with x3 ~ U[X3] and y ~ U{0, 1}.
All tables start from N(0, 1); only E1 is trained, by full-batch SGD (lr 1) on the mean binary
cross-entropy of sigmoid(h), h = e1.e2 + e1.e3 + e2.e3 (FM interaction, Section 4.1). With a
low-abundance E3 (D3 = 3 < K) E1 collapses more than with D3 = 100.

The gradient is analytic (dL/dh = (sigmoid(h) - y) / B, dh/de1 = e2 + e3), so 5,000 iterations
take seconds in numpy.
"""

import numpy as np

from tf_multiemb.collapse import gram, information_abundance_from_singular_values, singular_values_from_gram

FIELD_CARDINALITY = 100  # D1 = D2


def _information_abundance(matrix):
    return information_abundance_from_singular_values(singular_values_from_gram(gram(matrix)))


def toy_information_abundance_curve(third_cardinality, embedding_dim=10, iterations=5000, learning_rate=1.0, seed=0):
    """IA(E1) before training and after every SGD iteration: a list of iterations + 1 values.

    E1 and E2 come first from the seeded generator, so the same seed gives the same E1, E2 for
    every D3; then E3, the x3 draw and the labels.
    """
    rng = np.random.default_rng(seed)
    first = rng.standard_normal((FIELD_CARDINALITY, embedding_dim))
    second = rng.standard_normal((FIELD_CARDINALITY, embedding_dim))
    third = rng.standard_normal((third_cardinality, embedding_dim))
    third_ids = rng.integers(0, third_cardinality, size=(FIELD_CARDINALITY, FIELD_CARDINALITY))  # [x1, x2] -> x3
    labels = rng.integers(0, 2, size=(FIELD_CARDINALITY, FIELD_CARDINALITY)).astype(np.float64)
    num_examples = labels.size
    # Row x1 accumulates the gradient of every example (x1, x2) in the bucket x1 * D3 + x3.
    first_third_buckets = (np.arange(FIELD_CARDINALITY)[:, None] * third_cardinality + third_ids).ravel()
    fixed_logit = np.einsum("bk,abk->ab", second, third[third_ids])  # e2.e3, constant since E2, E3 are fixed

    curve = [_information_abundance(first)]
    for _ in range(iterations):
        first_third = np.take_along_axis(first @ third.T, third_ids, axis=1)  # e1.e3 per example
        logits = first @ second.T + first_third + fixed_logit
        logit_gradient = (0.5 * (1.0 + np.tanh(0.5 * logits)) - labels) / num_examples  # sigmoid, overflow-free
        per_third = np.bincount(first_third_buckets, weights=logit_gradient.ravel(),
                                minlength=FIELD_CARDINALITY * third_cardinality)
        gradient = logit_gradient @ second + per_third.reshape(FIELD_CARDINALITY, third_cardinality) @ third
        first -= learning_rate * gradient
        curve.append(_information_abundance(first))
    return curve


def run_toy_experiment(embedding_dim=10, iterations=5000, learning_rate=1.0, seed=0, cases=(("small", 3), ("large", 100))):
    """Both cases of Figure 4: {name: {"third_cardinality", "ia", "final_ia"}}."""
    results = {}
    for name, third_cardinality in cases:
        curve = toy_information_abundance_curve(third_cardinality, embedding_dim, iterations, learning_rate, seed)
        results[name] = {"third_cardinality": third_cardinality, "ia": curve, "final_ia": curve[-1]}
    return results
