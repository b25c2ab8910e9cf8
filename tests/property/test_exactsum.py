"""Exact float sums (:mod:`rillet.aggregates.exactsum`): the same whatever the cuts.

Values of every magnitude (subnormals to near the largest double, zeros, negatives, and
infinities and NaN) grouped at random, cut into batches at random, their partials reduced in
a shuffled order and over two levels: each group's sum must be the one of its values summed
in one piece, bit for bit, and where the group's nonzero values span less than 2**32 (what a
group keeps exactly), ``math.fsum`` of them, the correctly rounded exact sum.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from hypothesis import given, note, settings
from hypothesis import strategies as st

from rillet.aggregates import aggregate, exactsum
from rillet.aggregates.grouped import kind_of, state_columns
from rillet.expressions.signatures import t

Floats = npt.NDArray[np.float64]

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
NEAR = st.builds(lambda m, e: math.ldexp(m, e), st.floats(-1.0, 1.0), st.integers(-20, 20))
SPECIAL = st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -0.0])
VALUES = st.lists(st.one_of(FINITE, NEAR, NEAR, SPECIAL), min_size=1, max_size=120)


def _starts(groups: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    starts: npt.NDArray[np.int64] = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    return starts


def _sums(x: Floats, groups: npt.NDArray[np.int64]) -> Floats:
    return exactsum.totals(exactsum.partials(x, _starts(groups)))


def _reference(values: list[float]) -> float:
    """Python's sum for infinities and NaN (inf + -inf is NaN), else the exact sum,
    correctly rounded (math.fsum but for an overflow on the way)."""
    special = [v for v in values if not math.isfinite(v)]
    if special:
        return sum(special)
    exact = sum(map(Fraction, values), Fraction(0))
    try:
        return float(exact)  # correctly rounded
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def _spread(values: list[float]) -> float:
    nonzero = [abs(v) for v in values if v != 0.0 and math.isfinite(v)]
    return max(nonzero) / min(nonzero) if nonzero else 1.0


@settings(max_examples=300, deadline=None)
@given(values=VALUES, data=st.data())
def test_a_sum_is_the_same_however_its_values_were_cut_and_merged(
    values: list[float], data: st.DataObject
) -> None:
    x = np.array(values)
    note(f"values {values!r}")
    n = len(x)
    count = data.draw(st.integers(1, min(n, 6)), label="groups")
    groups = np.sort(data.draw(st.lists(st.integers(0, count - 1), min_size=n, max_size=n)))
    whole = _sums(x, groups)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=5))) - {n})
    parts = []
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        starts = _starts(groups[a:b])
        partial = exactsum.partials(x[a:b], starts)
        partial["g"] = groups[a:b][starts]
        parts.append(partial)
    rows = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    shuffled = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).permutation
    order = np.lexsort((shuffled(len(rows["g"])), rows["g"]))  # by group, else at random
    rows = {name: column[order] for name, column in rows.items()}
    group_of_row = rows.pop("g")
    merged = exactsum.totals(exactsum.reduce(rows, _starts(group_of_row)))
    assert np.array_equal(merged, whole, equal_nan=True)
    for g, total in zip(np.unique(groups), whole, strict=True):
        mine = [float(v) for v in x[groups == g]]
        want = _reference(mine)
        if not math.isfinite(want):
            assert total == want or math.isnan(total) and math.isnan(want)
        elif _spread(mine) < 2.0**32:
            assert total == want
        else:  # what was dropped lies 2**64 below the greatest value's leading bit
            dropped = n * max(abs(v) for v in mine) * 2.0**-63
            assert abs(total - want) <= dropped + math.ulp(want)


def test_hand_worked_sums() -> None:
    tenths = np.array([0.1, 0.2, 0.3, 0.4])
    assert _sums(tenths, np.zeros(4, np.int64))[0] == 1.0
    assert _sums(np.array([1e16, 1.0, -1e16]), np.zeros(3, np.int64))[0] == 1.0
    assert _sums(np.array([1e308, 1e308]), np.zeros(2, np.int64))[0] == math.inf
    assert math.isnan(_sums(np.array([math.inf, -math.inf, 1.0]), np.zeros(3, np.int64))[0])
    assert _sums(np.array([-0.5, -0.25]), np.zeros(2, np.int64))[0] == -0.75
    assert _sums(np.array([0.0, 0.0, 2.5]), np.array([0, 0, 1]))[0] == 0.0


def test_a_billion_values_carry_and_stay_exact() -> None:
    """Rows of 1,000 values each, merged 2**22 at a time: digits past 2**62 are carried."""
    value = 32767.999967
    row = exactsum.partials(np.full(1000, value), np.array([0]))
    many = {name: np.repeat(column, 2**22) for name, column in row.items()}
    merged = exactsum.reduce(many, np.array([0]))
    assert max(abs(int(merged[d][0])) for d in ("d0", "d1", "d2", "d3")) < 2**62
    want = float(Fraction(value) * 1000 * 2**22)
    assert exactsum.totals(merged)[0] == want


def test_float_sums_kept_before_as_one_double_read_back_as_digits() -> None:
    kind = kind_of(aggregate("avg"), t("DOUBLE"))
    columns = state_columns(kind, {"n": pa.array([4, 0]), "s": pa.array([1.25, 0.0])})
    assert kind.results(columns) == [0.3125, None]
    assert kind.results(kind.reduce(columns, np.array([0]))) == [0.3125]
