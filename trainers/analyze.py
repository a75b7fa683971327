"""Embedding-collapse analysis of a training run (paper Sections 3, 4.1, 5.3; Appendices F, I).

    python -m trainers.analyze --run_dir=runs/dcnv2_me_10x [--compare_run_dir=runs/dcnv2_se_10x]

Reads `model.keras` (the best epoch's weights), `data_schema/schema.json` (field names, data set),
`results.json` (model, scale, best epoch) and `information_abundance.jsonl`, where present, from the run
directory and writes into --output_dir (default <run_dir>/analysis):
- spectra.png             each field's singular values up to its rank min(D_i, K), divided by the largest, on
                          a log axis from 1e-3; colour: the field's cardinality D_i (Figure 1b)
- field_ia.png            IA per field, run vs compare run (Figure 8b)
- sub_embedding_ia.png    IA(E_i^{->j}) heatmap and its row/column sums (Figures 3, 9; DCNv2 only)
- interaction_pattern.png ||W_{i->j}^{(m)}||_F per set (Figure 10b; multi-embedding DCNv2 only)
- diversity.png           principal-angle diversity, run / compare run / random (Figure 10a)
- ia_over_epochs.png      mean IA per epoch from information_abundance.jsonl
- summary.md, summary.json the numbers behind the plots (the figures are drawn from summary.json alone)
"""

import os
import sys

from absl import app, flags


def define_flags() -> None:
    """The command's flags, defined only when it runs (importing this module defines none)."""
    flags.DEFINE_string("run_dir", None, "Training run directory holding model.keras and data_schema/schema.json.",
                        required=True)
    flags.DEFINE_string("output_dir", None, "Where plots and summary go (default: <run_dir>/analysis).")
    flags.DEFINE_string("compare_run_dir", None, "A second run to compare with (e.g. SE vs ME).")
    flags.DEFINE_integer("base_embedding_dim", 10,
                         "K0: a single-embedding table of width s*K0 is split into s sets for diversity.")
    flags.DEFINE_integer("random_samples", 16, "Monte Carlo samples for E[IA(randn_like(E))].")
    flags.DEFINE_integer("seed", 0, "Seed of the random-matrix baselines.")


def main(argv):
    from trainers.run_analysis import RunError, analyze_run  # imports Keras: not for --help or a flag error

    del argv
    values = flags.FLAGS
    output_dir = values.output_dir or os.path.join(values.run_dir, "analysis")
    try:
        written = analyze_run(values.run_dir, output_dir, values.compare_run_dir, values.base_embedding_dim,
                              values.random_samples, values.seed)
    except RunError as error:
        sys.exit(f"error: {error}")
    for path in written:
        print(path)


if __name__ == "__main__":
    define_flags()
    app.run(main)
