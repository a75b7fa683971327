"""Synthetic Criteo-shaped click logs with a planted teacher, for demos and tests (no download).

    python -m datasets.synthetic --format=criteo_tsv --rows=100000 --output=synthetic.txt --seed=0

Values of each field follow a Zipf-like law over the field's cardinality. The label is drawn from
a teacher whose logit sums several interaction patterns: each pattern p gives every value of
every field a small latent vector u_i^p, and adds <u_i^p, u_j^p> over its own set of field pairs.
Distinct patterns live in distinct subspaces, which a single collapsed embedding cannot represent
all at once. A bias sets the base click rate (~25%).
"""

import numpy as np
from absl import app, flags

CRITEO_NUMERIC = 13
CRITEO_CATEGORICAL = 26
# Relative cardinalities of Criteo's 26 categorical fields after min-count thresholding (approx.).
CRITEO_CATEGORICAL_SHAPE = [1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.008, 0.004, 0.002, 0.001, 0.5, 0.3, 0.1,
                            0.05, 0.02, 0.01, 0.005, 0.003, 0.001, 0.0005, 0.8, 0.4, 0.06, 0.03, 0.0003, 0.0002]


class PlantedTeacher:
    """Logit = bias + sum_p sum_{(i,j) in pairs_p} <u_i^p[x_i], u_j^p[x_j]> + noise."""

    def __init__(self, cardinalities, rng, num_patterns=4, pairs_per_pattern=12, latent_dim=2, strength=1.0,
                 noise=0.5, base_rate=0.25):
        num_fields = len(cardinalities)
        self.latents = [rng.normal(0.0, strength, size=(num_patterns, d, latent_dim)) for d in cardinalities]
        self.pairs = [[tuple(rng.choice(num_fields, size=2, replace=False)) for _ in range(pairs_per_pattern)]
                      for _ in range(num_patterns)]
        self.noise = noise
        self.bias = 0.0
        self.base_rate = base_rate

    def logits(self, values, rng):
        total = np.zeros(values.shape[0])
        for pattern, pairs in enumerate(self.pairs):
            for i, j in pairs:
                total += np.sum(self.latents[i][pattern, values[:, i]] * self.latents[j][pattern, values[:, j]], axis=1)
        return total + rng.normal(0.0, self.noise, size=total.shape)

    def calibrate(self, values, rng):
        """Chooses the bias so that the mean click rate is `base_rate`."""
        self.bias = float(-np.quantile(self.logits(values, rng), 1.0 - self.base_rate))

    def labels(self, values, rng):
        probability = 1.0 / (1.0 + np.exp(-(self.logits(values, rng) + self.bias)))
        return (rng.random(values.shape[0]) < probability).astype(np.int64)


def zipf_values(cardinality, size, rng, exponent=1.1):
    weights = 1.0 / np.arange(1, cardinality + 1) ** exponent
    return rng.choice(cardinality, size=size, p=weights / weights.sum())


def criteo_cardinalities(max_cardinality):
    numeric = [min(max_cardinality, c) for c in (60, 100, 80, 50, 200, 120, 70, 60, 100, 10, 40, 30, 70)]
    categorical = [max(4, int(max_cardinality * share)) for share in CRITEO_CATEGORICAL_SHAPE]
    return numeric + categorical


def write_criteo_tsv(path, rows, seed=0, max_cardinality=20000, chunk=50000):
    """Writes `rows` Kaggle-format Criteo lines (label, I1..I13, C1..C26) to `path`."""
    rng = np.random.default_rng(seed)
    cardinalities = criteo_cardinalities(max_cardinality)
    teacher = PlantedTeacher(cardinalities, rng)
    sample = np.stack([zipf_values(d, 20000, rng) for d in cardinalities], axis=1)
    teacher.calibrate(sample, rng)
    hashes = [rng.integers(0, 2**32, size=d) for d in cardinalities[CRITEO_NUMERIC:]]
    with open(path, "w") as handle:
        for start in range(0, rows, chunk):
            size = min(chunk, rows - start)
            values = np.stack([zipf_values(d, size, rng) for d in cardinalities], axis=1)
            labels = teacher.labels(values, rng)
            missing = rng.random((size, CRITEO_NUMERIC)) < 0.1
            for row in range(size):
                numeric = ["" if missing[row, f] else str(values[row, f]) for f in range(CRITEO_NUMERIC)]
                categorical = [format(hashes[f][values[row, CRITEO_NUMERIC + f]], "08x")
                               for f in range(CRITEO_CATEGORICAL)]
                handle.write("\t".join([str(labels[row])] + numeric + categorical) + "\n")


FLAGS = flags.FLAGS


def main(argv):
    del argv
    write_criteo_tsv(FLAGS.output, FLAGS.rows, FLAGS.seed)


if __name__ == "__main__":
    flags.DEFINE_enum("format", "criteo_tsv", ["criteo_tsv"], "Output format.")
    flags.DEFINE_integer("rows", 100000, "Number of rows.")
    flags.DEFINE_string("output", None, "Output path.")
    flags.DEFINE_integer("seed", 0, "Random seed (the output is a function of it).")
    flags.mark_flag_as_required("output")
    app.run(main)
