"""Sub-command modules of the ``taskmix`` CLI (one ``<name>_cmd.py`` per command)."""
