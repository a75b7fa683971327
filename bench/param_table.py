"""Markdown table of total and embedding parameters per model x {SE, ME} x scale, Criteo-shaped fields.

    python -m bench.param_table [--vocab 1070000] [--scales 1 2 3 4 10]

Non-embedding parameters do not depend on the cardinalities, so each model is built once with
one id per field and the embedding table (sum D_i x M*K) is added analytically; no 1.08M-row
tables are allocated.
"""

import argparse

from bench.criteo_shape import CRITEO_VOCABULARY, criteo_like_field_dims
from console.quiet import add_verbosity_argument
from tf_multiemb import BACKBONES, build_model
from tf_multiemb.models import embedding_layout


def parameter_counts(name, embedding, scale, field_dims):
    """(total, embedding) parameter counts of a model at full vocabulary."""
    num_sets, width = embedding_layout(name, embedding, scale, num_fields=len(field_dims))
    tiny = build_model(name, [1] * len(field_dims), embedding=embedding, scale=scale)
    embedding_parameters = sum(field_dims) * num_sets * width
    return tiny.count_params() - tiny.embedding_parameter_count() + embedding_parameters, embedding_parameters


def millions(count):
    return f"{count / 1e6:.2f}M"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_verbosity_argument(parser)
    parser.add_argument("--vocab", type=int, default=CRITEO_VOCABULARY, help="sum of the 39 field cardinalities")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 3, 4, 10])
    parser.add_argument("--models", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    args = parser.parse_args(argv)
    field_dims = criteo_like_field_dims(args.vocab)
    print(f"Criteo-shaped: {len(field_dims)} fields, sum D_i = {sum(field_dims):,}; cells: total / embedding\n")
    print("| model | mode | " + " | ".join(f"{s}x" for s in args.scales) + " |")
    print("|---|---|" + "---|" * len(args.scales))
    for name in args.models:
        for embedding, label in (("single", "SE"), ("multi", "ME")):
            cells = [" / ".join(map(millions, parameter_counts(name, embedding, s, field_dims))) for s in args.scales]
            print(f"| {name} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
