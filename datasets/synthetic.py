"""Synthetic Criteo- and Avazu-shaped click logs labelled by a teacher, for demos, tests and benchmarks.

    python -m datasets.synthetic --format=criteo_tsv --rows=2000000 --output=synthetic.txt --seed=0
    python -m datasets.synthetic --format=avazu_csv --rows=100000 --output=avazu.csv
    python -m datasets.synthetic --format=tfrecord --rows=100000 --output=data/synthetic  # converted dir
    python -m datasets.synthetic --rows=1000000 --output=rich.txt --teacher_patterns=8 --teacher_latent_dim=8
    python -m datasets.synthetic --format=tfrecord --rows=200000 --output=data/fm --teacher=random_fm

The output is a function of (format, rows, seed, cardinality scale, teacher shape). Field cardinalities follow the full
data sets' shape (the paper's Appendix C.1: Criteo sum D_i ~1.08M, max ~0.19M, min 4; Avazu sum ~2.02M, max
~1.61M) scaled so that the largest field has `max_cardinality` values; values are Zipf-distributed
(exponent 1.1) and some fields are often missing, as in the real logs. Labels come from the teacher
`--teacher` names (TEACHERS, docs/data.md): the planted patterns in separate latent subspaces (the default),
the same patterns in one shared subspace, or a randomly initialised FM with no planted pattern.
"""

import dataclasses
import os
import shutil
import tempfile

import numpy as np
from absl import app, flags

CRITEO_NUMERIC = 13
# Raw integer ranges of I1..I13 and value counts of C1..C26: sum ~1.08M, max 190k (the paper's Criteo statistics).
CRITEO_NUMERIC_RANGES = [60, 2000, 500, 50, 20000, 800, 200, 50, 800, 5, 50, 50, 300]
CRITEO_CATEGORICAL = [1445, 553, 190000, 150000, 305, 19, 11930, 629, 3, 60000, 5130, 175000, 3175, 27, 11254,
                      180000, 10, 4605, 2017, 3, 185000, 18, 15, 64000, 71, 34678]
# Share of missing values per Criteo field (I12 ~77%, C22 ~81% as in the real file).
CRITEO_MISSING = [0.45, 0.0, 0.21, 0.22, 0.03, 0.23, 0.04, 0.0, 0.04, 0.45, 0.04, 0.77, 0.22] + \
    [0.0] * 2 + [0.03, 0.03] + [0.0, 0.12] + [0.0] * 12 + [0.44, 0.44, 0.81, 0.0, 0.03, 0.44, 0.03, 0.44]
CRITEO_FULL_MAX = 190000

AVAZU_COLUMNS = ["id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id",
                 "app_domain", "app_category", "device_id", "device_ip", "device_model", "device_type",
                 "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21"]
# Value counts of the 21 fields after `hour` (approximately Avazu's after min-count 4; hour has 240).
AVAZU_CARDINALITIES = [7, 7, 4737, 7745, 26, 8552, 559, 36, 290000, 1610000, 6000, 5, 4, 2500, 8, 9, 420, 4,
                       66, 170, 60]
AVAZU_FULL_MAX = 1610000
AVAZU_HOURS = [f"1410{day:02d}{hour:02d}" for day in range(21, 31) for hour in range(24)]


# Each teacher's name and what it plants, in a few words (docs/data.md has the whole story).
TEACHER_SUMMARIES = {
    "separate_subspaces": "pairwise patterns planted in separate latent subspaces",
    "shared_subspace": "the same patterns planted in one shared latent subspace",
    "random_fm": "a randomly initialised FM, no planted pattern",
}
TEACHERS = tuple(TEACHER_SUMMARIES)


def unit_product_std(terms: int, spread: float) -> float:
    """The std of factors whose products, summed over `terms` products of two, have std `spread`."""
    return (spread ** 2 / terms) ** 0.25


@dataclasses.dataclass(frozen=True)
class TeacherShape:
    """Which teacher labels the rows, and the pairwise patterns' shape for the planted ones.

    separate_subspaces (the default): `patterns` pairwise patterns of `pairs_per_pattern` field pairs,
    each pattern in its own latent space of size `latent_dim`. shared_subspace: the same field pairs,
    all in one latent space of size patterns x latent_dim. random_fm: no planted pattern; every field
    pair interacts through dense random field embeddings of width FM_WIDTH (a randomly initialised FM).
    The latents are scaled so that the pairwise part of the logit has the same spread (std
    PAIRWISE_STD, the default shape's with unit-variance latents) whatever the teacher: a richer shape
    asks for more embedding directions per field, not for a sharper signal.

    Args:
        patterns: pairwise patterns of the planted teachers.
        pairs_per_pattern: field pairs per pattern.
        latent_dim: latent size of each pattern.
        name: one of TEACHERS.

    Example:
        >>> shape = TeacherShape(name="shared_subspace")
        >>> teacher = shape.build([5] * 6, np.random.default_rng(0))
        >>> teacher.latents[0].shape  # one pattern of size 4 x 2, 5 values
        (1, 5, 8)
    """

    patterns: int = 4
    pairs_per_pattern: int = 8
    latent_dim: int = 2
    name: str = TEACHERS[0]

    PAIRWISE_STD = 8.0
    FM_WIDTH = 16

    def __post_init__(self):
        if self.name not in TEACHERS:
            raise ValueError(f"unknown teacher {self.name!r}; expected one of {', '.join(TEACHERS)}")
        if self.name == "random_fm" and any(getattr(self, field.name) != field.default
                                            for field in dataclasses.fields(self) if field.name != "name"):
            raise ValueError("the pattern shape (--teacher_patterns, --teacher_pairs, --teacher_latent_dim) is the "
                             "planted teachers'; random_fm has no patterns")

    def latent_std(self):
        terms = self.patterns * self.pairs_per_pattern * self.latent_dim  # unit-variance products summed
        return unit_product_std(terms, self.PAIRWISE_STD)

    def build(self, cardinalities: list, rng: np.random.Generator) -> "CalibratedTeacher":
        """The teacher over fields of these value counts, its weights drawn from `rng`."""
        if self.name == "random_fm":
            return RandomFMTeacher(cardinalities, rng, self.FM_WIDTH, self.PAIRWISE_STD)
        if self.name == "shared_subspace":
            return PlantedTeacher(cardinalities, rng, dataclasses.replace(
                self, patterns=1, pairs_per_pattern=self.patterns * self.pairs_per_pattern,
                latent_dim=self.patterns * self.latent_dim))
        return PlantedTeacher(cardinalities, rng, self)

    def record(self) -> dict:
        """What schema.json's source says of the teacher: its name and the parameters it uses."""
        if self.name == "random_fm":
            return {"name": self.name, "width": self.FM_WIDTH, "pairwise_std": self.PAIRWISE_STD}
        return {"name": self.name, "patterns": self.patterns, "pairs_per_pattern": self.pairs_per_pattern,
                "latent_dim": self.latent_dim, "pairwise_std": self.PAIRWISE_STD}


class CalibratedTeacher:
    """Click logit = bias + first-order terms + the subclass's interaction terms + noise.

    The first-order weights are drawn first from `rng`; the bias is calibrated so that the mean click
    rate is `base_rate`. Subclasses add their parts in `components`.
    """

    def __init__(self, cardinalities, rng, noise=0.5, base_rate=0.25):
        self.first_order = [rng.normal(0.0, 0.3, size=d) for d in cardinalities]
        self.noise = noise
        self.base_rate = base_rate
        self.bias = 0.0

    def first_order_term(self, values: np.ndarray) -> np.ndarray:
        return sum(weights[values[:, i]] for i, weights in enumerate(self.first_order))

    def components(self, values):
        """The noiseless parts of the logit (bias excluded), each of shape (rows,)."""
        raise NotImplementedError

    def logits(self, values, rng):
        total = sum(self.components(values).values())
        return total + rng.normal(0.0, self.noise, size=total.shape)

    def calibrate(self, values, rng):
        self.bias = float(-np.quantile(self.logits(values, rng), 1.0 - self.base_rate))

    def labels(self, values, rng):
        probability = 1.0 / (1.0 + np.exp(-(self.logits(values, rng) + self.bias)))
        return (rng.random(values.shape[0]) < probability).astype(np.int64)


class PlantedTeacher(CalibratedTeacher):
    """The planted teacher: first-order terms, several distinct interaction patterns and noise.

    Patterns: (a) pairwise <u_i^p[x_i], u_j^p[x_j]> over each pattern's own field pairs, every pattern in
    its own latent subspace (a collapsed embedding cannot hold them all); (b) a three-way product
    w_i[x_i] w_j[x_j] w_k[x_k].
    """

    def __init__(self, cardinalities, rng, shape=TeacherShape(), noise=0.5, base_rate=0.25):
        super().__init__(cardinalities, rng, noise, base_rate)
        num_fields = len(cardinalities)
        self.latents = [rng.normal(0.0, shape.latent_std(), size=(shape.patterns, d, shape.latent_dim))
                        .astype(np.float32) for d in cardinalities]
        self.pairs = [[tuple(rng.choice(num_fields, size=2, replace=False)) for _ in range(shape.pairs_per_pattern)]
                      for _ in range(shape.patterns)]
        self.triple = tuple(rng.choice(num_fields, size=3, replace=False))
        self.triple_weights = [rng.normal(0.0, 1.0, size=cardinalities[i]) for i in self.triple]

    def components(self, values):
        pairwise = np.zeros(values.shape[0])
        for pattern, pairs in enumerate(self.pairs):
            for i, j in pairs:
                pairwise += np.sum(self.latents[i][pattern, values[:, i]] * self.latents[j][pattern, values[:, j]],
                                   axis=1)
        three_way = np.prod([w[values[:, i]] for i, w in zip(self.triple, self.triple_weights)], axis=0)
        return {"first_order": self.first_order_term(values), "pairwise": pairwise, "three_way": three_way}

    def pattern_dims(self, field):
        """Latent directions the pairwise patterns give `field`: latent_dim per pattern that pairs it."""
        patterns = sum(any(field in pair for pair in pairs) for pairs in self.pairs)
        return patterns * self.latents[field].shape[2]


class RandomFMTeacher(CalibratedTeacher):
    """A randomly initialised FM: first-order terms plus <v_i[x_i], v_j[x_j]> over every field pair, and noise.

    No pattern is planted: each field has one dense random embedding of `width` (std chosen so that the
    pairwise part has std `pairwise_std`), read by all its partners.
    """

    def __init__(self, cardinalities: list, rng: np.random.Generator, width: int, pairwise_std: float,
                 noise: float = 0.5, base_rate: float = 0.25):
        super().__init__(cardinalities, rng, noise, base_rate)
        pairs = len(cardinalities) * (len(cardinalities) - 1) // 2
        std = unit_product_std(pairs * width, pairwise_std)
        self.embeddings = [rng.normal(0.0, std, size=(d, width)).astype(np.float32) for d in cardinalities]

    def components(self, values):
        summed = np.zeros((values.shape[0], self.embeddings[0].shape[1]))
        squares = np.zeros(values.shape[0])
        for field, embedding in enumerate(self.embeddings):
            rows = embedding[values[:, field]].astype(np.float64)
            summed += rows
            squares += np.sum(rows * rows, axis=1)
        pairwise = 0.5 * (np.sum(summed * summed, axis=1) - squares)  # sum over i < j of <v_i, v_j>
        return {"first_order": self.first_order_term(values), "pairwise": pairwise}


class ZipfSampler:
    """Draws value indices 0..d-1 with P(v) proportional to 1/(v+1)^exponent (inverse CDF)."""

    def __init__(self, cardinality, exponent=1.1):
        weights = 1.0 / np.arange(1, cardinality + 1) ** exponent
        self.cdf = np.cumsum(weights / weights.sum())
        self.cdf[-1] = 1.0

    def __call__(self, size, rng):
        return np.searchsorted(self.cdf, rng.random(size), side="right")


def criteo_cardinalities(max_cardinality):
    """Per-field value counts (raw integer ranges for I1..I13), the categorical ones scaled to the max."""
    scale = max_cardinality / CRITEO_FULL_MAX
    return CRITEO_NUMERIC_RANGES + [max(3, min(d, int(round(d * scale)))) if d > 30 else d
                                    for d in CRITEO_CATEGORICAL]


class FieldGenerator:
    """Rows of value indices (the last index of a field means 'missing'), their text and teacher labels."""

    def __init__(self, cardinalities, missing, seed, teacher_shape=TeacherShape()):
        self.rng = np.random.default_rng(seed)
        self.samplers = [ZipfSampler(d) for d in cardinalities]
        self.missing = np.asarray(missing)
        self.teacher = teacher_shape.build([d + 1 for d in cardinalities], self.rng)
        self.teacher.calibrate(self.values(20000), self.rng)

    def values(self, size):
        values = np.stack([sampler(size, self.rng) for sampler in self.samplers], axis=1)
        missing = self.rng.random(values.shape) < self.missing
        return np.where(missing, [len(s.cdf) for s in self.samplers], values)

    def chunks(self, rows, chunk=100000):
        """Yields (labels, values) in chunks; deterministic for a seed."""
        for start in range(0, rows, chunk):
            values = self.values(min(chunk, rows - start))
            yield self.teacher.labels(values, self.rng), values


def text_tables(cardinalities, numeric, rng):
    """Per field: the text of each value index (plus '' for missing). Numeric: the integer; else 8 hex chars."""
    tables = []
    for position, d in enumerate(cardinalities):
        if position < numeric:
            texts = [str(v) for v in range(d)]
        else:
            texts = [format(h, "08x") for h in rng.choice(2**32, size=d, replace=False)]
        tables.append(texts + [""])
    return tables


def write_lines(handle, tables, chunks, delimiter, prefix_columns):
    """Writes one line per row: prefix_columns(start, labels) then the field texts."""
    start = 0
    for labels, values in chunks:
        columns = prefix_columns(start, labels)
        columns += [list(map(table.__getitem__, values[:, f].tolist())) for f, table in enumerate(tables)]
        handle.write("".join(line + "\n" for line in map(delimiter.join, zip(*columns))))
        start += len(labels)


def criteo_source(seed=0, max_cardinality=20000, teacher_shape=TeacherShape()):
    """(FieldGenerator, text tables) of the Criteo-shaped data, the random draws in write_criteo_tsv's order."""
    cardinalities = criteo_cardinalities(max_cardinality)
    generator = FieldGenerator(cardinalities, CRITEO_MISSING, seed, teacher_shape)
    return generator, text_tables(cardinalities, CRITEO_NUMERIC, generator.rng)


def write_criteo_tsv(path, rows, seed=0, max_cardinality=20000, teacher_shape=TeacherShape()):
    """Writes `rows` Kaggle-format Criteo lines (label, I1..I13, C1..C26) to `path`."""
    generator, tables = criteo_source(seed, max_cardinality, teacher_shape)
    with open(path, "w") as handle:
        write_lines(handle, tables, generator.chunks(rows), "\t", lambda _, labels: [list(map(str, labels.tolist()))])


def write_avazu_csv(path, rows, seed=0, max_cardinality=AVAZU_FULL_MAX, teacher_shape=TeacherShape()):
    """Writes `rows` Kaggle-format Avazu lines (header; id, click, hour, C1..C21) to `path`."""
    scale = max_cardinality / AVAZU_FULL_MAX
    cardinalities = [len(AVAZU_HOURS)] + [max(4, min(d, int(round(d * scale)))) if d > 30 else d
                                          for d in AVAZU_CARDINALITIES]
    generator = FieldGenerator(cardinalities, [0.0] * len(cardinalities), seed, teacher_shape)
    tables = text_tables(cardinalities, 0, generator.rng)
    tables[0] = AVAZU_HOURS + [AVAZU_HOURS[0]]

    def id_and_click(start, labels):
        return [[str(10**18 + start + i) for i in range(len(labels))], list(map(str, labels.tolist()))]

    with open(path, "w") as handle:
        handle.write(",".join(AVAZU_COLUMNS) + "\n")
        write_lines(handle, tables, generator.chunks(rows), ",", id_and_click)


def write_tfrecord_dir(output_dir, rows, seed=0, max_cardinality=20000, min_count=10, teacher_shape=TeacherShape(),
                       split_seed=None):
    """A converted directory (schema.json + TFRecords): synthetic Criteo TSV through datasets.conversion.

    The split permutation's seed is `split_seed`, or `seed` when None (trainers.quickstart converts with
    0). schema.json's source records the seed, max_cardinality and the teacher (TeacherShape.record).
    The directory is converted beside `output_dir` and renamed into place only when complete.
    """
    from datasets.conversion import convert, publish
    from datasets.criteo import TSV
    from datasets.schema import write_schema

    staging = f"{output_dir.rstrip(os.sep)}.synthetic-{os.getpid()}"
    try:
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "synthetic.txt")
            write_criteo_tsv(path, rows, seed, max_cardinality, teacher_shape)
            schema = convert(TSV, path, staging, min_count, seed=seed if split_seed is None else split_seed,
                             overwrite=True)
        schema["source"].update(seed=seed, max_cardinality=max_cardinality, teacher=teacher_shape.record())
        write_schema(schema, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(staging, output_dir)
    return schema


FLAGS = flags.FLAGS


def define_teacher_flags():
    flags.DEFINE_enum("teacher", TEACHERS[0], TEACHERS, "Teacher that labels the rows (docs/data.md).")
    flags.DEFINE_integer("teacher_patterns", TeacherShape.patterns, "Pairwise patterns of the planted teacher.")
    flags.DEFINE_integer("teacher_pairs", TeacherShape.pairs_per_pattern, "Field pairs per pattern.")
    flags.DEFINE_integer("teacher_latent_dim", TeacherShape.latent_dim, "Latent size of each pattern.")


def teacher_shape_from_flags():
    if min(FLAGS.teacher_patterns, FLAGS.teacher_pairs, FLAGS.teacher_latent_dim) < 1:
        raise app.UsageError("--teacher_patterns, --teacher_pairs and --teacher_latent_dim must be >= 1")
    try:
        return TeacherShape(FLAGS.teacher_patterns, FLAGS.teacher_pairs, FLAGS.teacher_latent_dim, FLAGS.teacher)
    except ValueError as error:
        raise app.UsageError(str(error)) from None


def main(argv):
    del argv
    shape = teacher_shape_from_flags()
    if FLAGS.format == "avazu_csv":
        write_avazu_csv(FLAGS.output, FLAGS.rows, FLAGS.seed, FLAGS.max_cardinality or AVAZU_FULL_MAX, shape)
    elif FLAGS.format == "criteo_tsv":
        write_criteo_tsv(FLAGS.output, FLAGS.rows, FLAGS.seed, FLAGS.max_cardinality or CRITEO_FULL_MAX, shape)
    else:
        write_tfrecord_dir(FLAGS.output, FLAGS.rows, FLAGS.seed, FLAGS.max_cardinality or CRITEO_FULL_MAX,
                           teacher_shape=shape)


if __name__ == "__main__":
    flags.DEFINE_enum("format", "criteo_tsv", ["criteo_tsv", "avazu_csv", "tfrecord"],
                      "criteo_tsv / avazu_csv: a raw Kaggle-format file; tfrecord: a converted directory.")
    flags.DEFINE_integer("rows", 100000, "Number of rows.")
    flags.DEFINE_string("output", None, "Output file (directory for --format=tfrecord).")
    flags.DEFINE_integer("seed", 0, "Random seed (the output is a function of it).")
    flags.DEFINE_integer("max_cardinality", None, "Values of the largest field (default: the full data set's).")
    define_teacher_flags()
    flags.mark_flag_as_required("output")
    app.run(main)
