"""TensorFlow's first import in a command, wherever it happens: quiet when it loads, one line when it is missing.

While its shared libraries load, TensorFlow 2.21 logs through absl before absl::InitializeLog, where
TF_CPP_MIN_LOG_LEVEL does not apply: 'WARNING: All log messages before absl::InitializeLog() ...', then the
oneDNN and CUDA-stub INFO lines, once per library. The first time it looks for a GPU, on a machine without
one, it logs `failed call to cuInit` as an error, which a TF_CPP_MIN_LOG_LEVEL of 1 or 2 lets through.
`filter_load_time_lines()` puts a finder first on sys.meta_path, so that the first `import tensorflow` (by the
command, by Keras' TensorFlow backend or by TFDS) runs with the process's stderr captured and looks for the
GPUs once; then every captured line but absl's log lines is written back. Everything TensorFlow logs later
honours TF_CPP_MIN_LOG_LEVEL. A command that never imports TensorFlow never loads it.
"""

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator

# An absl log line (I1204 12:00:00.123456 1234 file.cc:52] ..., or with seconds since the epoch before absl
# is initialised) and the notice that precedes the early ones.
ABSL_LOG_LINE = re.compile(rb"^([IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] |WARNING: All log messages before absl::)")

# The packages of the `[tensorflow]` extra, by import name.
TENSORFLOW_PACKAGES = ("tensorflow", "tensorflow_datasets", "tensorflow_serving", "tensorboard")


@contextlib.contextmanager
def without_absl_log_lines() -> Iterator[None]:
    """Captures file descriptor 2 (C++ and Python writes alike) and writes back all but absl's log lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = b"".join(line for line in captured if not ABSL_LOG_LINE.match(line))
            with os.fdopen(os.dup(2), "wb") as stderr:
                stderr.write(kept)


class QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run without absl's log lines and followed by the first look for GPUs."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with without_absl_log_lines():
            self.loader.exec_module(module)
            module.config.list_physical_devices("GPU")  # logs `failed call to cuInit` where there is no GPU

    def __getattr__(self, name: str):
        return getattr(self.loader, name)  # resource readers and the like, as TensorFlow's loader has them


class QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the finders after it do, with QuietLoader to load it; ignores other names.

    A probe such as `importlib.util.find_spec("tensorflow")` gets the same answer and loads nothing.
    """

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if name != "tensorflow":
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = QuietLoader(spec.loader)
                return spec
        return None


def filter_load_time_lines() -> None:
    """Makes the process's first `import tensorflow` quiet (see the module docstring); no-op once it is loaded."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlowFinder())


def missing_tensorflow_package(error: BaseException) -> str | None:
    """The `[tensorflow]` extra's package whose absence raised `error`; None for any other error."""
    if isinstance(error, ModuleNotFoundError) and error.name:
        package = error.name.split(".")[0]
        return package if package in TENSORFLOW_PACKAGES else None
    return None


def explain_missing_tensorflow() -> None:
    """An uncaught ModuleNotFoundError for TensorFlow's packages prints one line saying what to install."""
    previous = sys.excepthook

    def excepthook(kind, error, traceback):
        package = missing_tensorflow_package(error)
        if package is None:
            previous(kind, error, traceback)
            return
        main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        command = f"python -m {main_spec.name}" if main_spec else "this command"
        print(f"error: {command} needs TensorFlow ({package} is not installed here): "
              "pip install -e '.[tensorflow]'", file=sys.stderr)

    sys.excepthook = excepthook
