"""Event-time progress, record by record: the watermark and which records are late.

A window closes by event time only: after record ``i`` the newest bucket seen is
``M_i`` (the running maximum of the records' buckets), and every window whose closing
bucket ``c`` satisfies ``c <= M_i - slack - width`` is closed (:func:`frontiers`).  A record
is *late* when its own bucket's window was closed before it arrived.  Everything is
computed from the records' order alone, never from how they were cut into batches or from
the wall clock, so a replay gives the output a live run gives.

Examples:
    >>> import numpy as np
    >>> f = frontiers(np.array([0, 10, 30, 10]), 10, 0, -(2**62))
    >>> f.tolist()  # windows closed after each record: ..., up to 0, up to 20, still 20
    [-10, 0, 20, 20]
"""

from __future__ import annotations

import numpy as np

NEVER = -(2**62)  # a frontier before any time


def frontiers(buckets: np.ndarray, width: int, slack: int, before: int) -> np.ndarray:
    """After each record, the greatest closing time whose window is closed: the running
    maximum of ``buckets`` (and of what ``before`` implies) minus ``slack`` and ``width``."""
    newest = np.maximum.accumulate(buckets) - slack - width
    closed: np.ndarray = np.maximum(newest, before)
    return closed


def previous(closed: np.ndarray, before: int) -> np.ndarray:
    """The frontier each record arrived to: ``before`` for the first, then the one after
    the record before it."""
    prior: np.ndarray = np.empty_like(closed)
    if len(closed):
        prior[0] = before
        prior[1:] = closed[:-1]
    return prior


def running_max(values: np.ndarray, before: int) -> np.ndarray:
    """The greatest of ``before`` and the values up to each position, not counting it.

    Examples:
        >>> running_max(np.array([3, 1, 4, 4, 9]), 2).tolist()
        [2, 3, 3, 4, 4]
        >>> running_max(np.array([3, 5, 8]), 4).tolist()
        [4, 4, 5]
    """
    prior: np.ndarray = np.empty_like(values)
    if len(values):
        prior[0] = before
        # values in order (the usual batch) are their own running maximum: two vectorized
        # passes, where the accumulation is a sequential one several times slower
        ordered = bool((values[1:] >= values[:-1]).all())
        prior[1:] = values[:-1] if ordered else np.maximum.accumulate(values)[:-1]
        np.maximum(prior, before, out=prior)
    return prior
