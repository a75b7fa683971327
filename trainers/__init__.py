"""Training and analysis commands: `python -m trainers.<command>`.

Importing this package turns on TensorFlow's oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS=1) unless the
variable is already set. TensorFlow leaves them off on some CPUs (AMD ones, for instance), where they
train every backbone faster (README, "Training speed"). The switch is read once, when TensorFlow
loads, so it only applies if TensorFlow is imported after this package. Without TensorFlow and with
KERAS_BACKEND unset, the commands train on the JAX backend (console.keras_backend).

Run as `python -m trainers.<command>`, the command is quiet by default (console.quiet; `-v 0` for
TensorFlow's own log lines).
"""

import os

from console.keras_backend import default_to_jax
from console.quiet import configure_command_line

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
default_to_jax()
configure_command_line()
