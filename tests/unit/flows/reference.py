"""Plain-Python reference computations of FlumeBase's windows and joins, record by record,
straight from the semantics note (no numpy, no batches): the flows' output is compared with
these."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

NEVER = -(2**62)
Event = tuple[int, Any, int | None]  # (time in us, key, value)


def windows(
    events: list[Event],
    width: int,
    buckets: int,
    slack: int,
    continuous: bool,
    max_prior: int,
) -> tuple[list[tuple[int, Any, int, int | None, int | None]], int, int]:
    """Rows (closing time, key, COUNT(v), SUM(v), MAX(v)) in no particular order, and the
    numbers of late and dropped events."""
    step = max(width // buckets, 1)
    width = step * buckets
    kept: dict[int, list[tuple[Any, int | None]]] = defaultdict(list)
    state = {"closed": NEVER}
    out: list[tuple[int, Any, int, int | None, int | None]] = []

    def close(through: int) -> None:
        closed = state["closed"]
        if through <= closed:
            return
        if continuous:
            closings = set()
            for b in kept:
                c = max(b, closed // step * step + step)
                while c <= min(b + width - step, through // step * step):
                    closings.add(c)
                    c += step
        else:
            closings = {b for b in kept if closed < b <= through}
        for c in sorted(closings):
            window = [kv for b in kept if c - width < b <= c for kv in kept[b]]
            keys = {k for k, _ in kept[c]} if not continuous else {k for k, _ in window}
            for key in keys:
                values = [v for k, v in window if k == key and v is not None]
                total = sum(values) if values else None
                out.append((c, key, len(values), total, max(values) if values else None))
        state["closed"] = through

    newest_bucket = newest_time = NEVER
    late = dropped = 0
    for t, key, value in events:
        b = t // step * step
        arrived = state["closed"]
        if b <= arrived:
            late += 1
            first_open = arrived // step * step + step
            if first_open > b + width - step or t < newest_time - max_prior:
                dropped += 1
                continue
        newest_bucket = max(newest_bucket, b)
        newest_time = max(newest_time, t)
        kept[b].append((key, value))
        close(newest_bucket - slack - step)
    if newest_bucket > NEVER:
        close(newest_bucket)
    return out, late, dropped


def join(
    left: list[tuple[int, Any, int]],
    right: list[tuple[int, Any, int]],
    preceding: int,
    following: int,
    slack: int,
) -> list[tuple[int, int]]:
    """The (left id, right id) pairs of the windowed inner join of two inputs of
    (time, key, id), leaving out records later than the slack on their own side and NULL
    keys."""

    def on_time(records: list[tuple[int, Any, int]]) -> list[tuple[int, Any, int]]:
        newest = NEVER
        kept = []
        for t, key, ident in records:
            if t >= newest - slack:
                kept.append((t, key, ident))
            newest = max(newest, t)
        return kept

    pairs = []
    for tl, kl, il in on_time(left):
        for tr, kr, ir in on_time(right):
            if kl is not None and kl == kr and tl - preceding < tr <= tl + following:
                pairs.append((il, ir))
    return sorted(pairs)
