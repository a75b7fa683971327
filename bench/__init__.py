"""Throughput and size benchmarks (not run by the test suite).

Run as `python -m bench.<command>`, the command is quiet by default (trainers.console).
"""

from trainers.console import configure_command_line

configure_command_line()
