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
from rillet.time import group_by_key


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
    """Matching offsets and times of a predicate, kept per time bucket of ``resolution_us``."""

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
        self.resolution_us = resolution_us
        self.from_offset = from_offset
        self.buckets: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.errors = 0

    def observe(self, ctx: Context, times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Evaluate on a batch, remember its matches (from ``from_offset`` on); return where
        the predicate holds, for aggregates over this filter (which may start earlier)."""
        mask = matches(evaluate(self.kernel, ctx))
        kept = mask & (offsets >= self.from_offset) if offsets[0] < self.from_offset else mask
        selected = np.flatnonzero(kept)
        if len(selected):
            hit_offsets, hit_times = offsets[selected], times[selected]
            keys = hit_times // self.resolution_us * self.resolution_us
            for key, positions in group_by_key(keys):
                chunk = (hit_offsets[positions], hit_times[positions])
                self.buckets.setdefault(key, []).append(chunk)
        return mask

    def offsets(self, start_us: int | None, end_us: int | None) -> np.ndarray:
        """Offsets of the matches with time in ``[start, end)``, ascending."""
        low = -(2**63) if start_us is None else start_us
        high = 2**63 - 1 if end_us is None else end_us
        first = low // self.resolution_us * self.resolution_us
        chunks_o, chunks_t = [], []
        for key, chunks in list(self.buckets.items()):
            if first <= key < high:
                for offs, times in chunks:
                    chunks_o.append(offs)
                    chunks_t.append(times)
        if not chunks_o:
            return np.empty(0, dtype=np.int64)
        offs, times = np.concatenate(chunks_o), np.concatenate(chunks_t)
        keep = (times >= low) & (times < high)
        return np.sort(offs[keep] if not keep.all() else offs)

    def drop_before(self, start_us: int) -> None:
        self.buckets = {k: v for k, v in self.buckets.items() if k >= start_us}
