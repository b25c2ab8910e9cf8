"""Sums of doubles that do not depend on how the values were cut into batches.

Doubles added in another grouping can differ in the last bits: ``(0.1 + 0.2) + 0.3`` is
0.6000000000000001, ``0.1 + (0.2 + 0.3)`` is 0.6.  A named flow adds one batch's partial
sums to another's, so a plain float sum would depend on the append sizes and on where a
restart resumed, and a flow's output must be the same however its input was cut.

So a group's sum is kept as integer digits of 32 bits at absolute *places*, the idea of
ReproBLAS's binned sums.  Place ``p`` holds the bits of weight ``2**(32p - 16)`` up to
``2**(32p + 16)`` (the offset puts 2**-16 to 2**16 in one place, where most measurements
lie); a value's digit at a place depends on the value alone, and digits add exactly, in any
order.  A group keeps its three places from ``t``, the place of the greatest leading bit of
any of its values, down, which hold every bit of every value within a factor of 2**32 of
the greatest.  Bits of smaller values further down are dropped; which ones depends on ``t``,
which depends on the values alone, never on the order.  The result is the exact sum of the
digits kept, rounded once: for values spanning less than 2**32, the correctly rounded exact
sum (``math.fsum``).

Columns: ``t`` (int64, ``NONE`` for a group of zeros), the digits ``d0`` to ``d3`` (int64:
``d1`` at place ``t``, ``d2`` and ``d3`` below, ``d0`` above for carries), and ``x``, the
plain sum of the infinite and NaN values (0.0 when there are none; its sums do not depend on
the order either).  A digit grows by less than 2**32 a value; it is carried upwards once a
digit passes 2**62, after a billion values in one group: only then may a later value that
moves ``t`` up drop a different last bit.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

Columns = dict[str, np.ndarray]

NONE = -(2**20)  # the place of a group with no value other than 0: below every place
_DIGITS = ("d0", "d1", "d2", "d3")
_BASE = 4294967296.0  # 2**32
_MASK = 0xFFFFFFFF
_CARRY_AT = 2**62
_EXACT_ROWS = 2**21  # float64 sums of fewer digits (each below 2**32) are exact


def _place(magnitude: float) -> int:
    """The place of the leading bit of a positive double."""
    return (int(np.frexp(magnitude)[1]) + 15) >> 5


def partials(x: np.ndarray, starts: np.ndarray) -> Columns:
    """The exact sums of float64 ``x`` (NULLs as 0) in groups starting at ``starts``."""
    groups = len(starts)
    low, high = (float(x.min()), float(x.max())) if len(x) else (0.0, 0.0)
    special = np.zeros(groups)
    if not (np.isfinite(low) and np.isfinite(high)):
        finite = np.isfinite(x)
        with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in pc.sum
            special = np.add.reduceat(np.where(finite, 0.0, x), starts)
        x = np.where(finite, x, 0.0)
        low, high = float(x.min()), float(x.max())
    if low >= 0.0:  # magnitudes without np.abs, the common case
        magnitudes, largest = x, high
    else:
        magnitudes = np.abs(x)
        largest = max(-low, high)
    zeros = low == 0.0 if low >= 0.0 else bool(float(magnitudes.min()) == 0.0)
    smallest = low if low > 0.0 else float(np.min(magnitudes, where=magnitudes > 0, initial=np.inf))
    if largest == 0.0:
        top = np.full(groups, NONE, np.int64)
        digits = [np.zeros(groups, np.int64)] * 3
    elif _place(largest) == _place(smallest):
        top, digits = _one_place(x, starts, _place(largest), zeros)
    else:
        top, digits = _many_places(x, magnitudes, starts)
    columns: Columns = {"t": top, "d0": np.zeros(groups, np.int64)}
    columns.update(zip(_DIGITS[1:], digits, strict=True))
    columns["x"] = special
    return columns


def _split(y: np.ndarray) -> Iterator[np.ndarray]:
    """The three digits of values scaled below 2**32 that have no bits past the third, each
    to be used before the next is asked for: ``y`` and one more array serve all three (a
    fresh array of a batch's size costs more in page faults than the arithmetic on it)."""
    digit = np.trunc(y)
    yield digit
    y -= digit
    y *= _BASE
    np.trunc(y, out=digit)
    yield digit
    y -= digit
    y *= _BASE
    yield y


def _sums(digits: np.ndarray, starts: np.ndarray) -> np.ndarray:
    if len(digits) >= _EXACT_ROWS:
        digits = digits.astype(np.int64)
    sums: np.ndarray = np.add.reduceat(digits, starts).astype(np.int64)
    return sums


def _one_place(
    x: np.ndarray, starts: np.ndarray, place: int, zeros: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every value other than 0 leads at ``place``: one scale for all."""
    scale = 16 - 32 * place  # past 2**1023 (subnormals) the factor is no double
    scaled = x * np.ldexp(1.0, scale) if scale < 1000 else np.ldexp(x, scale)
    digits = [_sums(d, starts) for d in _split(scaled)]
    if not zeros:  # every group leads at the place
        return np.full(len(starts), place, np.int64), digits
    some = np.logical_or.reduceat(x != 0.0, starts)
    return np.where(some, place, NONE), digits


def _many_places(
    x: np.ndarray, magnitudes: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each value scaled by its own place, its digits added at their slot below its group's
    top (dropped past the third)."""
    exponents = np.frexp(magnitudes)[1].astype(np.int64)
    places = np.where(magnitudes > 0, (exponents + 15) >> 5, NONE)
    top = np.maximum.reduceat(places, starts)
    groups = len(starts)
    sizes = np.diff(np.append(starts, len(x)))
    below = np.repeat(top, sizes) - places  # the slot of each value's first digit
    scaled = np.ldexp(x, np.where(magnitudes > 0, 16 - 32 * places, 0))
    cell = np.repeat(np.arange(groups) * 3, sizes) + below
    sums = np.zeros(groups * 3 + 3)
    for k, digit in enumerate(_split(scaled)):
        keep = below + k < 3
        if len(x) >= _EXACT_ROWS:  # a float sum of so many digits could round: split it
            for part in range(0, len(x), _EXACT_ROWS - 1):
                window = slice(part, part + _EXACT_ROWS - 1)
                sums += _cells(cell[window] + k, digit[window], keep[window], len(sums))
        else:
            sums += _cells(cell + k, digit, keep, len(sums))
    return top, [sums[k : groups * 3 : 3].astype(np.int64) for k in range(3)]


def _cells(cells: np.ndarray, digits: np.ndarray, keep: np.ndarray, length: int) -> np.ndarray:
    found: np.ndarray = np.bincount(cells[keep], weights=digits[keep], minlength=length)
    return found


def reduce(columns: Columns, starts: np.ndarray) -> Columns:
    """Rows merged per group (``starts``): digits moved to their group's top and added."""
    t = columns["t"]
    top = np.maximum.reduceat(t, starts) if len(starts) else t[:0]
    shift = np.repeat(top, np.diff(np.append(starts, len(t)))) - t
    digits = [columns[name] for name in _DIGITS]
    if shift.any():  # a row below its group's top: slot j goes to j + shift; past d3 dropped
        moved = []
        for k in range(4):
            total = np.zeros_like(t)
            for j in range(k + 1):
                total += np.where(shift == k - j, digits[j], 0)
            moved.append(total)
        digits = moved
    if len(t) and _largest(digits) * int(np.diff(np.append(starts, len(t))).max()) >= _CARRY_AT:
        digits = _carried(digits)  # first, so that no group's sum can overflow
    sums = [np.add.reduceat(d, starts) if len(starts) else d[:0] for d in digits]
    if len(sums[0]) and _largest(sums) >= _CARRY_AT:
        sums = _carried(sums)
    reduced = {"t": top, **dict(zip(_DIGITS, sums, strict=True))}
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in pc.sum
        reduced["x"] = np.add.reduceat(columns["x"], starts) if len(starts) else columns["x"][:0]
    return reduced


def _largest(digits: list[np.ndarray]) -> int:
    return max(int(np.abs(d).max()) for d in digits)


def _carried(digits: list[np.ndarray]) -> list[np.ndarray]:
    """The same numbers with d1 to d3 in [0, 2**32) and the rest carried into d0."""
    out = list(digits)
    for k in (3, 2, 1):
        out[k - 1] = out[k - 1] + (out[k] >> 32)  # floor: a negative digit borrows
        out[k] = out[k] & _MASK
    return out


def totals(columns: Columns) -> np.ndarray:
    """Each row's sum as a double: its digits' exact sum rounded once (round half even),
    or the sum of its infinite and NaN values if it has any."""
    d0, d1, d2, d3 = _carried([columns[name] for name in _DIGITS])
    negative = d0 < 0
    if negative.any():  # the magnitude, digits again in [0, 2**32)
        d0, d1, d2, d3 = _carried([np.where(negative, -d, d) for d in (d0, d1, d2, d3)])
    high = ((d0 << 32) | d1).astype(np.uint64)  # the magnitude is high * 2**64 + low
    low = ((d2 << 32) | d3).astype(np.uint64)
    length = np.where(high > 0, 64 + _bit_length(high), _bit_length(low))
    shift = np.maximum(length - 63, 0)  # keep 63 bits, and whether any below them was set
    near = np.clip(shift, 1, 63).astype(np.uint64)
    far = np.clip(shift - 64, 0, 63).astype(np.uint64)
    one = np.uint64(1)
    kept = np.where(
        shift == 0,
        low,
        np.where(shift < 64, (high << (np.uint64(64) - near)) | (low >> near), high >> far),
    )
    lost = np.where(
        shift < 64,
        (shift > 0) & ((low & ((one << near) - one)) != 0),
        (low != 0) | ((high & ((one << far) - one)) != 0),
    )
    odd = (kept | lost.astype(np.uint64)).astype(np.int64)  # to odd, then to 53 bits: once
    exponent = shift + 32 * (columns["t"] - 2) - 16
    with np.errstate(over="ignore"):  # past the largest double: inf, as a float sum gives
        magnitude = np.ldexp(odd.astype(np.float64), exponent.astype(np.int32))
    result: np.ndarray = np.where(negative, -magnitude, magnitude)
    special = columns["x"]
    return np.where(special != 0.0, special, result)


def _bit_length(values: np.ndarray) -> np.ndarray:
    """At least the bit length of each uint64, at most one more (a double may round up)."""
    return np.frexp(values.astype(np.float64))[1].astype(np.int64)
