"""Helpers for the aggregate tests: run an aggregate over batches, ask DuckDB the same."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from rillet.aggregates import State, aggregate
from rillet.datatypes import DataType
from rillet.expressions.signatures import t


def state_of(
    name: str, dtype: DataType | str | None, batches: Sequence[pa.Array], params: Sequence[Any] = ()
) -> State:
    """A state of aggregate ``name`` after one update per batch (``dtype`` None: ``*``)."""
    arg = t(dtype) if isinstance(dtype, str) else dtype
    state = aggregate(name).new_state(arg, params)
    for batch in batches:
        state.update(None if arg is None else batch, len(batch))  # None: COUNT(*)
    return state


def run(
    name: str, dtype: DataType | str | None, batches: Sequence[pa.Array], params: Sequence[Any] = ()
) -> Any:
    """The result of aggregate ``name`` over ``batches``."""
    return state_of(name, dtype, batches, params).result()


def split(values: pa.Array, cuts: Sequence[int]) -> list[pa.Array]:
    """``values`` cut at the given offsets (sorted, within bounds) into consecutive slices."""
    bounds = [0, *cuts, len(values)]
    return [values.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)]


def reference(query: str, **columns: pa.Array | list[Any]) -> list[Any]:
    """The one row DuckDB gives for ``query`` over table ``t`` of ``columns``, via Arrow."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("t", pa.table(columns))
        table = con.sql(query).to_arrow_table()
        return [column.to_pylist()[0] for column in table.columns]
    finally:
        con.close()
