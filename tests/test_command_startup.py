"""How the commands start (issue 37; issue 36 item 10): TensorFlow only where it is used, quiet when it loads,
and the JAX backend, said so, where TensorFlow is not installed."""

import subprocess
import sys

import pytest

from tests.test_console import command_environment
from tests.test_jax_backend import REPO, without_tensorflow

# Runs `python -m MODULE ARGS...` through the function `python -m` calls, then says on its last stderr line
# whether TensorFlow was imported.
PROBE = ("import atexit, runpy, sys\n"
         "atexit.register(lambda: print('tensorflow imported:', 'tensorflow' in sys.modules, file=sys.stderr))\n"
         "module, sys.argv = sys.argv[1], ['-m', *sys.argv[2:]]\n"
         "runpy._run_module_as_main(module)\n")

COMMANDS = ["datasets.criteo", "datasets.avazu", "datasets.synthetic", "trainers.fit", "trainers.sweep",
            "trainers.analyze", "trainers.toy", "trainers.data_amount", "trainers.quickstart", "export.predict",
            "export.grpc_client"]
TINY_FIT = ["--model=dnn", "--embedding=single", "--embedding_dim=4", "--hidden_units=8", "--batch_size=500",
            "--epochs=1", "--verbose=0"]


def probe(module, *arguments):
    return subprocess.run([sys.executable, "-c", PROBE, module, *arguments], cwd=REPO, capture_output=True,
                          text=True, env=command_environment(), timeout=120)


@pytest.mark.parametrize("module", COMMANDS)
def test_help_does_not_import_tensorflow(module):
    completed = probe(module, "--help")
    assert completed.returncode == 1 and "Try --helpfull to get a list of all flags." in completed.stdout
    assert completed.stderr.splitlines()[-1] == "tensorflow imported: False"


@pytest.mark.parametrize("module", ["datasets.criteo", "trainers.fit", "export.predict"])
def test_a_flag_error_does_not_import_tensorflow(module):
    completed = probe(module, "--no_such_flag")
    assert "Unknown command line flag 'no_such_flag'" in completed.stderr
    assert completed.stderr.splitlines()[-1] == "tensorflow imported: False"


def test_tensorflow_loads_quietly_and_the_run_says_there_is_no_gpu(synthetic_criteo_dir, tmp_path):
    """TF_CPP_MIN_LOG_LEVEL=2 lets TensorFlow's `failed call to cuInit` error through; the command filters it."""
    completed = subprocess.run(
        [sys.executable, "-m", "trainers.fit", f"--data_dir={synthetic_criteo_dir}", f"--output_dir={tmp_path}",
         *TINY_FIT], cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**command_environment(), "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stderr.splitlines() == ["training on the CPU (no GPU found), 1 replica; Keras backend tensorflow"]


def test_without_tensorflow_a_run_uses_jax_and_says_why(synthetic_criteo_dir, tmp_path):
    completed = subprocess.run(
        without_tensorflow("trainers.fit", f"--data_dir={synthetic_criteo_dir}", f"--output_dir={tmp_path}",
                           *TINY_FIT), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stderr.splitlines() == [
        "training on the CPU (no GPU found), 1 replica; Keras backend jax (TensorFlow is not installed)"]


@pytest.mark.parametrize("module", ["datasets.reader", "export.saved_model"])
def test_without_tensorflow_a_command_that_needs_it_says_what_to_install(module):
    completed = subprocess.run(without_tensorflow(module, "--help"), cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == 1
    assert completed.stderr.splitlines() == [f"error: python -m {module} needs TensorFlow (tensorflow is not "
                                             "installed here): pip install -e '.[tensorflow]'"]
