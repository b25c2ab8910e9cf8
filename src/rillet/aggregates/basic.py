"""COUNT, SUM, MIN, MAX, AVG, STDDEV, VARIANCE, FIRST and LAST.

Each update is a vectorized pyarrow call or two over the whole batch; Python only touches the
per-batch result.  State bytes: COUNT is a little-endian int64, STDDEV and VARIANCE are
``<qddd`` (count, mean, mean correction, M2), the others are JSON holding values as
:func:`encode_value` writes them.

Examples:
    >>> import pyarrow as pa
    >>> from rillet.expressions.signatures import t
    >>> whole = VARIANCE.new_state(t("DOUBLE"))
    >>> whole.update(pa.array([1.0, 2.0, None, 4.0]), 4)
    >>> left, right = VARIANCE.new_state(t("DOUBLE")), VARIANCE.new_state(t("DOUBLE"))
    >>> left.update(pa.array([1.0, 2.0]), 2)
    >>> right.update(pa.array([None, 4.0]), 2)
    >>> left.merge(right)
    >>> round(left.result(), 12) == round(whole.result(), 12)
    True
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.aggregates.base import (
    AggregateFunction,
    Load,
    decode_value,
    dump_json,
    encode_value,
    load_json,
    register,
)
from rillet.datatypes import DataType
from rillet.expressions.signatures import Signature, TypeVar, t

# Decimal sums stay exact at any size; a quotient is rounded to well past a double's digits.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_QUOTIENT = Context(prec=40)
_INT64_LIMIT = 2**63


def _empty(values: pa.Array | None) -> bool:
    return values is None or values.null_count == len(values)


def _add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if isinstance(a, Decimal):
        return _EXACT.add(a, b)
    return a + b


def batch_sum(values: pa.Array) -> int | float | Decimal:
    """The exact sum of a numeric array's non-NULL values (at least one)."""
    kind = values.type
    if pa.types.is_integer(kind):
        if kind.bit_width <= 32:  # an int64 accumulator cannot overflow below 2**32 rows
            return int(pc.sum(values).as_py())
        return _int64_sum(values)
    if pa.types.is_decimal(kind):
        # decimal128 sums wrap around past 38 digits; decimal256 has room for any batch.
        wide = values.cast(pa.decimal256(76, kind.scale))
        return Decimal(pc.sum(wide).as_py())
    return float(pc.sum(values).as_py())  # float32 sums accumulate in double


def _int64_sum(values: pa.Array) -> int:
    extremes = pc.min_max(values)
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    if max(abs(low), abs(high)) * (len(values) - values.null_count) < _INT64_LIMIT:
        return int(pc.sum(values).as_py())
    # pc.sum would wrap around: add the high and low 32-bit halves apart, each without overflow.
    ints = pc.drop_null(values).to_numpy()
    return (int((ints >> 32).sum()) << 32) + int((ints & 0xFFFFFFFF).sum())


# -- COUNT -------------------------------------------------------------------------------------


@dataclass(slots=True)
class CountState:
    n: int = 0

    def update(self, values: pa.Array | None, rows: int) -> None:
        self.n += rows if values is None else len(values) - values.null_count

    def merge(self, other: CountState) -> None:
        self.n += other.n

    def result(self) -> int:
        return self.n

    def to_bytes(self) -> bytes:
        return struct.pack("<q", self.n)


def _load_count(arg: DataType, params: tuple[Any, ...], data: bytes) -> CountState:
    (n,) = struct.unpack("<q", data)
    return CountState(n)


# -- SUM and AVG -------------------------------------------------------------------------------


@dataclass(slots=True)
class SumState:
    arg: DataType
    total: int | float | Decimal | None = None

    def update(self, values: pa.Array | None, rows: int) -> None:
        if values is None or _empty(values):
            return
        self.total = _add(self.total, batch_sum(values))

    def merge(self, other: SumState) -> None:
        if other.total is not None:
            self.total = _add(self.total, other.total)

    def result(self) -> int | float | Decimal | None:
        return self.total

    def to_bytes(self) -> bytes:
        return dump_json(encode_value(self.arg, self.total))


def _load_sum(arg: DataType, params: tuple[Any, ...], data: bytes) -> SumState:
    return SumState(arg, decode_value(arg, load_json(data)))


@dataclass(slots=True)
class AvgState:
    arg: DataType
    n: int = 0
    total: int | float | Decimal | None = None

    def update(self, values: pa.Array | None, rows: int) -> None:
        if values is None or _empty(values):
            return
        self.n += len(values) - values.null_count
        self.total = _add(self.total, batch_sum(values))

    def merge(self, other: AvgState) -> None:
        if other.n:
            self.n += other.n
            self.total = _add(self.total, other.total)

    def result(self) -> float | None:
        if not self.n or self.total is None:
            return None
        if isinstance(self.total, Decimal):
            return float(_QUOTIENT.divide(self.total, self.n))
        return self.total / self.n  # int / int is correctly rounded, however large the sum

    def to_bytes(self) -> bytes:
        return dump_json({"n": self.n, "sum": encode_value(self.arg, self.total)})


def _load_avg(arg: DataType, params: tuple[Any, ...], data: bytes) -> AvgState:
    doc = load_json(data)
    return AvgState(arg, int(doc["n"]), decode_value(arg, doc["sum"]))


# -- STDDEV and VARIANCE -----------------------------------------------------------------------


@dataclass(slots=True)
class VarianceState:
    """Count, mean and M2 (the sum of squared deviations), merged by Chan et al.'s formula.

    The mean is kept as an unevaluated sum ``mean + mean_lo`` (about twice a double's
    digits): where the spread is tiny next to the mean (epoch seconds, say), the difference
    of two partial means would otherwise lose most of its digits to rounding of the means.
    ``stddev`` picks the square root of the sample variance as the result.
    """

    stddev: bool = False
    n: int = 0
    mean: float = 0.0
    mean_lo: float = 0.0
    m2: float = 0.0

    def update(self, values: pa.Array | None, rows: int) -> None:
        if values is None or _empty(values):
            return
        x = pc.drop_null(values).cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        n = len(x)
        mean = float(x.mean())
        deviations = x - mean  # exact where x is near the mean
        lo = float(deviations.sum()) / n  # what rounding took from the mean
        # Two passes over the batch: sound even when the spread is tiny next to the mean.
        m2 = float(np.dot(deviations, deviations)) - n * lo * lo
        self._combine(n, mean, lo, m2)

    def merge(self, other: VarianceState) -> None:
        self._combine(other.n, other.mean, other.mean_lo, other.m2)

    def _combine(self, n: int, mean: float, mean_lo: float, m2: float) -> None:
        if n == 0:
            return
        if self.n == 0:
            self.n, self.mean, self.mean_lo, self.m2 = n, mean, mean_lo, m2
            return
        total = self.n + n
        delta = (mean - self.mean) + (mean_lo - self.mean_lo)
        self.m2 += m2 + delta * delta * (self.n * n / total)
        step = delta * (n / total)
        high = self.mean + step
        low = (self.mean - (high - (high - self.mean))) + (step - (high - self.mean))  # 2Sum
        self.mean, self.mean_lo = high, self.mean_lo + low
        self.n = total

    def result(self) -> float | None:
        if self.n < 2:
            return None
        variance = max(self.m2, 0.0) / (self.n - 1)
        return math.sqrt(variance) if self.stddev else variance

    def to_bytes(self) -> bytes:
        return struct.pack("<qddd", self.n, self.mean, self.mean_lo, self.m2)


def _variance_loader(stddev: bool) -> Load:
    def load(arg: DataType, params: tuple[Any, ...], data: bytes) -> VarianceState:
        n, mean, mean_lo, m2 = struct.unpack("<qddd", data)
        return VarianceState(stddev, n, mean, mean_lo, m2)

    return load


# -- MIN, MAX, FIRST, LAST ---------------------------------------------------------------------


@dataclass(slots=True)
class ExtremeState:
    """The least (MIN) or greatest (MAX) non-NULL value."""

    arg: DataType
    largest: bool
    value: Any = None

    def update(self, values: pa.Array | None, rows: int) -> None:
        if values is None or _empty(values):
            return
        extremes = pc.min_max(values)
        self._offer(extremes["max" if self.largest else "min"].as_py())

    def merge(self, other: ExtremeState) -> None:
        self._offer(other.value)

    def _offer(self, value: Any) -> None:
        if value is None:
            return
        if self.value is None or (value > self.value if self.largest else value < self.value):
            self.value = value

    def result(self) -> Any:
        return self.value

    def to_bytes(self) -> bytes:
        return dump_json(encode_value(self.arg, self.value))


@dataclass(slots=True)
class PickState:
    """The first (FIRST) or last (LAST) non-NULL value in arrival order.

    Arrival order is the order of ``update`` calls, array order within one, and a merged
    state's input counts as coming after this state's.
    """

    arg: DataType
    last: bool
    value: Any = None

    def update(self, values: pa.Array | None, rows: int) -> None:
        if values is None or _empty(values) or (self.value is not None and not self.last):
            return
        # The value is nearly always near the end it is taken from: look there first, so a
        # large batch is not copied just to drop its NULLs.
        end = values.slice(max(len(values) - 64, 0)) if self.last else values.slice(0, 64)
        for part in (end, values):
            valid = part if part.null_count == 0 else pc.drop_null(part)
            if len(valid):
                self.value = valid[len(valid) - 1 if self.last else 0].as_py()
                return

    def merge(self, other: PickState) -> None:
        if other.value is not None and (self.last or self.value is None):
            self.value = other.value

    def result(self) -> Any:
        return self.value

    def to_bytes(self) -> bytes:
        return dump_json(encode_value(self.arg, self.value))


def _value_loader(largest_or_last: bool, cls: type[ExtremeState] | type[PickState]) -> Load:
    def load(arg: DataType, params: tuple[Any, ...], data: bytes) -> ExtremeState | PickState:
        return cls(arg, largest_or_last, decode_value(arg, load_json(data)))

    return load


# -- the functions -----------------------------------------------------------------------------

_ANY = TypeVar("a", "ANY")
_NUMERIC = TypeVar("a", "NUMERIC")
_COMPARABLE = TypeVar("a", "COMPARABLE")

COUNT = AggregateFunction(
    "count",
    Signature((_ANY,), t("BIGINT NOT NULL")),
    (),
    lambda arg, params: CountState(),
    _load_count,
    "The number of rows (count(*)) or of non-NULL values (count(x)); 0 over none.",
    star=True,
)
SUM = AggregateFunction(
    "sum",
    Signature((_NUMERIC,), _NUMERIC),
    (),
    lambda arg, params: SumState(arg),
    _load_sum,
    "The sum of the non-NULL values, exact for integers and PRECISE; NULL over none.",
)
MIN = AggregateFunction(
    "min",
    Signature((_COMPARABLE,), _COMPARABLE),
    (),
    lambda arg, params: ExtremeState(arg, False),
    _value_loader(False, ExtremeState),
    "The least non-NULL value; NULL over none.",
)
MAX = AggregateFunction(
    "max",
    Signature((_COMPARABLE,), _COMPARABLE),
    (),
    lambda arg, params: ExtremeState(arg, True),
    _value_loader(True, ExtremeState),
    "The greatest non-NULL value; NULL over none.",
)
AVG = AggregateFunction(
    "avg",
    Signature((_NUMERIC,), t("DOUBLE")),
    (),
    lambda arg, params: AvgState(arg),
    _load_avg,
    "The mean of the non-NULL values; NULL over none.",
)
STDDEV = AggregateFunction(
    "stddev",
    Signature((_NUMERIC,), t("DOUBLE")),
    (),
    lambda arg, params: VarianceState(stddev=True),
    _variance_loader(True),
    "The sample standard deviation (as DuckDB's stddev_samp); NULL below two values.",
)
VARIANCE = AggregateFunction(
    "variance",
    Signature((_NUMERIC,), t("DOUBLE")),
    (),
    lambda arg, params: VarianceState(stddev=False),
    _variance_loader(False),
    "The sample variance (as DuckDB's var_samp); NULL below two values.",
)
FIRST = AggregateFunction(
    "first",
    Signature((_ANY,), _ANY),
    (),
    lambda arg, params: PickState(arg, False),
    _value_loader(False, PickState),
    "The first non-NULL value in arrival order; NULL over none.",
)
LAST = AggregateFunction(
    "last",
    Signature((_ANY,), _ANY),
    (),
    lambda arg, params: PickState(arg, True),
    _value_loader(True, PickState),
    "The last non-NULL value in arrival order; NULL over none.",
)

for _fn in (COUNT, SUM, MIN, MAX, AVG, STDDEV, VARIANCE, FIRST, LAST):
    register(_fn)
