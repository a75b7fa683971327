"""Throughput and size benchmarks (not run by the test suite).

Run as `python -m bench.<command>`, the command is quiet by default (console.quiet). Without TensorFlow and
with KERAS_BACKEND unset, the benchmarks run on the JAX backend (console.keras_backend).
"""

from console.keras_backend import default_to_jax
from console.quiet import configure_command_line

default_to_jax()
configure_command_line()
