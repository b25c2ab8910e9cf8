"""A named filter: a predicate evaluated on every batch; remembers matches by time bucket."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow.compute as pc

from rillet.datatypes import DataType
from rillet.errors import TypeCheckError
from rillet.expressions.check import check
from rillet.expressions.kernels import Context, compile, evaluate
from rillet.expressions.nodes import Node


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


def matches(kernel_result: object) -> np.ndarray:
    """A kernel's BOOLEAN result as a numpy mask (NULL does not match)."""
    mask: np.ndarray = pc.fill_null(kernel_result, False).to_numpy(zero_copy_only=False)
    return mask


class Filter:
    """The offsets and times of a predicate's matches, kept per ingested batch.

    A batch's matches stay together, with their time range: finding the matches of any time
    range reads the chunks that overlap it, so no batch is split into per-second pieces on
    the ingest path however many seconds it spans.
    """

    def __init__(
        self,
        name: str,
        expression: str,
        columns: Mapping[str, DataType],
        resolution_us: int,
        from_offset: int,
    ) -> None:
        self.name = name
        self.expression = expression
        self.node = predicate(expression, columns)
        self.kernel = compile(self.node)
        self.resolution_us = resolution_us  # the buckets of aggregates over this filter
        self.from_offset = from_offset
        # (first time, last time, offsets, times) of each batch's matches
        self.chunks: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        self.errors = 0

    def observe(self, ctx: Context, times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Evaluate on a batch, remember its matches (from ``from_offset`` on); return where
        the predicate holds, for aggregates over this filter (which may start earlier)."""
        mask = matches(evaluate(self.kernel, ctx))
        kept = mask & (offsets >= self.from_offset) if offsets[0] < self.from_offset else mask
        if kept.any():
            hit_times = times[kept]
            chunk = (int(hit_times.min()), int(hit_times.max()), offsets[kept], hit_times)
            self.chunks = [*self.chunks, chunk]
        return mask

    def offsets(self, start_us: int | None, end_us: int | None) -> np.ndarray:
        """Offsets of the matches with time in ``[start, end)``, ascending."""
        low = -(2**63) if start_us is None else start_us
        high = 2**63 - 1 if end_us is None else end_us
        found = []
        for first, last, offsets, times in self.chunks:
            if last < low or first >= high:
                continue
            if first >= low and last < high:
                found.append(offsets)
            else:
                found.append(offsets[(times >= low) & (times < high)])
        return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)

    def drop_before(self, start_us: int) -> None:
        kept = [c for c in self.chunks if c[1] >= start_us]
        self.chunks = [
            c
            if c[0] >= start_us
            else (start_us, c[1], c[2][c[3] >= start_us], c[3][c[3] >= start_us])
            for c in kept
        ]
