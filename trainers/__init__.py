"""Training and analysis commands: `python -m trainers.<command>`.

Importing this package turns on TensorFlow's oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS=1) unless the
variable is already set. TensorFlow leaves them off on some CPUs (AMD ones, for instance), where they
train every backbone faster (README, "Training speed"). The switch is read once, when TensorFlow
loads, so it only applies if TensorFlow is imported after this package.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
