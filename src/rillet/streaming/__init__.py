"""The parts a :class:`rillet.stream.Stream` is made of, one concern a module, each a layer
over the one before: :mod:`.state` (what every part shares) <- :mod:`.ingest` (appends, the
buffer, the group commit) <- :mod:`.subscribers` (batches handed on in offset order, catch-up
from stored history) <- :mod:`.reads` (read, scan, take) <- :mod:`.upkeep` (sealing, retention,
the log's trim) <- ``Stream`` (opening, recovery and closing, in :mod:`rillet.stream`).
"""
