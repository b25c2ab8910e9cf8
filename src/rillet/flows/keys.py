"""Group keys as dense integers: the values of one or more key columns, numbered in the
order they were first seen, and the values back again as Arrow arrays.

Only a batch's distinct keys meet Python (one dictionary look-up each); rows find theirs
with Arrow's ``index_in`` (:func:`positions`).  A dictionary-encoded column (text as a
Parquet file holds it) is looked up by its dictionary alone, and its rows by their indices:
no row's text is hashed.  NULL is a key like any other (SQL's GROUP BY keeps it); joins
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

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.batches import plain
from rillet.errors import FlowError


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


class KeyEncoder:
    """Numbers the distinct key tuples of columns of the given Arrow types."""

    def __init__(self, types: Sequence[pa.DataType]) -> None:
        self.types = list(types)
        self._ids: dict[Any, int] = {}
        self._chunks: list[list[pa.Array]] = [[] for _ in self.types]
        self._combined: list[pa.Array] | None = None
        # one integer-like column (integers, times, booleans): numbered with numpy alone
        integer = len(self.types) == 1 and _integer_like(self.types[0])
        self._integers = IntegerKeys(self.types[0]) if integer else None
        # several columns: numbered with Arrow's hash look-ups and numpy alone
        self._combined_keys = ColumnKeys(self.types) if len(self.types) > 1 else None

    @property
    def count(self) -> int:
        """How many distinct key tuples are numbered (0 .. count - 1)."""
        if self._integers is not None:
            return self._integers.size
        if self._combined_keys is not None:
            return self._combined_keys.size
        return len(self._ids) if self.types else 1

    def known(self) -> list[pa.Array]:
        """Every numbered key tuple's columns, in the order of their numbers."""
        return self.values(np.arange(self.count, dtype=np.int64)) if self.types else []

    def learn(self, columns: Sequence[pa.Array]) -> None:
        """Number the key tuples of ``columns`` (as :meth:`known` gave them) 0, 1, ... in
        their order, as a run that first saw them in that order did; ValueError when they
        would be numbered otherwise.  One integer column numbers a NULL after a batch's
        other new values, so there the NULL goes in a batch of its own."""
        if not self.types or not len(columns[0]):
            return
        nulls = np.zeros(len(columns[0]), dtype=bool)
        if self._integers is not None and columns[0].null_count:
            nulls = columns[0].is_null().to_numpy(zero_copy_only=False)
        cuts = sorted(
            {0, len(nulls), *np.flatnonzero(nulls).tolist(), *(np.flatnonzero(nulls) + 1).tolist()}
        )
        numbers = [
            self.encode([c.slice(a, b - a) for c in columns]) for a, b in itertools.pairwise(cuts)
        ]
        if not np.array_equal(np.concatenate(numbers), np.arange(len(nulls))):
            raise ValueError("the keys of a checkpoint are not numbered as they were")

    @property
    def size(self) -> int:
        if self._integers is not None:
            return max(self._integers.size, 1)
        if self._combined_keys is not None:
            return max(self._combined_keys.size, 1)
        return max(len(self._ids), 1)

    def encode(self, columns: Sequence[pa.Array]) -> np.ndarray:
        """Each row's key number (no key columns: every row is group 0)."""
        if not self.types:
            return np.zeros(len(columns[0]) if columns else 0, dtype=np.int64)
        if self._integers is not None:
            return self._integers.encode(columns[0])
        if self._combined_keys is not None:
            return self._combined_keys.encode(columns)
        if self._ids:  # the usual batch: only known keys, found by one hash look-up
            known = self._known()[0]  # in the order of their numbers
            numbers = positions(columns[0], known)
            if (numbers >= 0).all():
                return numbers
        column = plain(columns[0])
        distinct = pc.unique(column)
        found = positions(column, distinct)
        rows = [(v,) for v in distinct.to_pylist()]
        ids = self._number(rows, [distinct])
        numbered: np.ndarray = ids[found]
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
        if self._integers is not None:
            return [self._integers.values(np.asarray(ids, dtype=np.int64))]
        if self._combined_keys is not None:
            return self._combined_keys.values(np.asarray(ids, dtype=np.int64))
        picks = pa.array(np.asarray(ids, dtype=np.int64))
        return [column.take(picks) for column in self._known()]

    def _known(self) -> list[pa.Array]:
        """Each key column's values, in the order of the keys' numbers."""
        if self._combined is None:
            self._combined = [
                pa.concat_arrays(chunks) if chunks else pa.array([], dtype)
                for chunks, dtype in zip(self._chunks, self.types, strict=True)
            ]
        return self._combined


def positions(column: pa.Array, known: pa.Array) -> np.ndarray:
    """Where each row of ``column`` is in ``known`` (NULL matching NULL), -1 where it is
    not there.  A dictionary-encoded column is looked up by its dictionary alone, and its
    rows take their entry's place (a fifth of the cost of hashing every row).

    Examples:
        >>> column = pa.array(["b", None, "c", "b"])
        >>> positions(column, pa.array(["a", "b", None])).tolist()
        [1, 2, -1, 1]
        >>> positions(column.dictionary_encode(), pa.array(["a", "b", None])).tolist()
        [1, 2, -1, 1]
    """
    if not pa.types.is_dictionary(column.type):
        return _found(pc.index_in(column, value_set=known, skip_nulls=False))
    dictionary, indices = _entries(column)
    entries = _found(pc.index_in(dictionary, value_set=known, skip_nulls=False))
    found: np.ndarray = np.take(entries, indices)  # twice as fast as entries[...]
    return found


def _entries(column: pa.DictionaryArray) -> tuple[pa.Array, np.ndarray]:
    """A dictionary-encoded column's dictionary and each row's entry in it; a NULL row gets
    an entry of its own, after the dictionary's."""
    dictionary, indices = column.dictionary, column.indices
    if indices.null_count:
        dictionary = pa.concat_arrays([dictionary, pa.nulls(1, dictionary.type)])
        indices = indices.fill_null(len(column.dictionary))
    picked: np.ndarray = indices.to_numpy()
    return dictionary, picked


def _found(at: pa.Array) -> np.ndarray:
    if at.null_count:
        at = at.fill_null(-1)
    found: np.ndarray = at.to_numpy().astype(np.int64)
    return found


def _integer_like(dtype: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(dtype) or pa.types.is_timestamp(dtype) or pa.types.is_boolean(dtype)
    )


class IntegerKeys:
    """Numbers the values of one integer-like column with numpy alone: the known values are
    kept sorted beside their numbers, a batch's values are found by binary search, and the
    new ones are numbered in the order they first appear.  A join on a key with millions
    of distinct values never meets Python a value.

    Examples:
        >>> keys = IntegerKeys(pa.int64())
        >>> keys.encode(pa.array([7, 3, 7, None])).tolist(), keys.encode(pa.array([3, 9])).tolist()
        ([0, 1, 0, 2], [1, 3])
        >>> keys.values(np.array([3, 2, 0])).to_pylist()
        [9, None, 7]
    """

    def __init__(self, dtype: pa.DataType) -> None:
        self.dtype = dtype
        self._known = np.empty(0, dtype=np.int64)  # sorted
        self._numbers = np.empty(0, dtype=np.int64)  # of the known values, alike
        self._by_number = np.empty(0, dtype=np.int64)  # each number's value
        self._null: int | None = None  # the number of NULL, once seen
        self.size = 0

    def encode(self, column: pa.Array) -> np.ndarray:
        valid = None
        if column.null_count:
            valid = column.is_valid().to_numpy(zero_copy_only=False)
            column = column.fill_null(0)
        values = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
        present = values if valid is None else values[valid]
        if len(present) and len(self._known):  # the usual batch: every value known
            at = np.minimum(_search(self._known, present), len(self._known) - 1)
            fresh = self._known[at] != present
            if not fresh.any() and valid is None:
                known: np.ndarray = self._numbers[at]
                return known
            if fresh.any():
                self._learn(present[fresh])
        elif len(present):
            self._learn(present)
        if valid is not None and self._null is None:
            self._null = self._add(np.zeros(0, dtype=np.int64), 1)
        found = _search(self._known, values)
        numbers: np.ndarray = (
            self._numbers[np.minimum(found, len(self._known) - 1)]
            if len(self._known)
            else np.zeros(len(values), dtype=np.int64)
        )
        if valid is not None:
            assert self._null is not None
            numbers = np.where(valid, numbers, self._null)
        return numbers

    def _learn(self, values: np.ndarray) -> None:
        distinct, first = np.unique(values, return_index=True)
        if len(self._known):
            at = np.minimum(np.searchsorted(self._known, distinct), len(self._known) - 1)
            fresh = self._known[at] != distinct
            distinct, first = distinct[fresh], first[fresh]
        if not len(distinct):
            return
        order = np.argsort(first, kind="stable")  # numbered in order of first appearance
        numbers = np.empty(len(distinct), dtype=np.int64)
        numbers[order] = np.arange(self.size, self.size + len(distinct))
        self._add(distinct[order], 0)
        # both sorted: merged by inserting, not by sorting every known value again
        at = np.searchsorted(self._known, distinct)
        self._known = np.insert(self._known, at, distinct)
        self._numbers = np.insert(self._numbers, at, numbers)

    def _add(self, values: np.ndarray, nulls: int) -> int:
        """Give the next numbers to ``values`` (and ``nulls`` NULLs after them)."""
        first = self.size
        self._by_number = np.concatenate([self._by_number, values, np.zeros(nulls, np.int64)])
        self.size += len(values) + nulls
        return first + len(values)

    def values(self, numbers: np.ndarray) -> pa.Array:
        picked = self._by_number[numbers]
        mask = numbers == self._null if self._null is not None else None
        return pa.array(picked, pa.int64(), mask=mask).cast(self.dtype)


def _search(known: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(known, values)``; past the caches, the values are looked up in
    sorted order (each search starts where the one before ended: twice as fast)."""
    if len(known) < 1 << 16 or len(values) < 1 << 10:
        found: np.ndarray = np.searchsorted(known, values)
        return found
    order = np.argsort(values)
    found = np.empty(len(values), dtype=np.intp)
    found[order] = np.searchsorted(known, values[order])
    return found


_HALF = 2**31  # packed (number, code) pairs: both below this


class ColumnKeys:
    """Numbers the distinct combinations of several key columns without a Python loop:
    each column's values get stable codes (one Arrow hash look-up against the values known;
    only a batch's new values are learnt), then the codes are folded left to right, each
    (number so far, next code) pair packed into one int64 and numbered by
    :class:`IntegerKeys`.  Keys are numbered in the order they first appear, whatever
    batches they came in.

    Examples:
        >>> keys = ColumnKeys([pa.string(), pa.int64()])
        >>> keys.encode([pa.array(["b", "a", "b", None]), pa.array([1, 1, 1, 2])]).tolist()
        [0, 1, 0, 2]
        >>> [c.to_pylist() for c in keys.values(np.array([2, 0]))]
        [[None, 'b'], [2, 1]]
    """

    def __init__(self, types: Sequence[pa.DataType]) -> None:
        self.types = list(types)
        self._values: list[list[pa.Array]] = [[] for _ in self.types]  # per column, by code
        self._joined: list[pa.Array | None] = [None for _ in self.types]
        self._levels = [PairKeys() for _ in self.types[1:]]
        self._codes = [np.empty(0, dtype=np.int64) for _ in self.types]  # each number's codes
        self.size = 0

    def _known(self, i: int) -> pa.Array:
        joined = self._joined[i]
        if joined is None:
            chunks = self._values[i]
            joined = pa.concat_arrays(chunks) if chunks else pa.array([], self.types[i])
            self._joined[i] = joined
        return joined

    def _column_codes(self, i: int, column: pa.Array) -> np.ndarray:
        known = self._known(i)
        found = positions(column, known)
        if len(found) and found.min() < 0:  # values not seen before: learnt, in order of
            missing = found < 0  # first appearance
            fresh = pc.unique(plain(column.filter(pa.array(missing))))
            self._values[i].append(fresh.cast(self.types[i]))
            self._joined[i] = None
            known = self._known(i)
            if len(known) >= _HALF:
                raise FlowError("more than 2**31 distinct values of a group key column")
            found = positions(column, known)
        return found

    def encode(self, columns: Sequence[pa.Array]) -> np.ndarray:
        """Each row's key number."""
        known = self._by_dictionaries(columns)
        if known is not None:
            return known
        codes = [self._column_codes(i, c) for i, c in enumerate(columns)]
        numbers, bound = codes[0], len(self._known(0))
        for i, (level, code) in enumerate(zip(self._levels, codes[1:], strict=True), 1):
            numbers = level.encode(numbers, code, bound, len(self._known(i)))
            bound = level.size
        numbers = numbers.astype(np.int64, copy=False)
        total = self._levels[-1].size
        if total >= _HALF:
            raise FlowError("more than 2**31 distinct group keys")
        if total > self.size:  # new keys: their codes, from the row each first appears in
            fresh = np.flatnonzero(numbers >= self.size)
            # the row each new number first appears in, by number (numbered in that order)
            rows = fresh[_first_rows(numbers[fresh] - self.size, total - self.size)]
            self._codes = [
                np.concatenate([known, code[rows]])
                for known, code in zip(self._codes, codes, strict=True)
            ]
            self.size = total
        return numbers

    def _by_dictionaries(self, columns: Sequence[pa.Array]) -> np.ndarray | None:
        """Each row's number when every column is dictionary-encoded and every key of the
        batch is known (a catch-up's usual batch), else None (nothing learnt).

        Each column's dictionary is looked up, not its rows.  A level whose pairs fit a
        table of (number so far, dictionary entry) a quarter of the batch's size or less is
        looked up a cell at a time; a row then takes its cell, with no code of its own."""
        if not all(pa.types.is_dictionary(c.type) for c in columns):
            return None
        entries: list[np.ndarray] = []  # each column's entries' codes
        picks: list[np.ndarray] = []  # each row's entry of each column
        for i, column in enumerate(columns):
            dictionary, indices = _entries(column)
            codes = positions(dictionary, self._known(i))
            if len(codes) and codes.min() < 0:  # a value to learn
                return None
            entries.append(codes)
            picks.append(indices)
        numbers = np.take(entries[0], picks[0])  # each row's number so far
        prior = len(self._known(0))  # how many numbers so far there are
        for j, level in enumerate(self._levels, 1):
            codes, pick, bound = entries[j], picks[j], len(self._known(j))
            width = len(codes)
            if prior * width * 4 <= len(numbers):
                table = level.lookup(np.arange(prior)[:, None], codes[None, :], prior, bound)
                if table is None:
                    return None
                numbers = np.take(table.reshape(-1), numbers * width + pick)
            else:
                found = level.lookup(numbers, np.take(codes, pick), prior, bound)
                if found is None:
                    return None
                numbers = found
            if len(numbers) and numbers.min() < 0:  # a key to learn
                return None
            prior = level.size
        return numbers.astype(np.int64, copy=False)

    def values(self, numbers: np.ndarray) -> list[pa.Array]:
        """The key columns' values of key numbers ``numbers``."""
        return [
            self._known(i).take(pa.array(self._codes[i][numbers])) for i in range(len(self.types))
        ]


_DENSE = 2**22  # the most cells of a pair table kept as a dense array


class PairKeys:
    """Numbers pairs of small non-negative integers (below 2**31) in order of first
    appearance: :class:`IntegerKeys` over the packed pairs decides the numbers; while the
    pairs fit a table of at most ``_DENSE`` cells, known pairs are looked up in it by
    index (far cheaper than IntegerKeys' binary search over random values).

    Examples:
        >>> keys = PairKeys()
        >>> keys.encode(np.array([3, 0, 3]), np.array([1, 1, 1]), 4, 2).tolist()
        [0, 1, 0]
        >>> keys.encode(np.array([0, 5]), np.array([1, 2]), 6, 3).tolist()
        [1, 2]
    """

    def __init__(self) -> None:
        self._keys = IntegerKeys(pa.int64())
        self._table: np.ndarray | None = None  # number of (a, b) at a * width + b, or -1
        self._dense = True  # while the pairs within the bounds fit a table
        self._height = 0
        self._width = 0

    @property
    def size(self) -> int:
        """How many pairs are numbered."""
        return self._keys.size

    def encode(
        self, first: np.ndarray, second: np.ndarray, first_bound: int, second_bound: int
    ) -> np.ndarray:
        """Each pair's number (int32 or int64); every ``first`` is below ``first_bound``
        and every ``second`` below ``second_bound`` (bounds the caller knows: no pass over
        the pairs to find them)."""
        if not len(first):
            return np.zeros(0, dtype=np.int64)
        table = self._table
        inside = first_bound <= self._height and second_bound <= self._width
        if self._dense and (table is None or not inside):
            table = self._fill(first_bound, second_bound)
        if table is None:  # too many cells for a table: numbered by binary search
            return self._keys.encode(pa.array(first.astype(np.int64) * _HALF + second))
        cells = first * self._width + second  # int32: within _DENSE
        found: np.ndarray = table[cells]
        if found.min() < 0:  # new pairs: numbered in order of first appearance
            fresh = _first_seen(cells[found < 0], len(table))
            high, low = fresh // self._width, fresh % self._width
            table[fresh] = self._keys.encode(pa.array(high.astype(np.int64) * _HALF + low))
            found = table[cells]
        return found

    def lookup(
        self, first: np.ndarray, second: np.ndarray, first_bound: int, second_bound: int
    ) -> np.ndarray | None:
        """Each pair's number, -1 for a pair not known, learning nothing (the arrays
        broadcast); None when the pairs within the bounds are not all in the table."""
        table = self._table
        if table is None or first_bound > self._height or second_bound > self._width:
            return None
        found: np.ndarray = table[first * self._width + second]
        return found

    def _fill(self, first_bound: int, second_bound: int) -> np.ndarray | None:
        """The dense table of every pair within the bounds (every pair known is), grown
        to them; None, from then on, once that is too many cells (the bounds only grow)."""
        height = max(1 << max(first_bound - 1, 0).bit_length(), self._height)
        width = max(1 << max(second_bound - 1, 0).bit_length(), self._width)
        if height * width > _DENSE:
            self._table, self._dense = None, False
            return None
        if self._table is None or height > self._height or width > self._width:
            packed = self._keys._by_number
            self._height, self._width = height, width
            self._table = np.full(height * width, -1, dtype=np.int32)
            self._table[packed // _HALF * width + packed % _HALF] = np.arange(
                len(packed), dtype=np.int32
            )
        return self._table


def _first_rows(values: np.ndarray, size: int) -> np.ndarray:
    """Where each of ``0 .. size - 1`` first appears in ``values`` (``len(values)`` where
    it does not): one unbuffered minimum, where ``np.unique`` sorts."""
    firsts = np.full(size, len(values), dtype=np.int64)
    np.minimum.at(firsts, values, np.arange(len(values)))
    return firsts


def _first_seen(values: np.ndarray, size: int) -> np.ndarray:
    """The distinct ``values`` (each in ``[0, size)``) in order of first appearance."""
    if size > 8 * len(values) + 4096:  # a table of every value would cost more than a sort
        distinct, first = np.unique(values, return_index=True)
        ordered: np.ndarray = distinct[np.argsort(first)]
        return ordered
    firsts = _first_rows(values, size)
    seen = np.flatnonzero(firsts < len(values))
    found: np.ndarray = seen[np.argsort(firsts[seen])]
    return found


def key_table(encoder: KeyEncoder) -> pa.RecordBatch:
    """Every key tuple ``encoder`` numbered, a row each in the order of their numbers
    (columns k0, k1, ...): a checkpoint's, read back by :meth:`KeyEncoder.learn`."""
    known = encoder.known()
    return pa.record_batch(known, names=[f"k{i}" for i in range(len(known))])
