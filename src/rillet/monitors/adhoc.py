"""Ad-hoc predicates over a stream's stored records (``execute_filter``), and the matches a
filter query returns.

The monitors decide, under their lock, what their indexes can answer; what is left is read
here without it: the candidate records the indexes name, or else the predicate pushed down
(DuckDB over the sealed files of the time range, skipping row groups by their statistics;
the Arrow kernel over the records in memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from rillet.expressions.duckdb import quote, render
from rillet.expressions.kernels import Context, Kernel, evaluate
from rillet.expressions.nodes import Node
from rillet.monitors.observed import matches
from rillet.query import QueryEngine
from rillet.record import Record
from rillet.storage.partitions import overlapping

if TYPE_CHECKING:
    from rillet.stream import Stream


class Matches:
    """Records a filter matched: ``offsets`` (numpy), ``arrow()``, or iterate for Records."""

    def __init__(self, stream: Stream, offsets: np.ndarray) -> None:
        self._stream = stream
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets)

    def arrow(self) -> pa.Table:
        """The matched records (with ``_offset``) as one table, in offset order."""
        return self._stream.take(self.offsets)

    def __iter__(self) -> Iterator[Record]:
        for start in range(0, len(self.offsets), 65536):
            yield from self._stream._records(self._stream.take(self.offsets[start : start + 65536]))

    def __repr__(self) -> str:
        return f"Matches({len(self)} records)"


class AdHoc:
    """Reads the records of ``stream`` that an ad-hoc predicate matches."""

    def __init__(self, stream: Stream, query: QueryEngine | None = None) -> None:
        self.stream = stream
        self._query = query  # pushes predicates down to DuckDB over sealed files

    def matching(
        self,
        node: Node,
        kernel: Kernel,
        low: int | None,
        high: int | None,
        candidates: np.ndarray | None,
    ) -> np.ndarray:
        """Sorted offsets of the records in ``[low, high)`` where ``node`` (compiled as
        ``kernel``) holds: among ``candidates`` (offsets the indexes chose) when given, else
        among every stored record."""
        time_name = self.stream.schema.time_column
        hits = []
        if candidates is not None:
            batches = self.stream.take(candidates).to_batches()
        else:
            parts = overlapping(self.stream.partitions(), low, high)
            files = [p.parquet_path for p in parts if p.parquet_path is not None]
            if files:
                hits.append(self.pushdown(files, where(node, time_name, low, high)))
            batches = [b for p in parts if p.parquet_path is None for b in p.scan(low, high)]
        for batch in batches:
            mask = matches(evaluate(kernel, Context(batch, time_name)))
            times = batch.column(time_name).cast(pa.int64()).to_numpy()
            if low is not None:
                mask &= times >= low
            if high is not None:
                mask &= times < high
            hits.append(batch.column(batch.num_columns - 1).to_numpy()[mask])
        return np.sort(np.concatenate(hits)) if hits else np.empty(0, dtype=np.int64)

    def pushdown(self, files: list[str], condition: str) -> np.ndarray:
        """Offsets of the rows of sealed Parquet ``files`` where a DuckDB ``condition`` holds."""
        if self._query is None:  # a stream opened outside a Database
            self._query = QueryEngine()
        return self._query.matching_offsets(files, condition)


def where(node: Node, time_column: str, low: int | None, high: int | None) -> str:
    """The predicate and the time range as a DuckDB condition."""
    parts = [render(node, time_column)]  # WHERE drops NULL; bare, DuckDB prunes row groups
    if low is not None:
        parts.append(f"epoch_us({quote(time_column)}) >= {low}")
    if high is not None:
        parts.append(f"epoch_us({quote(time_column)}) < {high}")
    return " AND ".join(parts)
