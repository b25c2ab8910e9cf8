"""Approximate aggregates on Apache DataSketches: distinct counts, quantiles, distributions, top-k.

KLL takes a whole numpy array per batch.  HLL and frequent items take one value per call, so
each batch is first reduced with pyarrow (``unique`` for HLL, ``value_counts`` for frequent
items, each distinct value fed once with its count as weight): the Python loop runs over
distinct values, never over records.  Values are fed as *keys*, the same key for the same
value whatever batch or node it comes from: an int (BOOLEAN, INT, BIGINT, TIMESTAMP in epoch
microseconds, and FLOAT/DOUBLE as the bits of a double with -0.0 and NaN made canonical) or a
str (STRING, PRECISE as its text, BINARY as latin-1 text, which maps bytes one to one; HLL,
which ignores empty strings, gets every text key behind a "=").  State bytes are the
sketches' own serialized form, HLL's and frequent items' in a form that does not depend on the
order of the values (:func:`hll_bytes`, :func:`frequent_bytes`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.aggregates.base import AggregateFunction, register
from rillet.aggregates.kll_bytes import check_kll
from rillet.datatypes import DataType
from rillet.errors import InputError, TypeCheckError
from rillet.expressions.signatures import ListOf, Signature, TypeVar, t

HLL_LG_K = 12
KLL_K = 200
_NO_FALSE_NEGATIVES = ds.frequent_items_error_type.NO_FALSE_NEGATIVES


# -- keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Keys:
    """How values of one rtsql type become sketch keys and back."""

    dtype: DataType
    textual: bool  # str keys; else int keys

    @classmethod
    def of(cls, dtype: DataType) -> Keys:
        return cls(dtype, dtype.name in ("STRING", "PRECISE", "BINARY"))

    def encode(self, values: pa.Array) -> list[Any]:
        """The keys of an array of distinct non-NULL values (duplicates may remain)."""
        name = self.dtype.name
        if values.type != self.dtype.arrow:
            values = values.cast(self.dtype.arrow)  # e.g. int64 for an INT argument
        if name in ("FLOAT", "DOUBLE"):
            keys: list[Any] = _one_zero_one_nan(values).view(np.int64).tolist()
            return keys
        if name == "PRECISE":
            return list(values.cast(pa.string()).to_pylist())
        if name == "BINARY":
            return [v.decode("latin-1") for v in values.to_pylist()]
        if name == "STRING":
            return list(values.to_pylist())
        return list(values.cast(pa.int64()).to_pylist())  # BOOLEAN, INT, BIGINT, TIMESTAMP

    def decode(self, keys: Sequence[Any]) -> list[Any]:
        """The values of ``keys``."""
        name = self.dtype.name
        if name == "STRING":
            return list(keys)
        if name == "PRECISE":
            return [Decimal(k) for k in keys]
        if name == "BINARY":
            return [k.encode("latin-1") for k in keys]
        if name in ("FLOAT", "DOUBLE"):
            doubles = pa.array(np.asarray(keys, dtype=np.int64).view(np.float64))
            return list(doubles.cast(self.dtype.arrow).to_pylist())
        return list(pa.array(keys, pa.int64()).cast(self.dtype.arrow).to_pylist())

    def of_value(self, value: Any) -> Any:
        return self.encode(pa.array([value], self.dtype.arrow))[0]

    def text(self, values: pa.Array) -> list[str]:
        """The keys of distinct non-NULL values as text: a text value itself, any other as
        rtsql writes it as text (``7``, ``1.5``, ``true``, ``2026-01-01 00:00:00.000000Z``),
        so that a TOP_K state reads alone (its items are strings whatever the column)."""
        if self.textual:
            keys: list[str] = self.encode(values)
            return keys
        if values.type != self.dtype.arrow:
            values = values.cast(self.dtype.arrow)
        if self.dtype.name in ("FLOAT", "DOUBLE"):  # -0.0 as 0.0, one NaN: a value, one key
            values = pa.array(_one_zero_one_nan(values)).cast(self.dtype.arrow)
        if self.dtype.name == "TIMESTAMP":  # as Arrow writes UTC times, ten times sooner
            text = values.cast(pa.timestamp("us")).cast(pa.string())
            return list(pc.binary_join_element_wise(text, "Z", "").to_pylist())
        return list(values.cast(pa.string()).to_pylist())

    def from_text(self, keys: Sequence[str]) -> list[Any]:
        """The values of :meth:`text`'s keys."""
        if self.textual:
            return self.decode(keys)
        return list(pa.array(keys, pa.string()).cast(self.dtype.arrow).to_pylist())


def _one_zero_one_nan(values: pa.Array) -> np.ndarray:
    """Floating-point values as doubles, -0.0 as 0.0 and every NaN of one bit pattern: a
    value, one key."""
    x: np.ndarray = values.cast(pa.float64()).to_numpy(zero_copy_only=False) + 0.0
    x[np.isnan(x)] = np.nan
    return x


def _non_null(values: pa.Array | None) -> pa.Array | None:
    if values is None or values.null_count == len(values):
        return None
    return values if values.null_count == 0 else pc.drop_null(values)


def _doubles(values: pa.Array | None) -> np.ndarray[Any, np.dtype[np.float64]] | None:
    valid = _non_null(values)
    if valid is None:
        return None
    doubles = valid
    if valid.type != pa.float64():  # BIGINT past 2**53 rounds, as in DuckDB
        doubles = valid.cast(pa.float64(), safe=False)
    # The sketch's binding takes writable arrays only, so this is a copy.
    array: np.ndarray[Any, np.dtype[np.float64]] = doubles.to_numpy(
        zero_copy_only=False, writable=True
    )
    return array


# -- APPROX_COUNT_DISTINCT: HLL ------------------------------------------------------------------


class DistinctCountState:
    """A HyperLogLog union over the keys of the distinct values seen (NULL is not counted)."""

    __slots__ = ("keys", "lg_k", "union")

    def __init__(self, arg: DataType, lg_k: int = HLL_LG_K, data: bytes | None = None) -> None:
        self.keys = Keys.of(arg)
        self.lg_k = lg_k
        self.union = ds.hll_union(lg_k)
        if data is not None:
            self.union.update(ds.hll_sketch.deserialize(data))

    def update(self, values: pa.Array | None, rows: int) -> None:
        valid = _non_null(values)
        if valid is None:
            return
        keys = self.keys.encode(pc.unique(valid))
        if self.keys.textual:  # HLL ignores the empty string: prefix every text key
            keys = ["=" + key for key in keys]
        update = self.union.update
        for key in keys:
            update(key)

    def merge(self, other: DistinctCountState) -> None:
        self.union.update(other.union.get_result(ds.tgt_hll_type.HLL_8))

    def result(self) -> int:
        return hll_estimate(self._canonical())

    def bounds(self, num_std_devs: int = 2) -> tuple[float, float]:
        """Lower and upper bounds of the distinct count at 1, 2 or 3 standard deviations."""
        sketch = self._canonical()
        return sketch.get_lower_bound(num_std_devs), sketch.get_upper_bound(num_std_devs)

    def to_bytes(self) -> bytes:
        return hll_bytes(self.union.get_result(ds.tgt_hll_type.HLL_8))

    def _canonical(self) -> Any:
        return ds.hll_sketch.deserialize(self.to_bytes())


_HLL_MODE = 7  # the byte whose low two bits are the mode
_LIST, _SET = 0, 1
_OUT_OF_ORDER = 16  # flag: estimate from the registers alone, not the running HIP sum
_HIP = slice(8, 16)  # the HIP accumulator of an HLL-mode image


def hll_bytes(sketch: Any) -> bytes:
    """An HLL sketch's compact image in a form that depends on the values it saw, not on
    their order or on how they were split among the sketches merged into it, as a named
    flow's output must not depend on where its input was cut into batches.

    In LIST and SET mode the coupons are sorted (DataSketches reads them in any order).  In
    HLL mode the registers already are the same; the HIP estimate, a running sum in arrival
    order, is dropped and the sketch marked out of order, as a union marks what it merged,
    so that it estimates from its registers.
    """
    image = bytearray(sketch.serialize_compact())
    mode = image[_HLL_MODE] & 3
    if mode in (_LIST, _SET):
        start, count = (
            (8, image[6]) if mode == _LIST else (12, int.from_bytes(image[8:12], "little"))
        )
        end = start + 4 * count
        image[start:end] = np.sort(np.frombuffer(image, "<u4", count, start)).tobytes()
    else:
        image[5] |= _OUT_OF_ORDER
        image[_HIP] = bytes(8)
    return bytes(image)


def hll_estimate(sketch: Any) -> int:
    """The distinct count a sketch in :func:`hll_bytes`' form estimates."""
    return int(round(sketch.get_estimate()))


# -- APPROX_QUANTILE and DISTRIBUTION: KLL -------------------------------------------------------


def _check_rank(q: Any, what: str = "q") -> float:
    if isinstance(q, bool) or not isinstance(q, int | float) or not 0.0 <= q <= 1.0:
        raise InputError(f"{what} must be a number between 0 and 1, got {q!r}")
    return float(q)


def sketch_quantile(sketch: Any, q: float) -> float:
    # The sketch keeps the extremes exactly, though it may have compacted them away.
    if q == 0.0:
        return float(sketch.get_min_value())
    if q == 1.0:
        return float(sketch.get_max_value())
    return float(sketch.get_quantile(q, True))


def exact_positions(n: np.ndarray, q: float) -> np.ndarray:
    """Where, among ``n`` values in ascending order (counting from 0), a KLL sketch that
    holds them exactly finds its quantile at ``q``, for each count in ``n`` (all > 0).

    A sketch holds its values exactly until it has seen more than k of them; then its
    inclusive quantile at q is the value of rank ``ceil(q * n)`` (counting from 1), and
    the least at 0 (as :func:`_quantile` reads it).

    Examples:
        >>> [exact_positions(np.array([4]), q).item() for q in (0.0, 0.25, 0.5, 0.51, 1.0)]
        [0, 0, 1, 2, 3]
        >>> exact_positions(np.array([1, 3, 200]), 0.99)
        array([  0,   2, 197])
    """
    # as the sketch: the product in doubles (n is exact in a double), then its ceiling
    ranks = np.ceil(q * n).astype(np.int64)
    positions: np.ndarray = np.clip(ranks - 1, 0, n - 1)
    return positions


@dataclass(frozen=True, eq=False, slots=True)
class Distribution:
    """A read-only view of a KLL sketch: quantiles, ranks and CDF of the values it saw.

    Ranks are inclusive: ``rank(v)`` is about the fraction of values <= v, and
    ``quantile(q)`` the least value whose rank is at least q.  Answers are within the
    sketch's normalized rank error (``rank_error``, about 1.3% for k=200) and exact while
    ``n`` is small.

    Examples:
        >>> import pyarrow as pa
        >>> state = DISTRIBUTION.new_state(t("DOUBLE"))
        >>> state.update(pa.array([3.0, 1.0, None, 2.0, 4.0]), 5)
        >>> d = state.result()
        >>> d.n, d.min, d.max, d.quantile(0.5), d.rank(2.0)
        (4, 1.0, 4.0, 2.0, 0.5)
        >>> d.cdf([2.0, 3.0])
        [0.5, 0.75, 1.0]
    """

    sketch: Any  # a kll_doubles_sketch that nothing else updates

    @property
    def n(self) -> int:
        """The number of values."""
        return int(self.sketch.n)

    @property
    def min(self) -> float:
        return float(self.sketch.get_min_value())

    @property
    def max(self) -> float:
        return float(self.sketch.get_max_value())

    @property
    def rank_error(self) -> float:
        """The normalized rank error of single answers (99% confidence)."""
        return float(self.sketch.normalized_rank_error(False))

    def quantile(self, q: float) -> float:
        """The value at normalized rank ``q`` (0 is the minimum, 1 the maximum)."""
        return sketch_quantile(self.sketch, _check_rank(q))

    def quantiles(self, qs: Iterable[float]) -> list[float]:
        return [sketch_quantile(self.sketch, _check_rank(q)) for q in qs]

    def rank(self, value: float) -> float:
        """About the fraction of values that are <= ``value``."""
        return float(self.sketch.get_rank(float(value), True))

    def cdf(self, split_points: Sequence[float]) -> list[float]:
        """Fractions of values <= each split point, then 1.0: ``len(split_points) + 1`` numbers.

        The split points must be increasing.
        """
        points = [float(p) for p in split_points]
        if any(a >= b for a, b in zip(points, points[1:], strict=False)):
            raise InputError(f"split points must be increasing, got {points}")
        return [float(f) for f in self.sketch.get_cdf(points, True)]

    def to_bytes(self) -> bytes:
        """The sketch's bytes, read back by :meth:`from_bytes` (also DISTRIBUTION's state)."""
        data: bytes = self.sketch.serialize()
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> Distribution:
        return cls(ds.kll_doubles_sketch.deserialize(bytes(data)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Distribution) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        if self.n == 0:
            return "Distribution(n=0)"
        median = self.quantile(0.5)
        return f"Distribution(n={self.n}, min={self.min}, median={median}, max={self.max})"


class KllState:
    """A KLL doubles sketch of the non-NULL values (NaN is ignored).

    ``q`` set: the result is the quantile at q (APPROX_QUANTILE); otherwise it is a
    :class:`Distribution` (DISTRIBUTION).
    """

    __slots__ = ("q", "sketch")

    def __init__(self, q: float | None = None, k: int = KLL_K, data: bytes | None = None) -> None:
        self.q = q
        self.sketch = ds.kll_doubles_sketch(k) if data is None else _kll_from(data)

    def update(self, values: pa.Array | None, rows: int) -> None:
        doubles = _doubles(values)
        if doubles is not None:
            self.sketch.update(doubles)

    def merge(self, other: KllState) -> None:
        self.sketch.merge(other.sketch)

    def result(self) -> float | Distribution | None:
        if self.sketch.is_empty():
            return None
        if self.q is None:
            return Distribution(copy.copy(self.sketch))
        return sketch_quantile(self.sketch, self.q)

    def to_bytes(self) -> bytes:
        data: bytes = self.sketch.serialize()
        return data


def _kll_from(data: bytes) -> Any:
    return ds.kll_doubles_sketch.deserialize(data)


# -- TOP_K: frequent items -----------------------------------------------------------------------


class TopKState:
    """A frequent-strings sketch over the values as text (:meth:`Keys.text`: a state reads
    alone, whatever its column's type); the result is the k most frequent values."""

    __slots__ = ("k", "keys", "lg_max_k", "sketch")

    def __init__(self, arg: DataType, k: int, data: bytes | None = None) -> None:
        self.k = k
        self.keys = Keys.of(arg)
        # A map of at least 16k entries (and 1024) keeps the k heaviest well above the error;
        # past 2**24 entries (12M values kept) memory, not accuracy, is what matters.
        self.lg_max_k = min(max(10, (16 * k - 1).bit_length()), 24)
        self.sketch = (
            ds.frequent_strings_sketch(self.lg_max_k)
            if data is None
            else ds.frequent_strings_sketch.deserialize(data)
        )

    def update(self, values: pa.Array | None, rows: int) -> None:
        valid = _non_null(values)
        if valid is None:
            return
        counted = pc.value_counts(valid)
        keys = self.keys.text(counted.field("values"))
        update = self.sketch.update
        for key, count in zip(keys, counted.field("counts").to_pylist(), strict=True):
            update(key, count)

    def merge(self, other: TopKState) -> None:
        self.sketch.merge(other.sketch)

    def top(self, n: int | None = None) -> list[tuple[Any, int]]:
        """(value, estimated count) of the ``n`` (default k) most frequent values, most first.

        Ties are broken by value (NaN last), so every merge order gives the same list.
        """
        rows = self.sketch.get_frequent_items(_NO_FALSE_NEGATIVES)  # most frequent first
        n = self.k if n is None else n
        if len(rows) > n:  # only the n most frequent, and those as frequent as the last,
            rows = [row for row in rows if row[1] >= rows[n - 1][1]]  # meet Python values
        values = self.keys.from_text([row[0] for row in rows])
        pairs = sorted(zip(values, (int(row[1]) for row in rows), strict=True), key=_most_first)
        return pairs[:n]

    def bounds(self, value: Any) -> tuple[int, int]:
        """Guaranteed lower and upper bounds of how often ``value`` occurred."""
        [key] = self.keys.text(pa.array([value], self.keys.dtype.arrow))
        return int(self.sketch.get_lower_bound(key)), int(self.sketch.get_upper_bound(key))

    @property
    def total(self) -> int:
        """The number of non-NULL values seen."""
        return int(self.sketch.total_weight)

    def result(self) -> list[Any] | None:
        if self.sketch.is_empty():
            return None
        return [value for value, _ in self.top()]

    def to_bytes(self) -> bytes:
        return frequent_bytes(bytes(self.sketch.serialize()), True)


def _most_first(pair: tuple[Any, int]) -> tuple[int, bool, Any]:
    """The order of TOP_K's values: most frequent first, ties by value, NaN last."""
    value, count = pair
    nan = value != value
    return -count, nan, 0 if nan else value


_FREQUENT_HEADER = 32  # bytes before the weights of a non-empty frequent-items image


def frequent_bytes(image: bytes, textual: bool) -> bytes:
    """A frequent-items image with its items in key order, not in their hash map's, whose
    layout follows the order they came in: while the sketch holds every distinct value (its
    counts exact), the same values cut into batches anywhere give the same bytes.  Past that
    its counts depend on the order anyway.  The sketch reads its items in any order."""
    if image[0] == 1:  # empty: no items
        return image
    count = int.from_bytes(image[8:12], "little")
    weights = np.frombuffer(image, "<u8", count, _FREQUENT_HEADER)
    start = _FREQUENT_HEADER + 8 * count
    if textual:  # each a 4-byte length and UTF-8
        items: list[bytes] = []
        for _ in range(count):
            end = start + 4 + int.from_bytes(image[start : start + 4], "little")
            items.append(image[start:end])
            start = end
        order = np.array(sorted(range(count), key=lambda i: items[i][4:]), np.int64)
        body = b"".join(items[i] for i in order.tolist())
    else:
        keys = np.frombuffer(image, "<i8", count, start)
        order = np.argsort(keys, kind="stable")
        body = keys[order].tobytes()
    return image[:_FREQUENT_HEADER] + weights[order].tobytes() + body


# -- stored states merged: a roll-up over a roll-up ----------------------------------------------


def frequent_sketch(data: bytes) -> Any:
    """A TOP_K state: strings (TOP_K's of any column), or else the library's integer keys
    (``PyLongsSerDe``, as states made elsewhere, or by TOP_K before it kept text, hold)."""
    try:
        return ds.frequent_strings_sketch.deserialize(bytes(data))
    except (RuntimeError, ValueError, IndexError):  # lengths that do not fit: not strings
        sketch = ds.frequent_items_sketch.deserialize(bytes(data), ds.PyLongsSerDe())
    # the library reads integer keys from a text state cut short too: only bytes that are
    # exactly a state of them, and not text items with the last cut short, are one
    if len(sketch.serialize(ds.PyLongsSerDe())) != len(data) or _cut_text(bytes(data)):
        raise ValueError("the bytes are not a frequent items state")
    return sketch


def _cut_text(image: bytes) -> bool:
    """Whether a frequent-items image's items read as text cut short: whole items (each a
    4-byte length and UTF-8 without a zero byte, one of them not empty), then one whose
    length runs past the end by less than the image's size, its bytes up to there text."""
    count = int.from_bytes(image[8:12], "little")
    start, filled = _FREQUENT_HEADER + 8 * count, False
    for _ in range(count):
        length = int.from_bytes(image[start : start + 4], "little")
        end = start + 4 + length
        if end > len(image):
            return filled and length <= len(image) and _text(image[start + 4 :], cut=True)
        if not _text(image[start + 4 : end]):
            return False
        start, filled = end, filled or length > 0
    return False


def _text(data: bytes, cut: bool = False) -> bool:
    """Whether ``data`` is UTF-8 without a zero byte (integer keys hold them); ``cut``: but
    for a character its end cut short."""
    for trim in range(4 if cut else 1):
        try:
            return "\0" not in data[: len(data) - trim].decode()
        except UnicodeDecodeError:
            continue
    return False


def frequent_image(sketch: Any) -> bytes:
    """A frequent-items sketch's bytes, in :func:`frequent_bytes`' form."""
    if isinstance(sketch, ds.frequent_strings_sketch):
        return frequent_bytes(bytes(sketch.serialize()), True)
    return frequent_bytes(bytes(sketch.serialize(ds.PyLongsSerDe())), False)


def top_items(sketch: Any, k: int) -> list[str]:
    """The k most frequent keys of a frequent-items sketch, as text, most first (ties by
    key, so that every merge order gives the same list)."""
    rows = sketch.get_frequent_items(_NO_FALSE_NEGATIVES)
    rows.sort(key=lambda row: (-row[1], str(row[0])))
    return [str(row[0]) for row in rows[:k]]


def _states(
    values: pa.Array | None, name: str, kind: str, read: Callable[[bytes], Any]
) -> Iterable[Any]:
    """The non-NULL stored states of a ``*_merge`` aggregate's batch, each read by
    ``read``; InputError naming the function when one is not a ``kind`` state."""
    valid = _non_null(values)
    for data in [] if valid is None else valid.to_pylist():
        try:
            yield read(data)
        except (RuntimeError, ValueError, IndexError, TypeError) as exc:
            raise InputError(f"{name}: a value is not {kind} state ({exc})") from None


class KllMergeState(KllState):
    """KLL_MERGE (``q`` None: the states merged, a Distribution, stored as its bytes) and
    KLL_MERGE_QUANTILE (rank q of them merged) over stored KLL states: DataSketches' merge
    of each (a flow's windows read their items instead, :class:`~rillet.aggregates.grouped.
    KllKind`)."""

    __slots__ = ()

    def update(self, values: pa.Array | None, rows: int) -> None:
        name = "kll_merge" if self.q is None else "kll_merge_quantile"
        if values is not None:
            check_kll(values, name)  # before the library trusts their offsets
        for sketch in _states(values, name, "a KLL", _kll_from):
            self.sketch.merge(sketch)


class HllMergeState(DistinctCountState):
    """HLL_MERGE (the union's bytes) and HLL_MERGE_COUNT (its estimate) over stored HLL
    states, as a flow aggregate."""

    __slots__ = ("count",)

    def __init__(self, count: bool, data: bytes | None = None) -> None:
        super().__init__(t("BINARY"), data=data)
        self.count = count

    def update(self, values: pa.Array | None, rows: int) -> None:
        name = "hll_merge_count" if self.count else "hll_merge"
        for sketch in _states(values, name, "an HLL", ds.hll_sketch.deserialize):
            self.union.update(sketch)

    def result(self) -> int | bytes:  # type: ignore[override]
        """The estimate, or the union's bytes: of no value, an empty state, as
        APPROX_COUNT_DISTINCT's state of no value is."""
        return super().result() if self.count else self.to_bytes()


class TopKMergeState:
    """TOP_K_MERGE (the merged state's bytes) and TOP_K_MERGE_ITEMS (its k most frequent
    values, as text) over stored TOP_K states, as a flow aggregate (states of text, or of
    the library's integer keys: :func:`frequent_sketch`)."""

    __slots__ = ("k", "sketch")

    def __init__(self, k: int | None, data: bytes | None = None) -> None:
        self.k = k
        self.sketch: Any = None if data is None else frequent_sketch(data)

    @property
    def name(self) -> str:
        return "top_k_merge" if self.k is None else "top_k_merge_items"

    def update(self, values: pa.Array | None, rows: int) -> None:
        for sketch in _states(values, self.name, "a TOP_K", frequent_sketch):
            self._merge(sketch)

    def merge(self, other: TopKMergeState) -> None:
        if other.sketch is not None:
            self._merge(frequent_sketch(other.to_bytes()))  # a copy: other stays as it is

    def _merge(self, sketch: Any) -> None:
        if self.sketch is None or self.sketch.is_empty():  # an empty one is of text
            self.sketch = sketch
        elif type(sketch) is not type(self.sketch):
            raise InputError(f"{self.name}: the states hold text and numbers, not one kind")
        else:
            self.sketch.merge(sketch)

    def result(self) -> list[str] | bytes | None:
        """The merged state's bytes (of no value, an empty state, as TOP_K's state of no
        value is), or its k most frequent values (NULL for none)."""
        if self.k is None:
            return self.to_bytes()
        if self.sketch is None or self.sketch.is_empty():
            return None
        return top_items(self.sketch, self.k)

    def to_bytes(self) -> bytes:
        if self.sketch is None:  # no state yet: an empty sketch of text
            return frequent_image(ds.frequent_strings_sketch(10))
        return frequent_image(self.sketch)


# -- the functions -------------------------------------------------------------------------------


def _q(name: str, params: tuple[Any, ...]) -> float:
    try:
        return _check_rank(params[0])
    except InputError as exc:
        raise TypeCheckError(f"{name}: {exc.message}", function=name) from None


def _k(params: tuple[Any, ...], name: str = "top_k") -> int:
    k = params[0]
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise TypeCheckError(f"{name}: k must be a positive integer, got {k!r}", function=name)
    return k


_ANY = TypeVar("a", "ANY")
_NUMERIC = TypeVar("a", "NUMERIC")
_NO_LISTS = frozenset({"LIST"})  # pyarrow has no unique/value_counts kernel for lists


def _kll_load(quantile: bool) -> Callable[[DataType, tuple[Any, ...], bytes], KllState]:
    def load(arg: DataType, params: tuple[Any, ...], data: bytes) -> KllState:
        return KllState(_q("approx_quantile", params) if quantile else None, data=data)

    return load


APPROX_COUNT_DISTINCT = AggregateFunction(
    "approx_count_distinct",
    Signature((_ANY,), t("BIGINT NOT NULL")),
    (),
    lambda arg, params: DistinctCountState(arg),
    lambda arg, params, data: DistinctCountState(arg, data=data),
    f"About how many distinct non-NULL values (HyperLogLog, lg_k={HLL_LG_K}; exact while few).",
    rejects=_NO_LISTS,
)
APPROX_QUANTILE = AggregateFunction(
    "approx_quantile",
    Signature((_NUMERIC, t("DOUBLE")), t("DOUBLE")),
    ("q",),
    lambda arg, params: KllState(_q("approx_quantile", params)),
    _kll_load(True),
    f"The value at rank q of the non-NULL values, within KLL's rank error (k={KLL_K}).",
)
DISTRIBUTION = AggregateFunction(
    "distribution",
    Signature((_NUMERIC,), t("BINARY")),
    (),
    lambda arg, params: KllState(),
    _kll_load(False),
    "The distribution of the non-NULL values (KLL): a Distribution; stored as its bytes.",
)
TOP_K = AggregateFunction(
    "top_k",
    Signature((_ANY, t("BIGINT")), ListOf(_ANY)),
    ("k",),
    lambda arg, params: TopKState(arg, _k(params)),
    lambda arg, params, data: TopKState(arg, _k(params), data),
    "The k most frequent non-NULL values, most frequent first (frequent-items sketch).",
    rejects=_NO_LISTS,
)

_BINARY = t("BINARY")
KLL_MERGE = AggregateFunction(
    "kll_merge",
    Signature((_BINARY,), _BINARY),
    (),
    lambda arg, params: KllMergeState(),
    lambda arg, params, data: KllMergeState(data=data),
    "KLL states (DISTRIBUTION, APPROX_QUANTILE of a roll-up) merged into one state.",
)
KLL_MERGE_QUANTILE = AggregateFunction(
    "kll_merge_quantile",
    Signature((_BINARY, t("DOUBLE")), t("DOUBLE")),
    ("q",),
    lambda arg, params: KllMergeState(_q("kll_merge_quantile", params)),
    lambda arg, params, data: KllMergeState(_q("kll_merge_quantile", params), data=data),
    "The value at rank q of KLL states merged.",
)
HLL_MERGE = AggregateFunction(
    "hll_merge",
    Signature((_BINARY,), _BINARY),
    (),
    lambda arg, params: HllMergeState(False),
    lambda arg, params, data: HllMergeState(False, data),
    "HLL states (APPROX_COUNT_DISTINCT of a roll-up) merged into one state (a union).",
)
HLL_MERGE_COUNT = AggregateFunction(
    "hll_merge_count",
    Signature((_BINARY,), t("BIGINT NOT NULL")),
    (),
    lambda arg, params: HllMergeState(True),
    lambda arg, params, data: HllMergeState(True, data),
    "The distinct count of HLL states merged.",
)
TOP_K_MERGE = AggregateFunction(
    "top_k_merge",
    Signature((_BINARY,), _BINARY),
    (),
    lambda arg, params: TopKMergeState(None),
    lambda arg, params, data: TopKMergeState(None, data),
    "TOP_K states merged into one state.",
)
TOP_K_MERGE_ITEMS = AggregateFunction(
    "top_k_merge_items",
    Signature((_BINARY, t("BIGINT")), ListOf(t("STRING"))),
    ("k",),
    lambda arg, params: TopKMergeState(_k(params, "top_k_merge_items")),
    lambda arg, params, data: TopKMergeState(_k(params, "top_k_merge_items"), data),
    "The k most frequent values of TOP_K states merged, as text, most frequent first.",
)

for _fn in (
    APPROX_COUNT_DISTINCT,
    APPROX_QUANTILE,
    DISTRIBUTION,
    TOP_K,
    KLL_MERGE,
    KLL_MERGE_QUANTILE,
    HLL_MERGE,
    HLL_MERGE_COUNT,
    TOP_K_MERGE,
    TOP_K_MERGE_ITEMS,
):
    register(_fn)
