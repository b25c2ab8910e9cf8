"""The scalar function library against DuckDB and hand-worked values, and rillet.functions().

Every function in SCALARS runs over the shared batch and is compared with a DuckDB SQL
expression written by hand from its documented meaning.  Where rtsql differs from DuckDB
(``contains`` finds a NULL item, ``index`` is 0-based and NULL out of range, ``concat`` reads a
NULL list as empty) the expected values are worked out by hand.
"""

from __future__ import annotations

import datetime as dt
import socket

import pyarrow as pa
import pytest

import rillet
from rillet.aggregates import AGGREGATES
from rillet.expressions.check import check
from rillet.expressions.functions import DATE_UNITS, SCALARS
from rillet.expressions.nodes import Call, Column, Literal, walk
from rillet.expressions.parser import parse
from tests.unit.expressions import COLUMNS, NOW_US, N, at, duck, run, run_arrow

CASES = [
    ("length(s)", "length(s)"),
    ("length(u)", "length(u)"),
    ("length(i)", "length(CAST(i AS VARCHAR))"),
    ("length(o)", "length(CAST(o AS VARCHAR))"),
    ("square(i)", "i * i"),
    ("square(b / 1000)", "(b // 1000) * (b // 1000)"),
    ("square(d)", "d * d"),
    ("square(f)", "f * f"),
    ("bin2str(bin)", "decode(bin)"),
    ("str2bin(s)", "encode(s)"),
    ("str2bin(i)", "encode(CAST(i AS VARCHAR))"),
    ("to_list(i, j)", "[i, j]"),
    ("to_list(s)", "[s]"),
    ("to_list(i, d)", "[CAST(i AS DOUBLE), d]"),
    ("to_list(s, i, o)", "[s, CAST(i AS VARCHAR), CAST(o AS VARCHAR)]"),
    ("to_list(l, m)", "[l, m]"),
    ("concat(l, m)", "list_concat(coalesce(l, []::INTEGER[]), coalesce(m, []::INTEGER[]))"),
    ("concat(l)", "coalesce(l, []::INTEGER[])"),
    ("concat(ls, to_list(s))", "list_concat(coalesce(ls, []::VARCHAR[]), [s])"),
    (
        "contains(l, j)",
        "CASE WHEN l IS NOT NULL THEN "
        "len(list_filter(l, lambda x: x IS NOT DISTINCT FROM j)) > 0 END",
    ),
    (
        "contains(ls, u)",
        "CASE WHEN ls IS NOT NULL THEN "
        "len(list_filter(ls, lambda x: x IS NOT DISTINCT FROM u)) > 0 END",
    ),
    ("index(l, j)", "CASE WHEN j >= 0 AND j < len(l) THEN l[j + 1] END"),
    ("index(ls, 0)", "CASE WHEN len(ls) > 0 THEN ls[1] END"),
    ("size(l)", "len(l)"),
    ("size(ls)", "len(ls)"),
    ("event_timestamp()", "ts"),
    # Flume's event properties: a rillet record is this host's, at Flume's default priority
    ("host()", "'" + socket.gethostname().replace("'", "''") + "'"),
    ("priority()", "'INFO'"),
    ("priority_level()", "CAST(3 AS INTEGER)"),
    ("abs(i)", "abs(i)"),
    ("abs(b)", "abs(b)"),
    ("abs(d)", "abs(d)"),
    ("abs(f)", "abs(f)"),
    ("round(h)", "round(h)"),
    ("round(h, 1)", "round(h, 1)"),
    ("round(d, 0)", "round(d, 0)"),
    ("round(d, -1)", "round(d, -1)"),
    ("round(i)", "i"),
    ("round(i, 2)", "i"),
    ("round(i, -1)", "round(i, -1)"),
    ("round(f)", "round(f)"),
    ("floor(d)", "floor(d)"),
    ("floor(h)", "floor(h)"),
    ("floor(f)", "floor(f)"),
    ("floor(i)", "i"),
    ("ceil(d)", "ceil(d)"),
    ("ceil(h)", "ceil(h)"),
    ("ceiling(e)", "ceil(e)"),
    ("ceil(b)", "b"),
    ("lower(s)", "lower(s)"),
    ("upper(s)", "upper(s)"),
    ("upper(u)", "upper(u)"),
    ("lower(o)", "lower(CAST(o AS VARCHAR))"),
    ("substr(s, 1)", "substring(s, 1)"),
    ("substr(s, 2)", "substring(s, 2)"),
    ("substr(s, 2, 2)", "substring(s, 2, 2)"),
    ("substr(s, 1, 0)", "CASE WHEN s IS NOT NULL THEN '' END"),
    ("substr(s, 3, 100)", "substring(s, 3, 100)"),
    ("substring(s, 4)", "substring(s, 4)"),
    ("substr(s, 0, 2)", "substring(s, 1, 1)"),
    ("trim(s)", "trim(s, ' ')"),
    ("trim(u)", "trim(u, ' ')"),
    ("regexp_match(s, 'b.')", "regexp_matches(s, 'b.')"),
    ("regexp_match(s, '^[a-z]+$')", "regexp_matches(s, '^[a-z]+$')"),
    ("regexp_match(s, '\\\\d|é')", "regexp_matches(s, '\\d|é')"),
    ("regexp_match(u, '')", "regexp_matches(u, '')"),
    ("coalesce(i, j)", "coalesce(i, j)"),
    ("coalesce(i, j, -1)", "coalesce(i, j, -1)"),
    ("coalesce(i, d)", "coalesce(CAST(i AS DOUBLE), d)"),
    ("coalesce(s, u)", "coalesce(s, u)"),
    ("coalesce(NULL, s)", "s"),
    ("coalesce(l, m)", "coalesce(l, m)"),
    *[(f"date_trunc('{unit}', ts)", f"date_trunc('{unit}', ts)") for unit in DATE_UNITS],
    ("date_trunc('Hour', ts)", "date_trunc('hour', ts)"),
    ("time_bucket(INTERVAL '1h', ts)", "time_bucket(INTERVAL 1 HOUR, ts)"),
    ("time_bucket(INTERVAL 15 SECONDS, ts)", "time_bucket(INTERVAL 15 SECOND, ts)"),
    ("time_bucket(INTERVAL 90 MINUTES, ts)", "time_bucket(INTERVAL 90 MINUTE, ts)"),
    ("time_bucket(INTERVAL 1 DAY, ts)", "time_bucket(INTERVAL 1 DAY, ts)"),
    ("time_bucket(INTERVAL 7 DAYS, ts)", "time_bucket(INTERVAL 7 DAY, ts)"),
    ("time_bucket(INTERVAL '250ms', ts)", "time_bucket(INTERVAL 250 MILLISECOND, ts)"),
]
# tested by hand below: now() cannot be asked of DuckDB, and like() only through a tree
BY_HAND = {"current_timestamp", "like"}


@pytest.mark.parametrize(("expression", "sql"), CASES)
def test_function_equals_duckdb(expression: str, sql: str) -> None:
    assert run(expression) == duck(sql)


def test_every_scalar_function_is_tested() -> None:
    called = {
        node.name
        for expression, _ in CASES
        for node in walk(check(expression, COLUMNS))
        if isinstance(node, Call)
    }
    assert called | BY_HAND == set(SCALARS)


# -- hand-worked values ----------------------------------------------------------------------


def test_round_is_half_away_from_zero() -> None:
    # h = [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.25, NULL, -0.25, 12345.5]
    assert run("round(h)") == [1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.0, None, -0.0, 12346.0]
    assert run("round(h, 1)") == [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.3, None, -0.3, 12345.5]
    assert run("round(h, -1)") == [0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, None, -0.0, 12350.0]
    assert run("round(i, -1)") == [10, -10, 0, None, 10, 0, 0, 100, -100, 0]
    assert run_arrow("round(i, -1)").type == pa.int32()


def test_length_counts_characters_not_bytes() -> None:
    # s = ["abc", "", "ÄÖü", NULL, "  x  ", "a%b", "héllo", "日本語", "A_c", "\tab c "]
    assert run("length(s)") == [3, 0, 3, None, 5, 3, 5, 3, 3, 6]
    assert run("length(i)") == [1, 2, 1, None, 1, 2, 1, 3, 4, 1]
    assert run("length(10 * i)") == [2, 3, 1, None, 2, 3, 2, 4, 5, 2]


def test_substr_is_one_based_by_character() -> None:
    assert run("substr(s, 2, 3)") == ["bc", "", "Öü", None, " x ", "%b", "éll", "本語", "_c",
                                      "ab "]  # fmt: skip
    assert run("substr(s, 3)")[6:8] == ["llo", "語"]
    assert run("substr(s, 0, 2)")[0] == "a"


def test_trim_removes_spaces_only() -> None:
    assert run("trim(s)")[4] == "x"
    assert run("trim(s)")[9] == "\tab c"


def test_case_mapping_is_unicode() -> None:
    assert run("upper(s)")[2] == "ÄÖÜ"
    assert run("lower(s)")[2] == "äöü"
    assert run("upper(s)")[6] == "HÉLLO"


def test_str2bin_and_bin2str_are_utf8() -> None:
    assert run("str2bin(s)")[2] == "ÄÖü".encode()
    assert run("bin2str(bin)")[7] == "日本"
    assert run("bin2str(str2bin(s))") == run("s")


def test_to_list() -> None:
    assert run("to_list()") == [[]] * N
    assert run("to_list(NULL)") == [[None]] * N
    assert run("to_list(42, 211, 312)") == [[42, 211, 312]] * N
    assert run("to_list(i, NULL)")[:4] == [[7, None], [-7, None], [0, None], [None, None]]
    assert run("to_list(1, 2.5)") == [[1.0, 2.5]] * N
    assert run("to_list(to_list(1), to_list(2, 3))") == [[[1], [2, 3]]] * N
    assert run_arrow("to_list(i, j)").type == pa.list_(pa.int32())


def test_contains_finds_a_null_item_and_is_null_for_a_null_list() -> None:
    # l = [[1, NULL, 3], [], NULL, [NULL], [5], [1, 1], [2], [7, 8, 9], [NULL, NULL], [-1]]
    assert run("contains(l, 1)") == [True, False, None, False, False, True, False, False,
                                     False, False]  # fmt: skip
    assert run("contains(l, NULL)") == [True, False, None, True, False, False, False, False,
                                        True, False]  # fmt: skip
    # j = [2, 2, 0, 1, NULL, -1, -3, 7, 0, -1]
    assert run("contains(l, j)") == [False, False, None, False, False, False, False, True,
                                     False, True]  # fmt: skip
    assert run("contains(to_list(NULL, 1), NULL)") == [True] * N
    assert run("contains(to_list(1, 2), NULL)") == [False] * N
    assert run("contains(to_list(1, NULL), 2)") == [False] * N
    assert run("contains(NULL, 1)") == [None] * N
    assert run("contains(ls, '')")[3] is True
    assert run("contains(l, 1.0)")[0] is True


@pytest.mark.parametrize(
    "expression", ["contains(to_list(NULL), NULL)", "contains(to_list(NULL, NULL), NULL)"]
)
def test_contains_of_a_list_of_nulls_finds_null(expression: str) -> None:
    assert run(expression) == [True] * N


def test_index_is_zero_based_and_null_out_of_range() -> None:
    assert run("index(to_list(10, 20, 30), 0)") == [10] * N
    assert run("index(to_list(10, 20, 30), 2)") == [30] * N
    assert run("index(to_list(10, 20, 30), 3)") == [None] * N
    assert run("index(to_list(10, 20, 30), -1)") == [None] * N
    assert run("index(to_list(10, 20, 30), NULL)") == [None] * N
    assert run("index(NULL, 0)") == [None] * N
    assert run("index(to_list(), 0)") == [None] * N
    # l = [[1, NULL, 3], [], NULL, [NULL], [5], [1, 1], [2], [7, 8, 9], [NULL, NULL], [-1]]
    assert run("index(l, 0)") == [1, None, None, None, 5, 1, 2, 7, None, -1]
    assert run("index(l, 2)") == [3, None, None, None, None, None, None, 9, None, None]
    # j = [2, 2, 0, 1, NULL, -1, -3, 7, 0, -1]
    assert run("index(l, j)") == [3, None, None, None, None, None, None, None, None, None]
    assert run("index(ls, 0)") == ["a", None, None, "", "ü", "x", None, "日本", None, "abc"]


def test_concat_reads_a_null_list_as_empty() -> None:
    # m = [[4], [6, 7], [8], NULL, [], [NULL], NULL, [10], [0], [-2, NULL]]
    assert run("concat(l, m)") == [
        [1, None, 3, 4],
        [6, 7],
        [8],
        [None],
        [5],
        [1, 1, None],
        [2],
        [7, 8, 9, 10],
        [None, None, 0],
        [-1, -2, None],
    ]
    assert run("concat(NULL, to_list(1))") == [[1]] * N
    assert run("concat(to_list(1), NULL, to_list(2, 3))") == [[1, 2, 3]] * N
    assert run("concat(l, to_list(0.5))")[1] == [0.5]


def test_size() -> None:
    assert run("size(l)") == [3, 0, None, 1, 1, 2, 1, 3, 2, 1]
    assert run("size(NULL)") == [None] * N
    assert run("size(to_list())") == [0] * N


def test_coalesce() -> None:
    # i = [7, -7, 0, NULL, 5, ...], j = [2, 2, 0, 1, NULL, ...]
    assert run("coalesce(i, j)")[3] == 1
    assert run("coalesce(j, i)")[4] == 5
    assert run("coalesce(s, 'none')")[3] == "none"
    assert run("coalesce(NULL, NULL)") == [None] * N


def test_date_trunc_and_time_bucket_by_hand() -> None:
    ts = dt.datetime(2024, 5, 1, 12, 34, 56, 789012, tzinfo=dt.UTC)
    expected = {
        "microsecond": ts,
        "millisecond": ts.replace(microsecond=789000),
        "second": ts.replace(microsecond=0),
        "minute": ts.replace(second=0, microsecond=0),
        "hour": at(2024, 5, 1, 12),
        "day": at(2024, 5, 1),
        "week": at(2024, 4, 29),  # weeks start on Monday
        "month": at(2024, 5, 1),
        "quarter": at(2024, 4, 1),
        "year": at(2024, 1, 1),
    }
    assert set(expected) == set(DATE_UNITS)
    for unit, value in expected.items():
        assert run(f"date_trunc('{unit}', ts)")[0] == value, unit
    # before 1970, and a Sunday
    assert run("date_trunc('hour', ts)")[5] == at(1969, 12, 31, 23)
    assert run("date_trunc('week', ts)")[8] == at(2022, 12, 26)
    assert run("date_trunc('day', ts)")[2] is None
    # buckets are aligned to 2000-01-03T00:00:00Z (a Monday), as DuckDB's time_bucket
    assert run("time_bucket(INTERVAL 7 DAYS, ts)")[0] == at(2024, 4, 29)
    assert run("time_bucket(INTERVAL 90 MINUTES, ts)")[1] == at(1999, 12, 31, 22, 30)
    assert run("time_bucket(INTERVAL 90 MINUTES, ts)")[5] == at(1969, 12, 31, 22, 30)
    assert run("time_bucket(INTERVAL '1h', ts)")[2] is None


def test_now_is_the_instant_of_the_context() -> None:
    now = at(2024, 5, 1, 12)
    assert NOW_US == (now - at(1970, 1, 1)) // dt.timedelta(microseconds=1)
    for text in ("now", "now()", "NOW()", "current_timestamp", "current_timestamp()"):
        assert run(text) == [now] * N, text
    assert run("now - ts")[9] == dt.timedelta(0)
    assert run("ts > now - INTERVAL 1 DAY") == [True, False, None, False, False, False, False,
                                                True, False, True]  # fmt: skip


def test_event_timestamp_is_the_time_column() -> None:
    assert run("event_timestamp()") == run("ts")


def _like(column: str, pattern: str) -> Call:
    return Call(name="like", args=(Column(name=column), Literal(value=pattern)))


@pytest.mark.parametrize("pattern", ["a%", "%c", "_b%", "%", "", "a_c", "%é%", "A%"])
def test_like_function_equals_the_like_operator(pattern: str) -> None:
    node = check(_like("s", pattern), COLUMNS)
    assert str(node.type) == "BOOLEAN"
    escaped = pattern.replace("'", "''")
    assert run(node) == run(f"s LIKE '{escaped}'") == duck(f"s LIKE '{escaped}'")


def test_like_function_wants_a_constant_pattern() -> None:
    node = Call(
        name="like", args=(Column(name="s", line=1, col=6), Column(name="u", line=1, col=9))
    )
    with pytest.raises(rillet.errors.TypeCheckError, match="argument 2 of like must be a constant"):
        check(node, COLUMNS)


def test_like_function_can_be_called_from_text() -> None:
    node = parse("like(s, 'a%')")
    assert isinstance(node, Call)
    assert node.name == "like"


# -- rillet.functions() ----------------------------------------------------------------------

README_SCALARS = {
    "length", "square", "bin2str", "str2bin", "to_list", "concat", "contains", "index", "size",
    "current_timestamp", "event_timestamp", "abs", "round", "floor", "ceil", "lower", "upper",
    "substr", "trim", "like", "regexp_match", "coalesce", "date_trunc", "time_bucket",
    "host", "priority", "priority_level",
}  # fmt: skip
README_AGGREGATES = {
    "count", "sum", "min", "max", "avg", "stddev", "variance", "first", "last",
    "approx_count_distinct", "approx_quantile", "distribution", "top_k", "kll_merge",
    "kll_merge_quantile", "hll_merge", "hll_merge_count", "top_k_merge", "top_k_merge_items",
}  # fmt: skip


def test_functions_lines_in_the_references_notation() -> None:
    lines = rillet.functions()
    for line in [
        "length ((STRING) -> INT)",
        "sum ((var('a, constraints={TYPECLASS_NUMERIC})) -> "
        "var('a, constraints={TYPECLASS_NUMERIC}))",
        "to_list ((var('a, constraints={TYPECLASS_ANY})...) -> "
        "LIST<var('a, constraints={TYPECLASS_ANY})> NOT NULL)",
        "count ((var('a, constraints={TYPECLASS_ANY})) -> BIGINT NOT NULL)",
        "max ((var('a, constraints={TYPECLASS_COMPARABLE})) -> "
        "var('a, constraints={TYPECLASS_COMPARABLE}))",
        "avg ((var('a, constraints={TYPECLASS_NUMERIC})) -> DOUBLE)",
        "current_timestamp (() -> TIMESTAMP NOT NULL)",
        "concat ((LIST<var('a, constraints={TYPECLASS_ANY})>...) -> "
        "LIST<var('a, constraints={TYPECLASS_ANY})>)",
        "index ((LIST<var('a, constraints={TYPECLASS_ANY})>, INT) -> "
        "var('a, constraints={TYPECLASS_ANY}))",
        "substr ((STRING, INT) -> STRING)",
        "substr ((STRING, INT, INT) -> STRING)",
        "round ((var('a, constraints={TYPECLASS_NUMERIC}), INT) -> "
        "var('a, constraints={TYPECLASS_NUMERIC}))",
        "time_bucket ((INTERVAL, TIMESTAMP) -> TIMESTAMP)",
        "approx_quantile ((var('a, constraints={TYPECLASS_NUMERIC}), DOUBLE) -> DOUBLE)",
    ]:
        assert line in lines, line


def test_functions_lists_every_registered_function_once_per_signature() -> None:
    lines = rillet.functions()
    assert lines == sorted(lines)
    assert len(lines) == len(set(lines))
    by_name: dict[str, int] = {}
    for line in lines:
        name, _, signature = line.partition(" ")
        assert signature.startswith("((") and signature.endswith(")"), line
        by_name[name] = by_name.get(name, 0) + 1
    expected = {name: len(fn.signatures) for name, fn in SCALARS.items()}
    expected.update({name: 1 for name in AGGREGATES})
    assert by_name == expected


def test_the_registered_functions_are_the_documented_ones() -> None:
    assert set(SCALARS) == README_SCALARS
    assert set(AGGREGATES) == README_AGGREGATES
    names = {line.partition(" ")[0] for line in rillet.functions()}
    assert names == README_SCALARS | README_AGGREGATES
