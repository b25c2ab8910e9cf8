"""Every registered aggregate: merging the states of any split of the data equals the whole.

The data is cut at random points; the pieces' states (sometimes sent through their bytes, as
partials from other nodes are) are merged in order, in a random tree of the same order, and,
for the aggregates that do not care about order, in a random order.  Exact aggregates must
agree exactly, floating-point ones within 1e-9, and sketches within what they promise.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rillet.aggregates import AGGREGATES, State
from rillet.aggregates.sketches import KllState, TopKState
from rillet.datatypes import DataType
from rillet.expressions.signatures import t
from tests.property.cases import (
    FEW_INTS,
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
    stored,
)

ORDERED = {"first", "last"}  # their merge is associative but not commutative
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _bulk_doubles(draw: st.DrawFn) -> list[float | None]:
    """Up to 3000 latency-like doubles with 5% NULLs (enough to make KLL compact)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(0, 3000))
    values = rng.lognormal(3.0, 1.5, size)
    return [None if rng.random() < 0.05 else float(v) for v in values]


@st.composite
def _bulk_zipf(draw: st.DrawFn) -> list[int | None]:
    """Up to 20000 Zipf-distributed ints: thousands of distinct values, a few heavy ones."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(0, 20_000))
    values = rng.zipf(draw(st.sampled_from([1.2, 1.5, 2.0])), size)
    return [None if v % 97 == 0 else int(v) for v in values]


BIGINTS = st.one_of(st.integers(-5, 5), st.integers(-(2**62), 2**62))
INTS = st.integers(-(2**31), 2**31 - 1)
DOUBLES = st.floats(-1e6, 1e6, allow_nan=False)
DECIMALS = st.decimals(-(10**20), 10**20, allow_nan=False, allow_infinity=False, places=2)


NUMBERS = [
    Case("BIGINT", column(BIGINTS)),
    Case("INT", column(INTS)),
    Case("DOUBLE", column(DOUBLES)),
    Case("DOUBLE", column(NEAR_1E9)),
    Case("PRECISE(2)", column(DECIMALS)),
]
ORDERABLE = [
    *NUMBERS,
    Case("STRING", column(WORDS)),
    Case("BOOLEAN", column(st.booleans())),
    Case("TIMESTAMP", column(STAMPS)),
]
CASES: dict[str, list[Case]] = {
    "count": [Case(None, st.lists(BIGINTS, max_size=60)), *ORDERABLE],
    "sum": NUMBERS,
    "avg": NUMBERS,
    "stddev": NUMBERS,
    "variance": NUMBERS,
    "min": ORDERABLE,
    "max": ORDERABLE,
    "first": [*ORDERABLE, Case("LIST<INT>", column(st.lists(st.one_of(st.none(), INTS))))],
    "last": [*ORDERABLE, Case("BINARY", column(st.binary(max_size=3)))],
    "approx_count_distinct": [
        Case("BIGINT", column(FEW_INTS, max_size=400)),
        Case("DOUBLE", column(st.sampled_from([0.0, -0.0, 0.5, 1e300, float("inf")]))),
        Case("STRING", column(st.text(alphabet="ab", max_size=6), max_size=200)),
        Case("BINARY", column(st.binary(max_size=1), max_size=200)),
        Case("TIMESTAMP", column(st.integers(0, 99), max_size=200)),
    ],
    "approx_quantile": [
        Case("DOUBLE", column(DOUBLES), QUANTILE_PARAMS),
        Case("BIGINT", column(st.integers(-3, 3)), QUANTILE_PARAMS),
        Case("DOUBLE", _bulk_doubles(), QUANTILE_PARAMS),
    ],
    "distribution": [Case("DOUBLE", column(DOUBLES)), Case("DOUBLE", _bulk_doubles())],
    "top_k": [
        Case("STRING", column(WORDS), st.tuples(st.integers(1, 5))),
        Case("BIGINT", column(st.integers(0, 9)), st.tuples(st.integers(1, 5))),
        Case("DOUBLE", column(st.sampled_from([0.0, -0.0, 1.5])), st.tuples(st.integers(1, 3))),
        Case("BIGINT", _bulk_zipf(), st.tuples(st.integers(1, 20))),
    ],
    **{name: [stored(name, WORDS if name.startswith(("hll", "top")) else DOUBLES, 300)]
       for name in MERGES},
}  # fmt: skip


def test_every_registered_aggregate_has_cases() -> None:
    assert set(CASES) == set(AGGREGATES)


# -- splitting and merging ---------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    name: str
    arg: DataType | None
    params: tuple[Any, ...]
    pieces: list[pa.Array]
    through_bytes: list[bool]

    def states(self) -> list[State]:
        """A fresh state per piece, some of them read back from their bytes."""
        fn = AGGREGATES[self.name]
        states = []
        for piece, via_bytes in zip(self.pieces, self.through_bytes, strict=True):
            state = fn.new_state(self.arg, self.params)
            state.update(None if self.arg is None else piece, len(piece))
            if via_bytes:
                state = fn.state_from_bytes(self.arg, self.params, state.to_bytes())
            states.append(state)
        return states

    def whole(self, values: pa.Array) -> State:
        state = AGGREGATES[self.name].new_state(self.arg, self.params)
        state.update(None if self.arg is None else values, len(values))
        return state


def _fold(states: Sequence[State], order: Sequence[int]) -> State:
    acc = states[order[0]]
    for i in order[1:]:
        acc.merge(states[i])
    return acc


def _tree(states: Sequence[State], sizes: Callable[[int], int]) -> State:
    """Adjacent states merged pairwise in a random tree; order kept."""
    if len(states) == 1:
        return states[0]
    cut = sizes(len(states))
    left, right = _tree(states[:cut], sizes), _tree(states[cut:], sizes)
    left.merge(right)
    return left


@pytest.mark.parametrize("name", sorted(AGGREGATES))
@SETTINGS
@given(data=st.data())
def test_merging_any_split_equals_the_whole(name: str, data: st.DataObject) -> None:
    case = data.draw(st.sampled_from(CASES[name]), label="case")
    arg = None if case.dtype is None else t(case.dtype)
    arrow_type = pa.int64() if arg is None else arg.arrow
    raw = data.draw(case.values, label="values")
    if case.dtype == "TIMESTAMP":  # epoch microseconds
        values = pa.array(raw, pa.int64()).cast(arrow_type)
    else:
        values = pa.array(raw, arrow_type)
    params = data.draw(case.params, label="params")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(values)), max_size=8), label="cuts"))
    bounds = [0, *cuts, len(values)]
    pieces = [values.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)]
    via_bytes = data.draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))
    plan = Split(name, arg, params, pieces, via_bytes)

    whole = plan.whole(values)
    in_order = _fold(plan.states(), range(len(pieces)))
    _check(name, values, whole, in_order)
    tree = _tree(plan.states(), lambda n: data.draw(st.integers(1, n - 1), label="tree"))
    _check(name, values, whole, tree)
    if name not in ORDERED:
        order = data.draw(st.permutations(range(len(pieces))), label="order")
        _check(name, values, whole, _fold(plan.states(), order))


# -- what "equal" means for each aggregate -----------------------------------------------------


def _check(name: str, values: pa.Array, whole: State, merged: State) -> None:
    valid = [v for v in values.to_pylist() if v is not None]
    expected, got = whole.result(), merged.result()
    if name in MERGES:  # states of one value each: as the aggregate of the values
        valid, merge, name = held(valid), name, MERGES[name]
        expected, got = finished(merge, expected), finished(merge, got)
        if merge in ("hll_merge", "top_k_merge"):  # the same bytes, however it was split
            assert merged.to_bytes() == whole.to_bytes()
        if not valid and merge in ("kll_merge", "kll_merge_quantile", "top_k_merge_items"):
            assert got is None and expected is None
            return
        if name in ("approx_count_distinct", "top_k"):
            counts = Counter(valid)
            assert got == expected
            if name == "top_k":
                heaviest = sorted(counts.values(), reverse=True)[: len(got)]
                assert [counts[v] for v in got] == heaviest
            else:
                assert got == len(counts)
            return
    if name in ("count", "min", "max", "first", "last", "approx_count_distinct"):
        assert got == expected == _exact(name, values, valid)
    elif name == "sum":
        _check_sum(valid, expected, got)
    elif name in ("avg", "stddev", "variance"):
        _check_moments(name, valid, expected, got)
    elif name == "approx_quantile":
        assert isinstance(merged, KllState) and merged.q is not None
        check_quantile(valid, merged.q, got, expected)
    elif name == "distribution":
        check_distribution(valid, got, expected)
    else:
        assert isinstance(whole, TopKState) and isinstance(merged, TopKState)
        _check_top_k(valid, whole, merged)


def _exact(name: str, values: pa.Array, valid: list[Any]) -> Any:
    if name == "count":
        return len(valid)
    if name == "approx_count_distinct":
        return len(set(valid))
    if not valid:
        return None
    return {"min": min, "max": max}.get(name, lambda v: v[0] if name == "first" else v[-1])(valid)


def _check_sum(valid: list[Any], expected: Any, got: Any) -> None:
    if not valid:
        assert got is None and expected is None
    elif isinstance(valid[0], float):  # float addition is not associative: within rounding
        exact = math.fsum(valid)
        scale = math.fsum(abs(v) for v in valid)
        assert math.isclose(got, exact, rel_tol=1e-9, abs_tol=1e-12 * scale)
        assert math.isclose(expected, exact, rel_tol=1e-9, abs_tol=1e-12 * scale)
    else:
        with localcontext() as context:
            context.prec = 100
            total = sum(valid, Decimal(0) if isinstance(valid[0], Decimal) else 0)
        assert got == expected == total
        assert type(got) is type(total)


def _check_moments(name: str, valid: list[Any], expected: Any, got: Any) -> None:
    if len(valid) < (1 if name == "avg" else 2):
        assert got is None and expected is None
        return
    floats = [float(v) for v in valid]
    mean = math.fsum(floats) / len(floats)
    reference = mean
    if name != "avg":
        reference = math.fsum((v - mean) ** 2 for v in floats) / (len(floats) - 1)
        reference = math.sqrt(reference) if name == "stddev" else reference
    # Beyond 1e-9 relative, allow what doubles cannot resolve: a variance far below the
    # square of the values (epoch seconds with a tiny spread) is known to about
    # ulp(value)**2, and each value to ulp(value).
    scale = max(abs(v) for v in floats)
    spread = max(abs(v - mean) for v in floats)
    variance_slack = 1e-12 * spread**2 + 1e-28 * scale**2
    slack = {"avg": 1e-15 * scale, "variance": variance_slack}.get(name, math.sqrt(variance_slack))
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=slack)
    assert math.isclose(got, reference, rel_tol=1e-9, abs_tol=slack)


def _check_top_k(valid: list[Any], whole: TopKState, merged: TopKState) -> None:
    counts = Counter(valid)
    if not valid:
        assert merged.result() is None and whole.result() is None
        return
    assert merged.total == whole.total == len(valid)
    for value, count in counts.most_common(300):  # guaranteed bounds, in every mode
        low, high = merged.bounds(value)
        assert low <= count <= high
    for value, estimate in merged.top(10_000):
        low, high = merged.bounds(value)
        assert low <= estimate <= high
    if len(counts) <= 700:  # fewer distinct values than the sketch's map holds: exact
        assert dict(merged.top(10_000)) == dict(counts)
        assert merged.result() == whole.result()
        heaviest = sorted(counts.values(), reverse=True)[: merged.k]
        assert [counts[v] for v in merged.result() or []] == heaviest
