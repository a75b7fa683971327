"""Writes the scaling-study flagfiles configs/{criteo,avazu}/<model>_{se,me}_{1x,2x,3x,4x,10x}.flags.

    python configs/generate_flagfiles.py

Hyper-parameters are the paper's (Appendix C.2): Adam lr 1e-3, batch 2048, weight decay 1e-6,
early stopping on validation AUC with patience 3. Rerun after adding a backbone to the registry.
"""

import pathlib

MODELS = ("dnn", "ipnn", "nfwfm", "xdeepfm", "dcnv2", "finalmlp", "autoint", "fm", "ffm")
DATASETS = ("criteo", "avazu")
SCALES = (1, 2, 3, 4, 10)
EMBEDDINGS = {"se": "single", "me": "multi"}
CONFIG_DIR = pathlib.Path(__file__).resolve().parent


def flagfile(dataset, model, mode, scale):
    run_name = f"{model}_{mode}_{scale}x"
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


def main():
    for dataset in DATASETS:
        folder = CONFIG_DIR / dataset
        folder.mkdir(exist_ok=True)
        for model in MODELS:
            for mode in EMBEDDINGS:
                for scale in SCALES:
                    run_name, text = flagfile(dataset, model, mode, scale)
                    (folder / f"{run_name}.flags").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
