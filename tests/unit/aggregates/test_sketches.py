"""The DataSketches aggregates against exact answers from DuckDB, within each sketch's error."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import datasketches
import numpy as np
import pyarrow as pa
import pytest

from rillet.aggregates import AGGREGATES, Distribution, aggregate
from rillet.aggregates.sketches import DistinctCountState, KllState, TopKState
from rillet.errors import CorruptionError, InputError, TypeCheckError
from rillet.expressions.signatures import t
from tests.unit.aggregates.support import reference, run, split, state_of

SKETCHES = ("approx_count_distinct", "approx_quantile", "distribution", "top_k")
PARAMS: dict[str, tuple[Any, ...]] = {"approx_quantile": (0.5,), "top_k": (3,)}
ANY = "var('a, constraints={TYPECLASS_ANY})"
NUMERIC = "var('a, constraints={TYPECLASS_NUMERIC})"
UTC = dt.UTC


def _cuts(rows: int, pieces: int, seed: int) -> list[int]:
    return sorted(np.random.default_rng(seed).integers(0, rows, pieces - 1).tolist())


def _distinct_state(dtype: str, batches: list[pa.Array]) -> DistinctCountState:
    state = state_of("approx_count_distinct", dtype, batches)
    assert isinstance(state, DistinctCountState)
    return state


def _top_k_state(dtype: str, batches: list[pa.Array], k: int) -> TopKState:
    state = state_of("top_k", dtype, batches, (k,))
    assert isinstance(state, TopKState)
    return state


# -- APPROX_COUNT_DISTINCT ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["BIGINT", "STRING", "DOUBLE"])
def test_approx_count_distinct_is_within_the_hll_bound_of_duckdb(dtype: str) -> None:
    rng = np.random.default_rng(11)
    ints = rng.integers(0, 150_000, 200_000)  # about 110k distinct, each seen about twice
    values: pa.Array = pa.array(ints)
    if dtype == "STRING":
        values = pa.array([f"host-{i}" for i in ints])
    elif dtype == "DOUBLE":
        values = pa.array(ints * 0.25)
    (exact,) = reference("SELECT count(DISTINCT x) FROM t", x=values)
    state = _distinct_state(dtype, split(values, _cuts(len(values), 30, 1)))
    low, high = state.bounds(3)
    assert low <= exact <= high
    assert abs(state.result() - exact) <= 0.05 * exact  # lg_k=12: 1.6% standard error


@pytest.mark.parametrize(
    ("distinct", "mode"),
    [(6, 0), (60, 1), (300, 1), (3_000, 2), (120_000, 2)],  # LIST, SET and HLL mode
)
def test_a_distinct_count_is_the_same_bytes_however_its_values_were_cut(
    distinct: int, mode: int
) -> None:
    """States of the same values cut into batches at random places, merged in another order:
    one image and one estimate (SET mode keeps coupons in a hash table whose layout, and HLL
    mode a running HIP estimate, follow arrival order), within the HLL bound of the truth."""
    rng = np.random.default_rng(distinct)
    values = pa.array(rng.permutation(np.repeat(np.arange(distinct), 2)))
    images, counts = set(), set()
    for pieces in (1, 2, 7, 40):
        batches = split(values, _cuts(len(values), pieces, pieces))
        states = [_distinct_state("BIGINT", [batch]) for batch in batches]
        merged = _distinct_state("BIGINT", [])
        for i in rng.permutation(len(states)):
            merged.merge(states[i])
        images.add(merged.to_bytes())
        counts.add(merged.result())
    assert len(images) == 1 and len(counts) == 1
    (image,) = images
    assert image[7] & 3 == mode
    sketch = datasketches.hll_sketch.deserialize(image)
    assert round(sketch.get_estimate()) == counts.pop()
    assert sketch.get_lower_bound(3) <= distinct <= sketch.get_upper_bound(3)


@pytest.mark.parametrize("dtype", ["BIGINT", "STRING"])
def test_a_top_k_is_the_same_bytes_however_its_values_were_cut(dtype: str) -> None:
    """While the sketch holds every distinct value, states of the same values cut into
    batches anywhere and merged in any order: one image, whose sketch has the exact counts."""
    rng = np.random.default_rng(7)
    ints = rng.zipf(1.5, 5_000) % 400
    values = pa.array(ints) if dtype == "BIGINT" else pa.array([f"page-{i}" for i in ints])
    images = set()
    for pieces in (1, 3, 11, 60):
        batches = split(values, _cuts(len(values), pieces, pieces))
        states = [_top_k_state(dtype, [batch], 5) for batch in batches]
        merged = _top_k_state(dtype, [], 5)
        for i in rng.permutation(len(states)):
            merged.merge(states[i])
        images.add(merged.to_bytes())
    assert len(images) == 1
    read = aggregate("top_k").load(t(dtype), (5,), images.pop())
    assert isinstance(read, TopKState)
    counts = Counter(values.to_pylist())
    assert read.top() == sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]


@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        ("BIGINT", pa.array(list(range(300)) * 3 + [None])),
        ("INT", pa.array([1, 2, 2, None, 3], pa.int32())),
        ("STRING", pa.array(["a", "b", "a", None, "é", ""])),
        ("BINARY", pa.array([b"\x00", b"\xff", b"\x00", None])),
        ("BOOLEAN", pa.array([True, False, None, True])),
        ("DOUBLE", pa.array([0.5, 1.5, 0.5, float("inf"), None])),
        (
            "PRECISE(2)",
            pa.array([Decimal("1.50"), Decimal("1.5"), Decimal("2")], pa.decimal128(38, 2)),
        ),
        ("TIMESTAMP", pa.array([1, 2, 1, None], pa.timestamp("us", tz="UTC"))),
    ],
)
def test_approx_count_distinct_is_exact_for_few_values(dtype: str, values: pa.Array) -> None:
    (exact,) = reference("SELECT count(DISTINCT x) FROM t", x=values)
    assert run("approx_count_distinct", dtype, [values]) == exact
    assert run("approx_count_distinct", dtype, split(values, [1, 2, 2])) == exact


def test_a_value_counts_once_whatever_batch_or_width_it_comes_in() -> None:
    state = _distinct_state(
        "BIGINT", [pa.array([1, 2], pa.int32()), pa.array([2, 3], pa.int64()), pa.array([1])]
    )
    assert state.result() == 3
    doubles = _distinct_state("DOUBLE", [pa.array([0.0, float("nan")]), pa.array([-0.0])])
    doubles.merge(_distinct_state("DOUBLE", [pa.array([float("nan"), 1.0])]))
    assert doubles.result() == 3  # 0.0 = -0.0, NaN once, 1.0


def test_approx_count_distinct_of_nothing_is_zero() -> None:
    nulls = pa.array([None, None], pa.string())
    assert run("approx_count_distinct", "STRING", [nulls]) == 0
    assert run("approx_count_distinct", "STRING", []) == 0
    assert reference("SELECT approx_count_distinct(x) FROM t", x=nulls) == [0]


# -- APPROX_QUANTILE and DISTRIBUTION ----------------------------------------------------------

LATENCIES = pa.array(
    np.random.default_rng(6).lognormal(3.0, 1.0, 200_000),
    mask=np.random.default_rng(5).random(200_000) < 0.01,
)
EPS = KllState().sketch.normalized_rank_error(False)  # 99% confidence, about 1.3% at k=200


def _disc(qs: list[float]) -> list[float]:
    """DuckDB's exact quantile_disc at each of ``qs``."""
    select = ", ".join(f"quantile_disc(x, {q!r})" for q in qs)
    return [float(v) for v in reference(f"SELECT {select} FROM t", x=LATENCIES)]


@pytest.mark.parametrize("q", [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0])
def test_approx_quantile_is_within_the_kll_rank_error(q: float) -> None:
    batches = split(LATENCIES, _cuts(len(LATENCIES), 50, 2))
    ours = run("approx_quantile", "DOUBLE", batches, (q,))
    low, high = _disc([max(q - EPS, 0.0), min(q + EPS, 1.0)])
    assert low <= ours <= high
    (cont,) = reference(f"SELECT quantile_cont(x, {q!r}) FROM t", x=LATENCIES)
    assert low <= cont <= high  # the bracket holds the exact answer too
    if q in (0.0, 1.0):  # KLL keeps the extremes exactly
        assert ours == _disc([q])[0]


def test_approx_quantile_is_exact_while_few_values() -> None:
    values = pa.array(np.random.default_rng(9).permutation(150).astype(np.int32))
    n = len(values)
    for q in (0.0, 0.1, 1 / 3, 0.5, 0.75, 0.999, 1.0):
        ours = run("approx_quantile", "INT", split(values, [10, 90]), (q,))
        (disc,) = reference(f"SELECT quantile_disc(x, {q!r}) FROM t", x=values)
        assert abs(ours - disc) <= 1  # the values are 0..149: one rank apart at most
        rank = (np.asarray(values) <= ours).mean()
        assert q <= rank < q + 1 / n + 1e-12  # the least value whose rank reaches q


def test_distribution_answers_within_the_rank_error() -> None:
    batches = split(LATENCIES, _cuts(len(LATENCIES), 20, 3))
    dist = run("distribution", "DOUBLE", batches)
    assert isinstance(dist, Distribution)
    count, low, high = reference("SELECT count(x), min(x), max(x) FROM t", x=LATENCIES)
    assert (dist.n, dist.min, dist.max) == (count, low, high)
    assert dist.rank_error == EPS
    qs = [0.5, 0.9, 0.99, 0.999]
    for q, value in zip(qs, dist.quantiles(qs), strict=True):
        assert value == dist.quantile(q)
        lower, upper = _disc([q - EPS, min(q + EPS, 1.0)])
        assert lower <= value <= upper
    data = np.sort(LATENCIES.drop_null().to_numpy())
    points = [5.0, 20.0, 50.0, 200.0]
    exact_cdf = [np.searchsorted(data, p, side="right") / len(data) for p in points]
    cdf = dist.cdf(points)
    assert len(cdf) == len(points) + 1 and cdf[-1] == 1.0
    for ours, exact in zip(cdf, exact_cdf, strict=False):
        assert abs(ours - exact) <= EPS
    assert abs(dist.rank(20.0) - exact_cdf[1]) <= EPS


def test_distribution_is_a_frozen_view() -> None:
    state = state_of("distribution", "DOUBLE", [pa.array([3.0, 1.0, 2.0])])
    dist = state.result()
    assert isinstance(dist, Distribution)
    state.update(pa.array([100.0]), 1)
    assert dist.n == 3 and dist.max == 3.0  # later updates do not show through
    assert Distribution.from_bytes(dist.to_bytes()) == dist
    assert repr(dist) == "Distribution(n=3, min=1.0, median=2.0, max=3.0)"
    with pytest.raises(InputError, match="q must be a number between 0 and 1, got 1.5"):
        dist.quantile(1.5)
    with pytest.raises(InputError, match="split points must be increasing"):
        dist.cdf([2.0, 1.0])


def test_kll_takes_every_numeric_type_and_ignores_nan() -> None:
    assert run("approx_quantile", "BIGINT", [pa.array([5, None, 7])], (1.0,)) == 7.0
    decimals = pa.array([Decimal("1.25"), Decimal("-3.5")], pa.decimal128(38, 2))
    assert run("approx_quantile", "PRECISE(2)", [decimals], (0.0,)) == -3.5
    floats = pa.array([1.5, float("nan"), None], pa.float32())
    dist = run("distribution", "FLOAT", [floats])
    assert isinstance(dist, Distribution) and dist.n == 1


@pytest.mark.parametrize("name", ["approx_quantile", "distribution"])
def test_quantiles_of_nothing_are_null(name: str) -> None:
    params = PARAMS.get(name, ())
    assert run(name, "DOUBLE", [pa.array([None], pa.float64())], params) is None
    assert run(name, "DOUBLE", [], params) is None


@pytest.mark.parametrize("q", [-0.1, 1.5, "half", True, None])
def test_approx_quantile_wants_q_between_0_and_1(q: Any) -> None:
    with pytest.raises(TypeCheckError, match="approx_quantile: q must be a number between 0 and 1"):
        aggregate("approx_quantile").new_state(t("DOUBLE"), (q,))


# -- TOP_K -------------------------------------------------------------------------------------


def _zipf(rows: int, seed: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    values: np.ndarray[Any, np.dtype[np.int64]] = np.random.default_rng(seed).zipf(1.3, rows)
    return values


@pytest.mark.parametrize("dtype", ["BIGINT", "STRING"])
def test_top_k_matches_exact_value_counts_on_skewed_data(dtype: str) -> None:
    ints = _zipf(300_000, 4)  # tens of thousands of distinct values: the sketch estimates
    values: pa.Array = pa.array(ints)
    if dtype == "STRING":
        values = pa.array([f"user-{i}" for i in ints])
    rows = reference("SELECT list(x ORDER BY n DESC), list(n ORDER BY n DESC) FROM "
                     "(SELECT x, count(*) AS n FROM t GROUP BY x ORDER BY n DESC LIMIT 50)",
                     x=values)  # fmt: skip
    exact = dict(zip(rows[0], rows[1], strict=True))
    state = _top_k_state(dtype, split(values, _cuts(len(values), 40, 8)), 10)
    assert state.total == len(values)
    top = state.result()
    assert top == rows[0][:10]  # well apart at the head of a Zipf law: exactly the top 10
    for value, estimate in state.top(50):
        low, high = state.bounds(value)
        assert low <= exact.get(value, low) <= high
        assert low <= estimate <= high
    assert [v for v, _ in state.top()] == top


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        ("BOOLEAN", pa.array([True, False, False, None]), [False, True]),
        ("INT", pa.array([7, 7, 3, None], pa.int32()), [7, 3]),
        ("DOUBLE", pa.array([-0.0, 0.0, 2.5, None]), [0.0, 2.5]),
        ("FLOAT", pa.array([1.5, 1.5, 0.1], pa.float32()), [1.5, float(np.float32(0.1))]),
        ("BINARY", pa.array([b"\xff", b"\xff", b"\x00"]), [b"\xff", b"\x00"]),
        ("PRECISE(2)", pa.array([Decimal("1.5"), Decimal("1.50"), Decimal("2")],
                                pa.decimal128(38, 2)), [Decimal("1.50"), Decimal("2.00")]),
        ("TIMESTAMP", pa.array([10, 10, 20], pa.timestamp("us", tz="UTC")),
         [dt.datetime(1970, 1, 1, 0, 0, 0, 10, tzinfo=UTC),
          dt.datetime(1970, 1, 1, 0, 0, 0, 20, tzinfo=UTC)]),
    ],
)  # fmt: skip
def test_top_k_gives_back_values_of_the_argument_type(
    dtype: str, values: pa.Array, expected: list[Any]
) -> None:
    top = run("top_k", dtype, split(values, [1, 3]), (5,))
    assert top == expected
    assert [type(v) for v in top] == [type(v) for v in expected]


def test_top_k_takes_the_k_first_and_breaks_ties_the_same_way_in_any_order() -> None:
    values = pa.array(["c", "a", "b", "a", "b", "d", None, "b"])
    assert run("top_k", "STRING", [values], (2,)) == ["b", "a"]
    forward = _top_k_state("STRING", split(values, [3, 5]), 3)
    backward = _top_k_state("STRING", [], 3)
    for part in reversed(split(values, [3, 5])):
        backward.merge(_top_k_state("STRING", [part], 3))
    assert forward.result() == backward.result() == ["b", "a", "c"]
    assert forward.top(None) == [("b", 3), ("a", 2), ("c", 1)]
    assert forward.top(10) == [("b", 3), ("a", 2), ("c", 1), ("d", 1)]


def test_top_k_of_nothing_is_null() -> None:
    assert run("top_k", "STRING", [pa.array([None], pa.string())], (3,)) is None
    assert run("top_k", "STRING", [], (3,)) is None


@pytest.mark.parametrize("k", [0, -1, 2.5, "3", True])
def test_top_k_wants_a_positive_integer_k(k: Any) -> None:
    with pytest.raises(TypeCheckError, match="top_k: k must be a positive integer"):
        aggregate("top_k").new_state(t("STRING"), (k,))


# -- signatures and types ----------------------------------------------------------------------

SIGNATURES = {
    "approx_count_distinct": f"(({ANY}) -> BIGINT NOT NULL)",
    "approx_quantile": f"(({NUMERIC}, DOUBLE) -> DOUBLE)",
    "distribution": f"(({NUMERIC}) -> BINARY)",
    "top_k": f"(({ANY}, BIGINT) -> LIST<{ANY}>)",
}


@pytest.mark.parametrize("name", SKETCHES)
def test_signatures_print_in_reference_notation(name: str) -> None:
    assert str(AGGREGATES[name].signature) == SIGNATURES[name]


@pytest.mark.parametrize(
    ("name", "arg", "result"),
    [
        ("approx_count_distinct", "STRING NOT NULL", "BIGINT NOT NULL"),
        ("approx_count_distinct", "TIMESTAMP", "BIGINT NOT NULL"),
        ("approx_quantile", "INT", "DOUBLE"),
        ("approx_quantile", "PRECISE(2)", "DOUBLE"),
        ("distribution", "DOUBLE NOT NULL", "BINARY"),
        ("top_k", "STRING NOT NULL", "LIST<STRING NOT NULL>"),
        ("top_k", "STRING", "LIST<STRING>"),
        ("top_k", "BIGINT", "LIST<BIGINT>"),
    ],
)
def test_result_types(name: str, arg: str, result: str) -> None:
    assert AGGREGATES[name].result_type(t(arg)) == t(result)
    assert AGGREGATES[name].params == (("q",) if name == "approx_quantile" else ("k",) if
                                       name == "top_k" else ())  # fmt: skip


@pytest.mark.parametrize(
    ("name", "arg", "message"),
    [
        ("approx_quantile", "STRING", "approx_quantile takes a numeric argument, got STRING"),
        ("distribution", "TIMESTAMP", "distribution takes a numeric argument, got TIMESTAMP"),
        ("top_k", "LIST<INT>", "top_k cannot take a LIST argument, got LIST<INT>"),
        (
            "approx_count_distinct",
            "LIST<STRING>",
            "approx_count_distinct cannot take a LIST argument, got LIST<STRING>",
        ),
    ],
)
def test_type_errors(name: str, arg: str, message: str) -> None:
    with pytest.raises(TypeCheckError) as info:
        AGGREGATES[name].result_type(t(arg))
    assert str(info.value) == message


def test_constants_are_required() -> None:
    with pytest.raises(TypeCheckError, match=r"approx_quantile takes 1 constant parameter \(q\)"):
        aggregate("approx_quantile").new_state(t("DOUBLE"))


# -- state bytes -------------------------------------------------------------------------------

ROUND_TRIPS: list[tuple[str, str, pa.Array]] = [
    ("approx_count_distinct", "STRING", pa.array([f"v{i}" for i in range(5000)])),
    ("approx_count_distinct", "DOUBLE", pa.array([0.5, None])),
    ("approx_quantile", "DOUBLE", LATENCIES.slice(0, 20_000)),
    ("distribution", "BIGINT", pa.array(range(1000))),
    ("top_k", "STRING", pa.array([f"v{i % 7}" for i in range(100)])),
    ("top_k", "BIGINT", pa.array(_zipf(20_000, 1))),
    ("top_k", "TIMESTAMP", pa.array([1, 1, 2], pa.timestamp("us", tz="UTC"))),
]


@pytest.mark.parametrize(("name", "dtype", "values"), ROUND_TRIPS)
def test_state_bytes_round_trip(name: str, dtype: str, values: pa.Array) -> None:
    fn = aggregate(name)
    params = PARAMS.get(name, ())
    state = state_of(name, dtype, [values], params)
    data = state.to_bytes()
    loaded = fn.state_from_bytes(t(dtype), params, data)
    assert loaded.result() == state.result()
    assert fn.state_from_bytes(t(dtype), params, loaded.to_bytes()).result() == state.result()
    loaded.merge(state_of(name, dtype, [values], params))  # loaded states keep merging
    assert loaded.result() is not None


@pytest.mark.parametrize("name", SKETCHES)
def test_empty_states_round_trip(name: str) -> None:
    fn = aggregate(name)
    params = PARAMS.get(name, ())
    state = fn.new_state(t("DOUBLE"), params)
    loaded = fn.state_from_bytes(t("DOUBLE"), params, state.to_bytes())
    assert loaded.result() == state.result() == (0 if name == "approx_count_distinct" else None)


@pytest.mark.parametrize("name", SKETCHES)
def test_damaged_state_bytes_raise_corruption_error(name: str) -> None:
    with pytest.raises(CorruptionError, match=f"cannot read a {name} state"):
        aggregate(name).state_from_bytes(t("DOUBLE"), PARAMS.get(name, ()), b"\x02\x01garbage")


def test_counter_reference_for_small_top_k() -> None:
    words = ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d"]
    counts = Counter(words)
    state = _top_k_state("STRING", [pa.array(words)], 4)
    assert state.top() == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
