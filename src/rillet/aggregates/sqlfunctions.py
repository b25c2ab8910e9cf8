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

``kll_merge_quantile`` reads the KLL states' items and weights straight from their bytes
(:mod:`rillet.aggregates.kll_bytes`) and takes the weighted quantile of the
union of a group's items with numpy: what a KLL merge answers before it compacts, so its
rank error is at most the inputs' (about 1.65 % for k=200, 99 % of the time), and it makes
no Python call per state.  The others are the DataSketches library's own calls per state.

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
from collections.abc import Callable
from typing import Any

import datasketches as ds
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.aggregates.grouped import _exact_quantiles
from rillet.aggregates.kll_bytes import any_compacted, check_kll, state_items
from rillet.aggregates.sketches import (
    KLL_K,
    HllMergeState,
    TopKMergeState,
    frequent_sketch,
    hll_bytes,
    hll_estimate,
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
    """Rank q of each KLL state (NULL for a NULL or empty state): read from the bytes of
    all of them at once while none was compacted (the usual minute state), else
    DataSketches' answer state by state (sorting every compacted state's items together
    costs more than the library's sorted view of each)."""
    states, qs = _combined(states), _combined(qs)
    check_kll(states, "kll_quantile")
    if not any_compacted(states):
        found = _quantiles(states, np.arange(len(states), dtype=np.int64), states, qs, True)
        if found is not None:
            return found
    out: list[float | None] = []
    for data, q in zip(_pylist(states), _pylist(qs), strict=True):
        if data is None or q is None:
            out.append(None)
            continue
        if not 0.0 <= float(q) <= 1.0:  # NaN too
            raise ValueError(f"a quantile's rank must be between 0 and 1, got {q}")
        sketch = _kll(data)
        # inclusive ranks, as APPROX_QUANTILE reads its own sketches
        out.append(None if sketch.is_empty() else float(sketch.get_quantile(float(q), True)))
    return pa.array(out, pa.float64())


def kll_count(states: pa.Array) -> pa.Array:
    """How many values each KLL state summarizes."""
    return pa.array([None if d is None else _kll(d).n for d in _pylist(states)], pa.int64())


def kll_merge(lists: pa.Array) -> pa.Array:
    """Each list of KLL states merged into one (DataSketches' merge)."""
    out: list[bytes | None] = []
    for states in _pylist(lists):
        if states is None:
            out.append(None)
            continue
        total = ds.kll_doubles_sketch(KLL_K)
        for data in states:
            if data is not None:
                total.merge(_kll(data))
        out.append(bytes(total.serialize()))
    return pa.array(out, pa.binary())


def weighted_quantiles(
    groups: np.ndarray, values: np.ndarray, weights: np.ndarray, count: int, q: np.ndarray
) -> np.ndarray:
    """For each group 0..count-1, the smallest value whose cumulative weight reaches
    ``q`` of the group's total (NaN for a group without values)."""
    order = np.argsort(values)  # then by group, stably: a radix sort where groups are few
    keys = groups[order]
    if count <= 2**16:
        keys = keys.astype(np.uint16)
    order = order[np.argsort(keys, kind="stable")]
    groups, values, weights = groups[order], values[order], weights[order]
    cumulative = np.cumsum(weights)
    totals = np.bincount(groups, weights=weights, minlength=count).astype(np.int64)
    before = np.cumsum(totals) - totals
    target = np.maximum(np.ceil(q * totals), 1).astype(np.int64) + before
    found = np.searchsorted(cumulative, target, side="left")
    out = np.full(count, np.nan)
    has = totals > 0
    out[has] = values[np.minimum(found[has], len(values) - 1)]
    return out


def kll_merge_quantile(lists: pa.Array, qs: pa.Array) -> pa.Array:
    """Rank q of each list of KLL states merged: the weighted quantile of their items."""
    lists, qs = _combined(lists), _combined(qs)
    parents = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    flat = pc.list_flatten(lists)
    check_kll(flat, "kll_merge_quantile")
    return _quantiles(flat, parents, lists, qs)


def _combined(array: Any) -> Any:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _quantiles(
    flat: pa.Array, parents: np.ndarray, rows: pa.Array, qs: pa.Array, exact: bool = False
) -> Any:
    """Rank q of the KLL states ``flat`` merged by row (``parents``: each state's row of
    ``rows``, which are NULL where the states are); with ``exact``, None unless every state
    holds its values (no compaction) and q is one rank."""
    count = len(rows)
    retained, values, weights = state_items(flat)
    q = np.asarray(qs.fill_null(np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
    if ((q < 0) | (q > 1)).any():
        raise ValueError("a quantile's rank must be between 0 and 1")
    if len(q) and (q == q[0]).all() and (weights == 1).all():
        # no state was compacted: every item stands for one value, and the groups' items
        # lie one group after another, so each group is a row of a sorted matrix
        n = np.bincount(parents, weights=retained, minlength=count).astype(np.int64)
        found = np.full(count, np.nan)
        chosen = np.flatnonzero(n)
        if len(chosen):
            first = np.cumsum(n) - n
            found[chosen] = _exact_quantiles(values, first[chosen], n[chosen], float(q[0]))
    elif exact:
        return None
    else:
        groups = np.repeat(parents, retained)
        found = weighted_quantiles(groups, values, weights, count, q)
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
            None if d is None or k is None else top_items(frequent_sketch(d), int(k))
            for d, k in zip(_pylist(states), _pylist(ks), strict=True)
        ],
        pa.list_(pa.string()),
    )


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
        out.append(None if merged is None else top_items(merged, int(k)))
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
        except InputError:
            raise
        except Exception as exc:  # the library's refusals are of many classes
            raise InputError(f"{name}: {exc}") from exc

    return call
