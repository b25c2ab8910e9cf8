"""Functions of ``db.sql`` over stored sketch states: finish one, or merge many.

A roll-up stores APPROX_QUANTILE/DISTRIBUTION, APPROX_COUNT_DISTINCT and TOP_K as their
DataSketches serialized state (KLL, HLL, frequent items).  DuckDB has no aggregate functions
from Python, so a coarser grain is ``list(state)`` of its rows given to a merging function,
never an average of finished values::

    SELECT host, time_bucket(INTERVAL 1 HOUR, window_start) AS hour,
           kll_merge_quantile(list(latency), 0.99) AS p99
    FROM minutely GROUP BY ALL

========================================  ==============================================
``kll_quantile(state, q)``                the value at rank q of one KLL state
``kll_merge(list(state))``                the states merged into one KLL state (BLOB)
``kll_merge_quantile(list(state), q)``    rank q of the states merged (vectorized)
``kll_count(state)``                      how many values a KLL state summarizes
``hll_count(state)``                      the distinct count of one HLL state
``hll_merge(list(state))``                the states merged into one HLL state (BLOB)
``hll_merge_count(list(state))``          the distinct count of the states merged
``top_k_items(state, k)``                 the k most frequent values of a TOP_K state
``top_k_merge(list(state))``              the states merged into one TOP_K state (BLOB)
``top_k_merge_items(list(state), k)``     the k most frequent values of the states merged
========================================  ==============================================

``kll_quantile`` and ``kll_merge_quantile`` read the states that hold their values (at
most k, the usual minute state) straight from their bytes, all at once
(:mod:`rillet.aggregates.kll_bytes`), and answer a group from the union of its values
exactly, as a sketch holding them all would: no Python call per state.  A group with a
compacted state is DataSketches' merge of its states (within KLL's rank error, about
1.65 % for k=200, 99 % of the time).  The others are the library's own calls per state.

Examples:
    >>> import duckdb, datasketches as ds
    >>> con = duckdb.connect()
    >>> register(con)
    >>> a, b = ds.kll_doubles_sketch(200), ds.kll_doubles_sketch(200)
    >>> for v in range(1, 51): a.update(float(v))
    >>> for v in range(51, 101): b.update(float(v))
    >>> con.execute("SELECT kll_merge_quantile([?, ?], 0.5), kll_quantile(kll_merge([?, ?]), 0.5)",
    ...             [a.serialize(), b.serialize(), a.serialize(), b.serialize()]).fetchone()
    (50.0, 50.0)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

import datasketches as ds
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.aggregates.grouped import _exact_quantiles
from rillet.aggregates.kll_bytes import check_kll, compacted, state_items
from rillet.aggregates.sketches import (
    KLL_K,
    HllMergeState,
    TopKMergeState,
    frequent_sketch,
    hll_bytes,
    hll_estimate,
    sketch_quantile,
    top_items,
)
from rillet.errors import InputError


def _pylist(array: Any) -> list[Any]:
    return array.to_pylist() if array is not None else []


def _kll(data: bytes) -> Any:
    return ds.kll_doubles_sketch.deserialize(bytes(data))


def _hll(data: bytes) -> Any:
    return ds.hll_sketch.deserialize(bytes(data))


# -- KLL -----------------------------------------------------------------------------------------


def kll_quantile(states: pa.Array, qs: pa.Array) -> pa.Array:
    """Rank q of each KLL state (NULL for a NULL or empty state), as APPROX_QUANTILE reads
    its own sketches."""
    states, qs = _combined(states), _combined(qs)
    check_kll(states, "kll_quantile")
    return _quantiles(states, np.arange(len(states), dtype=np.int64), states, qs, "kll_quantile")


def kll_count(states: pa.Array) -> pa.Array:
    """How many values each KLL state summarizes."""
    states = _combined(states)
    check_kll(states, "kll_count")
    return pa.array([None if d is None else _kll(d).n for d in _pylist(states)], pa.int64())


def kll_merge(lists: pa.Array) -> pa.Array:
    """Each list of KLL states merged into one (DataSketches' merge)."""
    lists = _combined(lists)
    check_kll(pc.list_flatten(lists), "kll_merge")
    out = [
        None if states is None else bytes(_union(states).serialize()) for states in _pylist(lists)
    ]
    return pa.array(out, pa.binary())


def _union(states: Iterable[bytes | None]) -> Any:
    """The KLL states (NULL ones left out) merged by DataSketches; one state as it is."""
    given = [data for data in states if data is not None]
    if len(given) == 1:
        return _kll(given[0])
    total = ds.kll_doubles_sketch(KLL_K)
    for data in given:
        total.merge(_kll(data))
    return total


def _row_quantiles(rows: np.ndarray, values: np.ndarray, count: int, q: np.ndarray) -> np.ndarray:
    """For each row 0..count-1 (``rows``: each value's, in order), the value at its own rank
    ``q[row]`` among its values, as a sketch holding them exactly reads it
    (:func:`~rillet.aggregates.sketches.exact_positions`); NaN for a row without values."""
    order = np.lexsort((values, rows))  # a row's values in order, within its own span
    n = np.bincount(rows, minlength=count)
    positions = np.clip(np.ceil(q * n).astype(np.int64) - 1, 0, np.maximum(n - 1, 0))
    out = np.full(count, np.nan)
    has = n > 0
    out[has] = values[order[(np.cumsum(n) - n + positions)[has]]]
    return out


def kll_merge_quantile(lists: pa.Array, qs: pa.Array) -> pa.Array:
    """Rank q of each list of KLL states merged: the weighted quantile of their items."""
    lists, qs = _combined(lists), _combined(qs)
    parents = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    flat = pc.list_flatten(lists)
    check_kll(flat, "kll_merge_quantile")
    return _quantiles(flat, parents, lists, qs, "kll_merge_quantile")


def _combined(array: Any) -> Any:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _quantiles(flat: pa.Array, parents: np.ndarray, rows: pa.Array, qs: pa.Array, name: str) -> Any:
    """Rank q (inclusive) of the KLL states ``flat`` merged by row: ``parents`` is each
    state's row of ``rows`` (NULL where the states are), in order; ``name``: the function's,
    for its errors.

    The rows whose states all hold their values are answered from the values, read from
    the bytes of all of them at once: exactly, as a sketch holding them all answers.  A row
    with a compacted state is DataSketches' merge of its states (for thousands of such
    states, 7x faster than sorting the union of their weighted items, which also holds all
    of them in memory at once)."""
    count = len(rows)
    q = np.asarray(qs.to_numpy(zero_copy_only=False), dtype=np.float64)  # NULL: NaN
    wrong = ~((q >= 0) & (q <= 1))
    if qs.null_count:
        wrong &= np.asarray(qs.is_valid())
    if wrong.any():  # a NaN too: a NULL rank gives NULL
        raise ValueError(f"a quantile's rank must be between 0 and 1, got {q[wrong][0]}")
    merged = np.zeros(count, dtype=bool)
    merged[parents[compacted(flat)]] = True
    held = ~merged[parents]
    kept, owners = (flat, parents) if held.all() else (flat.filter(pa.array(held)), parents[held])
    retained, values = state_items(kept)  # every item a value: none here is compacted
    given = q[~np.isnan(q)]
    if not len(given) or (given == given[0]).all():
        # the rows' values lie one row after another: each row is a row of a sorted matrix
        n = np.bincount(owners, weights=retained, minlength=count).astype(np.int64)
        found = np.full(count, np.nan)
        chosen = np.flatnonzero(n)
        if len(chosen):
            rank = float(given[0]) if len(given) else 0.5
            first = np.cumsum(n) - n
            found[chosen] = _exact_quantiles(values, first[chosen], n[chosen], rank)
    else:
        ranks = np.where(np.isnan(q), 0.5, q)
        found = _row_quantiles(np.repeat(owners, retained), values, count, ranks)
    if merged.any():  # each such row's states, one row after another
        chosen = np.flatnonzero(~held)
        blobs = flat.take(pa.array(chosen)).to_pylist()
        owner = parents[chosen]
        cuts = [0, *(np.flatnonzero(owner[1:] != owner[:-1]) + 1).tolist(), len(owner)]
        merging = owner[cuts[:-1]]  # the rows
        answers: list[float] = []
        for start, end, rank in zip(cuts, cuts[1:], q[merging].tolist(), strict=False):
            if rank != rank:  # a NULL rank: NULL
                answers.append(math.nan)
                continue
            sketch = _kll(blobs[start]) if end - start == 1 else _union(blobs[start:end])
            # as APPROX_QUANTILE reads its sketch: at 0 and 1 the extremes it keeps
            answers.append(sketch_quantile(sketch, rank))
        found[merging] = answers
    missing = np.isnan(found) | np.isnan(q)
    if rows.null_count:
        missing |= np.asarray(rows.is_null())
    return pa.array(found, mask=missing)


# -- HLL -----------------------------------------------------------------------------------------


def hll_count(states: pa.Array) -> pa.Array:
    """The distinct count each HLL state estimates."""
    return pa.array(
        [None if d is None else hll_estimate(_hll(hll_bytes(_hll(d)))) for d in _pylist(states)],
        pa.int64(),
    )


def _hll_union(states: list[Any]) -> bytes:
    """The states merged, as a flow's HLL_MERGE merges them (in the form that does not
    depend on their order)."""
    union = HllMergeState(False)
    union.update(pa.array(states, pa.binary()), len(states))
    return union.to_bytes()


def hll_merge(lists: pa.Array) -> pa.Array:
    """Each list of HLL states merged into one (a union)."""
    return pa.array(
        [None if s is None else _hll_union(s) for s in _pylist(lists)],
        pa.binary(),
    )


def hll_merge_count(lists: pa.Array) -> pa.Array:
    """The distinct count of each list of HLL states merged."""
    return pa.array(
        [None if s is None else hll_estimate(_hll(_hll_union(s))) for s in _pylist(lists)],
        pa.int64(),
    )


# -- TOP_K ---------------------------------------------------------------------------------------


def top_k_items(states: pa.Array, ks: pa.Array) -> pa.Array:
    """The k most frequent values of each TOP_K state, most frequent first, as text."""
    return pa.array(
        [
            None if d is None or k is None else top_items(frequent_sketch(d), _k(k))
            for d, k in zip(_pylist(states), _pylist(ks), strict=True)
        ],
        pa.list_(pa.string()),
    )


def _k(k: Any) -> int:
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    return int(k)


def _merged_frequent(states: list[Any]) -> Any:
    """The states merged, as a flow's TOP_K_MERGE merges them (None: no state)."""
    merged = TopKMergeState(None)
    merged.update(pa.array(states, pa.binary()), len(states))
    return merged.sketch


def top_k_merge(lists: pa.Array) -> pa.Array:
    """Each list of TOP_K states merged into one (of no state, an empty one)."""
    out: list[bytes | None] = []
    for states in _pylist(lists):
        if states is None:
            out.append(None)
            continue
        merged = TopKMergeState(None)
        merged.update(pa.array(states, pa.binary()), len(states))
        out.append(merged.to_bytes())
    return pa.array(out, pa.binary())


def top_k_merge_items(lists: pa.Array, ks: pa.Array) -> pa.Array:
    """The k most frequent values of each list of TOP_K states merged."""
    out: list[list[str] | None] = []
    for states, k in zip(_pylist(lists), _pylist(ks), strict=True):
        merged = None if states is None or k is None else _merged_frequent(states)
        out.append(None if merged is None else top_items(merged, _k(k)))
    return pa.array(out, pa.list_(pa.string()))


#: name -> (function, argument types, result type)
FUNCTIONS: dict[str, tuple[Callable[..., pa.Array], list[str], str]] = {
    "kll_quantile": (kll_quantile, ["BLOB", "DOUBLE"], "DOUBLE"),
    "kll_count": (kll_count, ["BLOB"], "BIGINT"),
    "kll_merge": (kll_merge, ["BLOB[]"], "BLOB"),
    "kll_merge_quantile": (kll_merge_quantile, ["BLOB[]", "DOUBLE"], "DOUBLE"),
    "hll_count": (hll_count, ["BLOB"], "BIGINT"),
    "hll_merge": (hll_merge, ["BLOB[]"], "BLOB"),
    "hll_merge_count": (hll_merge_count, ["BLOB[]"], "BIGINT"),
    "top_k_items": (top_k_items, ["BLOB", "BIGINT"], "VARCHAR[]"),
    "top_k_merge": (top_k_merge, ["BLOB[]"], "BLOB"),
    "top_k_merge_items": (top_k_merge_items, ["BLOB[]", "BIGINT"], "VARCHAR[]"),
}


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make the sketch functions callable in ``con``'s SQL (vectorized: Arrow in and out)."""
    for name, (function, params, result) in FUNCTIONS.items():
        con.create_function(  # type: ignore[call-overload]
            name,
            _naming(name, function),
            params,
            result,
            type="arrow",
            null_handling="special",
            side_effects=False,
        )


def _naming(name: str, function: Callable[..., pa.Array]) -> Callable[..., pa.Array]:
    """``function``, its refusals (and the sketch library's, of bytes it cannot read) as an
    InputError that names it: DuckDB shows a UDF's error as the text alone."""

    @functools.wraps(function)
    def call(*args: pa.Array) -> pa.Array:
        try:
            return function(*args)
        except Exception as exc:  # the library's refusals are of many classes
            text = str(exc)
            head, said, rest = text.partition(": ")
            if isinstance(exc, InputError) and said and head.isidentifier():
                text = rest  # a merge this function shares said its own name
            raise InputError(f"{name}: {text}") from exc

    return call
