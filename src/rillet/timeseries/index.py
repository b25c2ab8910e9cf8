"""The index in memory of the rillet back end: each (name, interval)'s rows, sorted by
interval bucket when read, and reduced to what the type keeps (one row a bucket; a bucket
and value for histograms and sets).  Rebuilt from the streams when a database opens; see
:mod:`rillet.timeseries.embedded`."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: a write of at most this many rows goes row by row (Stream.append, the index's lists)
SMALL = 16
#: rows written one at a time kept as tuples at most, before they become a chunk of arrays
PENDING = 4096
ROW_COLUMNS = {
    kind: (
        "name",
        "interval",
        "i_time",
        "r_time",
        "value",
        *(("count",) if kind == "histogram" else ()),
    )
    for kind in ("series", "histogram", "count", "gauge", "set")
}


class Cell:
    """The rows of one (name, interval): chunks as written (single rows gathered in lists
    first), merged into one sorted by i_time (stable: write order within a bucket) and
    reduced to what the type keeps when read."""

    __slots__ = ("clean", "count", "i_time", "pending", "r_time", "value", "value_type")

    def __init__(self, value_type: pa.DataType) -> None:
        self.value_type = value_type
        self.i_time: list[np.ndarray] = []
        self.r_time: list[np.ndarray] = []
        self.value: list[pa.Array] = []
        self.count: list[np.ndarray] = []
        self.pending: list[tuple[int, int, Any, int]] = []  # rows written one at a time
        self.clean = True  # no chunks, or one that merged() made

    def add(self, i_time: np.ndarray, r_time: np.ndarray, value: pa.Array, count: Any) -> None:
        self._settle()
        self.clean = False
        self.i_time.append(i_time)
        self.r_time.append(r_time)
        self.value.append(value)
        if count is not None:
            self.count.append(count)

    def add_row(self, i_time: int, r_time: int, value: Any, count: int) -> None:
        self.pending.append((i_time, r_time, value, count))
        if len(self.pending) >= PENDING:  # Python tuples cost ten times an array's bytes
            self._settle()

    def _settle(self) -> None:
        """Make the rows written one at a time a chunk, after the chunks before them."""
        if not self.pending:
            return
        i_time, r_time, value, count = zip(*self.pending, strict=True)
        self.pending = []
        self.clean = False
        self.i_time.append(np.array(i_time, dtype=np.int64))
        self.r_time.append(np.array(r_time, dtype=np.int64))
        self.value.append(pa.array(value, self.value_type))
        self.count.append(np.array(count, dtype=np.int64))

    def merged(self, kind: str) -> None:
        """Make the chunks one, sorted by i_time, and (but for series) reduced to what the
        type keeps: one row per bucket (per bucket and value for histogram and set)."""
        self._settle()
        if self.clean:
            return
        i_time = np.concatenate(self.i_time)
        r_time = np.concatenate(self.r_time)
        value = pa.concat_arrays(self.value)
        count = np.concatenate(self.count) if kind == "histogram" else None
        if kind != "series":
            i_time, r_time, value, count = _reduced(kind, i_time, r_time, value, count)
        elif not _ascending(i_time):
            order = np.argsort(i_time, kind="stable")
            i_time, r_time, value = i_time[order], r_time[order], value.take(order)
        self.i_time, self.r_time, self.value = [i_time], [r_time], [value]
        self.count = [count] if count is not None else []
        self.clean = True

    def between(self, kind: str, start: int, end: int) -> tuple[Any, ...]:
        self.merged(kind)
        if not self.i_time:
            return ()
        i_time = self.i_time[0]
        low, high = int(i_time.searchsorted(start)), int(i_time.searchsorted(end))
        count = self.count[0][low:high] if self.count else None
        return i_time[low:high], self.r_time[0][low:high], self.value[0][low:high], count

    def keep(self, kind: str, mask_of: Any) -> None:
        """Keep the rows where ``mask_of(i_time)`` holds."""
        self.merged(kind)
        if not self.i_time:
            return
        mask = mask_of(self.i_time[0])
        self.i_time = [self.i_time[0][mask]]
        self.r_time = [self.r_time[0][mask]]
        self.value = [self.value[0].filter(pa.array(mask))]
        self.count = [self.count[0][mask]] if self.count else []

    def __len__(self) -> int:
        return sum(len(c) for c in self.i_time) + len(self.pending)


def _ascending(keys: np.ndarray) -> bool:
    return len(keys) < 2 or not bool((keys[1:] < keys[:-1]).any())


def _reduced(
    kind: str, i_time: np.ndarray, r_time: np.ndarray, value: pa.Array, count: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, pa.Array, np.ndarray | None]:
    """Rows reduced to what the type keeps, sorted by (i_time, r_time[, value])."""
    order = np.lexsort((r_time, i_time))  # stable: write order within a bucket
    if (order[1:] < order[:-1]).any():
        i_time, r_time, value = i_time[order], r_time[order], value.take(order)
        count = count[order] if count is not None else None
    same = (i_time[1:] == i_time[:-1]) & (r_time[1:] == r_time[:-1])
    if not same.any():  # a row a bucket: nothing to reduce (the usual case)
        return i_time, r_time, value, count
    firsts = np.flatnonzero(np.concatenate([[True], ~same]))
    if kind == "count":
        sums = np.add.reduceat(value.to_numpy(zero_copy_only=False), firsts)
        return i_time[firsts], r_time[firsts], pa.array(sums, pa.float64()), None
    if kind == "gauge":
        lasts = np.append(firsts[1:], len(i_time)) - 1
        return i_time[lasts], r_time[lasts], value.take(pa.array(lasts)), None
    table = pa.table({"i_time": i_time, "r_time": r_time, "value": value})
    keys = ["i_time", "r_time", "value"]
    if kind == "histogram":
        table = table.append_column("count", pa.array(count))
        out = table.group_by(keys, use_threads=False).aggregate([("count", "sum")])
        out = out.rename_columns({"count_sum": "count"})
    else:  # set: the distinct values
        out = table.group_by(keys, use_threads=False).aggregate([])
    out = out.sort_by([("i_time", "ascending"), ("r_time", "ascending")])
    counts = out.column("count").to_numpy() if kind == "histogram" else None
    return (
        out.column("i_time").to_numpy(),
        out.column("r_time").to_numpy(),
        out.column("value").combine_chunks(),
        counts,
    )


class Index:
    """The rows of one time series' stream, by name and interval (see the module)."""

    def __init__(self, kind: str, value_type: pa.DataType) -> None:
        self.kind = kind
        self.value_type = value_type
        self.lock = threading.Lock()
        self.cells: dict[str, dict[str, Cell]] = {}

    def add(self, table: pa.Table) -> None:
        """Index written rows (``write_schema`` columns; the caller holds the lock)."""
        if table.num_rows == 0:
            return
        if table.num_rows <= SMALL:
            self.add_rows(*(table.column(c).to_pylist() for c in ROW_COLUMNS[self.kind]))
            return
        names = pc.dictionary_encode(table.column("name")).combine_chunks()
        intervals = pc.dictionary_encode(table.column("interval")).combine_chunks()
        n_intervals = len(intervals.dictionary)
        key = names.indices.to_numpy().astype(
            np.int64
        ) * n_intervals + intervals.indices.to_numpy().astype(np.int64)
        order = None if _ascending(key) else np.argsort(key, kind="stable")
        if order is not None:
            key = key[order]
        cuts = np.flatnonzero(key[1:] != key[:-1]) + 1
        starts = np.concatenate([[0], cuts]).tolist()
        ends = [*cuts.tolist(), len(key)]
        i_time = table.column("i_time").to_numpy()
        r_time = table.column("r_time").to_numpy()
        value = table.column("value").combine_chunks()
        count = table.column("count").to_numpy() if self.kind == "histogram" else None
        if order is not None:
            i_time, r_time, value = i_time[order], r_time[order], value.take(order)
            count = count[order] if count is not None else None
        name_list = names.dictionary.to_pylist()
        interval_list = intervals.dictionary.to_pylist()
        for low, high in zip(starts, ends, strict=True):
            code = int(key[low])
            by_interval = self.cells.setdefault(name_list[code // n_intervals], {})
            interval = interval_list[code % n_intervals]
            cell = by_interval.get(interval)
            if cell is None:
                cell = by_interval[interval] = Cell(self.value_type)
            cell.add(
                i_time[low:high],
                r_time[low:high],
                value.slice(low, high - low),
                count[low:high] if count is not None else None,
            )

    def add_rows(self, *columns: Sequence[Any]) -> None:
        """Index a few written rows: name, interval, i_time, r_time, value[, count]."""
        counts = columns[5] if len(columns) > 5 else [1] * len(columns[0])
        for name, interval, i_time, r_time, value, count in zip(*columns[:5], counts, strict=True):
            by_interval = self.cells.get(name)
            if by_interval is None:
                by_interval = self.cells[name] = {}
            cell = by_interval.get(interval)
            if cell is None:
                cell = by_interval[interval] = Cell(self.value_type)
            cell.add_row(i_time, r_time, value, count)

    def forget(self, name: str | None, interval: str | None, before: int | None) -> None:
        """Drop rows: of a name (all names: None), in an interval, before an i_time."""
        names = list(self.cells) if name is None else [name]
        for each in names:
            cells = self.cells.get(each, {})
            if interval is None and before is None:
                self.cells.pop(each, None)
                continue
            for key, cell in list(cells.items()):
                if interval is not None and key != interval:
                    continue
                if before is None:
                    del cells[key]
                else:
                    limit = before
                    cell.keep(self.kind, lambda t, limit=limit: t >= limit)
                    if not len(cell):
                        del cells[key]
            if not cells:
                self.cells.pop(each, None)
