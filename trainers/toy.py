"""Toy experiment of the interaction-collapse theory (paper Appendix G, Figure 4).

    python -m trainers.toy --output_dir=/tmp/toy

Writes toy.json ({"small": {"third_cardinality": 3, "ia": [...], "final_ia": x}, "large": {...},
"settings": {...}}; ia[t] is IA(E1) after t full-batch SGD iterations) and toy.png, and prints the
final IA(E1) of both cases. The paper's finding: "small" (D3 = 3) ends lower than "large" (D3 = 100).
"""

import json
import os
from typing import TYPE_CHECKING

from absl import app, flags

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_curves(results: dict, settings: dict, path: str) -> "Figure":
    """IA(E1) against the SGD iteration, one line per case (paper Figure 4)."""
    from trainers.plots import new_figure, save  # matplotlib: not for --help or a flag error

    figure, (axis,) = new_figure(6, 4.2)
    for name, case in results.items():
        axis.plot(case["ia"], label=rf"{name} field 3: $D_3$ = {case['third_cardinality']}")
    axis.set_xlabel("full-batch SGD iteration")
    axis.set_ylabel(rf"IA($E_1$) (max = K = {settings['embedding_dim']})")
    axis.set_title(f"Toy experiment (cf. paper Fig. 4): K = {settings['embedding_dim']}, learning rate "
                   f"{settings['learning_rate']:g}, seed {settings['seed']}", fontsize=10)
    axis.legend()
    return save(figure, path)


def define_flags() -> None:
    """The command's flags, defined only when it runs (importing this module defines none)."""
    flags.DEFINE_string("output_dir", None, "Directory for toy.json and toy.png.", required=True)
    flags.DEFINE_integer("iterations", 5000, "Full-batch SGD iterations (paper: 5,000).")
    flags.DEFINE_integer("seed", 0, "Seed of the embeddings, x3 and labels.")
    flags.DEFINE_integer("embedding_dim", 10, "Embedding size K (paper's base size: 10).")
    flags.DEFINE_float("learning_rate", 1.0, "SGD learning rate (paper: 1).")


def main(argv):
    from tf_multiemb.toy import run_toy_experiment  # imports Keras: not for --help or a flag error

    del argv
    values = flags.FLAGS
    output_dir = values.output_dir
    os.makedirs(output_dir, exist_ok=True)
    settings = {"iterations": values.iterations, "seed": values.seed, "embedding_dim": values.embedding_dim,
                "learning_rate": values.learning_rate}
    results = run_toy_experiment(**settings)
    with open(os.path.join(output_dir, "toy.json"), "w") as file:
        json.dump({**results, "settings": settings}, file)
    plot_curves(results, settings, os.path.join(output_dir, "toy.png"))
    for name, case in results.items():
        print(f"{name} (D3 = {case['third_cardinality']}): final IA(E1) = {case['final_ia']:.4f}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
