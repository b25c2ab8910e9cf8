"""Helpers shared by the expression-language tests.

One batch of varied data (NULLs, negatives, zeros, empty strings, unicode, lists holding NULL
items, times before 1970), the same table registered in DuckDB as ``t``, and the functions
that evaluate an rtsql expression with rillet's kernels or a SQL expression with DuckDB, both
as plain Python lists (NaN as the string ``"NaN"``, DuckDB intervals as timedeltas) so the two
compare with ``==``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

from rillet.datatypes import DataType
from rillet.expressions.check import check
from rillet.expressions.kernels import Context, compile, evaluate
from rillet.expressions.nodes import Node

UTC = dt.UTC
#: what now() returns in these tests: 2024-05-01T12:00:00Z
NOW_US = 1_714_564_800_000_000
TIME_COLUMN = "ts"


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    """A UTC datetime."""
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def _batch() -> pa.RecordBatch:
    ints = pa.int32()
    return pa.RecordBatch.from_pydict(
        {
            "i": pa.array([7, -7, 0, None, 5, -1, 3, 100, -100, 1], ints),
            "j": pa.array([2, 2, 0, 1, None, -1, -3, 7, 0, -1], ints),
            "b": pa.array(
                [10**12, -5, 0, None, 7, 3_000_000_000, -3_000_000_000, 2, 1, -1], pa.int64()
            ),
            "d": pa.array([2.5, -2.5, 0.0, None, 1.0, -0.5, 1.5, 1e10, -3.75, 0.1]),
            # no zeros: division by a zero DOUBLE is tested on its own
            "e": pa.array([2.0, 4.0, -0.5, 1.5, None, 3.0, -2.0, 0.25, 8.0, 0.3]),
            "f": pa.array([0.5, -1.5, 0.0, None, 3.25, 1.0, 2.0, -0.125, 1e6, 7.0], pa.float32()),
            # ties for round(): half away from zero
            "h": pa.array([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.25, None, -0.25, 12345.5]),
            "s": pa.array(
                ["abc", "", "ÄÖü", None, "  x  ", "a%b", "héllo", "日本語", "A_c", "\tab c "]
            ),
            "u": pa.array(["abd", "", "äöü", "x", None, "a%b", "hello", "日本", "a_c", "abc"]),
            "o": pa.array([True, True, True, False, False, False, None, None, None, True]),
            "p": pa.array([True, False, None, True, False, None, True, False, None, True]),
            "ts": pa.array(
                [
                    at(2024, 5, 1, 12, 34, 56, 789012),
                    at(1999, 12, 31, 23, 59, 59),
                    None,
                    at(2024, 2, 29),
                    at(1970, 1, 1),
                    at(1969, 12, 31, 23, 0),
                    at(2000, 1, 3),
                    at(2024, 12, 31, 23, 59, 59, 999999),
                    at(2023, 1, 1),  # a Sunday
                    at(2024, 5, 1, 12),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "l": pa.array(
                [[1, None, 3], [], None, [None], [5], [1, 1], [2], [7, 8, 9], [None, None], [-1]],
                pa.list_(ints),
            ),
            "m": pa.array(
                [[4], [6, 7], [8], None, [], [None], None, [10], [0], [-2, None]], pa.list_(ints)
            ),
            "ls": pa.array(
                [["a", None], [], None, [""], ["ü"], ["x", "y"], [None], ["日本"], [], ["abc"]],
                pa.list_(pa.string()),
            ),
            "bin": pa.array(
                [
                    b"abc",
                    b"",
                    "é".encode(),
                    None,
                    b"  x  ",
                    b"a%b",
                    b"\n",
                    "日本".encode(),
                    b"0",
                    b"z",
                ],
                pa.binary(),
            ),
        }
    )


BATCH = _batch()
N = BATCH.num_rows


def columns_of(batch: pa.RecordBatch) -> dict[str, DataType]:
    """The rtsql type of each column of a batch."""
    return {field.name: DataType.from_arrow(field.type) for field in batch.schema}


COLUMNS = columns_of(BATCH)


def typed(text: str, columns: Mapping[str, DataType] = COLUMNS) -> Node:
    """The checked tree of ``text`` over ``columns``."""
    return check(text, columns)


def run(expression: str | Node, batch: pa.RecordBatch = BATCH) -> list[Any]:
    """rillet's kernel for ``expression`` over ``batch``, as a plain list."""
    node = check(expression, columns_of(batch)) if isinstance(expression, str) else expression
    result = evaluate(compile(node), Context(batch, TIME_COLUMN, now_us=NOW_US))
    assert len(result) == batch.num_rows
    return plain(result.to_pylist())


def run_arrow(expression: str, batch: pa.RecordBatch = BATCH) -> pa.Array:
    """rillet's kernel for ``expression`` over ``batch``, as the Arrow array it returns."""
    node = check(expression, columns_of(batch))
    return evaluate(compile(node), Context(batch, TIME_COLUMN, now_us=NOW_US))


def connect(batch: pa.RecordBatch) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (UTC) with ``batch`` registered as the table ``t``."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.register("t", pa.Table.from_batches([batch]))
    return con


@functools.cache
def _reference() -> duckdb.DuckDBPyConnection:
    return connect(BATCH)


def duck(sql: str, con: duckdb.DuckDBPyConnection | None = None) -> list[Any]:
    """DuckDB's value of the SQL expression ``sql`` for each row of ``t``, as a plain list."""
    relation = (con or _reference()).sql(f"SELECT {sql} AS x FROM t")
    return plain(relation.to_arrow_table().column(0).to_pylist())


def plain(values: list[Any]) -> list[Any]:
    """Values made comparable with ``==``: NaN -> "NaN", intervals -> timedelta, recursively."""
    return [_plain(v) for v in values]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, list):
        return plain(value)
    if isinstance(value, pa.MonthDayNano):
        assert value.months == 0, value
        return dt.timedelta(days=value.days, microseconds=value.nanoseconds // 1000)
    return value


def us(when: dt.datetime) -> int:
    """An aware datetime as epoch microseconds."""
    return (when - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)
