"""What the synthetic data's planted teacher asks of a model: its AUC ceiling and its latent rank per field.

    python -m bench.teacher_ceiling --rows=1000000 --seed=0

Regenerates the rows `python -m datasets.synthetic --format=criteo_tsv` writes for the same rows, seed,
max_cardinality and teacher flags (same labels, draw for draw) and scores them with the teacher's noiseless logit parts:
first-order terms alone, plus the pairwise patterns, plus the three-way product. The last is the Bayes
ceiling on the raw values: no model can rank clicks better than the logit they were drawn from.

A model does not see the raw values, though: the converter buckets the numeric fields and maps every
token seen fewer than min_count times to its field's OOV id. The same three scores computed from the
converted ids -- each teacher weight replaced by its mean over the raw values that share an id, which
is E[logit | ids] because the fields are drawn independently -- are scores a model of the ids can reach
(a lower bound of the Bayes AUC on the ids). All AUCs are over every row; the test split is a random
tenth of them. The latent rank per field is the number of directions the pairwise patterns give a field
(latent_dim per pattern that pairs it), to compare with K0 = 10.
"""

import argparse
import copy

import numpy as np

from console.quiet import add_verbosity_argument
from datasets import synthetic
from datasets.tokens import categorical_token, numeric_token
from tf_multiemb.metrics import roc_auc

SCORES = (("first-order terms", ("first_order",)),
          ("+ pairwise patterns", ("first_order", "pairwise")),
          ("+ three-way product (noiseless logit)", ("first_order", "pairwise", "three_way")))


def regenerate(rows, seed, max_cardinality, teacher_shape=synthetic.TeacherShape()):
    """(labels, value indices, text tables, teacher) of the rows write_criteo_tsv writes for these arguments."""
    generator, tables = synthetic.criteo_source(seed, max_cardinality, teacher_shape)
    labels, values = zip(*generator.chunks(rows))
    return np.concatenate(labels), np.concatenate(values), tables, generator.teacher


def converted_ids(column, texts, numeric, min_count):
    """Per value index of one field: the id class the converter gives it (its token, or -1 for OOV)."""
    tokens = [numeric_token(text) if numeric else categorical_token(text) for text in texts]
    token_ids = {token: position for position, token in enumerate(dict.fromkeys(tokens))}
    token_of_index = np.array([token_ids[token] for token in tokens])
    token_counts = np.bincount(token_of_index[column], minlength=len(token_ids))
    return np.where(token_counts[token_of_index] >= min_count, token_of_index, -1)


def mean_over_ids(weights, column, ids):
    """Each value index's weight replaced by the frequency-weighted mean of the weights sharing its id."""
    classes = ids + 1  # OOV (-1) becomes class 0
    frequency = np.bincount(column, minlength=len(ids)).astype(np.float64)
    flat = weights.reshape(len(ids), -1)
    totals = np.zeros((classes.max() + 1, flat.shape[1]))
    np.add.at(totals, classes, flat * frequency[:, None])
    counts = np.bincount(classes, weights=frequency)
    means = totals / np.maximum(counts, 1.0)[:, None]
    return means[classes].reshape(weights.shape).astype(weights.dtype)


def teacher_on_ids(teacher, values, tables, min_count):
    """A copy of the teacher whose weights are their means over each converted id (E[logit | ids])."""
    seen = copy.deepcopy(teacher)
    for field, texts in enumerate(tables):
        ids = converted_ids(values[:, field], texts, field < synthetic.CRITEO_NUMERIC, min_count)
        seen.first_order[field] = mean_over_ids(teacher.first_order[field], values[:, field], ids)
        latents = np.moveaxis(teacher.latents[field], 1, 0)  # (values, patterns, latent_dim)
        seen.latents[field] = np.moveaxis(mean_over_ids(latents, values[:, field], ids), 0, 1)
        if field in seen.triple:
            slot = seen.triple.index(field)
            seen.triple_weights[slot] = mean_over_ids(teacher.triple_weights[slot], values[:, field], ids)
    return seen


def field_cardinalities(values, tables, min_count):
    """D_i of each field as the converter counts them: kept tokens plus the OOV id."""
    return [len(np.unique(ids[ids >= 0])) + 1 for ids in (
        converted_ids(values[:, field], texts, field < synthetic.CRITEO_NUMERIC, min_count)
        for field, texts in enumerate(tables))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_verbosity_argument(parser)
    parser.add_argument("--rows", type=int, default=1000000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max_cardinality", type=int, default=synthetic.CRITEO_FULL_MAX)
    parser.add_argument("--min_count", type=int, default=10, help="the converter's --min_count")
    parser.add_argument("--teacher_patterns", type=int, default=synthetic.TeacherShape.patterns)
    parser.add_argument("--teacher_pairs", type=int, default=synthetic.TeacherShape.pairs_per_pattern)
    parser.add_argument("--teacher_latent_dim", type=int, default=synthetic.TeacherShape.latent_dim)
    args = parser.parse_args(argv)
    shape = synthetic.TeacherShape(args.teacher_patterns, args.teacher_pairs, args.teacher_latent_dim)
    labels, values, tables, teacher = regenerate(args.rows, args.seed, args.max_cardinality, shape)
    raw = teacher.components(values)
    seen = teacher_on_ids(teacher, values, tables, args.min_count).components(values)
    print(f"{args.rows:,} rows, seed {args.seed}, click rate {labels.mean():.4f}, "
          f"sum D_i = {sum(field_cardinalities(values, tables, args.min_count)):,} after min_count {args.min_count}\n")
    print("| teacher score | AUC from the raw values | AUC from the converted ids |\n|---|---|---|")
    for name, keys in SCORES:
        print(f"| {name} | {roc_auc(labels, sum(raw[key] for key in keys)):.5f} | "
              f"{roc_auc(labels, sum(seen[key] for key in keys)):.5f} |")
    dims = [teacher.pattern_dims(field) for field in range(len(teacher.latents))]
    print(f"\nPairwise-pattern directions per field (latent rank the teacher needs): mean {np.mean(dims):.2f}, "
          f"max {max(dims)}, fields with none {dims.count(0)} of {len(dims)}")


if __name__ == "__main__":
    main()
