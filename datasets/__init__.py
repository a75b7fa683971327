"""Data sets: raw logs to TFRecords and readers (`python -m datasets.<command>`).

Run as `python -m datasets.<command>`, the command is quiet by default (console.quiet).
"""

from console.quiet import configure_command_line

configure_command_line()
