"""One training run's configuration: the fit CLI's flags and the sweep's per-run settings."""

import ast
import dataclasses
import os


@dataclasses.dataclass
class FitConfig:
    """Every field is also a `trainers.fit` flag of the same name (defaults: paper Appendix C.2)."""

    data_dir: str = ""
    model: str = "dcnv2"
    embedding: str = "single"
    scale: int = 1
    embedding_dim: int = 0
    hidden_units: str = "400,400"
    dropout: float = 0.2
    batch_size: int = 2048
    learning_rate: float = 1e-3
    weight_decay: float = 1e-6
    sparse_embedding_updates: bool = False
    shard_embeddings: bool = False
    epochs: int = 30
    patience: int = 3
    steps_per_epoch: int = 0
    seed: int = 0
    deterministic: bool = False
    input_workers: int = 2
    steps_per_execution: int = 0
    async_callbacks: bool = True
    matmul_precision: str = "float32"
    cpu_devices: int = 0
    job_addresses: str = ""
    num_processes: int = 0
    process_id: int = -1
    interaction_arg: tuple = ()
    output_dir: str = ""
    verbose: int = 2


HELP = {
    "data_dir": "Directory written by datasets.criteo / datasets.avazu (schema.json + TFRecords).",
    "model": "Backbone name (see tf_multiemb.BACKBONES).",
    "embedding": "single (one set of width scale*K0) or multi (scale sets of width K0).",
    "scale": "Scaling factor s: 1, 2, 3, 4, 10 in the paper.",
    "embedding_dim": "Base embedding size K0; 0 uses the paper's (10; 50 for nfwfm).",
    "hidden_units": "Comma-separated MLP widths; the first is the per-set projection.",
    "dropout": "Dropout rate of the MLP blocks.",
    "batch_size": "Global batch size (split across replicas).",
    "learning_rate": "Adam learning rate.",
    "weight_decay": "Coupled L2 weight decay on all parameters (PyTorch Adam semantics).",
    "sparse_embedding_updates": "Lazy Adam: update only the embedding rows a batch touches (faster on large "
                                "vocabularies; untouched rows keep their moments and skip weight decay).",
    "shard_embeddings": "JAX: split the embedding table's rows (and Adam's moments) between all devices, each "
                        "holding 1/N, instead of a copy on every device (rows padded to a multiple of N).",
    "epochs": "Maximum number of epochs.",
    "patience": "Early-stopping patience on validation AUC (best weights are restored).",
    "steps_per_epoch": "Train steps per epoch; 0 means one pass over the train split.",
    "seed": "Seed of initialisation, shuffling and dropout.",
    "deterministic": "Enable TensorFlow op determinism (bit-identical CPU runs).",
    "input_workers": "JAX: threads decoding the next train batches ahead of the training loop (0: on the loop's "
                     "thread). The batches and their order are the same for every value.",
    "steps_per_execution": "Train steps run by one compiled call; 0 chooses the backend's default (1 on TensorFlow, 4 "
                           "on JAX). Lowered to the largest divisor of the steps per epoch.",
    "async_callbacks": "JAX: run the per-step callbacks (the NaN/Inf check) off the training thread, so that no "
                       "step waits for the previous one's loss (one device only: over several they run in step); "
                       "--noasync_callbacks checks every loss in step.",
    "matmul_precision": "Matrix-multiply precision on GPUs: float32 (default, the paper's), tf32 (TensorFloat-32 "
                        "inputs, float32 accumulation) or bf16 (JAX only). CPUs compute float32 in every case.",
    "cpu_devices": "Split the CPU into this many logical devices for MirroredStrategy (0: no split).",
    "job_addresses": "JAX multi-process: the coordinator's host:port (process 0's; or every process's, "
                     "comma-separated). Empty: $KERAS_DISTRIBUTION_JOB_ADDRESSES.",
    "num_processes": "JAX multi-process: how many processes train together (keras.distribution.initialize); 0: "
                     "$KERAS_DISTRIBUTION_NUM_PROCESSES, else 1 (one process).",
    "process_id": "JAX multi-process: this process's index, 0 to num_processes - 1 (0 writes the run directory); "
                  "-1: $KERAS_DISTRIBUTION_PROCESS_ID.",
    "interaction_arg": "name=value argument of the backbone's interaction layer (repeatable).",
    "output_dir": "Where results go: the run directory (fit) or the root of all run directories (sweep).",
    "verbose": "Keras fit verbosity (0, 1 progress bar, 2 one line per epoch).",
}


NUM_PROCESSES_VARIABLE = "KERAS_DISTRIBUTION_NUM_PROCESSES"


def requested_processes(config) -> int:
    """The processes a run asks for: --num_processes, else $KERAS_DISTRIBUTION_NUM_PROCESSES, else 1 (JAX only)."""
    text = os.environ.get(NUM_PROCESSES_VARIABLE) or "1"
    if not config.num_processes and not text.isdigit():
        raise ValueError(f"${NUM_PROCESSES_VARIABLE} must be a whole number, got {text!r}")
    return config.num_processes or int(text)


def parse_interaction_args(pairs):
    """['num_layers=3', 'orthogonal_regularization=1e-5'] -> {'num_layers': 3, ...}."""
    parsed = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"--interaction_arg must look like name=value, got {pair!r}")
        try:
            parsed[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed[name] = text
    return parsed


def hidden_units(config):
    return [int(width) for width in config.hidden_units.split(",") if width.strip()]


def as_flagfile(config):
    """The resolved configuration as absl flagfile lines."""
    lines = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, tuple):
            lines.extend(f"--{field.name}={item}" for item in value)
        elif isinstance(value, bool):
            lines.append(f"--{field.name}" if value else f"--no{field.name}")
        else:
            lines.append(f"--{field.name}={value}")
    return "\n".join(lines) + "\n"
