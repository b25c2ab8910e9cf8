"""Partial states of one aggregate for many groups at once, as columns.

A monitor keeps an aggregate per time bucket, and one batch may touch hundreds of buckets.
Updating a :class:`~rillet.aggregates.base.State` per bucket costs Python calls per bucket
(and per coarser level it feeds); here the partial states of every bucket of a batch are a
few numpy reductions (``ufunc.reduceat``) over the batch, and merging them into kept buckets,
or merging a time range into one answer, is a few more.

A :class:`Kind` works on *columns*: a dict of equally long numpy arrays, one row per group.
``partials`` reads a batch's argument at ``rows`` (positions in the batch, in group order;
None for all, in order), grouped by ``starts``, the first of ``rows`` of each group
(ascending, no group empty).  Taking the rows once is cheaper than masking: ``np.where``
over a filter's mask mispredicts its branches.  ``reduce`` merges rows of partials per group,
in any
order and grouping (the property the monitors rely on); ``results`` gives each row's value
of the aggregate, as the function's State would give it.

COUNT, SUM, AVG, STDDEV and VARIANCE of numbers, MIN and MAX of numbers and times, and FIRST
and LAST of anything have columnar kinds.  APPROX_QUANTILE and DISTRIBUTION keep a group's
values while they are no more than a KLL sketch holds exactly, and a sketch beyond
(:class:`KllKind`).  Other functions (the other sketches, MIN of text, SUM of PRECISE) keep
one State object per row (:class:`ObjectKind`), fed the rows of each group.

FIRST and LAST pick the non-NULL value with the least or greatest *offset*, so their partials
merge in any order; they equal the States' arrival order where records arrive in order.

Examples:
    >>> import numpy as np
    >>> import pyarrow as pa
    >>> from rillet.aggregates import aggregate
    >>> from rillet.expressions.signatures import t
    >>> kind = kind_of(aggregate("sum"), t("BIGINT"), ())
    >>> starts = np.array([0, 2])  # groups: rows 0-1 and row 2
    >>> parts = kind.partials(pa.array([1, 2, None]), None, np.arange(3), starts)
    >>> kind.results(parts), kind.results(kind.reduce(parts, np.array([0])))
    ([3, None], [3])
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.aggregates import exactsum
from rillet.aggregates.base import AggregateFunction, State
from rillet.aggregates.kll_bytes import built_states, check_kll, compacted, state_items
from rillet.aggregates.sketches import KLL_K, Distribution, KllState, exact_positions
from rillet.datatypes import DataType
from rillet.errors import InputError

Columns = dict[str, np.ndarray]

_I64 = np.iinfo(np.int64)
_LOW32 = 0xFFFFFFFF


class Kind(Protocol):
    """How one aggregate function's partial states are computed and merged as columns."""

    def partials(
        self,
        values: pa.Array | None,
        rows: np.ndarray | None,
        offsets: np.ndarray,
        starts: np.ndarray,
    ) -> Columns:
        """One partial per group of the batch's ``rows`` (None: all, in order)."""
        ...

    def reduce(self, columns: Columns, starts: np.ndarray) -> Columns:
        """Merge the rows of each group of ``columns`` into one."""
        ...

    def results(self, columns: Columns) -> list[Any]:
        """The aggregate's value for each row of ``columns``."""
        ...


# -- helpers -------------------------------------------------------------------------------------


def group_ids(starts: np.ndarray, length: int) -> np.ndarray:
    """The group of each of ``length`` rows grouped by ``starts``."""
    ids: np.ndarray = np.repeat(np.arange(len(starts)), _sizes(starts, length))
    return ids


def _valid(values: pa.Array) -> np.ndarray:
    valid: np.ndarray = values.is_valid().to_numpy(zero_copy_only=False)
    return valid


def _numbers(values: pa.Array, integer: bool) -> np.ndarray:
    """The values as int64 (integers, times) or float64; NULLs as 0 (masked by the caller)."""
    kind = pa.int64() if integer else pa.float64()
    if values.type != kind:
        values = values.cast(kind, safe=integer)  # BIGINT past 2**53 rounds, as in DuckDB
    if values.null_count:
        values = values.fill_null(0)
    array: np.ndarray = values.to_numpy(zero_copy_only=False)
    return array


def _read(
    values: pa.Array, rows: np.ndarray | None, starts: np.ndarray, integer: bool, fill: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The values at ``rows`` as numbers with ``fill`` for NULL, the number of values in
    each group, and where the values are valid (None: everywhere)."""
    x = _at(_numbers(values, integer), rows)
    if not values.null_count:
        return x, _sizes(starts, len(x)), None
    valid = _at(_valid(values), rows)
    return np.where(valid, x, fill), _sum_at(valid, starts, np.int64), valid


def _at(array: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    return array if rows is None else np.take(array, rows)  # a fifth faster than array[rows]


def _length(rows: np.ndarray | None, offsets: np.ndarray) -> int:
    return len(offsets) if rows is None else len(rows)


def _sizes(starts: np.ndarray, length: int) -> np.ndarray:
    """The number of rows in each group."""
    sizes: np.ndarray = np.diff(np.append(starts, length)).astype(np.int64)
    return sizes


def _empty(dtype: Any) -> np.ndarray:
    return np.empty(0, dtype=dtype)


def _sum_at(x: np.ndarray, starts: np.ndarray, dtype: Any = None) -> np.ndarray:
    if not len(starts):
        return _empty(dtype or x.dtype)
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in pc.sum
        sums: np.ndarray = np.add.reduceat(x, starts, dtype=dtype)
    return sums


def _ends(starts: np.ndarray, length: int) -> np.ndarray:
    """Where each group of ``length`` rows grouped by ``starts`` ends."""
    ends: np.ndarray = np.append(starts[1:], length) if len(starts) else starts
    return ends


# -- COUNT ---------------------------------------------------------------------------------------


class CountKind:
    """``n``: rows (COUNT(*)) or non-NULL values (COUNT(x))."""

    def partials(
        self,
        values: pa.Array | None,
        rows: np.ndarray | None,
        offsets: np.ndarray,
        starts: np.ndarray,
    ) -> Columns:
        if values is None or not values.null_count:
            return {"n": _sizes(starts, _length(rows, offsets))}
        return {"n": _sum_at(_at(_valid(values), rows), starts, np.int64)}

    def reduce(self, columns: Columns, starts: np.ndarray) -> Columns:
        return {"n": _sum_at(columns["n"], starts)}

    def results(self, columns: Columns) -> list[Any]:
        return list(columns["n"].tolist())


# -- SUM and AVG ---------------------------------------------------------------------------------


class SumKind:
    """``n`` values and their sum, exactly, so that it does not depend on how the values
    were grouped: integers as the sums of their high and low 32-bit halves (``hi``, ``lo``;
    ``lo`` carried into ``hi`` on reduce), which int64 holds for any count of INT values and
    for 2**32 BIGINT values; floats as integer digits (:mod:`rillet.aggregates.exactsum`)."""

    def __init__(self, integer: bool, average: bool) -> None:
        self.integer = integer
        self.average = average

    def partials(
        self,
        values: pa.Array | None,
        rows: np.ndarray | None,
        offsets: np.ndarray,
        starts: np.ndarray,
    ) -> Columns:
        assert values is not None
        x, n, _ = _read(values, rows, starts, self.integer, 0)
        columns = {"n": n}
        if self.integer:
            columns["hi"] = _sum_at(x >> 32, starts)
            columns["lo"] = _sum_at(x & _LOW32, starts)
        else:
            columns.update(exactsum.partials(x, starts))
        return columns

    def reduce(self, columns: Columns, starts: np.ndarray) -> Columns:
        if not self.integer:
            return {"n": _sum_at(columns["n"], starts), **exactsum.reduce(columns, starts)}
        reduced = {name: _sum_at(column, starts) for name, column in columns.items()}
        lo = reduced["lo"]
        reduced["hi"] = reduced["hi"] + (lo >> 32)
        reduced["lo"] = lo & _LOW32
        return reduced

    def totals(self, columns: Columns) -> np.ndarray | None:
        """Each row's sum (AVG: the sum over the count) as numpy numbers, None where an
        integer sum might not fit int64 or an integer average might round twice."""
        n = columns["n"]
        if self.integer:
            hi, lo = columns["hi"], columns["lo"]
            if len(hi) and (np.abs(hi).max() >= 2**30 or lo.max() >= 2**62):
                return None  # (hi << 32) + lo might leave int64: Python ints hold it
            total: np.ndarray = (hi << 32) + lo
            if not self.average:
                return total
            if len(total) and np.abs(total).max() > 2**53:
                return None  # rounded to a double, then divided: int / int rounds once
        else:
            total = exactsum.totals(columns)
        if self.average:
            with np.errstate(invalid="ignore", divide="ignore"):
                total = total / n
        return total

    def results(self, columns: Columns) -> list[Any]:
        counts = columns["n"].tolist()
        if self.integer:  # Python ints: exact however large
            high, low = columns["hi"].tolist(), columns["lo"].tolist()
            totals = [(h << 32) + lo for h, lo in zip(high, low, strict=True)]
        else:
            totals = exactsum.totals(columns).tolist()
        if self.average:  # int / int is correctly rounded, however large the sum
            return [t / n if n else None for t, n in zip(totals, counts, strict=True)]
        return [t if n else None for t, n in zip(totals, counts, strict=True)]


# -- MIN and MAX ---------------------------------------------------------------------------------


class ExtremeKind:
    """``n`` values and the least or greatest (``v``); NaN only where every value is NaN."""

    def __init__(self, arg: DataType, largest: bool) -> None:
        self.arrow = arg.arrow
        self.integer = not pa.types.is_floating(self.arrow)
        self.largest = largest
        self.ufunc: np.ufunc
        if self.integer:
            self.ufunc = np.maximum if largest else np.minimum
            self.identity: Any = _I64.min if largest else _I64.max
        else:
            self.ufunc = np.fmax if largest else np.fmin  # fmax skips NaN, as pc.min_max
            self.identity = np.nan

    def partials(
        self,
        values: pa.Array | None,
        rows: np.ndarray | None,
        offsets: np.ndarray,
        starts: np.ndarray,
    ) -> Columns:
        assert values is not None
        x, n, _ = _read(values, rows, starts, self.integer, self.identity)
        return {"n": n, "v": self._reduceat(x, starts)}

    def _reduceat(self, x: np.ndarray, starts: np.ndarray) -> np.ndarray:
        return self.ufunc.reduceat(x, starts) if len(starts) else _empty(x.dtype)

    def reduce(self, columns: Columns, starts: np.ndarray) -> Columns:
        v = np.where(columns["n"] > 0, columns["v"], self.identity)
        return {"n": _sum_at(columns["n"], starts), "v": self._reduceat(v, starts)}

    def results(self, columns: Columns) -> list[Any]:
        values = pa.array(columns["v"], mask=columns["n"] == 0).cast(self.arrow)
        return list(values.to_pylist())


# -- STDDEV and VARIANCE -------------------------------------------------------------------------


class VarianceKind:
    """``n``, the mean as ``mean + lo`` (twice a double's digits) and ``m2``, the sum of
    squared deviations: :class:`~rillet.aggregates.basic.VarianceState` as columns."""

    def __init__(self, stddev: bool) -> None:
        self.stddev = stddev

    def partials(
        self,
        values: pa.Array | None,
        rows: np.ndarray | None,
        offsets: np.ndarray,
        starts: np.ndarray,
    ) -> Columns:
        assert values is not None
        x, n, valid = _read(values, rows, starts, False, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = _sum_at(x, starts) / n
            deviations = x - mean[group_ids(starts, len(x))]  # exact where x is near the mean
            if valid is not None:
                deviations = np.where(valid, deviations, 0.0)
            lo = _sum_at(deviations, starts) / n  # what rounding took from the mean
            m2 = _sum_at(deviations * deviations, starts) - n * lo * lo
        return self._clean({"n": n, "mean": mean, "lo": lo, "m2": m2})

    @staticmethod
    def _clean(columns: Columns) -> Columns:
        empty = columns["n"] == 0
        if empty.any():
            for name in ("mean", "lo", "m2"):
                columns[name] = np.where(empty, 0.0, columns[name])
        return columns

    def reduce(self, columns: Columns, starts: np.ndarray) -> Columns:
        n, mean, lo, m2 = (columns[k] for k in ("n", "mean", "lo", "m2"))
        total = _sum_at(n, starts)
        ids = group_ids(starts, len(n))
        with np.errstate(invalid="ignore", divide="ignore"):
            # Chan et al. over many parts: the group mean, then each part's offset from it
            center = _sum_at(n * mean, starts) / total
            offset = (mean - center[ids]) + lo
            lo_total = _sum_at(n * offset, starts) / total
            spread = offset - lo_total[ids]
            m2_total = _sum_at(m2 + n * spread * spread, starts)
        return self._clean({"n": total, "mean": center, "lo": lo_total, "m2": m2_total})

    def results(self, columns: Columns) -> list[Any]:
        n = columns["n"]
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = np.maximum(columns["m2"], 0.0) / (n - 1)
        values = np.sqrt(variance) if self.stddev else variance
        return [float(v) if k >= 2 else None for v, k in zip(values, n.tolist(), strict=True)]


# -- FIRST and LAST ------------------------------------------------------------------------------


class PickKind:
    """The non-NULL value with the least (FIRST) or greatest (LAST) offset, whatever the
    order of the rows: ``at`` holds the offset (for FIRST its complement ``~offset``, so
    that the greatest ``at`` always wins; the least int64 for none) and ``v`` the value, as
    a Python object."""

    def __init__(self, last: bool) -> None:
        self.last = last

    def partials(
        self,
        values: pa.Array | None,
        rows: np.ndarray | None,
        offsets: np.ndarray,
        starts: np.ndarray,
    ) -> Columns:
        assert values is not None
        length = _length(rows, offsets)
        if not len(starts):
            return {"at": np.zeros(0, dtype=np.int64), "v": _objects([])}
        seen = offsets[:length] if rows is None else offsets[rows]
        key = seen if self.last else ~seen  # the winner's is the greatest (offsets differ)
        if values.null_count:
            key = np.where(_at(_valid(values), rows), key, _I64.min)
        at = np.maximum.reduceat(key, starts)
        # each group's row holding its winning key (any row of a group without a value)
        won = key == np.repeat(at, _sizes(starts, length))
        chosen = np.maximum.reduceat(np.where(won, np.arange(length), -1), starts)
        picked = chosen if rows is None else rows[chosen]
        items = _objects(values.take(pa.array(picked)).to_pylist())
        items[at == _I64.min] = None
        return {"at": at, "v": items}

    def reduce(self, columns: Columns, starts: np.ndarray) -> Columns:
        at = columns["at"]
        ids = group_ids(starts, len(at))
        order = np.lexsort((at, ids))  # by group, the winning ``at`` last
        best = order[_ends(starts, len(at)) - 1]
        return {"at": at[best], "v": columns["v"][best]}

    def results(self, columns: Columns) -> list[Any]:
        return list(columns["v"].tolist())  # None where no value was picked


def _objects(items: list[Any]) -> np.ndarray:
    array: np.ndarray = np.fromiter(items, dtype=object, count=len(items))  # lists stay items
    return array


# -- everything else: a State object per row -----------------------------------------------------


class ObjectKind:
    """One State per row, made by the function and fed each group's rows.

    The rows are taken once (:meth:`_source`); each group is then a slice of them, fed to a
    new state (:meth:`_fed`).
    """

    def __init__(
        self, function: AggregateFunction, arg: DataType | None, params: tuple[Any, ...]
    ) -> None:
        self.function = function  # arg and params are checked by kind_of
        self.arg = arg if arg is not None else DataType("NULL")
        self.params = params

    def new_state(self) -> State:
        return self.function.make(self.arg, self.params)

    def partials(
        self,
        values: pa.Array | None,
        rows: np.ndarray | None,
        offsets: np.ndarray,
        starts: np.ndarray,
    ) -> Columns:
        source = self._source(values, rows)
        ends = _ends(starts, _length(rows, offsets))
        states = np.empty(len(starts), dtype=object)
        for i, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            states[i] = self._fed(source, start, end)
        return {"state": states}

    def _source(self, values: pa.Array | None, rows: np.ndarray | None) -> Any:
        return values.take(pa.array(rows)) if rows is not None and values is not None else values

    def _fed(self, source: Any, start: int, end: int) -> State:
        state = self.new_state()
        state.update(source.slice(start, end - start) if source is not None else None, end - start)
        return state

    def reduce(self, columns: Columns, starts: np.ndarray) -> Columns:
        states = columns["state"]
        ends = _ends(starts, len(states))
        merged = np.empty(len(starts), dtype=object)
        for i, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            total = self.new_state()  # never one of the inputs: those are kept states
            for state in states[start:end]:
                total.merge(state)
            merged[i] = total
        return {"state": merged}

    def results(self, columns: Columns) -> list[Any]:
        return [state.result() for state in columns["state"]]


class KllKind:
    """APPROX_QUANTILE and DISTRIBUTION: ``n``, the number of values (NULL and NaN left out,
    as the sketch leaves them out); while ``n`` is at most the sketch's k, the values
    themselves, which are exactly what a KLL sketch of them would hold, and beyond, a
    :class:`~rillet.aggregates.sketches.KllState` in ``state``.

    The values of a row are ``n`` values from position ``at`` of the float64 array in
    ``state`` (in no order).  The rows of one batch, or of one reduce, share one array, whose
    number is ``base`` (-1 for a sketch), so a batch spread over thousands of small buckets
    makes a few numpy calls, not an object a bucket (a sketch allocates room for k values),
    and the values of many rows are read back with one ``take`` an array.  Nothing changes
    an array or a sketch once made: rows may share them.  A reduce that brings more than k
    values together makes the sketch.  The results are the sketch's: for exact values, the
    value at the position a sketch would read
    (:func:`~rillet.aggregates.sketches.exact_positions`); a DISTRIBUTION of exact values is
    a sketch made of them when asked.
    """

    def __init__(
        self,
        function: AggregateFunction,
        arg: DataType | None,
        params: tuple[Any, ...],
        held: int = KLL_K,
    ) -> None:
        prototype = function.make(arg if arg is not None else DataType("NULL"), params)
        assert isinstance(prototype, KllState)
        self.name = function.name
        self.q = prototype.q
        self.k = KLL_K  # the most values a sketch holds exactly
        #: the most values a row keeps as they are (at least k): past k, its state is made
        #: of them at once when asked (:func:`~rillet.aggregates.kll_bytes.built_states`)
        self.held = held

    def partials(
        self,
        values: pa.Array | None,
        rows: np.ndarray | None,
        offsets: np.ndarray,
        starts: np.ndarray,
    ) -> Columns:
        assert values is not None
        merged: dict[int, KllState] = {}  # KLL_MERGE: groups with a compacted state
        if pa.types.is_binary(values.type):
            x, n, merged = self._stored(values.take(rows) if rows is not None else values, starts)
        else:
            x = _at(_numbers(values, False), rows)
            keep = ~np.isnan(x)
            if values.null_count:
                keep &= _at(_valid(values), rows)
            if keep.all():
                n = _sizes(starts, len(x))
            else:
                n = _sum_at(keep, starts, np.int64)
                x = x[keep]
        if not x.flags.writeable:  # Arrow's memory, maybe a slice of more: not to be kept
            x = x.copy()  # (and the sketch's binding takes writable arrays only)
        held = n  # the values kept exact, per group
        big = n > self.held
        if merged:
            big[list(merged)] = True
        sketches: list[tuple[int, KllState]] = []
        if big.any():  # sketched now; the values of the others are kept without them
            ends = np.cumsum(n)
            for i in np.flatnonzero(big).tolist():
                state = merged.get(i) or KllState(self.q)
                state.sketch.update(x[ends[i] - n[i] : ends[i]])
                sketches.append((i, state))
            held = np.where(big, 0, n)
            x = x[_ranges(ends - n, held)]
            n = n.copy()
            for i, state in merged.items():  # the values of its compacted states too
                n[i] += state.sketch.n
        columns = _shared(x, held)
        for i, state in sketches:
            columns["base"][i] = -1
            columns["state"][i] = state
        columns["n"] = n
        return columns

    def _stored(
        self, states: pa.Array, starts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[int, KllState]]:
        """KLL_MERGE's input, stored KLL states grouped by ``starts``: the items of the
        states that hold their values (every item of weight 1), a group's one after another
        in their states' order, so that merged states hold the values a DISTRIBUTION of the
        same records would; how many each group has; and for each group with a compacted
        state, those states merged (DataSketches' merge)."""
        check_kll(states, self.name)
        several = compacted(states)
        # a compacted state's items are not read: it is merged whole
        exact = pc.if_else(several, pa.scalar(None, states.type), states)
        retained, items = state_items(exact)
        n = _sum_at(retained, starts, np.int64) if len(starts) else np.zeros(0, np.int64)
        merged: dict[int, KllState] = {}
        group = np.repeat(np.arange(len(starts)), _sizes(starts, len(retained)))
        for row in np.flatnonzero(several).tolist():
            state = merged.setdefault(int(group[row]), KllState(self.q))
            try:
                sketch = KllState(data=states[row].as_py()).sketch
            except (RuntimeError, ValueError, IndexError) as exc:  # the library's refusal
                raise InputError(f"{self.name}: a value is not a KLL state ({exc})") from None
            state.sketch.merge(sketch)
        return items.astype(np.float64, copy=False), n, merged

    def reduce(self, columns: Columns, starts: np.ndarray) -> Columns:
        n = columns["n"]
        totals = _sum_at(n, starts)
        sizes = _sizes(starts, len(n))
        single = sizes == 1
        # rows of values alone, together no more than held: their values, taken together
        sketched_rows = _sum_at((columns["base"] < 0).astype(np.int64), starts)
        joined = ~single & (totals <= self.held) & (sketched_rows == 0)
        if single.all():
            merged = {name: column[starts] for name, column in columns.items()}
        else:
            # exact values still: taken into one new array, then a range of it a group
            rows = np.repeat(joined, sizes)
            values = _gather({name: column[rows] for name, column in columns.items()})
            merged = _shared(values, np.where(joined, totals, 0))
            merged["n"] = totals
            for name, column in columns.items():  # kept as they are: nothing changes them
                merged[name][single] = column[starts[single]]
        sketched = np.flatnonzero(~single & ~joined)
        if len(sketched):
            for i, state in zip(
                sketched.tolist(), self._sketches(columns, starts, sizes, sketched), strict=True
            ):
                merged["at"][i], merged["base"][i] = 0, -1
                merged["state"][i] = state
        return merged

    def _sketches(
        self, columns: Columns, starts: np.ndarray, sizes: np.ndarray, groups: np.ndarray
    ) -> list[KllState]:
        """A new sketch for each of ``groups`` (rows ``starts[g]`` on, ``sizes[g]`` of them),
        of its rows' values and sketches, as :meth:`_sketch` makes one: the exact values of
        every group gathered at once (one take a batch they came from, not one a group)."""
        chosen = np.zeros(len(sizes), dtype=bool)
        chosen[groups] = True
        rows = {name: column[np.repeat(chosen, sizes)] for name, column in columns.items()}
        exact = rows["base"] >= 0
        values = _gather({k: v[exact] for k, v in rows.items()})
        counts = np.where(exact, rows["n"], 0)
        value_ends = np.cumsum(counts)
        row_ends = np.cumsum(sizes[groups])
        out: list[KllState] = []
        row_start = 0
        for row_end in row_ends.tolist():
            total = KllState(self.q)
            for state in rows["state"][row_start:row_end][~exact[row_start:row_end]].tolist():
                total.sketch.merge(state.sketch)
            first = int(value_ends[row_start - 1]) if row_start else 0
            last = int(value_ends[row_end - 1])
            if last > first:  # writable (held arrays are), as the binding wants
                total.sketch.update(values[first:last])
            out.append(total)
            row_start = row_end
        return out

    def _sketch(self, columns: Columns, start: int, end: int) -> KllState:
        """A new sketch of the values and sketches of rows ``[start, end)``."""
        rows = {name: column[start:end] for name, column in columns.items()}
        total = KllState(self.q)
        exact = rows["base"] >= 0
        for state in rows["state"][~exact].tolist():
            total.sketch.merge(state.sketch)
        if rows["n"][exact].any():  # writable (held arrays are), as the binding wants
            total.sketch.update(_gather({k: v[exact] for k, v in rows.items()}))
        return total

    def results(self, columns: Columns) -> list[Any]:
        n, states = columns["n"], columns["state"]
        exact = (n > 0) & (n <= self.k) & (columns["base"] >= 0)
        q = self.q
        if q is not None and exact.all():  # the usual case: no sketch, no empty row
            found: list[Any] = _exact_quantiles(*_gathered(columns), n, q).tolist()
            return found
        results: list[Any] = [None] * len(n)
        for i in np.flatnonzero(columns["base"] < 0).tolist():
            results[i] = states[i].result()
        built = np.flatnonzero((columns["base"] >= 0) & (n > self.k))
        if len(built):  # more values than a sketch holds: the state made of them
            chosen = {name: column[built] for name, column in columns.items()}
            made = built_states(_gather(chosen), n[built], self.k)
            for i, data in zip(built.tolist(), made, strict=True):
                results[i] = KllState(q, data=data).result()
        rows = np.flatnonzero(exact)
        if q is None:  # a Distribution is a view of a sketch: made of the values
            for i in rows.tolist():
                results[i] = Distribution(self._sketch(columns, i, i + 1).sketch)
        elif len(rows):
            chosen = {name: column[rows] for name, column in columns.items()}
            found = _exact_quantiles(*_gathered(chosen), n[rows], q).tolist()
            for i, value in zip(rows.tolist(), found, strict=True):
                results[i] = value
        return results


_BASES = itertools.count()  # numbers the arrays of KLL values (next() is atomic)


def _shared(values: np.ndarray, n: np.ndarray) -> Columns:
    """Rows holding ``n`` values each of ``values``, one row after another."""
    state = np.empty(len(n), dtype=object)
    state.fill(values)
    base = np.full(len(n), next(_BASES), dtype=np.int64)
    return {"n": n, "at": np.cumsum(n) - n, "base": base, "state": state}


def _ranges(at: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``at[i], at[i] + 1, ... at[i] + n[i] - 1`` for each i, one after another."""
    ranges: np.ndarray = np.arange(int(n.sum())) + np.repeat(at - (np.cumsum(n) - n), n)
    return ranges


def _gathered(columns: Columns) -> tuple[np.ndarray, np.ndarray]:
    """An array holding the values of KLL rows that hold their values (none a sketch), and
    where each row's values begin in it: the rows' own array if they share one."""
    n, at, base, state = (columns[k] for k in ("n", "at", "base", "state"))
    if len(n) and base[0] == base[-1] and (base == base[0]).all():
        return state[0], at  # the rows of one batch: no copy (a large one costs page faults)
    return _gather(columns), np.cumsum(n) - n


def _gather(columns: Columns) -> np.ndarray:
    """The values of KLL rows that hold their values (none a sketch), one row after another:
    a new array, or a slice of the rows' own array where they lie so already."""
    n, at, base, state = (columns[k] for k in ("n", "at", "base", "state"))
    if not len(n):
        return np.empty(0, dtype=np.float64)
    if base[0] == base[-1] and (base == base[0]).all():  # the rows of one batch: one take
        return _read_rows(state[0], at, n)
    values = np.empty(int(n.sum()), dtype=np.float64)
    into = np.cumsum(n) - n
    order = np.argsort(base, kind="stable")
    for run in np.split(order, np.flatnonzero(np.diff(base[order])) + 1):
        values[_ranges(into[run], n[run])] = _read_rows(state[run[0]], at[run], n[run])
    return values


def _read_rows(values: np.ndarray, at: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The ``n[i]`` values from ``at[i]`` of ``values``, row after row: a slice where each
    row begins where the one before ends (a round's closing windows, as they were merged),
    a take otherwise."""
    if (at[1:] == at[:-1] + n[:-1]).all():
        read: np.ndarray = values[int(at[0]) : int(at[0]) + int(n.sum())] if len(at) else values[:0]
        return read
    taken: np.ndarray = values[_ranges(at, n)]
    return taken


def _exact_quantiles(values: np.ndarray, first: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """The quantile at ``q`` of each row of ``n`` values of ``values`` from ``first`` (each
    in no order), as a sketch holding them exactly answers it.

    Each row is sorted in a row of a matrix padded with +inf (which sorts last, and a value
    +inf is the pad's equal), one matrix for the rows of up to 1, 2, 4, ... 256 values: a
    few numpy calls, not a sort a row.
    """
    positions = exact_positions(n, q)
    found = np.empty(len(n), dtype=np.float64)
    # the greatest (q near 1, or a few values) or the least of a row: no sort needed
    greatest, least = positions == n - 1, (positions == 0) & (n > 1)
    if greatest.any():
        found[greatest] = _reduce_rows(np.maximum, values, first[greatest], n[greatest])
    if least.any():
        found[least] = _reduce_rows(np.minimum, values, first[least], n[least])
    sorted_rows = ~(greatest | least)
    widths = np.left_shift(1, np.frexp(n - 1)[1])  # 2**bit_length(n - 1): n <= width < 2n
    for width in np.unique(widths[sorted_rows]).tolist():
        rows = np.flatnonzero(sorted_rows & (widths == width))
        counts = n[rows]
        grid = np.full((len(rows), width), np.inf)
        # each row's first cells, filled in row-major order by a masked copy
        grid[np.arange(width) < counts[:, None]] = _read_rows(values, first[rows], counts)
        grid.sort(axis=1)
        found[rows] = grid[np.arange(len(rows)), positions[rows]]
    return found


def _reduce_rows(
    ufunc: np.ufunc, values: np.ndarray, first: np.ndarray, n: np.ndarray
) -> np.ndarray:
    """``ufunc`` over each row of ``n`` values (each at least one) from ``first``, in any
    order: one reduceat over [start, end) pairs, whose odd results are dropped."""
    ends = first + n
    inside = ends < len(values)  # reduceat takes no index past the last value
    found = np.empty(len(n), dtype=values.dtype)
    if inside.any():
        bounds = np.stack([first[inside], ends[inside]], axis=1).ravel()
        found[inside] = ufunc.reduceat(values, bounds)[::2]
    for row in np.flatnonzero(~inside).tolist():  # the row that ends the values
        found[row] = ufunc.reduce(values[first[row] : ends[row]])
    return found


_NUMBERS = frozenset({"INT", "BIGINT", "FLOAT", "DOUBLE"})
_ORDERED = _NUMBERS | {"TIMESTAMP"}
_INTEGERS = frozenset({"INT", "BIGINT"})


def _columnar(name: str, arg: DataType | None) -> Kind | None:
    kinds: dict[str, Callable[[str], Kind | None]] = {
        "count": lambda t: CountKind(),
        "sum": lambda t: SumKind(t in _INTEGERS, False) if t in _NUMBERS else None,
        "avg": lambda t: SumKind(t in _INTEGERS, True) if t in _NUMBERS else None,
        "min": lambda t: ExtremeKind(arg, False) if arg and t in _ORDERED else None,
        "max": lambda t: ExtremeKind(arg, True) if arg and t in _ORDERED else None,
        "variance": lambda t: VarianceKind(False) if t in _NUMBERS else None,
        "stddev": lambda t: VarianceKind(True) if t in _NUMBERS else None,
        "first": lambda t: PickKind(False),
        "last": lambda t: PickKind(True),
    }
    make = kinds.get(name)
    return make(arg.name if arg is not None else "NULL") if make else None


def kind_of(
    function: AggregateFunction,
    arg: DataType | None,
    params: tuple[Any, ...] = (),
    held: int = KLL_K,
) -> Kind:
    """The columnar kind of ``function`` over ``arg`` (None for ``*``), else an ObjectKind;
    ``held``: the most values a KLL row keeps as they are (:class:`KllKind`).

    Checks the argument type and parameters as :meth:`AggregateFunction.new_state` does.
    """
    function.new_state(arg, params)
    if function.name in ("approx_quantile", "distribution", "kll_merge", "kll_merge_quantile"):
        return KllKind(function, arg, params, held)
    found = _columnar(function.name, arg)
    return found if found is not None else ObjectKind(function, arg, params)


# -- results as one Arrow array ------------------------------------------------------------------


def result_array(kind: Kind, columns: Columns, arrow: pa.DataType) -> pa.Array:
    """The values of :meth:`Kind.results` as one Arrow array of type ``arrow``.

    A trigger judges thousands of windows a batch at 10 ms periods: COUNT, SUM, AVG, MIN,
    MAX and the exact quantiles go from their numpy columns to Arrow without a Python value
    each; the others (and integer sums past int64's reach) through the Python list.
    """
    fast = _ARRAYS.get(type(kind))
    found = fast(kind, columns) if fast is not None else None
    if found is not None and found.type == arrow:
        return found
    if found is not None:
        try:
            return found.cast(arrow)
        except pa.ArrowInvalid:  # e.g. a fraction into integers: as the list converts it
            pass
    results = kind.results(columns)
    if pa.types.is_binary(arrow):  # DISTRIBUTION: a BINARY column holds its sketch's bytes
        results = [r.to_bytes() if isinstance(r, Distribution) else r for r in results]
    return pa.array(results, type=arrow)


def _count_array(kind: Any, columns: Columns) -> pa.Array | None:
    return pa.array(columns["n"])


def _sum_array(kind: Any, columns: Columns) -> pa.Array | None:
    total = kind.totals(columns)
    return None if total is None else pa.array(total, mask=columns["n"] == 0)


def _extreme_array(kind: Any, columns: Columns) -> pa.Array | None:
    values: pa.Array = pa.array(columns["v"], mask=columns["n"] == 0).cast(kind.arrow)
    return values


def _quantile_array(kind: Any, columns: Columns) -> pa.Array | None:
    n = columns["n"]
    if kind.q is None or not ((n > 0) & (n <= kind.k) & (columns["base"] >= 0)).all():
        return None
    return pa.array(_exact_quantiles(*_gathered(columns), n, kind.q))


_ARRAYS: dict[type, Callable[[Any, Columns], pa.Array | None]] = {
    CountKind: _count_array,
    SumKind: _sum_array,
    ExtremeKind: _extreme_array,
    KllKind: _quantile_array,
}


# -- states as Arrow columns (a named flow's checkpoint) -----------------------------------------


def state_arrays(kind: Kind, columns: Columns, arg: DataType | None) -> dict[str, pa.Array]:
    """A kind's partial states as Arrow arrays, read back exactly by :func:`state_columns`
    (``arg``: the aggregate's argument type).  Numbers stay numbers; FIRST/LAST values are
    of the argument's type; a State is its ``to_bytes``; KLL rows are their exact values
    (a list a row) or their sketch's serialized form."""
    if isinstance(kind, KllKind):
        n, base = columns["n"], columns["base"]
        exact = base >= 0
        held = np.where(exact, n, 0)
        values = _gather({name: column[exact] for name, column in columns.items()})
        offsets = pa.array(np.concatenate([[0], np.cumsum(held)]), pa.int64())
        sketches: list[bytes | None] = [None] * len(n)
        for i in np.flatnonzero(~exact).tolist():  # the rows past k: few, each its sketch
            sketches[i] = columns["state"][i].to_bytes()
        return {
            "n": pa.array(n),
            "values": pa.LargeListArray.from_arrays(offsets, pa.array(values, pa.float64())),
            "sketch": pa.array(sketches, pa.binary()),
        }
    arrays: dict[str, pa.Array] = {}
    for name, column in columns.items():
        if column.dtype != object:
            arrays[name] = pa.array(column)
        elif isinstance(kind, PickKind):
            arrow = arg.arrow if arg is not None else pa.null()
            arrays[name] = pa.array(column.tolist(), arrow)
        elif isinstance(kind, ObjectKind):
            arrays[name] = pa.array([state.to_bytes() for state in column], pa.binary())
        else:
            raise TypeError(f"{type(kind).__name__} column {name!r} has no Arrow form")
    return arrays


def state_columns(kind: Kind, arrays: dict[str, pa.Array]) -> Columns:
    """The partial states :func:`state_arrays` wrote."""
    if isinstance(kind, KllKind):
        n = _owned(arrays["n"])
        sketches = arrays["sketch"]
        exact = sketches.is_null().to_numpy(zero_copy_only=False)
        flat = arrays["values"].flatten()
        kll = _shared(_owned(flat).astype(np.float64), np.where(exact, n, 0))
        kll["n"] = n
        for i in np.flatnonzero(~exact).tolist():
            kll["at"][i], kll["base"][i] = 0, -1
            kll["state"][i] = KllState(kind.q, data=sketches[i].as_py())
        return kll
    columns: Columns = {}
    for name, array in arrays.items():
        if pa.types.is_binary(array.type) and isinstance(kind, ObjectKind):
            load = kind.function.load
            columns[name] = _objects([load(kind.arg, kind.params, b) for b in array.to_pylist()])
        elif isinstance(kind, PickKind) and name == "v":
            columns[name] = _objects(array.to_pylist())
        else:
            columns[name] = _owned(array)
    if isinstance(kind, SumKind) and "s" in columns:  # a float sum kept before exactsum
        sums = columns.pop("s")
        columns.update(exactsum.partials(sums, np.arange(len(sums))))
    return columns


def states_batch(
    leading: dict[str, np.ndarray],
    kinds: Sequence[Kind],
    args: Sequence[DataType | None],
    states: Sequence[Columns],
) -> pa.RecordBatch:
    """Rows of partial states of several aggregates as one batch: the ``leading`` columns
    (which row is which: a window, a group), then aggregate i's :func:`state_arrays` as
    "i.<name>"; read back by :func:`batch_states`."""
    columns = {name: pa.array(values) for name, values in leading.items()}
    for i, (kind, arg, kept) in enumerate(zip(kinds, args, states, strict=True)):
        for name, array in state_arrays(kind, kept, arg).items():
            columns[f"{i}.{name}"] = array
    return pa.RecordBatch.from_pydict(columns)


def batch_states(
    batch: pa.RecordBatch, leading: Sequence[str], kinds: Sequence[Kind]
) -> tuple[list[np.ndarray], list[Columns]]:
    """The ``leading`` columns and each aggregate's partial states that
    :func:`states_batch` wrote."""
    states = []
    for i, kind in enumerate(kinds):
        prefix = f"{i}."
        arrays = {
            name[len(prefix) :]: batch.column(name)
            for name in batch.schema.names
            if name.startswith(prefix)
        }
        states.append(state_columns(kind, arrays))
    return [_owned(batch.column(name)) for name in leading], states


def _owned(array: pa.Array) -> np.ndarray:
    """A numeric Arrow array as a writable numpy array of its own."""
    found: np.ndarray = np.array(array.to_numpy(zero_copy_only=False))
    return found
