"""Text fields to typed Arrow arrays, in bulk: what the delimited and regex formats share.

A field column arrives as an Arrow string array (NULL where the line had no such field) and
leaves as an array of the column's Arrow type plus a mask of the rows whose field is not a
valid value of the type.  Validity is decided by vectorized pattern matches, values by Arrow
casts; Python touches only the rare values a cast refuses after its pattern accepted them
(an INT out of range) and PRECISE, which Arrow's string cast does not round as rtsql does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.datatypes import INT_RANGE, DataType

US_TZ = pa.timestamp("us", tz="UTC")
_INTEGER = r"^[+-]?[0-9]+$"
# java.lang.Double.valueOf's decimal forms (the hexadecimal ones are left out), and NaN and
# infinity in any case (as Arrow's cast reads them)
_REAL = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[fFdD]?|(?i:nan|inf|infinity))$"
_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


@dataclass(frozen=True, slots=True)
class TextRules:
    """How text becomes NULL: ``null_sequence`` (FlumeBase's ``\\N``) and the list delimiter."""

    null_sequence: str = "\\N"
    list_delimiter: str = "|"


@dataclass(slots=True)
class Converted:
    """A converted field column: ``values`` and the rows whose text was not valid."""

    values: pa.Array
    bad: np.ndarray  # bool per row


def _mask(array: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, NULL read as False."""
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def convert(fields: pa.Array, dtype: DataType, rules: TextRules) -> Converted:
    """``fields`` (strings, NULL for a missing field) as values of ``dtype``."""
    n = len(fields)
    if dtype.name in ("STRING", "BINARY"):
        values = fields
        # a STRING NOT NULL keeps the null sequence literally; '' as the null sequence makes
        # an empty field NULL
        if dtype.nullable:
            null = pc.equal(fields, rules.null_sequence)
            if pc.any(null).as_py():
                values = pc.if_else(null, None, fields)
        if dtype.name == "BINARY":
            values = values.cast(pa.binary())
        return Converted(values, np.zeros(n, dtype=bool))
    # any other type: an empty field or the null sequence is NULL, even for NOT NULL
    empty = pc.is_in(fields, pa.array(["", rules.null_sequence]))
    text = pc.if_else(empty, None, fields) if pc.any(empty).as_py() else fields
    if dtype.name in _FAST:  # the strict bulk cast reads a column without a bad value
        try:
            return _finished(text.cast(_FAST[dtype.name]), dtype, n)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # find the bad values
    if dtype.name == "LIST":
        return _list(text, dtype, rules)
    if dtype.name == "PRECISE":
        return _precise(text, dtype)
    if dtype.name == "BOOLEAN":
        lower = pc.utf8_lower(text)
        ok = pc.or_(pc.equal(lower, "true"), pc.equal(lower, "false"))
        return _finish(pc.equal(lower, "true"), text, ok)
    pattern = _REAL if dtype.name in ("FLOAT", "DOUBLE") else _INTEGER
    ok = pc.match_substring_regex(text, pattern)
    good = pc.if_else(ok, text, None)
    if dtype.name in ("FLOAT", "DOUBLE"):
        good = pc.replace_substring_regex(good, "[fFdD]$", "")
    target = pa.int64() if dtype.name == "TIMESTAMP" else dtype.arrow
    try:
        values = good.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # out of range: find which
        values, ok = _one_by_one(good, ok, dtype)
    if dtype.name == "TIMESTAMP":  # base-10 epoch milliseconds
        ms = values.fill_null(0).to_numpy()
        fits = np.abs(ms) < 2**63 // 1000
        values = pa.array(ms * 1000 * fits, mask=~(_mask(pc.is_valid(values)) & fits)).cast(US_TZ)
        ok = pc.and_(ok, pa.array(fits))
    return _finish(values, text, ok)


_FAST = {
    "INT": pa.int32(),
    "BIGINT": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "TIMESTAMP": pa.int64(),
}


def _finished(values: pa.Array, dtype: DataType, n: int) -> Converted:
    """A column whose every value was read: TIMESTAMP milliseconds become microseconds."""
    bad = np.zeros(n, dtype=bool)
    if dtype.name == "TIMESTAMP":
        values = pc.multiply_checked(values, 1000).cast(US_TZ)
    return Converted(values, bad)


def _finish(values: pa.Array, text: pa.Array, ok: pa.Array) -> Converted:
    bad = _mask(pc.and_not(pc.is_valid(text), ok.fill_null(False)))
    if bad.any():
        values = pc.if_else(pa.array(bad), None, values)
    return Converted(values, bad)


def _one_by_one(good: pa.Array, ok: pa.Array, dtype: DataType) -> tuple[pa.Array, pa.Array]:
    """The cast done value by value, when the bulk one refused a value its pattern let in."""
    low, high = INT_RANGE.get(dtype.name, INT_RANGE["BIGINT"])
    out: list[Any] = []
    fine: list[bool] = []
    for text, accepted in zip(good.to_pylist(), ok.fill_null(False).to_pylist(), strict=True):
        value: Any = None
        if text is not None:
            value = float(text) if dtype.name in ("FLOAT", "DOUBLE") else int(text)
            if dtype.name not in ("FLOAT", "DOUBLE") and not low <= value <= high:
                value = None
        out.append(value)
        fine.append(bool(accepted) and (text is None or value is not None))
    target = pa.int64() if dtype.name == "TIMESTAMP" else dtype.arrow
    return pa.array(out, type=target), pa.array(fine)


def _precise(text: pa.Array, dtype: DataType) -> Converted:
    ok = pc.match_substring_regex(text, _DECIMAL)
    values: list[Decimal | None] = []
    fine: list[bool] = []
    for item, accepted in zip(text.to_pylist(), ok.fill_null(False).to_pylist(), strict=True):
        value = None
        if item is not None and accepted:
            try:
                value = dtype.with_nullable(True).coerce(Decimal(item))
            except (ValueError, TypeError, InvalidOperation):
                value = None
        values.append(value)
        fine.append(item is None or value is not None)
    return _finish(pa.array(values, type=dtype.arrow), text, pa.array(fine))


def _list(text: pa.Array, dtype: DataType, rules: TextRules) -> Converted:
    """LIST<t>: each field split on the list delimiter; the items converted in one go."""
    assert dtype.item is not None
    parts = pc.split_pattern(text, rules.list_delimiter)
    items = convert(parts.flatten(), dtype.item, rules)
    offsets = parts.offsets
    rows = np.asarray(pc.list_parent_indices(parts))
    bad = np.zeros(len(text), dtype=bool)
    if items.bad.any():
        bad[rows[items.bad]] = True
    lists = pa.ListArray.from_arrays(
        offsets, items.values, type=dtype.arrow, mask=pc.is_null(parts)
    )
    if bad.any():
        lists = pc.if_else(pa.array(bad), None, lists)
    return Converted(lists, bad)


def lines_of(data: bytes) -> pa.Array:
    """The lines of ``data`` (complete lines, the last ``\\n`` optional) as a string array,
    without their line ends; UnicodeDecodeError names the first bad byte."""
    text = data.decode("utf-8")
    lines = pc.split_pattern(pa.array([text], pa.large_string()), "\n").flatten()
    if text.endswith("\n"):
        lines = lines.slice(0, len(lines) - 1)
    if "\r" in text:
        lines = pc.utf8_rtrim(lines, "\r")
    return lines.cast(pa.string())


def not_valid(text: Any, dtype: DataType) -> str:
    """Why a field was rejected."""
    return f"{text!r} is not a valid {dtype.with_nullable(True)}"
