"""The five Kairos types: how a write is reduced before it goes to a store, how fetched rows
become each bucket's data, and the type's empty value, ``process_row``, ``condense`` and
``join``.

Data of a bucket, by type: ``series`` a list (write order), ``histogram`` a dict of value
-> count, ``count`` a float, ``gauge`` the last value, ``set`` a set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: a bucket key: (interval bucket start, resolution bucket start), epoch seconds
Key = tuple[int, int]
ReadFunc = Callable[[Any], Any] | None


class Kind:
    """What a Kairos type keeps, and how its data is read, condensed and joined."""

    name = ""
    #: columns a write is reduced by (None: series, kept as written)
    write_keys: tuple[str, ...] | None = ("name", "interval", "i_time", "r_time")
    #: how the value column is reduced per key (hash aggregate name), "" for the key itself
    write_aggregate: tuple[str, str] | None = None

    def reduce_writes(self, rows: pa.Table) -> pa.Table:
        """At most one row per key (histogram and set: per key and value), as stores expect."""
        if self.write_keys is None or rows.num_rows == 0:
            return rows
        # expires follows from (interval, i_time): a key column that splits nothing
        grouped = rows.group_by([*self.write_keys, "expires"], use_threads=False)
        if self.write_aggregate is None:
            out = grouped.aggregate([])
        else:
            column, function = self.write_aggregate
            out = grouped.aggregate([(column, function)])
            out = out.rename_columns({f"{column}_{function}": column})
        return out

    def data(self, values: list[Any], counts: list[int] | None, low: int, high: int) -> Any:
        """The data of one bucket from its fetched rows ``low:high``."""
        raise NotImplementedError

    def each(self, values: list[Any], counts: list[int] | None) -> list[Any]:
        """The data of buckets of one row each."""
        return [self.data(values, counts, k, k + 1) for k in range(len(values))]

    def decode(
        self, table: pa.Table, single: str | None = None, coarse: bool = False
    ) -> dict[str, dict[Any, Any]]:
        """Fetched rows as {name: {(i_time, r_time): data}} ({name: {i_time: data}} when
        ``coarse``: an interval without resolution); ``single``: the one name the rows can be
        of (no need to tell names apart)."""
        if table.num_rows == 0:
            return {}
        i_time = table.column("i_time").to_numpy()
        r_time = table.column("r_time").to_numpy()
        if single is None:
            names = pc.dictionary_encode(table.column("name")).combine_chunks()
            name_list = names.dictionary.to_pylist()
            code = names.indices.to_numpy().astype(np.int64)
            order = np.lexsort((r_time, i_time, code))  # stable: write order within a bucket
        else:
            name_list, code = [single], np.zeros(len(i_time), dtype=np.int64)
            order = np.lexsort((r_time, i_time))
        values = table.column("value").to_pylist()
        counts = table.column("count").to_pylist() if "count" in table.column_names else None
        if (order != np.arange(len(order))).any():
            code, i_time, r_time = code[order], i_time[order], r_time[order]
            positions = order.tolist()
            values = [values[k] for k in positions]
            if counts is not None:
                counts = [counts[k] for k in positions]
        change = (code[1:] != code[:-1]) | (i_time[1:] != i_time[:-1]) | (r_time[1:] != r_time[:-1])
        out: dict[str, dict[Any, Any]] = {}
        if single is not None and bool(change.all()):  # a row a bucket: the usual case
            keys: Any = (
                i_time.tolist() if coarse else zip(i_time.tolist(), r_time.tolist(), strict=True)
            )
            out[single] = dict(zip(keys, self.each(values, counts), strict=True))
            return out
        cuts = (np.flatnonzero(change) + 1).tolist()
        starts, ends = [0, *cuts], [*cuts, len(values)]
        codes, i_list, r_list = (
            code[starts].tolist(),
            i_time[starts].tolist(),
            r_time[starts].tolist(),
        )
        for n, i, r, low, high in zip(codes, i_list, r_list, starts, ends, strict=True):
            cells = out.get(name_list[n])
            if cells is None:
                cells = out[name_list[n]] = {}
            cells[i if coarse else (i, r)] = self.data(values, counts, low, high)
        return out

    def empty(self, joined: bool) -> Any:
        """A bucket without data (alone, or as one name of a join)."""
        raise NotImplementedError

    def process_row(self, data: Any, read: ReadFunc) -> Any:
        """Kairos' default process_row: ``read_func`` applied to the values."""
        raise NotImplementedError

    def condense(self, rows: Mapping[int, Any], joined: bool = False) -> Any:
        """The data of several buckets (resolution buckets, or intervals) as one."""
        raise NotImplementedError

    def join(self, rows: Sequence[Any]) -> Any:
        """The data of several names in one bucket as one (None: the name has none)."""
        raise NotImplementedError


class Series(Kind):
    name = "series"
    write_keys = None

    def data(self, values: list[Any], counts: list[int] | None, low: int, high: int) -> Any:
        return values[low:high]

    def each(self, values: list[Any], counts: list[int] | None) -> list[Any]:
        return [[v] for v in values]

    def empty(self, joined: bool) -> Any:
        return []

    def process_row(self, data: Any, read: ReadFunc) -> Any:
        return data if read is None else [read(v) for v in data]

    def condense(self, rows: Mapping[int, Any], joined: bool = False) -> Any:
        return [v for row in rows.values() if row for v in row]

    def join(self, rows: Sequence[Any]) -> Any:
        return [v for row in rows if row for v in row]


class Histogram(Kind):
    name = "histogram"
    write_keys = ("name", "interval", "i_time", "r_time", "value")
    write_aggregate = ("count", "sum")

    def data(self, values: list[Any], counts: list[int] | None, low: int, high: int) -> Any:
        assert counts is not None
        out: dict[Any, int] = {}
        for value, count in zip(values[low:high], counts[low:high], strict=True):
            out[value] = out.get(value, 0) + count
        return out

    def empty(self, joined: bool) -> Any:
        return {}

    def process_row(self, data: Any, read: ReadFunc) -> Any:
        if read is None:
            return data
        out: dict[Any, int] = {}
        for value, count in data.items():
            key = read(value)
            out[key] = out.get(key, 0) + count
        return out

    def condense(self, rows: Mapping[int, Any], joined: bool = False) -> Any:
        return self.join(list(rows.values()))

    def join(self, rows: Sequence[Any]) -> Any:
        out: dict[Any, Any] = {}
        for row in rows:
            for value, count in (row or {}).items():
                out[value] = out.get(value, 0) + count
        return out


class Count(Kind):
    name = "count"
    write_aggregate = ("value", "sum")

    def data(self, values: list[Any], counts: list[int] | None, low: int, high: int) -> Any:
        return float(sum(values[low:high]))

    def each(self, values: list[Any], counts: list[int] | None) -> list[Any]:
        return values  # float64 column: floats already

    def empty(self, joined: bool) -> Any:
        return 0

    def process_row(self, data: Any, read: ReadFunc) -> Any:
        return data  # a sum rillet made: a float, never cut to an int

    def condense(self, rows: Mapping[int, Any], joined: bool = False) -> Any:
        return self.join(list(rows.values()))

    def join(self, rows: Sequence[Any]) -> Any:
        return sum((row for row in rows if row), 0)


class Gauge(Kind):
    name = "gauge"
    write_aggregate = ("value", "last")

    def data(self, values: list[Any], counts: list[int] | None, low: int, high: int) -> Any:
        return values[high - 1]

    def each(self, values: list[Any], counts: list[int] | None) -> list[Any]:
        return values

    def empty(self, joined: bool) -> Any:
        return None if joined else 0  # settled: 0 alone, None inside a join

    def process_row(self, data: Any, read: ReadFunc) -> Any:
        return data if read is None or data is None else read(data)

    def condense(self, rows: Mapping[int, Any], joined: bool = False) -> Any:
        last = self.join(list(rows.values()))
        return self.empty(joined) if last is None else last

    def join(self, rows: Sequence[Any]) -> Any:
        last = None
        for row in rows:
            if row is not None:
                last = row
        return last


class Set(Kind):
    name = "set"
    write_keys = ("name", "interval", "i_time", "r_time", "value")

    def data(self, values: list[Any], counts: list[int] | None, low: int, high: int) -> Any:
        return set(values[low:high])

    def each(self, values: list[Any], counts: list[int] | None) -> list[Any]:
        return [{v} for v in values]

    def empty(self, joined: bool) -> Any:
        return set()

    def process_row(self, data: Any, read: ReadFunc) -> Any:
        return data if read is None else {read(v) for v in data}

    def condense(self, rows: Mapping[int, Any], joined: bool = False) -> Any:
        return self.join(list(rows.values()))

    def join(self, rows: Sequence[Any]) -> Any:
        out: set[Any] = set()
        for row in rows:
            if row:
                out |= row
        return out


KINDS: dict[str, Kind] = {k.name: k for k in (Series(), Histogram(), Count(), Gauge(), Set())}
