"""The commands of ``rillet``: a module a command, registered on the group in :mod:`rillet.cli`."""
