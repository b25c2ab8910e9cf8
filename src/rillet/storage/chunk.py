"""Chunk: one immutable batch of a stream's records and fast access to single rows in it.

Reading a record by offset is a hot path (``read`` of recent records: a few microseconds).
A chunk finds a row in O(1) when its offsets are contiguous and builds, on the first read,
one getter per column that avoids pyarrow's per-value Scalar objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from rillet.time import us_to_datetime

Getter = Callable[[int], Any]


class Chunk:
    """A batch whose last column is ``_offset`` (ascending)."""

    __slots__ = ("batch", "first", "last", "contiguous", "offsets", "_getters")

    def __init__(self, batch: pa.RecordBatch) -> None:
        offsets = batch.column(batch.num_columns - 1).to_numpy()
        self.batch = batch
        self.first = int(offsets[0])
        self.last = int(offsets[-1])
        self.contiguous = self.last - self.first + 1 == len(offsets)
        self.offsets = offsets
        self._getters: list[Getter] | None = None

    def __len__(self) -> int:
        return int(self.batch.num_rows)

    def position(self, offset: int) -> int | None:
        """The row index of ``offset`` in this chunk, or None."""
        if not self.first <= offset <= self.last:
            return None
        if self.contiguous:
            return offset - self.first
        j = int(self.offsets.searchsorted(offset))
        return j if self.offsets[j] == offset else None

    def row(self, j: int) -> tuple[Any, ...]:
        """The values of row ``j`` (without ``_offset``), as ``to_pylist`` would give them."""
        getters = self._getters
        if getters is None:
            batch = self.batch
            getters = self._getters = [
                _getter(batch.column(i)) for i in range(batch.num_columns - 1)
            ]
        return tuple(get(j) for get in getters)


def _getter(column: pa.Array) -> Getter:
    kind = column.type
    if pa.types.is_timestamp(kind):
        micros = column.view(pa.int64()).fill_null(0).to_numpy()
        if column.null_count == 0:
            return lambda j: us_to_datetime(int(micros[j]))
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        return lambda j: us_to_datetime(int(micros[j])) if valid[j] else None
    if column.null_count == 0 and (
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    ):
        values = column.to_numpy(zero_copy_only=False)
        return lambda j: values[j].item()
    return lambda j: column[j].as_py()
