"""Group keys as dense integers: the values of one or more key columns, numbered in the
order they were first seen, and the values back again as Arrow arrays.

Only a batch's distinct keys meet Python (one dictionary look-up each); rows find theirs
with Arrow's ``index_in``.  NULL is a key like any other (SQL's GROUP BY keeps it); joins
leave NULL keys out before they get here.

Examples:
    >>> import pyarrow as pa
    >>> keys = KeyEncoder([pa.string()])
    >>> keys.encode([pa.array(["b", "a", "b", None])]).tolist()
    [0, 1, 0, 2]
    >>> keys.values([2, 0])[0].to_pylist()
    [None, 'b']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


class KeyEncoder:
    """Numbers the distinct key tuples of columns of the given Arrow types."""

    def __init__(self, types: Sequence[pa.DataType]) -> None:
        self.types = list(types)
        self._ids: dict[Any, int] = {}
        self._chunks: list[list[pa.Array]] = [[] for _ in self.types]
        self._combined: list[pa.Array] | None = None

    @property
    def size(self) -> int:
        return max(len(self._ids), 1)

    def encode(self, columns: Sequence[pa.Array]) -> np.ndarray:
        """Each row's key number (no key columns: every row is group 0)."""
        if not self.types:
            return np.zeros(len(columns[0]) if columns else 0, dtype=np.int64)
        if len(columns) == 1:
            distinct = pc.unique(columns[0])
            positions = _positions(columns[0], distinct)
            rows = [(v,) for v in distinct.to_pylist()]
            ids = self._number(rows, [distinct])
            found: np.ndarray = ids[positions]
            return found
        # several columns: each column's distinct values, then the distinct combinations
        codes = []
        uniques = []
        for column in columns:
            distinct = pc.unique(column)
            uniques.append(distinct)
            codes.append(_positions(column, distinct))
        table = np.stack(codes, axis=1)
        combos, inverse = np.unique(table, axis=0, return_inverse=True)
        firsts = [u.take(pa.array(combos[:, i])) for i, u in enumerate(uniques)]
        lists = [f.to_pylist() for f in firsts]
        rows = list(zip(*lists, strict=True))
        ids = self._number(rows, firsts)
        numbered: np.ndarray = ids[inverse.reshape(-1)]
        return numbered

    def _number(self, rows: list[tuple[Any, ...]], arrays: Sequence[pa.Array]) -> np.ndarray:
        ids = np.empty(len(rows), dtype=np.int64)
        fresh = []
        for i, row in enumerate(rows):
            key = _hashable(row)
            number = self._ids.get(key)
            if number is None:
                number = self._ids[key] = len(self._ids)
                fresh.append(i)
            ids[i] = number
        if fresh:
            picks = pa.array(fresh, pa.int64())
            for chunks, array, dtype in zip(self._chunks, arrays, self.types, strict=True):
                chunks.append(array.take(picks).cast(dtype))
            self._combined = None
        return ids

    def values(self, ids: Sequence[int] | np.ndarray) -> list[pa.Array]:
        """The key columns' values of key numbers ``ids``."""
        if self._combined is None:
            self._combined = [
                pa.concat_arrays(chunks) if chunks else pa.array([], dtype)
                for chunks, dtype in zip(self._chunks, self.types, strict=True)
            ]
        picks = pa.array(np.asarray(ids, dtype=np.int64))
        return [column.take(picks) for column in self._combined]


def _positions(column: pa.Array, distinct: pa.Array) -> np.ndarray:
    """Where each value of ``column`` is in ``distinct`` (NULL matching NULL)."""
    found: np.ndarray = (
        pc.index_in(column, value_set=distinct, skip_nulls=False)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )
    return found
