"""Training and analysis commands: `python -m trainers.<command>`.

Importing this package turns on TensorFlow's oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS=1) unless the
variable is already set. TensorFlow leaves them off on some CPUs (AMD ones, for instance), where they
train every backbone faster (README, "Training speed"). The switch is read once, when TensorFlow
loads, so it only applies if TensorFlow is imported after this package.

Run as `python -m trainers.<command>`, the command is quiet by default (trainers.console; `-v 0` for
TensorFlow's own log lines).
"""

import os

from trainers.console import configure_command_line

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
configure_command_line()
