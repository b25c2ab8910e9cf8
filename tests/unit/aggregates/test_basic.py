"""COUNT … LAST against DuckDB on the same data; types, NULLs, registry and state bytes."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from rillet.aggregates import AGGREGATES, AggregateFunction, aggregate, register
from rillet.aggregates.basic import SUM
from rillet.errors import ConflictError, CorruptionError, NotFoundError, TypeCheckError
from rillet.expressions.signatures import t
from tests.unit.aggregates.support import reference, run, split, state_of

BASIC = ("count", "sum", "min", "max", "avg", "stddev", "variance", "first", "last")
ANY = "var('a, constraints={TYPECLASS_ANY})"
NUMERIC = "var('a, constraints={TYPECLASS_NUMERIC})"
COMPARABLE = "var('a, constraints={TYPECLASS_COMPARABLE})"
UTC = dt.UTC


def _data(rows: int = 10_000, seed: int = 7) -> dict[str, pa.Array]:
    """Columns with about 20% NULLs, and a row number ``i`` to order FIRST/LAST by."""
    rng = np.random.default_rng(seed)
    nulls = rng.random(rows) < 0.2
    ints = rng.integers(-1_000_000, 1_000_000, rows)
    doubles = rng.normal(250.0, 80.0, rows)
    cents = rng.integers(-(10**8), 10**8, rows)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "Zeta", "éta"])
    stamps = 1_714_521_600_000_000 + rng.integers(0, 86_400_000_000, rows)
    return {
        "i": pa.array(np.arange(rows)),
        "n": pa.array(ints.astype(np.int32), mask=nulls),
        "b": pa.array(ints * 4_000_000_000, mask=nulls),
        "d": pa.array(doubles, mask=nulls),
        "f": pa.array(doubles.astype(np.float32), mask=nulls),
        "p": pa.array(
            [Decimal(int(c)).scaleb(-2) for c in cents], pa.decimal128(38, 2), mask=nulls
        ),
        "s": pa.array(words[rng.integers(0, len(words), rows)], mask=nulls),
        "ts": pa.array(stamps, pa.timestamp("us", tz="UTC"), mask=nulls),
    }


DATA = _data()
CUTS = [0, 1, 17, 17, 1000, 4096, 9999]  # empty, one-row and uneven batches
TYPES = {"n": "INT", "b": "BIGINT", "d": "DOUBLE", "f": "FLOAT", "p": "PRECISE(2)"}
TYPES |= {"s": "STRING", "ts": "TIMESTAMP"}


def _ours(name: str, column: str) -> Any:
    return run(name, TYPES[column], split(DATA[column], CUTS))


def _close(ours: Any, expected: Any, rel: float = 1e-12) -> bool:
    if isinstance(expected, float):
        return isinstance(ours, float) and math.isclose(ours, expected, rel_tol=rel)
    return bool(ours == expected)


# -- against DuckDB ----------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["n", "b", "d", "f", "p", "s", "ts"])
def test_count_min_max_first_last_match_duckdb(column: str) -> None:
    expected = reference(
        f"SELECT count(*), count({column}), min({column}), max({column}),"
        f" first({column} ORDER BY i) FILTER (WHERE {column} IS NOT NULL),"
        f" last({column} ORDER BY i) FILTER (WHERE {column} IS NOT NULL) FROM t",
        **DATA,
    )
    batches = split(DATA[column], CUTS)
    assert run("count", None, batches) == expected[0] == len(DATA["i"])
    ours = [_ours(name, column) for name in ("count", "min", "max", "first", "last")]
    assert ours == expected[1:]


@pytest.mark.parametrize("column", ["n", "b", "d", "f", "p"])
def test_sum_avg_stddev_variance_match_duckdb(column: str) -> None:
    expected = reference(
        f"SELECT sum({column}), avg({column}), stddev_samp({column}), var_samp({column}) FROM t",
        **DATA,
    )
    total, mean, stddev, variance = (
        _ours(name, column) for name in ("sum", "avg", "stddev", "variance")
    )
    if column in ("d", "f"):
        assert isinstance(total, float) and _close(total, float(expected[0]))
    else:  # integers and PRECISE are exact, and come back as int and Decimal
        assert total == expected[0]
        assert isinstance(total, Decimal if column == "p" else int)
    assert _close(mean, float(expected[1]))
    assert _close(stddev, expected[2], rel=1e-9)
    assert _close(variance, expected[3], rel=1e-9)


def test_integer_sums_are_exact_past_the_int64_range() -> None:
    values = pa.array([2**62, 2**62, 2**62, None, 2**63 - 1, -(2**63)])
    expected = reference("SELECT sum(x), avg(x) FROM t", x=values)
    total = run("sum", "BIGINT", [values])
    assert total == expected[0] == 3 * 2**62 - 1
    assert run("avg", "BIGINT", [values]) == (3 * 2**62 - 1) / 5 == float(expected[1])
    assert run("sum", "BIGINT", split(values, [1, 2, 4])) == total


def test_precise_sums_are_exact_past_38_digits() -> None:
    big = Decimal("9" * 36 + ".99")
    values = pa.array([big, big, big, Decimal("0.01")], pa.decimal128(38, 2))
    with localcontext() as exact:
        exact.prec = 60
        total = 3 * big + Decimal("0.01")
        mean = float(total / 4)
    assert str(total) == "2" + "9" * 36 + ".98"
    assert run("sum", "PRECISE(2)", [values]) == total
    assert run("sum", "PRECISE(2)", split(values, [2])) == total
    assert run("avg", "PRECISE(2)", split(values, [1])) == mean


def test_variance_of_values_with_a_large_mean_matches_duckdb() -> None:
    # epoch seconds with millisecond jitter: the spread is 1e-12 of the mean
    rng = np.random.default_rng(3)
    x = 1e9 + rng.normal(0.0, 0.001, 20_000)
    exact = [Fraction(v) for v in x]
    mean = sum(exact) / len(exact)
    var_samp = float(sum((v - mean) ** 2 for v in exact) / (len(exact) - 1))
    cuts = sorted(rng.integers(0, len(x), 40).tolist())
    variance = run("variance", "DOUBLE", split(pa.array(x), cuts))
    assert _close(variance, var_samp, rel=1e-12)
    assert _close(run("stddev", "DOUBLE", split(pa.array(x), cuts)), math.sqrt(var_samp), 1e-12)
    # DuckDB's own answer is off by a few parts in a million here
    assert _close(variance, reference("SELECT var_samp(x) FROM t", x=pa.array(x))[0], rel=1e-5)


def test_first_and_last_follow_arrival_order_and_merge_order() -> None:
    early = state_of("first", "STRING", [pa.array([None, "b", "c"]), pa.array(["a"])])
    late = state_of("first", "STRING", [pa.array([None, None]), pa.array(["z", None])])
    assert early.result() == "b" and late.result() == "z"
    early.merge(late)  # late's input comes after early's
    assert early.result() == "b"
    nothing = state_of("first", "STRING", [pa.array([None], pa.string())])
    nothing.merge(late)
    assert nothing.result() == "z"

    last = state_of("last", "STRING", [pa.array(["a", "b", None]), pa.array([None, "c", None])])
    assert last.result() == "c"
    tail = state_of("last", "STRING", [pa.array([None], pa.string())])
    last.merge(tail)  # nothing non-NULL came after: unchanged
    assert last.result() == "c"
    tail.merge(state_of("last", "STRING", [pa.array(["q"])]))
    last.merge(tail)
    assert last.result() == "q"


def test_first_and_last_take_lists_and_binary() -> None:
    lists = pa.array([None, [1, None], [], [3]], pa.list_(pa.int32()))
    assert run("first", "LIST<INT>", [lists]) == [1, None]
    assert run("last", "LIST<INT>", [lists]) == [3]
    assert run("last", "BINARY", [pa.array([b"\x00\xff", None])]) == b"\x00\xff"


# -- NULLs and empty input ---------------------------------------------------------------------

NULL_RESULTS: dict[str, Any] = {
    "count": 0,
    "sum": None,
    "min": None,
    "max": None,
    "avg": None,
    "stddev": None,
    "variance": None,
    "first": None,
    "last": None,
}


@pytest.mark.parametrize("name", BASIC)
def test_all_null_and_empty_input(name: str) -> None:
    nulls = pa.array([None, None, None], pa.int64())
    assert run(name, "BIGINT", [nulls, nulls]) == NULL_RESULTS[name]
    assert run(name, "BIGINT", []) == NULL_RESULTS[name]
    assert run(name, "BIGINT", [pa.array([], pa.int64())]) == NULL_RESULTS[name]
    # a bare NULL argument: a column of Arrow's null type
    assert run(name, t("BIGINT").with_nullable(True), [pa.nulls(4)]) == NULL_RESULTS[name]
    assert reference(f"SELECT {name}(x) FROM t", x=nulls) == [NULL_RESULTS[name]]


def test_count_star_counts_rows_and_count_x_non_null_values() -> None:
    values = pa.array([1, None, 3, None])
    assert run("count", None, [values, values]) == 8
    assert run("count", "BIGINT", [values, values]) == 4
    state = aggregate("count").new_state(None)
    state.update(None, 5)
    state.update(None, 0)
    assert state.result() == 5


def test_stddev_and_variance_of_one_value_are_null() -> None:
    one = pa.array([None, 4.0])
    assert run("variance", "DOUBLE", [one]) is None
    assert run("stddev", "DOUBLE", [one]) is None
    assert reference("SELECT var_samp(x), stddev_samp(x) FROM t", x=one) == [None, None]
    assert run("variance", "DOUBLE", [one, one]) == 0.0


# -- signatures, types and the registry ---------------------------------------------------------

SIGNATURES = {
    "count": f"(({ANY}) -> BIGINT NOT NULL)",
    "sum": f"(({NUMERIC}) -> {NUMERIC})",
    "min": f"(({COMPARABLE}) -> {COMPARABLE})",
    "max": f"(({COMPARABLE}) -> {COMPARABLE})",
    "avg": f"(({NUMERIC}) -> DOUBLE)",
    "stddev": f"(({NUMERIC}) -> DOUBLE)",
    "variance": f"(({NUMERIC}) -> DOUBLE)",
    "first": f"(({ANY}) -> {ANY})",
    "last": f"(({ANY}) -> {ANY})",
}


@pytest.mark.parametrize("name", BASIC)
def test_signatures_print_in_reference_notation(name: str) -> None:
    assert str(AGGREGATES[name].signature) == SIGNATURES[name]
    assert str(AGGREGATES[name]) == name + SIGNATURES[name]


def test_the_sum_signature_exactly() -> None:
    assert str(AGGREGATES["sum"].signature) == (
        "((var('a, constraints={TYPECLASS_NUMERIC})) -> var('a, constraints={TYPECLASS_NUMERIC}))"
    )


@pytest.mark.parametrize(
    ("name", "arg", "result"),
    [
        ("sum", "INT", "INT"),
        ("sum", "INT NOT NULL", "INT"),  # NULL over no rows
        ("sum", "BIGINT", "BIGINT"),
        ("sum", "DOUBLE", "DOUBLE"),
        ("sum", "PRECISE(3)", "PRECISE(3)"),
        ("avg", "INT", "DOUBLE"),
        ("avg", "PRECISE(2)", "DOUBLE"),
        ("stddev", "FLOAT", "DOUBLE"),
        ("variance", "BIGINT NOT NULL", "DOUBLE"),
        ("count", "STRING", "BIGINT NOT NULL"),
        ("count", None, "BIGINT NOT NULL"),
        ("min", "STRING", "STRING"),
        ("max", "TIMESTAMP NOT NULL", "TIMESTAMP"),
        ("min", "BOOLEAN", "BOOLEAN"),
        ("first", "LIST<INT>", "LIST<INT>"),
        ("last", "BINARY", "BINARY"),
    ],
)
def test_result_types(name: str, arg: str | None, result: str) -> None:
    assert aggregate(name).result_type(None if arg is None else t(arg)) == t(result)


@pytest.mark.parametrize(
    ("name", "arg", "message"),
    [
        ("sum", "STRING", "sum takes a numeric argument, got STRING"),
        ("avg", "BOOLEAN NOT NULL", "avg takes a numeric argument, got BOOLEAN NOT NULL"),
        ("variance", "TIMESTAMP", "variance takes a numeric argument, got TIMESTAMP"),
        ("min", "BINARY", "min takes a comparable argument, got BINARY"),
        ("max", "LIST<INT>", "max takes a comparable argument, got LIST<INT>"),
        ("sum", None, "sum needs an argument; only count takes *"),
    ],
)
def test_type_errors(name: str, arg: str | None, message: str) -> None:
    fn = aggregate(name)
    arg_type = None if arg is None else t(arg)
    with pytest.raises(TypeCheckError) as info:
        fn.result_type(arg_type)
    assert str(info.value) == message
    with pytest.raises(TypeCheckError):
        fn.new_state(arg_type)


def test_constant_parameters_are_counted() -> None:
    with pytest.raises(TypeCheckError, match=r"sum takes 0 constant parameters \(no constants\)"):
        SUM.new_state(t("INT"), (3,))


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(NotFoundError) as info:
        aggregate("summ")
    assert info.value.suggestion == "sum"
    assert info.value.kind == "aggregate function"
    assert str(info.value) == "unknown aggregate function 'summ'; did you mean 'sum'?"
    with pytest.raises(NotFoundError) as info:
        aggregate("median_absolute_deviation")
    assert info.value.suggestion is None


def test_names_are_lower_case_and_looked_up_in_any_case() -> None:
    assert set(BASIC) <= set(AGGREGATES)
    assert all(name == name.lower() == fn.name for name, fn in AGGREGATES.items())
    assert aggregate("StdDev") is AGGREGATES["stddev"]


def test_register_is_idempotent_and_refuses_a_second_function_of_one_name() -> None:
    assert register(SUM) is SUM
    other = AggregateFunction("SUM", SUM.signature, (), SUM.make, SUM.load, "another sum")
    with pytest.raises(ConflictError):
        register(other)
    assert AGGREGATES["sum"] is SUM


# -- state bytes -------------------------------------------------------------------------------

ROUND_TRIPS: list[tuple[str, str, pa.Array]] = [
    ("count", "BIGINT", pa.array([1, None, 2])),
    ("sum", "BIGINT", pa.array([2**62, 2**62, None])),
    ("sum", "DOUBLE", pa.array([0.1, 0.2, float("inf")])),
    ("sum", "PRECISE(2)", pa.array([Decimal("1.25"), None], pa.decimal128(38, 2))),
    ("avg", "INT", pa.array([1, 2, None], pa.int32())),
    ("avg", "PRECISE(1)", pa.array([Decimal("1.5")], pa.decimal128(38, 1))),
    ("stddev", "DOUBLE", pa.array([1.0, 2.0, 4.5])),
    ("variance", "FLOAT", pa.array([1.5, None, -2.25], pa.float32())),
    ("min", "TIMESTAMP", pa.array([5, 3, None], pa.timestamp("us", tz="UTC"))),
    ("max", "STRING", pa.array(["b", "é", None])),
    ("max", "BOOLEAN", pa.array([False, None])),
    ("min", "DOUBLE", pa.array([float("nan"), -0.0])),
    ("first", "BINARY", pa.array([None, b"\x00\x01"])),
    ("last", "LIST<TIMESTAMP>", pa.array([[dt.datetime(2024, 5, 1, tzinfo=UTC), None]])),
    ("last", "PRECISE(3)", pa.array([Decimal("-0.001")], pa.decimal128(38, 3))),
]


@pytest.mark.parametrize(("name", "dtype", "values"), ROUND_TRIPS)
def test_state_bytes_round_trip(name: str, dtype: str, values: pa.Array) -> None:
    fn = aggregate(name)
    state = state_of(name, dtype, [values])
    loaded = fn.state_from_bytes(t(dtype), (), state.to_bytes())
    assert loaded.result() == state.result() or (
        math.isnan(loaded.result()) and math.isnan(state.result())
    )
    assert type(loaded.result()) is type(state.result())
    assert loaded.to_bytes() == state.to_bytes()
    # a loaded state keeps aggregating and merging
    loaded.update(values, len(values))
    state.merge(state_of(name, dtype, [values]))
    assert loaded.to_bytes() == state.to_bytes()


@pytest.mark.parametrize("name", BASIC)
def test_empty_states_round_trip(name: str) -> None:
    fn = aggregate(name)
    state = fn.new_state(t("DOUBLE"))
    assert fn.state_from_bytes(t("DOUBLE"), (), state.to_bytes()).result() == NULL_RESULTS[name]


@pytest.mark.parametrize("name", BASIC)
def test_damaged_state_bytes_raise_corruption_error(name: str) -> None:
    with pytest.raises(CorruptionError, match=f"cannot read a {name} state"):
        aggregate(name).state_from_bytes(t("DOUBLE"), (), b"\x01{")


def test_the_package_exports_exactly_its_api() -> None:
    import rillet.aggregates as package

    assert package.__all__ == sorted(package.__all__)
    assert set(package.__all__) == {
        "AGGREGATES", "AggregateFunction", "AggregateValue", "Distribution", "State", "aggregate",
        "register",
    }  # fmt: skip
    assert set(AGGREGATES) == set(BASIC) | {
        "approx_count_distinct", "approx_quantile", "distribution", "top_k",
        "kll_merge", "kll_merge_quantile", "hll_merge", "hll_merge_count", "top_k_merge",
        "top_k_merge_items",
    }  # fmt: skip
