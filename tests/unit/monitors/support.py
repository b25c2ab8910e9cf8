"""What the monitor tests share: the records they append, as an Arrow table with the offsets
rillet gives them, and DuckDB over that table for the expected answers."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from tests.unit.support import DAY, reference

#: the records of the filter and index tests (the aggregate tests leave out ``ok``)
SCHEMA = "ts TIMESTAMP, host STRING, lat DOUBLE, code INT, ok BOOLEAN"
ARROW = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("host", pa.string()),
        ("lat", pa.float64()),
        ("code", pa.int32()),
        ("ok", pa.bool_()),
    ]
)


def make_rows(
    seed: int, n: int, span_s: int = 7200, start: dt.datetime = DAY, *, tenths: bool = False
) -> list[tuple[Any, ...]]:
    """``n`` records of :data:`SCHEMA` at random microsecond times in ``[start, start +
    span_s)``, in random order, with NULLs in every column but the time; ``lat`` in [0, 100)
    with three decimals, or with one (``tenths``) so that equality hits."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        ts = start + dt.timedelta(microseconds=rng.randrange(span_s * 1_000_000))
        host = rng.choice(["a", "a", "b", "c", None])
        if rng.random() < 0.05:
            lat = None
        else:
            lat = rng.randrange(1000) / 10 if tenths else round(rng.uniform(0, 100), 3)
        code = None if rng.random() < 0.05 else rng.randrange(10)
        ok = None if rng.random() < 0.05 else rng.random() < 0.5
        rows.append((ts, host, lat, code, ok))
    return rows


def table(rows: Sequence[tuple[Any, ...]], schema: pa.Schema = ARROW) -> pa.Table:
    """The rows with the offsets rillet gives them (0, 1, ...) as ``_offset``, for DuckDB."""
    columns = list(zip(*rows, strict=True))
    arrays = [pa.array(list(c), f.type) for c, f in zip(columns, schema, strict=True)]
    offsets = pa.array(np.arange(len(rows), dtype=np.int64))
    return pa.Table.from_arrays([*arrays, offsets], names=[*schema.names, "_offset"])


class Reference:
    """DuckDB over ``data`` (a :func:`table`) as ``t``, in UTC: the expected answers, each over
    the records with ``low <= ts < high`` (None: unbounded)."""

    def __init__(self, data: pa.Table) -> None:
        self.con = reference({"t": data})

    def offsets(
        self, where: str, low: dt.datetime | None = None, high: dt.datetime | None = None
    ) -> list[int]:
        """The offsets of the records matching ``where``, in order."""
        clauses, params = self._range(low, high)
        query = f"SELECT _offset FROM t WHERE ({where}) AND {clauses} ORDER BY _offset"
        return [int(r[0]) for r in self.con.execute(query, params).fetchall()]

    def values(
        self,
        selects: Sequence[str],
        low: dt.datetime | None = None,
        high: dt.datetime | None = None,
    ) -> list[Any]:
        """One value per select (an aggregate) over the records."""
        clauses, params = self._range(low, high)
        columns = ", ".join(f"{select} AS v{i}" for i, select in enumerate(selects))
        query = f"SELECT {columns} FROM t WHERE {clauses}"
        # via Arrow: TIMESTAMPTZ comes back as an aware datetime without pytz
        result = self.con.sql(query, params=params).to_arrow_table()
        return [column.to_pylist()[0] for column in result.columns]

    def value(
        self, select: str, low: dt.datetime | None = None, high: dt.datetime | None = None
    ) -> Any:
        return self.values([select], low, high)[0]

    def close(self) -> None:
        self.con.close()

    @staticmethod
    def _range(low: dt.datetime | None, high: dt.datetime | None) -> tuple[str, list[Any]]:
        clauses, params = ["TRUE"], []
        if low is not None:
            clauses.append("ts >= ?")
            params.append(low)
        if high is not None:
            clauses.append("ts < ?")
            params.append(high)
        return " AND ".join(clauses), params
