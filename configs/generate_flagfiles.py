"""Writes the scaling-study flagfiles configs/{criteo,avazu}/<model>_{se,me}_{1x,2x,3x,4x,10x}.flags.

    python configs/generate_flagfiles.py
    python configs/generate_flagfiles.py --model=mymodule:my_backbone --output_dir=my_configs

Hyper-parameters are the paper's (Appendix C.2): Adam lr 1e-3, batch 2048, weight decay 1e-6,
early stopping on validation AUC with patience 3. `--model` (repeatable) writes the files of other
backbones, such as one your module registers with `tf_multiemb.register_backbone`
(`package.module:name`, checked by importing it; the files are named after `name`).
"""

import pathlib
import sys

from absl import app, flags

from tf_multiemb.models.registry import import_backbone

MODELS = ("dnn", "ipnn", "nfwfm", "xdeepfm", "dcnv2", "finalmlp", "autoint", "fm", "ffm")
DATASETS = ("criteo", "avazu")
SCALES = (1, 2, 3, 4, 10)
EMBEDDINGS = {"se": "single", "me": "multi"}
CONFIG_DIR = pathlib.Path(__file__).resolve().parent


def flagfile(dataset, model, mode, scale):
    run_name = f"{model.rsplit(':', 1)[-1]}_{mode}_{scale}x"
    flags = [
        f"--data_dir=data/{dataset}",
        f"--model={model}",
        f"--embedding={EMBEDDINGS[mode]}",
        f"--scale={scale}",
        "--batch_size=2048",
        "--learning_rate=0.001",
        "--weight_decay=1e-6",
        "--epochs=30",
        "--patience=3",
        "--seed=0",
        f"--output_dir=runs/{dataset}/{run_name}",
    ]
    return run_name, "\n".join(flags) + "\n"


def main(argv):
    del argv
    models = flags.FLAGS.model or MODELS
    for model in models:
        try:
            import_backbone(model)
        except ValueError as error:
            sys.exit(f"error: {error}")
    for dataset in DATASETS:
        folder = pathlib.Path(flags.FLAGS.output_dir) / dataset
        folder.mkdir(parents=True, exist_ok=True)
        for model in models:
            for mode in EMBEDDINGS:
                for scale in SCALES:
                    run_name, text = flagfile(dataset, model, mode, scale)
                    (folder / f"{run_name}.flags").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    flags.DEFINE_multi_string("model", [], "Backbone (repeatable): a built-in name or package.module:name; "
                              "default: every built-in backbone.")
    flags.DEFINE_string("output_dir", str(CONFIG_DIR), "Where the <dataset>/<model>_<mode>_<scale>x.flags go.")
    sys.path.insert(0, ".")  # run as a script: makes a module in the working directory importable
    app.run(main)
