"""A named filter: a predicate evaluated on every batch; remembers matches by time bucket."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rillet.datatypes import DataType
from rillet.errors import TypeCheckError
from rillet.expressions.check import check
from rillet.expressions.kernels import compile
from rillet.expressions.nodes import Node
from rillet.monitors.observed import Observed, unpacked


def predicate(expression: str, columns: Mapping[str, DataType]) -> Node:
    """A checked BOOLEAN expression, or TypeCheckError naming what it is instead."""
    node = check(expression, columns)
    assert node.type is not None
    if node.type.name not in ("BOOLEAN", "NULL"):
        raise TypeCheckError(
            f"a filter must be a condition (BOOLEAN), but {expression!r} is {node.type}",
            line=1,
            col=1,
        )
    return node


@dataclass(frozen=True, slots=True)
class Hits:
    """One batch's matches: a bitmap over its rows, with the batch's time range, the
    offsets of its rows (the first one, where they are contiguous) and its times (shared by
    every filter), read only where a query's range cuts through the batch."""

    first_time: int
    last_time: int
    rows: int
    bits: np.ndarray  # as np.packbits(mask, bitorder="little"); past ``rows``, anything
    offsets: int | np.ndarray
    times: np.ndarray

    def positions(self, low: int, high: int) -> np.ndarray:
        """Rows that match, with time in ``[low, high)``."""
        mask = unpacked(self.bits, self.rows)
        if self.first_time < low or self.last_time >= high:
            mask &= (self.times >= low) & (self.times < high)
        return np.flatnonzero(mask)

    def offsets_of(self, positions: np.ndarray) -> np.ndarray:
        if isinstance(self.offsets, int):
            return positions + self.offsets
        found: np.ndarray = self.offsets[positions]
        return found


class Filter:
    """The matches of a predicate, kept per ingested batch as a bitmap (an eighth of a byte
    a record), so no batch is split into per-second pieces on the ingest path however many
    seconds it spans, and finding the matches of a time range reads the batches that
    overlap it."""

    def __init__(
        self,
        name: str,
        expression: str,
        columns: Mapping[str, DataType],
        resolution_us: int | None,
        from_offset: int,
    ) -> None:
        self.name = name
        self.expression = expression
        self.node = predicate(expression, columns)
        self.kernel = compile(self.node)
        # the buckets of the aggregates over this filter that give none of their own (None:
        # theirs are automatic); the matches themselves are cut at the exact time asked for
        self.resolution_us = resolution_us
        self.from_offset = from_offset
        self.hits: list[Hits] = []
        self.ordered = True  # every batch's offsets after the previous batch's
        self.errors = 0

    def observe(self, seen: Observed) -> None:
        """Evaluate on a batch and remember its matches (from ``from_offset`` on); the
        aggregates over this filter (which may start earlier) read its mask from ``seen``."""
        offsets, times, span = seen.offsets, seen.times, seen.span
        if offsets[0] < self.from_offset:  # the rows before it are not this filter's
            kept = seen.mask(self.name) & (offsets >= self.from_offset)
            bits, count = np.packbits(kept, bitorder="little"), int(np.count_nonzero(kept))
        else:
            bits, count = seen.bits(self.name)
        if count:
            first, last = int(offsets[0]), int(offsets[-1])
            contiguous = last - first == len(offsets) - 1
            hits = Hits(*span, len(offsets), bits, first if contiguous else offsets, times)
            if self.hits:
                previous = self.hits[-1].offsets
                end = (
                    previous + self.hits[-1].rows - 1 if isinstance(previous, int) else previous[-1]
                )
                self.ordered &= contiguous and first > end
            self.hits.append(hits)

    def offsets(self, start_us: int | None, end_us: int | None) -> np.ndarray:
        """Offsets of the matches with time in ``[start, end)``, ascending."""
        low = -(2**63) if start_us is None else start_us
        high = 2**63 - 1 if end_us is None else end_us
        found = [
            hits.offsets_of(hits.positions(low, high))
            for hits in self.hits
            if hits.last_time >= low and hits.first_time < high
        ]
        if not found:
            return np.empty(0, dtype=np.int64)
        offsets = np.concatenate(found)
        return offsets if self.ordered else np.sort(offsets)

    def drop_before(self, start_us: int) -> None:
        """Forget the matches older than ``start_us`` (their records were dropped)."""
        kept = []
        for hits in self.hits:
            if hits.first_time >= start_us:
                kept.append(hits)
            elif hits.last_time >= start_us:
                mask = np.zeros(hits.rows, dtype=bool)
                mask[hits.positions(start_us, 2**63 - 1)] = True
                bits = np.packbits(mask, bitorder="little")
                kept.append(dataclasses.replace(hits, first_time=start_us, bits=bits))
        self.hits = kept
