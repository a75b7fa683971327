"""The toy experiment of the interaction-collapse theory (paper Section 4.1 Evidence II, Appendix G, Figure 4).

Three fields, D1 = D2 = 100. Every (x1, x2) pair occurs once, with x3 ~ U[X3] and y ~ U{0, 1}.
All tables start from N(0, 1); only E1 is trained, by full-batch SGD (lr 1) on the mean binary
cross-entropy of sigmoid(h), h = e1.e2 + e1.e3 + e2.e3 (FM interaction, Section 4.1). With a
low-abundance E3 (D3 = 3 < K) E1 collapses more than with D3 = 100.

The gradient is analytic (dL/dh = (sigmoid(h) - y) / B, dh/de1 = e2 + e3), so the iterations run
in plain numpy, without automatic differentiation.
"""

import numpy as np

from tf_multiemb.collapse import information_abundance

FIELD_CARDINALITY = 100  # D1 = D2


class ToyProblem:
    """The synthetic data set and the fixed tables E2, E3 of Appendix G; E1 is the initial table.

    Data are laid out on the (x1, x2) grid: third_ids[x1, x2] = x3 and labels[x1, x2] = y. E1 and
    E2 come first from the seeded generator, so one seed gives the same E1, E2 for every D3.
    """

    def __init__(self, third_cardinality, embedding_dim=10, seed=0):
        rng = np.random.default_rng(seed)
        self.first = rng.standard_normal((FIELD_CARDINALITY, embedding_dim))
        self.second = rng.standard_normal((FIELD_CARDINALITY, embedding_dim))
        self.third = rng.standard_normal((third_cardinality, embedding_dim))
        self.third_ids = rng.integers(0, third_cardinality, size=(FIELD_CARDINALITY, FIELD_CARDINALITY))
        self.labels = rng.integers(0, 2, size=(FIELD_CARDINALITY, FIELD_CARDINALITY)).astype(np.float64)
        self.third_cardinality = third_cardinality
        # Row x1 of E1 collects the gradient of example (x1, x2) through e3 in bucket x1 * D3 + x3.
        self._first_third_buckets = (np.arange(FIELD_CARDINALITY)[:, None] * third_cardinality
                                     + self.third_ids).ravel()
        self._second_third = np.einsum("bk,abk->ab", self.second, self.third[self.third_ids])  # e2.e3, fixed

    def logits(self, first):
        """h[x1, x2] = e1.e2 + e1.e3 + e2.e3 for every example."""
        first_third = np.take_along_axis(first @ self.third.T, self.third_ids, axis=1)
        return first @ self.second.T + first_third + self._second_third

    def loss_gradient(self, first):
        """dL/dE1 of the mean binary cross-entropy over all D1 * D2 examples."""
        sigmoid = 0.5 * (1.0 + np.tanh(0.5 * self.logits(first)))  # overflow-free
        logit_gradient = (sigmoid - self.labels) / self.labels.size
        per_third = np.bincount(self._first_third_buckets, weights=logit_gradient.ravel(),
                                minlength=FIELD_CARDINALITY * self.third_cardinality)
        return logit_gradient @ self.second + per_third.reshape(FIELD_CARDINALITY, -1) @ self.third


def toy_information_abundance_curve(third_cardinality, embedding_dim=10, iterations=5000, learning_rate=1.0, seed=0):
    """IA(E1) before training and after every full-batch SGD iteration: a list of iterations + 1 values."""
    problem = ToyProblem(third_cardinality, embedding_dim, seed)
    first = problem.first.copy()
    curve = [information_abundance(first)]
    for _ in range(iterations):
        first -= learning_rate * problem.loss_gradient(first)
        curve.append(information_abundance(first))
    return curve


def run_toy_experiment(embedding_dim=10, iterations=5000, learning_rate=1.0, seed=0, cases=(("small", 3), ("large", 100))):
    """Both cases of Figure 4: {name: {"third_cardinality", "ia", "final_ia"}}."""
    results = {}
    for name, third_cardinality in cases:
        curve = toy_information_abundance_curve(third_cardinality, embedding_dim, iterations, learning_rate, seed)
        results[name] = {"third_cardinality": third_cardinality, "ia": curve, "final_ia": curve[-1]}
    return results
