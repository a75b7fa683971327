"""Runs `python -m MODULE ARGS...` in a process where TensorFlow and its packages are not installed.

    python tests/run_without_tensorflow.py trainers.fit --data_dir=...

Stands in for a machine without TensorFlow (the `[jax]` install), with KERAS_BACKEND unset: `sys.modules`
holds None for the blocked packages, so that importing one raises ModuleNotFoundError and
`importlib.util.find_spec` finds nothing, as where they are not installed. The module runs through the
function `python -m` calls (runpy's `_run_module_as_main`): sys.argv[0] is '-m' while its package loads, and
the module is `__main__` until the process ends.
"""

import os
import runpy
import sys

BLOCKED = ("tensorflow", "tensorboard", "tensorflow_datasets", "tensorflow_serving", "tf_keras")

if __name__ == "__main__":
    sys.modules.update(dict.fromkeys(BLOCKED))
    os.environ.pop("KERAS_BACKEND", None)
    sys.path.insert(0, os.getcwd())
    module, sys.argv = sys.argv[1], ["-m", *sys.argv[2:]]
    runpy._run_module_as_main(module)
