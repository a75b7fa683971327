"""Runs `python -m MODULE ARGS...` in a process where importing TensorFlow (or TensorBoard) raises ImportError.

    python tests/run_without_tensorflow.py trainers.fit --data_dir=... 

Stands in for a machine without TensorFlow (the JAX/GPU install), with the Keras JAX backend.
"""

import importlib.abc
import os
import runpy
import sys

BLOCKED = ("tensorflow", "tensorboard", "tensorflow_datasets", "tensorflow_serving", "tf_keras")


class TensorFlowBlocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (blocked: this process stands in for a machine without it)")
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, TensorFlowBlocker())
    os.environ["KERAS_BACKEND"] = "jax"
    sys.path.insert(0, os.getcwd())
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
