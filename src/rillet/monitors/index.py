"""An index on one column: offsets by value bucket (numbers) or by value (strings, booleans).

``execute_filter`` asks it for candidate offsets of a comparison with a constant.  An index
on an INT or DOUBLE column keeps each record's value beside its offset (as Confluo's radix
index does), and one on a STRING or BOOLEAN column is keyed by the value, so their answers
are exact: a predicate made of such comparisons is answered without reading a record.  For
other columns the candidates are a superset, and the predicate decides on just those.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.datatypes import NUMERIC, DataType
from rillet.errors import ConfigError
from rillet.monitors.observed import Observed
from rillet.time import group_by_key

COMPARE = {
    "=": np.equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


class Index:
    """Offsets of one column's values, grouped by bucket (``floor(value / bucket_size)``)."""

    def __init__(
        self, column: str, dtype: DataType, bucket_size: float | None, from_offset: int
    ) -> None:
        self.numeric = dtype.name in NUMERIC
        if not self.numeric and dtype.name not in ("STRING", "BOOLEAN"):
            raise ConfigError(
                f"column {column!r} is {dtype}; indexes take numeric, STRING or BOOLEAN columns",
                column=column,
            )
        if self.numeric and (bucket_size is None or not bucket_size > 0):
            raise ConfigError(f"index on {column!r} needs a positive bucket_size", column=column)
        self.column = column
        self.name = column
        self.errors = 0
        self.bucket_size = float(bucket_size) if self.numeric and bucket_size else None
        self.from_offset = from_offset
        self.keys: dict[Any, list[np.ndarray]] = {}
        # the values beside the offsets, where a double holds them exactly
        self.exact = not self.numeric or dtype.name in ("INT", "DOUBLE")
        self.values: dict[Any, list[np.ndarray]] = {}
        self.rows = 0

    @staticmethod
    def _floats(values: pa.Array) -> np.ndarray:
        floats: np.ndarray = pc.cast(values, pa.float64(), safe=False).fill_null(0).to_numpy()
        return floats

    def _keys(self, floats: np.ndarray) -> np.ndarray:
        """Bucket keys; huge values and infinities share the outermost bucket."""
        assert self.bucket_size is not None
        with np.errstate(all="ignore"):
            buckets = np.clip(np.floor(floats / self.bucket_size), -(2.0**62), 2.0**62)
        keys: np.ndarray = np.nan_to_num(buckets, nan=0.0).astype(np.int64)
        return keys

    def observe(self, seen: Observed) -> None:
        """Keep the offsets (and values) of the batch's rows, by bucket."""
        offsets = seen.offsets
        values = seen.batch.column(self.column)
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        if self.numeric and pa.types.is_floating(values.type):
            valid &= ~np.isnan(values.fill_null(0).to_numpy())  # NaN satisfies no comparison
        if offsets[0] < self.from_offset:
            valid &= offsets >= self.from_offset
        if self.numeric:
            floats = self._floats(values)
            keys = self._keys(floats)
            groups = [
                (k, p) for k, p in group_by_key(np.where(valid, keys, np.iinfo(np.int64).min))
            ]
            groups = [(k, p) for k, p in groups if k != np.iinfo(np.int64).min]
        else:
            encoded = (
                pc.dictionary_encode(values).combine_chunks()
                if isinstance(values, pa.ChunkedArray)
                else pc.dictionary_encode(values)
            )
            codes = encoded.indices.fill_null(-1).to_numpy()
            codes = np.where(valid, codes, -1)
            words = encoded.dictionary.to_pylist()
            groups = [(words[k], p) for k, p in group_by_key(codes) if k >= 0]
        for key, positions in groups:
            self.keys.setdefault(key, []).append(offsets[positions])
            if self.numeric and self.exact:
                self.values.setdefault(key, []).append(floats[positions])
            self.rows += len(positions)

    def lookup(self, op: str, value: Any) -> np.ndarray | None:
        """Offsets that may satisfy ``column op value``; None when the index cannot narrow it."""
        if value is None:
            return np.empty(0, dtype=np.int64)
        if self.numeric:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            key = int(self._keys(np.array([float(value)]))[0])
            wanted = {
                "=": lambda k: k == key,
                "<": lambda k: k <= key,
                "<=": lambda k: k <= key,
                ">": lambda k: k >= key,
                ">=": lambda k: k >= key,
            }.get(op)
            if wanted is None:
                return None
            keys = [k for k in self.keys if wanted(k)]
            if self.exact:
                test = COMPARE[op]
                chunks = [
                    offsets[test(values, value)]
                    for k in keys
                    for offsets, values in zip(self.keys[k], self.values[k], strict=True)
                ]
                return np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
        else:
            if op != "=":
                return None
            keys = [value] if value in self.keys else []
        chunks = [c for k in keys for c in self.keys[k]]
        return np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
