"""Grouped partial states (:mod:`rillet.aggregates.grouped`) of every registered aggregate.

Batches of random values (NULLs, NaN and infinities, int and int64 extremes, PRECISE, times,
text, lists) are filtered by a random mask and grouped by random buckets, in or out of batch
order, as a monitor selects ``rows`` and ``starts`` for ``Kind.partials``.  Per group, the
partials must give what the function's own State gives over the group's rows (FIRST and LAST:
also the non-NULL value of least or greatest offset).  Partials reduced under coarser
groupings, shuffled within each group and over two levels, must give what the partials of the
rows under those groupings give, and leave their input as it was.  A group of only NULLs is
empty (COUNT(x) and APPROX_COUNT_DISTINCT 0, COUNT(*) its rows, others NULL), and so is any
reduction of such groups; no groups give no partials.  Exact aggregates must agree exactly
(COUNT, SUM, AVG, MIN and MAX, of floats too, also reduced in any grouping and order), other
floating-point ones within 1e-9 (and what doubles cannot resolve), sketches exactly while
small and within what they promise beyond.  APPROX_QUANTILE and DISTRIBUTION partials hold
their values while a KLL sketch would hold them exactly (k of them): groups of about k values,
with NULL, NaN, infinities and ties, must answer every quantile, rank and CDF exactly as a
sketch of the group's values, and become sketches once a reduce takes them past k.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import datasketches
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rillet.aggregates import AGGREGATES, State
from rillet.aggregates.grouped import (
    Columns,
    Kind,
    _exact_quantiles,
    kind_of,
    state_arrays,
    state_columns,
)
from rillet.aggregates.sketches import (
    Distribution,
    HllMergeState,
    KllState,
    TopKMergeState,
    TopKState,
    sketch_quantile,
)
from rillet.batches import ipc_bytes
from rillet.datatypes import DataType
from rillet.expressions.signatures import t
from tests.property.cases import (
    FEW_INTS,
    HLL_EXACT,
    KLL_EXACT,
    MERGES,
    NEAR_1E9,
    QUANTILE_PARAMS,
    STAMPS,
    WORDS,
    Case,
    check_distribution,
    check_quantile,
    column,
    finished,
    held,
    same,
    stored,
)

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

PICKS = {"first", "last"}
EXACT_IN_ANY_GROUPING = {"count", "sum", "avg", "min", "max"}
HLL_SLACK = 0.1  # beyond: about 6 relative standard errors (1.04 / sqrt(2**12))
TOP_K_EXACT = 700  # fewer distinct values than the frequent-items map holds: exact counts
SMALL = 100  # masks and groupings of at most this many rows are drawn element by element
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- values --------------------------------------------------------------------------------------


def _bulk(
    make: Callable[[np.random.Generator, int], list[Any]], max_size: int
) -> st.SearchStrategy[list[Any]]:
    """Many values from a seeded generator (drawing them one by one would be slow)."""

    @st.composite
    def bulk(draw: st.DrawFn) -> list[Any]:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        return make(rng, draw(st.integers(1, max_size)))

    return bulk()


def _latencies(rng: np.random.Generator, size: int) -> list[Any]:
    """Latency-like doubles with 5% NULLs: enough of them to make KLL compact."""
    values = rng.lognormal(3.0, 1.5, size)
    return [None if rng.random() < 0.05 else float(v) for v in values]


def _zipf(rng: np.random.Generator, size: int) -> list[Any]:
    """Zipf-distributed ints: thousands of distinct values, a few heavy ones."""
    values = rng.zipf(1.3, size)
    return [None if v % 97 == 0 else int(v) for v in values]


def _near_k(rng: np.random.Generator, size: int) -> list[Any]:
    """Doubles for KLL partials of about k values: spread out or many ties, 5% NULL, 2% NaN,
    1% each of inf, -inf and -0.0."""
    values = rng.lognormal(3.0, 1.5, size)
    if rng.random() < 0.5:
        values = np.round(values / 10.0)  # ties, and 0.0
    specials = [None] * 5 + [math.nan] * 2 + [math.inf, -math.inf, -0.0]  # of each 100
    draws = rng.integers(0, 100, size).tolist()
    return [specials[d] if d < 10 else v for v, d in zip(values.tolist(), draws, strict=True)]


def _spread(rng: np.random.Generator, size: int) -> list[Any]:
    """Ints over a range drawn per example: from a few hundred to thousands of distinct."""
    high = int(rng.choice([200, 3000, 10**9]))
    return [None if rng.random() < 0.05 else int(v) for v in rng.integers(0, high, size)]


NAN, INF = float("nan"), float("inf")
SPECIAL = st.sampled_from([NAN, INF, -INF, -0.0])
INT_EXTREMES = st.sampled_from([-(2**31), 2**31 - 1])
BIGINT_EXTREMES = st.sampled_from([-(2**63), 2**63 - 1, -(2**63) + 1, 2**62])
INTS = st.one_of(st.integers(-5, 5), st.integers(-(2**31), 2**31 - 1), INT_EXTREMES)
BIGINTS = st.one_of(st.integers(-5, 5), st.integers(-(2**63), 2**63 - 1), BIGINT_EXTREMES)
FLOATS = st.one_of(st.floats(-1e6, 1e6, width=32), SPECIAL)
DOUBLES = st.one_of(st.floats(-1e6, 1e6), SPECIAL)
FINITE = st.floats(-1e6, 1e6)
DECIMALS = st.one_of(
    st.decimals(-(10**8), 10**8, allow_nan=False, allow_infinity=False, places=2),  # (10, 2)
    st.decimals(-(10**20), 10**20, allow_nan=False, allow_infinity=False, places=2),
)


def _column(values: st.SearchStrategy[Any], max_size: int = 60) -> st.SearchStrategy[list[Any]]:
    return column(values, max_size, min_size=1)  # a batch holds a row at least


NUMBERS = [
    Case("INT", _column(INTS)),
    Case("BIGINT", _column(BIGINTS)),
    Case("FLOAT", _column(FLOATS)),
    Case("DOUBLE", _column(DOUBLES)),
    Case("DOUBLE", _column(NEAR_1E9)),
    Case("PRECISE(2)", _column(DECIMALS)),
]
ORDERABLE = [
    *NUMBERS,
    Case("TIMESTAMP", _column(STAMPS)),
    Case("STRING", _column(WORDS)),
    Case("BOOLEAN", _column(st.booleans())),
]
ANYTHING = [
    *ORDERABLE,
    Case("LIST<INT>", _column(st.lists(st.one_of(st.none(), INTS), max_size=3))),
    Case("BINARY", _column(st.binary(max_size=3))),
]
CASES: dict[str, list[Case]] = {
    "count": [Case(None, st.lists(st.none(), min_size=1, max_size=60)), *ANYTHING],
    "sum": NUMBERS,
    "avg": NUMBERS,
    "stddev": NUMBERS,
    "variance": NUMBERS,
    "min": ORDERABLE,
    "max": ORDERABLE,
    "first": ANYTHING,
    "last": ANYTHING,
    "approx_count_distinct": [
        Case("BIGINT", _column(FEW_INTS, max_size=400)),
        Case("DOUBLE", _column(st.sampled_from([0.0, -0.0, 0.5, 1e300, INF, NAN]))),
        Case("STRING", _column(st.text(alphabet="ab", max_size=6), max_size=200)),
        Case("TIMESTAMP", _column(st.integers(0, 99), max_size=200)),
        Case("BIGINT", _bulk(_spread, 5000)),
    ],
    "approx_quantile": [
        Case("DOUBLE", _column(FINITE), QUANTILE_PARAMS),
        Case("DOUBLE", _column(DOUBLES), QUANTILE_PARAMS),
        Case("FLOAT", _column(FLOATS), QUANTILE_PARAMS),
        Case("BIGINT", _column(st.integers(-3, 3)), QUANTILE_PARAMS),
        Case("DOUBLE", _bulk(_latencies, 3000), QUANTILE_PARAMS),
        Case("DOUBLE", _bulk(_near_k, 700), QUANTILE_PARAMS),
    ],
    "distribution": [
        Case("DOUBLE", _column(FINITE)),
        Case("DOUBLE", _column(DOUBLES)),
        Case("DOUBLE", _bulk(_latencies, 3000)),
        Case("DOUBLE", _bulk(_near_k, 700)),
    ],
    "top_k": [
        Case("STRING", _column(WORDS), st.tuples(st.integers(1, 5))),
        Case("BIGINT", _column(st.integers(0, 9)), st.tuples(st.integers(1, 5))),
        Case("DOUBLE", _column(st.sampled_from([0.0, -0.0, 1.5])), st.tuples(st.integers(1, 3))),
        Case("BIGINT", _bulk(_zipf, 10_000), st.tuples(st.integers(1, 20))),
    ],
    # stored states of one value each, merged: the aggregate of the values they hold
    "kll_merge": [stored("kll_merge", FINITE), stored("kll_merge", FINITE, 400)],
    "kll_merge_quantile": [
        stored("kll_merge_quantile", FINITE),
        stored("kll_merge_quantile", FINITE, 400),
    ],
    "hll_merge": [stored("hll_merge", WORDS, 200)],
    "hll_merge_count": [stored("hll_merge_count", WORDS, 200)],
    "top_k_merge": [stored("top_k_merge", WORDS)],
    "top_k_merge_items": [stored("top_k_merge_items", WORDS)],
}


def test_every_registered_aggregate_has_cases() -> None:
    assert set(CASES) == set(AGGREGATES)


# -- batches -------------------------------------------------------------------------------------


def _starts(data: st.DataObject, n: int, label: str) -> Ints:
    """The first item of each of some non-empty contiguous groups of ``n`` items (n >= 1)."""
    how = data.draw(st.sampled_from(["one", "each", "cuts"]), label=f"{label} grouping")
    if how == "one" or n == 1:
        return np.zeros(1, dtype=np.int64)
    if how == "each" and n <= SMALL:
        return np.arange(n, dtype=np.int64)
    cuts = data.draw(st.lists(st.integers(1, n - 1), max_size=12), label=label)
    return np.array(sorted({0, *cuts}), dtype=np.int64)


def _bounds(starts: Ints, n: int) -> list[tuple[int, int]]:
    ends = [*starts[1:].tolist(), n]
    return list(zip(starts.tolist(), ends, strict=True))


def _seeded(data: st.DataObject, label: str) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label=f"{label} seed"))


def _mask(data: st.DataObject, n: int) -> Mask | None:
    """Which rows a filter passes (None: all); at least one, as a monitor skips the others."""
    how = data.draw(st.sampled_from(["all", "drawn", "seeded"]), label="mask")
    if how == "all":
        return None
    if how == "drawn" and n <= SMALL:
        flags = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="mask flags")
        mask = np.array(flags, dtype=np.bool_)
    else:
        share = data.draw(st.sampled_from([0.05, 0.5, 0.95]), label="passing share")
        mask = _seeded(data, "mask").random(n) < share
    if not mask.any():
        mask[data.draw(st.integers(0, n - 1), label="passing row")] = True
    return mask


def _buckets(data: st.DataObject, n: int) -> Ints | None:
    """A bucket per row, ascending over the batch or not (late records); None: one bucket."""
    how = data.draw(st.sampled_from(["one", "ordered", "late"]), label="buckets")
    if how == "one":
        return None
    high = data.draw(st.sampled_from([1, 3, 10, n]), label="bucket count")
    if n <= SMALL:
        drawn = data.draw(st.lists(st.integers(0, high), min_size=n, max_size=n), label="bucket")
        keys = np.array(drawn, dtype=np.int64)
    else:
        keys = _seeded(data, "buckets").integers(0, high + 1, n).astype(np.int64)
    return np.sort(keys) if how == "ordered" else keys


@dataclass(frozen=True)
class Batch:
    """A batch of an aggregate's argument, its selected ``rows`` in bucket order, grouped.

    As a monitor calls ``partials``: ``rows`` are batch positions, in group order and, within
    a group, in batch (so offset) order; None for all of them in batch order.  ``starts`` are
    positions in ``rows`` (the first of each group).
    """

    name: str
    arg: DataType | None
    params: tuple[Any, ...]
    values: pa.Array | None  # None for COUNT(*)
    offsets: Ints  # of every row of the batch, ascending
    rows: Ints | None
    starts: Ints

    def kind(self) -> Kind:
        return kind_of(AGGREGATES[self.name], self.arg, self.params)

    @property
    def selected(self) -> Ints:
        return np.arange(len(self.offsets), dtype=np.int64) if self.rows is None else self.rows

    @property
    def length(self) -> int:
        return len(self.selected)

    def partials(self, starts: Ints, values: pa.Array | None = None) -> Columns:
        values = self.values if values is None else values
        return self.kind().partials(values, self.rows, self.offsets, starts)

    def state(self, start: int, end: int) -> State:
        """The function's State fed the rows of group ``[start, end)`` in one update."""
        rows = self.selected[start:end]
        state = AGGREGATES[self.name].new_state(self.arg, self.params)
        part = None if self.values is None else self.values.take(pa.array(rows, pa.int64()))
        with np.errstate(invalid="ignore"):  # VarianceState warns on inf - inf; not our concern
            state.update(part, len(rows))
        return state

    def valid(self, start: int, end: int) -> list[Any]:
        """The non-NULL values of group ``[start, end)``."""
        if self.values is None:
            return []
        part = self.values.take(pa.array(self.selected[start:end], pa.int64())).to_pylist()
        return [v for v in part if v is not None]

    def pick(self, start: int, end: int) -> Any:
        """FIRST or LAST by offset: the group's non-NULL value of least or greatest offset."""
        assert self.values is not None
        found = [
            (int(self.offsets[i]), self.values[i].as_py())
            for i in self.selected[start:end].tolist()
            if self.values[i].is_valid
        ]
        if not found:
            return None
        by_offset = sorted(found, key=lambda pair: pair[0])
        return by_offset[-1 if self.name == "last" else 0][1]

    def in_offset_order(self, starts: Ints) -> bool:
        """Whether the rows of each group of ``starts`` are in offset order."""
        ordered = np.diff(self.offsets[self.selected]) > 0
        ordered[starts[1:] - 1] = True  # across groups, any order
        return bool(ordered.all())


def _batch(data: st.DataObject, name: str) -> Batch:
    case = data.draw(st.sampled_from(CASES[name]), label="case")
    arg = None if case.dtype is None else t(case.dtype)
    raw = data.draw(case.values, label="values")
    values: pa.Array | None = None
    if arg is not None and arg.name == "TIMESTAMP":
        values = pa.array(raw, pa.int64()).cast(arg.arrow)
    elif arg is not None:
        values = pa.array(raw, arg.arrow)
    params = data.draw(case.params, label="params")
    n = len(raw)
    offsets = data.draw(st.integers(0, 2**62), label="offset base") + np.arange(n, dtype=np.int64)
    mask = _mask(data, n)
    keys = _buckets(data, n)
    if keys is None:  # one bucket: cut anywhere, as coarser levels of sorted buckets are
        rows = None if mask is None else np.flatnonzero(mask).astype(np.int64)
        starts = _starts(data, n if rows is None else len(rows), "starts")
    else:  # as Buckets.select and Buckets.held make them
        order = np.argsort(keys, kind="stable")
        rows = order if mask is None else order[mask[order]]
        held = keys[rows]
        starts = np.flatnonzero(np.append(True, held[1:] != held[:-1])).astype(np.int64)
    return Batch(name, arg, params, values, offsets, rows, starts)


# -- what "equal" means for each aggregate -------------------------------------------------------


def _close(got: Any, want: Any, abs_tol: float) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if math.isnan(want):
        return math.isnan(got)
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=abs_tol)


def _check(batch: Batch, got: Any, want: Any, valid: list[Any], state: State | None = None) -> None:
    """``got`` is the aggregate of the non-NULL values ``valid`` as well as ``want`` is.

    ``state`` is the State behind ``got`` where the kind keeps States (the sketches).
    """
    name = batch.name
    dtype = batch.arg.name if batch.arg is not None else None
    if name in MERGES:
        _check_merge(batch, got, want, held(valid))
    elif name in ("sum", "avg") and dtype in ("FLOAT", "DOUBLE"):
        # float addition is not associative: within rounding, and cancellation
        finite = [v for v in valid if math.isfinite(v)]
        slack = 1e-12 * math.fsum(abs(v) for v in finite)
        assert _close(got, want, slack / len(valid) if name == "avg" and valid else slack)
        assert type(got) is type(want)
    elif name in ("variance", "stddev"):
        # Beyond 1e-9 relative, allow what doubles cannot resolve (as in test_aggregate_merge)
        finite = [float(v) for v in valid if math.isfinite(v)]
        scale = max((abs(v) for v in finite), default=0.0)
        mean = math.fsum(finite) / len(finite) if finite else 0.0
        spread = max((abs(v - mean) for v in finite), default=0.0)
        slack = 1e-12 * spread**2 + 1e-28 * scale**2
        assert _close(got, want, slack if name == "variance" else math.sqrt(slack))
    elif name == "approx_count_distinct":
        _check_distinct(valid, got, want)
    elif name == "approx_quantile":
        check_quantile(valid, batch.params[0], got, want)
    elif name == "distribution":
        check_distribution(valid, got, want)
    elif name == "top_k":
        _check_top_k(valid, got, want, state)
    else:  # COUNT, MIN, MAX, FIRST, LAST; SUM and AVG of integers and PRECISE
        assert same(got, want)


def _check_merge(batch: Batch, got: Any, want: Any, valid: list[Any]) -> None:
    """A *_merge aggregate over states of one value each: as its aggregate of the values."""
    name = batch.name
    got, want = finished(name, got), finished(name, want)
    base = MERGES[name]
    if not valid and name in ("kll_merge", "kll_merge_quantile", "top_k_merge_items"):
        assert got is None and want is None
    elif not valid and name == "top_k_merge":  # an empty state
        assert got == want == []
    elif base == "approx_quantile":
        check_quantile(valid, batch.params[0], got, want)
    elif base == "distribution":
        check_distribution(valid, got, want)
    elif base == "approx_count_distinct":
        _check_distinct(valid, got, want)
    else:  # the k most frequent, exactly: few distinct values
        counts = Counter(valid)
        k = batch.params[0] if batch.params else 10
        assert got == want and len(got) == min(k, len(counts))
        assert [counts[v] for v in got] == sorted(counts.values(), reverse=True)[: len(got)]


def _key(value: Any) -> Any:
    """The value as the sketches tell values apart (-0.0 is 0.0, every NaN one)."""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else value + 0.0
    return value


def _check_distinct(valid: list[Any], got: Any, want: Any) -> None:
    distinct = len({_key(v) for v in valid})
    assert type(got) is int and type(want) is int
    if distinct <= HLL_EXACT:
        assert got == want == distinct
    else:
        for estimate in (got, want):
            assert abs(estimate - distinct) <= HLL_SLACK * distinct


def _check_top_k(valid: list[Any], got: Any, want: Any, state: State | None) -> None:
    if not valid:
        assert got is None and want is None
        return
    assert isinstance(got, list) and isinstance(want, list)
    counts = Counter(_key(v) for v in valid)
    if len(counts) <= TOP_K_EXACT:
        assert got == want
        heaviest = sorted(counts.values(), reverse=True)[: len(got)]
        assert [counts[_key(v)] for v in got] == heaviest
    assert isinstance(state, TopKState)
    assert state.total == len(valid)
    if len(counts) <= TOP_K_EXACT:
        assert len(got) == min(state.k, len(counts))
    for value, count in counts.most_common(300):  # guaranteed bounds, in every mode
        low, high = state.bounds(value)
        assert low <= count <= high


def _state_of(columns: Columns, i: int) -> State | None:
    if "state" not in columns:
        return None
    state: State = columns["state"][i]
    return state


# -- the properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(AGGREGATES))
@SETTINGS
@given(data=st.data())
def test_partials_give_each_groups_state_result(name: str, data: st.DataObject) -> None:
    batch = _batch(data, name)
    columns = batch.partials(batch.starts)
    got = batch.kind().results(columns)
    assert len(got) == len(batch.starts)
    for kept in columns.values():
        assert len(kept) == len(batch.starts)
    for i, (start, end) in enumerate(_bounds(batch.starts, batch.length)):
        want = batch.state(start, end).result()
        if name in PICKS:  # within a group, the State's arrival order is the offset order
            assert same(got[i], batch.pick(start, end))
        _check(batch, got[i], want, batch.valid(start, end), _state_of(columns, i))


@pytest.mark.parametrize("name", sorted(AGGREGATES))
@SETTINGS
@given(data=st.data())
def test_reduce_in_any_grouping_and_order_equals_partials_of_the_rows(
    name: str, data: st.DataObject
) -> None:
    batch = _batch(data, name)
    kind = batch.kind()
    columns = batch.partials(batch.starts)
    before = kind.results(columns)
    rng = _seeded(data, "shuffle")
    level, row_starts = columns, batch.starts
    for depth in range(2):  # e.g. seconds into minutes into hours
        groups = _starts(data, len(row_starts), f"coarse {depth}")
        if data.draw(st.booleans(), label=f"shuffle {depth}"):
            order = np.concatenate(
                [a + rng.permutation(b - a) for a, b in _bounds(groups, len(row_starts))]
            )
            level = {k: v[order] for k, v in level.items()}
        level = kind.reduce(level, groups)
        row_starts = row_starts[groups]
        got = kind.results(level)
        assert len(got) == len(row_starts)
        direct = kind.results(batch.partials(row_starts))
        # FIRST and LAST from rows need each group's rows in offset order; by offset, not
        ordered = batch.in_offset_order(row_starts)
        for i, (start, end) in enumerate(_bounds(row_starts, batch.length)):
            if name in PICKS:
                assert same(got[i], batch.pick(start, end))
                if not ordered:
                    continue
            _check(batch, got[i], direct[i], batch.valid(start, end), _state_of(level, i))
            if name in EXACT_IN_ANY_GROUPING:  # float sums too: not merely close
                assert same(got[i], direct[i])
    after = kind.results(columns)  # reduce leaves its input (kept states) as it was
    assert len(after) == len(before)
    for a, b in zip(after, before, strict=True):
        assert same(a, b)


@pytest.mark.parametrize("name", sorted(AGGREGATES))
@SETTINGS
@given(data=st.data())
def test_states_read_back_from_arrow_are_the_states_written(name: str, data: st.DataObject) -> None:
    """A named flow's checkpoint keeps partial states as Arrow columns in IPC bytes: read
    back, each row gives the same result, and merges as the state it was written from
    (KLL sketches merge at random: their results are compared, not their merges)."""
    batch = _batch(data, name)
    kind = batch.kind()
    level = batch.partials(batch.starts)
    if data.draw(st.booleans(), label="reduced"):  # KLL rows past k become sketches
        level = kind.reduce(level, _starts(data, len(batch.starts), "coarse"))
    table = pa.table(state_arrays(kind, level, batch.arg))
    read = pa.ipc.open_stream(ipc_bytes(table)).read_all().combine_chunks()
    restored = state_columns(kind, {n: read.column(n).chunk(0) for n in read.schema.names})
    count = len(next(iter(level.values())))
    assert all(len(column) == count for column in restored.values())
    for got, want in zip(kind.results(restored), kind.results(level), strict=True):
        assert same(got, want)
    if name in KLL_STATES or not count:
        return
    pairs = np.arange(0, 2 * count, 2, dtype=np.int64)  # row i beside its copy

    def beside(other: Columns) -> Columns:
        return {k: np.stack([level[k], other[k]], axis=1).reshape(-1) for k in level}

    merged = kind.results(kind.reduce(beside(restored), pairs))
    for got, want in zip(merged, kind.results(kind.reduce(beside(level), pairs)), strict=True):
        assert same(got, want)


@pytest.mark.parametrize("name", sorted(AGGREGATES))
@SETTINGS
@given(data=st.data())
def test_groups_without_a_value_are_empty(name: str, data: st.DataObject) -> None:
    """Groups whose rows are all NULL: COUNT(x) is 0, COUNT(*) the rows, others NULL."""
    batch = _batch(data, name)
    kind = batch.kind()
    groups = _bounds(batch.starts, batch.length)
    chosen = sorted(data.draw(st.sets(st.integers(0, len(groups) - 1), min_size=1), label="null"))
    values = batch.values
    if values is not None:
        nulls = np.zeros(len(values), dtype=np.bool_)
        for i in chosen:
            nulls[batch.selected[groups[i][0] : groups[i][1]]] = True
        values = pc.if_else(pa.array(nulls), pa.scalar(None, values.type), values)

    def empty(rows: int) -> Any:
        if name == "count":
            return rows if values is None else 0
        if name == "hll_merge":  # of no state: an empty one
            return HllMergeState(False).to_bytes()
        if name == "top_k_merge":
            return TopKMergeState(None).to_bytes()
        return 0 if name in ("approx_count_distinct", "hll_merge_count") else None

    columns = batch.partials(batch.starts, values)
    got = kind.results(columns)
    for i in chosen:
        assert same(got[i], empty(groups[i][1] - groups[i][0]))
    only_empty = {k: v[np.array(chosen)] for k, v in columns.items()}
    merged = kind.results(kind.reduce(only_empty, np.zeros(1, dtype=np.int64)))
    assert len(merged) == 1
    assert same(merged[0], empty(sum(groups[i][1] - groups[i][0] for i in chosen)))


@pytest.mark.parametrize("name", sorted(AGGREGATES))
def test_no_groups(name: str) -> None:
    """No rows selected: no groups, no partials, and nothing to reduce."""
    params = {"approx_quantile": (0.5,), "kll_merge_quantile": (0.5,), "top_k": (3,)}.get(
        name, (3,) if name == "top_k_merge_items" else ()
    )
    none = np.zeros(0, dtype=np.int64)
    failures = []
    for dtype in dict.fromkeys(case.dtype for case in CASES[name]):
        arg = None if dtype is None else t(dtype)
        kind = kind_of(AGGREGATES[name], arg, params)
        for values, rows in (
            (None if arg is None else pa.array([], arg.arrow), None),  # an empty batch
            (None if arg is None else pa.nulls(2, arg.arrow), none),  # no row selected
        ):
            offsets = np.arange(0 if values is None else len(values), dtype=np.int64)
            try:
                columns = kind.partials(values, rows, offsets, none)
                assert kind.results(columns) == []
                assert kind.results(kind.reduce(columns, none)) == []
            except Exception as exc:
                failures.append(f"{dtype} ({type(kind).__name__}): {exc!r}")
    assert not failures, "\n".join(dict.fromkeys(failures))


# -- KLL: exact values while a sketch would hold them exactly ------------------------------------

KLL = ("approx_quantile", "distribution")
KLL_STATES = (*KLL, "kll_merge", "kll_merge_quantile")  # sketches past k merge at random
MANY_QS = [0.0, 1e-9, 0.01, 0.1, 0.25, 1 / 3, 0.5, 0.6, 2 / 3, 0.75, 0.9, 0.99, 1 - 1e-9, 1.0]
KLL_SIZES = st.lists(st.integers(1, 260), min_size=1, max_size=8)  # rows a group: around k


def _kll_sketch(raw: list[Any], q: float | None) -> KllState:
    """The function's State (a KLL sketch) fed ``raw`` in one update."""
    state = KllState(q)
    state.update(pa.array(raw, pa.float64()), len(raw))
    return state


def _same_distribution(got: Distribution, want: Distribution, valid: list[float]) -> None:
    """Every answer of ``got`` is exactly ``want``'s (both exact: no more than k values)."""
    assert (got.n, got.min, got.max) == (want.n, want.min, want.max)
    assert got.quantiles(MANY_QS) == want.quantiles(MANY_QS)
    points = sorted({*valid, -1.0, 0.5, 1e9})
    assert [got.rank(p) for p in points] == [want.rank(p) for p in points]
    finite = [p for p in points if math.isfinite(p)]
    assert got.cdf(finite) == want.cdf(finite)


def _kll_partials(kind: Kind, raw: list[Any], starts: Ints, cut: int) -> Columns:
    """The partials of the groups ``[0, cut)`` of ``raw``, then of the others, made by two
    ``partials`` calls as for two batches."""
    middle = int(starts[cut]) if cut < len(starts) else len(raw)
    parts = []
    for low, high, groups in ((0, middle, starts[:cut]), (middle, len(raw), starts[cut:])):
        if len(groups):
            values = pa.array(raw[low:high], pa.float64())
            offsets = np.arange(low, high, dtype=np.int64)
            parts.append(kind.partials(values, None, offsets, groups - low))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _contents(state: Any) -> bytes:
    """A KLL partial's sketch or values, as bytes."""
    data: bytes = state.to_bytes() if isinstance(state, KllState) else state.tobytes()
    return data


def _check_kll(name: str, columns: Columns, raw: list[Any], starts: Ints, q: float) -> None:
    """Each row of ``columns`` (groups of ``raw`` by ``starts``) holds its values exactly
    while there are no more than k of them, answering as the sketch of them does; beyond,
    it is a sketch within the rank error."""
    quantile = name == "approx_quantile"
    got = kind_of(AGGREGATES[name], t("DOUBLE"), (q,) if quantile else ()).results(columns)
    qs = MANY_QS if quantile else []  # every quantile, not the kind's q alone
    every_q = [kind_of(AGGREGATES[name], t("DOUBLE"), (other,)).results(columns) for other in qs]
    for i, (start, end) in enumerate(_bounds(starts, len(raw))):
        rows = raw[start:end]
        valid = [v for v in rows if v is not None and not math.isnan(v)]
        assert columns["n"][i] == len(valid)
        assert isinstance(columns["state"][i], KllState) == (len(valid) > KLL_EXACT)
        want = _kll_sketch(rows, q if quantile else None).result()
        if len(valid) > KLL_EXACT:
            if quantile:
                check_quantile(valid, q, got[i], want)
            else:
                check_distribution(valid, got[i], want)
        elif not valid:
            assert got[i] is None and want is None
        elif not quantile:
            assert isinstance(got[i], Distribution) and isinstance(want, Distribution)
            _same_distribution(got[i], want, valid)
        else:
            whole = _kll_sketch(rows, None).result()
            assert isinstance(whole, Distribution)
            for other, answers in zip(qs, every_q, strict=True):
                assert same(answers[i], whole.quantile(other))
            assert same(got[i], want)


@pytest.mark.parametrize("name", KLL)
@SETTINGS
@given(data=st.data())
def test_kll_partials_are_exact_up_to_k_and_answer_as_the_sketch(
    name: str, data: st.DataObject
) -> None:
    """Groups of about k values (NULL, NaN, infinities, -0.0, ties): a partial of no more
    than k values holds them and answers every quantile exactly as a KLL sketch of them;
    past k it is a sketch.  Reduced in any grouping and order, over two levels, partials
    cross k and stay so; their input is left as it was."""
    sizes = data.draw(KLL_SIZES, label="group rows")
    raw = _near_k(_seeded(data, "values"), sum(sizes))
    starts = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
    q = data.draw(st.one_of(st.sampled_from(MANY_QS), st.floats(0.0, 1.0)), label="q")
    kind = kind_of(AGGREGATES[name], t("DOUBLE"), (q,) if name == "approx_quantile" else ())
    # the groups of two batches, as a monitor's level holds them (rows share a batch's array)
    cut = data.draw(st.integers(1, len(sizes)), label="groups of the first batch")
    columns = _kll_partials(kind, raw, starts, cut)
    _check_kll(name, columns, raw, starts, q)
    kept = [_contents(state) for state in columns["state"].tolist()]
    rng = _seeded(data, "shuffle")
    level, row_starts, rows = columns, starts, raw
    for depth in range(2):
        groups = _starts(data, len(row_starts), f"coarse {depth}")
        if data.draw(st.booleans(), label=f"shuffle {depth}"):  # rows of a group in any order
            order = np.concatenate(
                [a + rng.permutation(b - a) for a, b in _bounds(groups, len(row_starts))]
            )
            bounds = _bounds(row_starts, len(rows))
            rows = [v for i in order.tolist() for v in rows[bounds[i][0] : bounds[i][1]]]
            sizes = [bounds[i][1] - bounds[i][0] for i in order.tolist()]
            row_starts = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
            level = {k: v[order] for k, v in level.items()}
        level = kind.reduce(level, groups)
        row_starts = row_starts[groups]
        _check_kll(name, level, rows, row_starts, q)
    assert [_contents(state) for state in columns["state"].tolist()] == kept  # as they were


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(-1e9, 1e9) | st.sampled_from([0.0, 1.0, math.inf]), max_size=200).filter(
            bool
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0]),
    st.randoms(use_true_random=False),
)
def test_exact_quantiles_are_the_sketches_answers(
    rows: list[list[float]], q: float, rng: Any
) -> None:
    """Each row's quantile (sorted, or the greatest or least picked without a sort) is what
    a DataSketches KLL sketch holding that row's values answers, the rows in any order."""
    order = list(range(len(rows)))
    rng.shuffle(order)
    values = np.array([v for row in rows for v in row])
    n = np.array([len(row) for row in rows])
    first = np.cumsum(n) - n
    found = _exact_quantiles(values, first[order], n[order], q).tolist()
    expected = []
    for i in order:
        sketch = datasketches.kll_doubles_sketch(200)
        for value in rows[i]:
            sketch.update(value)
        expected.append(sketch_quantile(sketch, q))
    assert found == expected
