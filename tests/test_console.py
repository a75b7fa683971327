"""console.quiet: quiet command-line tools by default, TensorFlow's own lines back with -v."""

import os
import re
import subprocess
import sys

import pytest

from console.quiet import command_line_verbosity, tf_cpp_min_log_level

# A TensorFlow/absl log line: I1204 12:00:00 ..., W0000 00:00:..., E1204 ..., or Python's WARNING:tensorflow.
FRAMEWORK_LINE = re.compile(r"^([IWE]\d{4} |WARNING:tensorflow|WARNING: All log messages)", flags=re.M)


def command_environment():
    """This process's environment without TF_CPP_MIN_LOG_LEVEL, which importing JAX (through Keras) sets to 1
    here; a command started from a shell does not inherit it."""
    return {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}


@pytest.mark.parametrize("arguments, verbosity", [
    (["--output_dir=x"], None),
    (["--verbosity=1"], 1),
    (["-v", "0"], 0),
    (["-v=-1", "--output_dir=x"], -1),
    (["--verbosity", "0", "-v", "-2"], -2),  # the last one wins, as in absl
    (["--verbosity"], None),  # no value: absl reports the error itself
    (["--verbosity=loud"], None),
    (["--v=1", "-vv"], None),  # not absl's names for it
])
def test_verbosity_from_the_command_line(arguments, verbosity):
    assert command_line_verbosity(arguments) == verbosity


@pytest.mark.parametrize("verbosity, level", [(1, "0"), (0, "0"), (-1, "1"), (-2, "2"), (-3, "3"), (-7, "3")])
def test_tensorflow_cpp_level_follows_verbosity(verbosity, level):
    assert tf_cpp_min_log_level(verbosity) == level


def run_toy(tmp_path, *arguments):
    completed = subprocess.run([sys.executable, "-m", "trainers.toy", f"--output_dir={tmp_path}", "--iterations=2",
                                *arguments], capture_output=True, text=True, env=command_environment())
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed


def test_a_command_is_quiet_by_default_and_verbose_on_request(tmp_path):
    quiet = run_toy(tmp_path)
    assert quiet.stderr == ""
    assert quiet.stdout.splitlines()[0].startswith("small (D3 = 3): final IA(E1) = ")
    verbose = run_toy(tmp_path, "-v", "0")
    assert "oneDNN custom operations are on" in verbose.stderr  # TensorFlow's INFO line as it loads
    assert FRAMEWORK_LINE.search(verbose.stderr)
    assert verbose.stdout == quiet.stdout


def test_known_harmless_warnings_are_filtered_by_message_only():
    """As `python -m` runs it (sys.argv[0] is '-m' while the package loads): Keras' shuffle warning goes,
    any other warning stays."""
    code = ("import sys, warnings; sys.argv[0] = '-m'; import trainers; "
            "warnings.warn('`shuffle=True` was passed, but will be ignored since the data `x` was provided as a "
            "tf.data.Dataset. The Dataset is expected to already be shuffled'); "
            "warnings.warn('Your input ran out of data; interrupting training.'); "
            "warnings.warn('a real problem: shuffle=True was passed for a list')")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env=command_environment())
    assert "a real problem" in completed.stderr
    assert "ignored since" not in completed.stderr and "ran out of data" not in completed.stderr
