"""Export a run as a SavedModel and predict with it (`python -m export.<command>`).

Run as `python -m export.<command>`, the command is quiet by default (console.quiet).
"""

from console.quiet import configure_command_line

configure_command_line()
