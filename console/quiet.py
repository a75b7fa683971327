"""Quiet console defaults for the command-line tools (`python -m datasets.*`, `trainers.*`, `export.*`, `bench.*`).

A command shows its own progress, the epoch lines and one warning per real problem. By default it hides
TensorFlow's C++ log (TF_CPP_MIN_LOG_LEVEL=3: the oneDNN, CPU-feature and CUDA lines), the lines TensorFlow
logs while it loads and when it first looks for a GPU (console.tensorflow_import; these also under an explicit
TF_CPP_MIN_LOG_LEVEL of 1 or 2), TensorFlow's and absl's Python INFO and WARNING records, and the Python
warnings listed in HARMLESS_WARNINGS. `--verbosity=N` (or `-v N`) on the command line brings them back:
absl's own flag, and TF_CPP_MIN_LOG_LEVEL follows it (N >= 0: everything, -1: warnings and errors, -2:
errors). An explicit TF_CPP_MIN_LOG_LEVEL in the environment always wins for what TensorFlow logs once loaded.

The command packages' `__init__`s call `configure_command_line()`, so the settings are in place before TensorFlow
loads (its C++ log level is read once, at import), without loading it: a command that does not need
TensorFlow never imports it. They apply only to `python -m package.module`, never to a program that imports
the packages as a library.
"""

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from console import tensorflow_import

QUIET_TF_CPP_MIN_LOG_LEVEL = "3"
QUIET_ABSL_VERBOSITY = -2  # absl's ERROR

# Known and harmless, matched by message (regular expressions from the start of the message).
HARMLESS_WARNINGS = (
    # model.fit on a tf.data.Dataset: the train stream is shuffled in datasets.reader, as Keras asks.
    r"`shuffle=True` was passed, but will be ignored since the data `x` was provided as a tf\.data\.Dataset",
    # Keras says this whenever a dataset of unknown length (the validation split) reaches its end.
    r"Your input ran out of data; interrupting training",
)


def command_line_verbosity(arguments: Sequence[str]) -> int | None:
    """The value of --verbosity / -v among the command-line arguments (the last one wins); None if absent."""
    verbosity = None
    for index, argument in enumerate(arguments):
        name, equals, value = argument.partition("=")
        if name not in ("--verbosity", "-v"):
            continue
        if not equals:
            value = arguments[index + 1] if index + 1 < len(arguments) else ""
        try:
            verbosity = int(value)
        except ValueError:
            continue  # absl rejects the value itself, with its own message
    return verbosity


def tf_cpp_min_log_level(verbosity: int) -> str:
    """TensorFlow's C++ log level for an absl verbosity: 0 INFO, 1 WARNING, 2 ERROR, 3 none."""
    return str(min(max(-verbosity, 0), 3))


def configure(arguments: Sequence[str]) -> None:
    """Quiet defaults, unless the arguments ask for a --verbosity."""
    verbosity = command_line_verbosity(arguments)
    if verbosity is not None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", tf_cpp_min_log_level(verbosity))
        return
    from absl import flags
    from absl import logging as absl_logging  # noqa: F401  (defines --verbosity)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_CPP_MIN_LOG_LEVEL)
    flags.FLAGS.verbosity = QUIET_ABSL_VERBOSITY  # not a default: absl.app would raise a default to INFO
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # also for commands without absl.app
    for message in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0":
        tensorflow_import.filter_load_time_lines()


def configure_command_line() -> None:
    """configure(command-line arguments), and one line for a missing TensorFlow, when Python runs
    `-m package.module` (sys.argv[0] is '-m' while the package is imported); nothing otherwise."""
    if sys.argv[:1] == ["-m"]:
        tensorflow_import.explain_missing_tensorflow()
        configure(sys.argv[1:])


def add_verbosity_argument(parser: argparse.ArgumentParser) -> None:
    """--verbosity/-v for a command that parses its arguments with argparse (configure has read it already)."""
    parser.add_argument("-v", "--verbosity", type=int, default=None,
                        help="Show TensorFlow's log lines and Python warnings (0: INFO and up; -1: warnings).")
