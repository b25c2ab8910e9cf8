"""A series as an Arrow table (``series(..., format="arrow")``, and pandas from it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa


def to_table(rval: Mapping[int, Any], nested: bool, several: bool) -> pa.Table:
    """A series as a table: ``interval`` (and ``resolution``) timestamps, then ``value``,
    or a column per transform when ``several`` (the transform was a list or dict)."""
    keys: list[tuple[int, ...]] = []
    data: list[Any] = []
    for i, row in rval.items():
        if nested:
            for r, d in row.items():
                keys.append((i, r))
                data.append(d)
        else:
            keys.append((i,))
            data.append(row)
    stamp = pa.timestamp("s", tz="UTC")
    columns: dict[str, Any] = {"interval": pa.array([k[0] for k in keys], stamp)}
    if nested:
        columns["resolution"] = pa.array([k[1] for k in keys], stamp)
    if several and data:
        for key in data[0]:
            label = key if isinstance(key, str) else getattr(key, "__name__", str(key))
            columns[label] = _column([d.get(key) for d in data])
    else:
        columns["value"] = _column(data)
    return pa.table(columns)


def _column(data: list[Any]) -> pa.Array:
    """One column of a series table: dicts (histograms, their rates) as maps, sets as
    sorted lists, the rest as Arrow infers them."""
    if any(isinstance(d, Mapping) for d in data):
        items = [list(d.items()) if d is not None else None for d in data]
        pairs = [pair for row in items if row for pair in row]
        keys = pa.array([k for k, _ in pairs]).type if pairs else pa.float64()
        counts = pa.array([v for _, v in pairs]).type if pairs else pa.int64()
        return pa.array(items, pa.map_(keys, counts))
    if any(isinstance(d, set | frozenset) for d in data):
        return pa.array([sorted(d) if d is not None else None for d in data])
    return pa.array(data)
