"""What every monitor observes: one ingested batch, its columns read once for all of them.

Indexes, filters, aggregates and triggers share one signature, ``observe(seen)``; what
several of them need from a batch (its times and offsets, a filter's matches, the rows
grouped by time bucket) is computed the first time one asks and kept for the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.aggregates.buckets import Buckets
from rillet.expressions.kernels import Context, Kernel, evaluate


def unpacked(bits: np.ndarray, rows: int, start: int = 0) -> np.ndarray:
    """Little-endian bits (an Arrow bitmap, or np.packbits(mask, bitorder="little")) as one
    bool a row, for ``rows`` rows from bit ``start``."""
    mask: np.ndarray = np.unpackbits(bits, count=start + rows, bitorder="little")[start:]
    return mask.view(bool)


def matches(kernel_result: pa.Array) -> np.ndarray:
    """A kernel's BOOLEAN result as a numpy mask (NULL does not match)."""
    filled = pc.fill_null(kernel_result, False) if kernel_result.null_count else kernel_result
    if not isinstance(filled, pa.BooleanArray):  # e.g. NULL-typed
        mask: np.ndarray = filled.to_numpy(zero_copy_only=False).astype(bool)
        return mask
    # unpacking the bitmap with numpy is ten times faster than to_numpy
    bits = np.frombuffer(filled.buffers()[1], dtype=np.uint8)
    return unpacked(bits, len(filled), filled.offset)


def bitmap(kernel_result: pa.Array, length: int) -> tuple[np.ndarray, int]:
    """A kernel's BOOLEAN result as little-endian bits over its rows (NULL does not match;
    bits past ``length`` may be anything) and how many rows match: Arrow's own bitmap where
    it can, so a filter keeps its matches without unpacking and packing them again."""
    filled = pc.fill_null(kernel_result, False) if kernel_result.null_count else kernel_result
    if isinstance(filled, pa.BooleanArray) and filled.offset % 8 == 0:
        start = filled.offset // 8
        bits = np.frombuffer(filled.buffers()[1], dtype=np.uint8)[start : start + -(-length // 8)]
        return bits, filled.true_count
    mask = matches(kernel_result)
    return np.packbits(mask, bitorder="little"), int(np.count_nonzero(mask))


@dataclass(slots=True)
class Observed:
    """One batch of a stream as the monitors see it."""

    batch: pa.RecordBatch
    ctx: Context
    times: np.ndarray  # event times, epoch microseconds
    offsets: np.ndarray
    kernels: Mapping[str, Kernel]  # the filters' predicates, by name
    _bits: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)
    _masks: dict[str, np.ndarray] = field(default_factory=dict)
    _buckets: dict[int, Buckets] = field(default_factory=dict)
    _span: tuple[int, int] | None = None

    @property
    def span(self) -> tuple[int, int]:
        """The batch's least and greatest event time (found once for every monitor)."""
        if self._span is None:
            self._span = int(self.times.min()), int(self.times.max())
        return self._span

    def bits(self, filter_name: str) -> tuple[np.ndarray, int]:
        """Where the filter ``filter_name`` holds (every row, whatever its offset), as
        :func:`bitmap` gives it, and on how many rows."""
        found = self._bits.get(filter_name)
        if found is None:
            result = evaluate(self.kernels[filter_name], self.ctx)
            found = self._bits[filter_name] = bitmap(result, len(self.times))
        return found

    def mask(self, filter_name: str) -> np.ndarray:
        """:meth:`bits` as a numpy mask, one bool a row."""
        found = self._masks.get(filter_name)
        if found is None:
            bits, _ = self.bits(filter_name)
            found = self._masks[filter_name] = unpacked(bits, len(self.times))
        return found

    def buckets(self, width: int) -> Buckets:
        """The rows grouped by time bucket of ``width`` (one grouping a batch and width)."""
        found = self._buckets.get(width)
        if found is None:
            found = self._buckets[width] = Buckets.of(self.times, width)
        return found


class Monitor(Protocol):
    """An index, filter, aggregate or trigger: evaluated on each batch from ``from_offset``
    on (a trigger notes its event time; its windows are judged after live batches)."""

    name: str
    from_offset: int
    errors: int  # batches it skipped (an overflow in its expression, say)

    def observe(self, seen: Observed) -> None:
        """Take in one batch."""
