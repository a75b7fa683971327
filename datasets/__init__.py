"""Data sets: raw logs to TFRecords and readers (`python -m datasets.<command>`).

Run as `python -m datasets.<command>`, the command is quiet by default (trainers.console).
"""

from trainers.console import configure_command_line

configure_command_line()
