"""When idleness may next close a trigger's window, by the database's clock.

A trigger judges a window once event time passes its end, or once the stream has been idle
(no batch ingested) for the trigger's whole period: then the windows up to the clock's time,
at most a period past event time, are closed.  The monitors' idle thread sleeps until the
earliest clock reading at which that could happen (``docs/threads.md``); this module computes
it, as the exact float the triggers' own test first holds at, so that a clock set to it by
hand wakes the thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable


def next_idle_check(
    periods_us: Iterable[int], newest_us: int, last_ingest: float, now: float
) -> float | None:
    """When, by the clock, idleness may next close a window of a trigger of one of
    ``periods_us``: a whole period after ``last_ingest`` (clock seconds) or, once idle that
    long, when the clock reaches the end of the next window holding records (``newest_us``
    is the newest event time, in µs); None: not before more records (or triggers) come.

    Examples:
        >>> next_idle_check([1_000_000], 5_500_000, 10.0, 10.2)
        11.0
        >>> next_idle_check([1_000_000], -(2**63), 10.0, 10.2) is None
        True
    """
    if newest_us <= -(2**62):
        return None  # no window holds records
    soonest: float | None = None
    for period in periods_us:
        at = idle_at(last_ingest, period)
        if now < at:
            candidate = at
        else:
            closed = max(newest_us, min(int(now * 1e6), newest_us + period))
            end = (closed // period + 1) * period
            if end > (newest_us // period + 1) * period:
                continue  # the newest window with records is closed: nothing to wait for
            candidate = reaching(end)
        soonest = candidate if soonest is None else min(soonest, candidate)
    return soonest


def idle_at(last: float, period_us: int) -> float:
    """The earliest clock reading idle for ``period_us`` since ``last`` (as the triggers'
    check computes it, in floats)."""
    return _earliest(lambda t: (t - last) * 1e6 >= period_us, last + period_us / 1e6)


def reaching(us: int) -> float:
    """The earliest clock reading whose whole microseconds reach ``us``."""
    return _earliest(lambda t: int(t * 1e6) >= us, us / 1e6)


def _earliest(holds: Callable[[float], bool], guess: float) -> float:
    """The least float where ``holds`` (false, then true as the float grows) holds, found
    from ``guess``, a few rounding steps from it."""
    at = guess
    while not holds(at):
        at = math.nextafter(at, math.inf)
    while holds(before := math.nextafter(at, -math.inf)):
        at = before
    return at
