"""The checker: names, rtsql's promotions, inserted casts, and every error with its position.

Expected types follow README "The expression language" and rtsql-semantics "Types and
promotion": INT -> BIGINT -> FLOAT -> DOUBLE, every scalar -> STRING, BOOLEAN never with
numbers, TIMESTAMP +/- INTERVAL, a string literal compared with a TIMESTAMP read as a time.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from rillet.datatypes import DataType, parse_type
from rillet.errors import InputError, ParseError, TypeCheckError
from rillet.expressions.check import check
from rillet.expressions.nodes import Binary, Call, Cast, Column, Literal, Unary

COLUMNS: dict[str, DataType] = {
    name: parse_type(text)
    for name, text in {
        "i": "INT",
        "b": "BIGINT",
        "f": "FLOAT",
        "d": "DOUBLE",
        "p": "PRECISE(2)",
        "s": "STRING",
        "o": "BOOLEAN",
        "ts": "TIMESTAMP",
        "bin": "BINARY",
        "l": "LIST<INT>",
        "ls": "LIST<STRING>",
        "inn": "INT NOT NULL",
        "dnn": "DOUBLE NOT NULL",
        "snn": "STRING NOT NULL",
        "cpu_util": "DOUBLE",
        "mem_avail": "DOUBLE",
        "Mixed": "INT",
    }.items()
}
T2024 = 1_714_521_600_000_000_000  # 2024-05-01T00:00:00Z in epoch nanoseconds


def where(exc: Exception) -> tuple[object, object]:
    """The (line, col) attributes of an error."""
    return vars(exc)["line"], vars(exc)["col"]


def type_of(text: str, columns: Mapping[str, DataType] = COLUMNS, aggregates: bool = False) -> str:
    node = check(text, columns, allow_aggregates=aggregates)
    assert node.type is not None
    return str(node.type)


def error(text: str, aggregates: bool = False) -> TypeCheckError:
    with pytest.raises(TypeCheckError) as info:
        check(text, COLUMNS, allow_aggregates=aggregates)
    return info.value


# -- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # literals
        ("42", "INT NOT NULL"),
        ("2147483647", "INT NOT NULL"),
        ("-2147483648", "INT NOT NULL"),
        ("2147483648", "BIGINT NOT NULL"),
        ("-2147483649", "BIGINT NOT NULL"),
        ("9223372036854775807", "BIGINT NOT NULL"),
        ("4.2", "DOUBLE NOT NULL"),
        ("'x'", "STRING NOT NULL"),
        ("TRUE", "BOOLEAN NOT NULL"),
        ("NULL", "NULL"),
        ("INTERVAL 5 SECONDS", "INTERVAL NOT NULL"),
        ("#host", "BINARY"),
        # columns keep their types; names are case-folded unless quoted
        ("I", "INT"),
        ('"Mixed"', "INT"),
        ("inn", "INT NOT NULL"),
        ("ls", "LIST<STRING>"),
        # the numeric promotions INT -> BIGINT -> FLOAT -> DOUBLE
        ("i + i", "INT"),
        ("i + b", "BIGINT"),
        ("b - i", "BIGINT"),
        ("i * f", "FLOAT"),
        ("b * f", "FLOAT"),
        ("f / b", "FLOAT"),
        ("i + d", "DOUBLE"),
        ("f - d", "DOUBLE"),
        ("b % d", "DOUBLE"),
        ("i / i", "INT"),
        ("i % i", "INT"),
        ("6 / 2", "INT"),  # nullable: integer division by zero is NULL
        ("i * 2.0", "DOUBLE"),
        ("i + 3000000000", "BIGINT"),
        ("f + 1.5", "DOUBLE"),
        ("-i", "INT"),
        ("+d", "DOUBLE"),
        ("-inn", "INT NOT NULL"),
        ("-NULL", "NULL"),
        # NOT NULL only when every operand is NOT NULL
        ("inn + inn", "INT NOT NULL"),
        ("inn + 1", "INT NOT NULL"),
        ("inn + i", "INT"),
        ("dnn * inn", "DOUBLE NOT NULL"),
        ("1 + 2", "INT NOT NULL"),
        ("NULL + 1", "INT"),
        ("i + NULL", "INT"),
        ("NULL + NULL", "NULL"),
        # PRECISE: INT/BIGINT -> PRECISE(0), FLOAT -> PRECISE(24), DOUBLE -> PRECISE(53)
        ("p + p", "PRECISE(2)"),
        ("p + i", "PRECISE(2)"),
        ("b * p", "PRECISE(2)"),
        ("p + f", "DOUBLE"),  # rillet: decimal128 cannot hold PRECISE(24)/(53)
        ("p - d", "DOUBLE"),
        # every scalar promotes to STRING
        ("'a' + 1", "STRING NOT NULL"),
        ("1 + 'a'", "STRING NOT NULL"),
        ("'a' + 'b'", "STRING NOT NULL"),
        ("s + i", "STRING"),
        ("snn + inn", "STRING NOT NULL"),
        ("snn + i", "STRING"),
        ("s + d", "STRING"),
        ("s + o", "STRING"),
        ("o + s", "STRING"),
        ("s + ts", "STRING"),
        ("s + p", "STRING"),
        ("s + NULL", "STRING"),
        ("length(i)", "INT"),
        ("length(o)", "INT"),
        ("length(10 * i)", "INT"),
        ("str2bin(d)", "BINARY"),
        # comparisons
        ("i = i", "BOOLEAN"),
        ("inn = 1", "BOOLEAN NOT NULL"),
        ("i < d", "BOOLEAN"),
        ("s = i", "BOOLEAN"),
        ("s <= 1.5", "BOOLEAN"),
        ("o = o", "BOOLEAN"),
        ("o < TRUE", "BOOLEAN"),
        ("'a' < 'b'", "BOOLEAN NOT NULL"),
        ("ts >= ts", "BOOLEAN"),
        ("i = NULL", "BOOLEAN"),
        ("i > 1 = TRUE", "BOOLEAN"),
        ("o = i > 1", "BOOLEAN"),
        ("ts - ts > INTERVAL 1 SECOND", "BOOLEAN"),
        ("INTERVAL 1 SECOND < INTERVAL 2 SECONDS", "BOOLEAN NOT NULL"),
        # booleans, IS NULL, LIKE
        ("o AND o", "BOOLEAN"),
        ("o || TRUE", "BOOLEAN"),
        ("TRUE && FALSE", "BOOLEAN NOT NULL"),
        ("o AND NULL", "BOOLEAN"),
        ("NOT o", "BOOLEAN"),
        ("NOT TRUE", "BOOLEAN NOT NULL"),
        ("NOT (i > 1)", "BOOLEAN"),
        ("i IS NULL", "BOOLEAN NOT NULL"),
        ("l IS NOT NULL", "BOOLEAN NOT NULL"),
        ("NULL IS NULL", "BOOLEAN NOT NULL"),
        ("s LIKE 'a%'", "BOOLEAN"),
        ("snn LIKE 'a%'", "BOOLEAN NOT NULL"),
        ("i LIKE '1%'", "BOOLEAN"),
        ("o LIKE 't%'", "BOOLEAN"),
        ("NULL LIKE 'a'", "BOOLEAN"),
        # TIMESTAMP and INTERVAL
        ("ts + INTERVAL 1 SECOND", "TIMESTAMP"),
        ("INTERVAL '1h' + ts", "TIMESTAMP"),
        ("ts - INTERVAL '1d'", "TIMESTAMP"),
        ("ts - ts", "INTERVAL"),
        ("now() - ts", "INTERVAL"),
        ("INTERVAL 1 SECOND + INTERVAL 2 SECONDS", "INTERVAL NOT NULL"),
        ("INTERVAL 1 SECOND - INTERVAL 2 SECONDS", "INTERVAL NOT NULL"),
        ("-INTERVAL 1 SECOND", "INTERVAL NOT NULL"),
        ("now + INTERVAL 1 SECOND", "TIMESTAMP NOT NULL"),
        ("ts > '2024-05-01'", "BOOLEAN"),
    ],
)
def test_types(text: str, expected: str) -> None:
    assert type_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("length(s)", "INT"),
        ("LENGTH(S)", "INT"),
        ("square(i)", "INT"),
        ("square(d)", "DOUBLE"),
        ("square(p)", "PRECISE(2)"),
        ("bin2str(bin)", "STRING"),
        ("bin2str(#h)", "STRING"),
        ("str2bin(s)", "BINARY"),
        ("to_list(1, 2)", "LIST<INT NOT NULL> NOT NULL"),
        ("to_list(1, 2.5)", "LIST<DOUBLE NOT NULL> NOT NULL"),
        ("to_list(i, inn)", "LIST<INT> NOT NULL"),
        ("to_list(s, i)", "LIST<STRING> NOT NULL"),
        ("to_list(NULL)", "LIST<NULL> NOT NULL"),
        ("to_list()", "LIST<NULL> NOT NULL"),
        ("to_list(l, l)", "LIST<LIST<INT>> NOT NULL"),
        ("concat(l, l)", "LIST<INT>"),
        ("concat(l, ls)", "LIST<STRING>"),
        ("concat(l, to_list(1.5))", "LIST<DOUBLE>"),
        ("contains(l, 1)", "BOOLEAN"),
        ("contains(l, 's')", "BOOLEAN"),
        ("contains(ls, 1)", "BOOLEAN"),
        ("index(l, 0)", "INT"),
        ("index(ls, i)", "STRING"),
        ("size(l)", "INT"),
        ("size(NULL)", "INT"),
        ("current_timestamp", "TIMESTAMP NOT NULL"),
        ("now", "TIMESTAMP NOT NULL"),
        ("NOW()", "TIMESTAMP NOT NULL"),
        ("event_timestamp()", "TIMESTAMP NOT NULL"),
        ("abs(i)", "INT"),
        ("abs(d)", "DOUBLE"),
        ("abs(inn)", "INT NOT NULL"),
        ("round(d)", "DOUBLE"),
        ("round(d, 2)", "DOUBLE"),
        ("round(i, -1)", "INT"),
        ("floor(f)", "FLOAT"),
        ("ceil(b)", "BIGINT"),
        ("ceiling(d)", "DOUBLE"),
        ("lower(s)", "STRING"),
        ("upper(i)", "STRING"),
        ("substr(s, 2)", "STRING"),
        ("substr(s, 2, 3)", "STRING"),
        ("substring(s, 2)", "STRING"),
        ("trim(s)", "STRING"),
        ("regexp_match(s, 'a+')", "BOOLEAN"),
        ("coalesce(i, i)", "INT"),
        ("coalesce(i, d)", "DOUBLE"),
        ("coalesce(i, s)", "STRING"),
        ("coalesce(i, 0)", "INT"),
        ("date_trunc('hour', ts)", "TIMESTAMP"),
        ("date_trunc('HOUR', ts)", "TIMESTAMP"),
        ("time_bucket(INTERVAL '1h', ts)", "TIMESTAMP"),
    ],
)
def test_function_types(text: str, expected: str) -> None:
    assert type_of(text) == expected


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("substring(s, 1)", "substr"),
        ("ceiling(d)", "ceil"),
        ("now()", "current_timestamp"),
        ("NOW()", "current_timestamp"),
        ("Length(s)", "length"),
    ],
)
def test_aliases_resolve_to_the_function(text: str, name: str) -> None:
    node = check(text, COLUMNS)
    assert isinstance(node, Call)
    assert node.name == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("count(*)", "BIGINT NOT NULL"),
        ("COUNT(*)", "BIGINT NOT NULL"),
        ("count(s)", "BIGINT NOT NULL"),
        ("sum(i)", "INT"),
        ("sum(inn)", "INT"),
        ("sum(d)", "DOUBLE"),
        ("min(ts)", "TIMESTAMP"),
        ("max(s)", "STRING"),
        ("avg(i)", "DOUBLE"),
        ("stddev(d)", "DOUBLE"),
        ("variance(i)", "DOUBLE"),
        ("first(l)", "LIST<INT>"),
        ("last(s)", "STRING"),
        ("approx_count_distinct(s)", "BIGINT NOT NULL"),
        ("approx_quantile(d, 0.5)", "DOUBLE"),
        ("distribution(d)", "BINARY"),
        ("top_k(s, 3)", "LIST<STRING>"),
        ("max(length(s) + i)", "INT"),
    ],
)
def test_aggregate_types(text: str, expected: str) -> None:
    node = check(text, COLUMNS, allow_aggregates=True)
    assert isinstance(node, Call)
    assert node.aggregate
    assert str(node.type) == expected


# -- the tree the checker returns ------------------------------------------------------------


def test_casts_are_inserted_where_a_value_is_promoted() -> None:
    node = check("i + d", COLUMNS)
    assert node == Binary(
        op="+",
        left=Cast(
            operand=Column(name="i", line=1, col=1, type=parse_type("INT")),
            type=parse_type("DOUBLE"),
            line=1,
            col=1,
        ),
        right=Column(name="d", line=1, col=5, type=parse_type("DOUBLE")),
        line=1,
        col=3,
        type=parse_type("DOUBLE"),
    )


def test_a_cast_keeps_the_nullability_of_its_operand() -> None:
    node = check("inn + d", COLUMNS)
    assert isinstance(node, Binary)
    assert isinstance(node.left, Cast)
    assert node.left.type == parse_type("DOUBLE NOT NULL")


def test_no_cast_where_only_nullability_differs() -> None:
    node = check("inn + i", COLUMNS)
    assert isinstance(node, Binary)
    assert isinstance(node.left, Column)
    assert isinstance(node.right, Column)


def test_comparison_with_a_string_promotes_the_number_to_string() -> None:
    node = check("s = i", COLUMNS)
    assert isinstance(node, Binary)
    assert isinstance(node.left, Column)
    assert isinstance(node.right, Cast)
    assert node.right.type == parse_type("STRING")


def test_null_literal_takes_the_type_of_the_other_operand() -> None:
    node = check("i + NULL", COLUMNS)
    assert isinstance(node, Binary)
    assert node.right == Literal(value=None, line=1, col=5, type=parse_type("INT"))


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("ts > '2024-05-01T00:00:00Z'", T2024),
        ("ts > '2024-05-01'", T2024),
        ("ts > '2024-05-01 00:00:00'", T2024),
        ("ts > '2024-05-01T02:00:00+02:00'", T2024),
        ("ts > '2024-05-01T00:00:00.000001Z'", T2024 + 1000),
    ],
)
def test_a_string_literal_compared_with_a_timestamp_is_read_as_a_time(text: str, ns: int) -> None:
    node = check(text, COLUMNS)
    assert isinstance(node, Binary)
    assert node.right == Literal(value=ns, line=1, col=6, type=parse_type("TIMESTAMP NOT NULL"))


def test_a_time_literal_on_the_left_is_read_too() -> None:
    node = check("'2024-05-01' <= ts", COLUMNS)
    assert isinstance(node, Binary)
    assert node.left == Literal(value=T2024, line=1, col=1, type=parse_type("TIMESTAMP NOT NULL"))


def test_a_time_literal_minus_a_timestamp_is_an_interval() -> None:
    node = check("ts - '2024-05-01'", COLUMNS)
    assert str(node.type) == "INTERVAL"


def test_checking_a_parsed_tree_equals_checking_its_text() -> None:
    from rillet.expressions.parser import parse

    text = "coalesce(i, 2) * 1.5 > d OR s LIKE 'x%'"
    assert check(parse(text), COLUMNS) == check(text, COLUMNS)


def test_unary_minus_of_a_column_keeps_its_node() -> None:
    node = check("-i", COLUMNS)
    assert isinstance(node, Unary)
    assert node.type == parse_type("INT")


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "line", "col"),
    [
        # names
        ("cpu_utl", "unknown column 'cpu_utl' at 1:1; did you mean 'cpu_util'?", 1, 1),
        ("1 +\n  cpu_utl", "unknown column 'cpu_utl' at 2:3; did you mean 'cpu_util'?", 2, 3),
        ("i IS NULL AND mem_avial < 0.1",
         "unknown column 'mem_avial' at 1:15; did you mean 'mem_avail'?", 1, 15),
        ("xyz", "unknown column 'xyz' at 1:1", 1, 1),
        ('"I"', "unknown column 'I' at 1:1", 1, 1),
        ("mixed", "unknown column 'mixed' at 1:1; did you mean 'Mixed'?", 1, 1),
        ("lenght(s)", "unknown function 'lenght' at 1:1; did you mean 'length'?", 1, 1),
        ("i + sqrt(d)", "unknown function 'sqrt' at 1:5; did you mean 'square'?", 1, 5),
        ("xyzzy(i)", "unknown function 'xyzzy' at 1:1", 1, 1),
        # BOOLEAN never meets a number
        ("o + 1", "+ needs numbers, got BOOLEAN and INT NOT NULL at 1:3", 1, 3),
        ("i + TRUE", "+ needs numbers, got INT and BOOLEAN NOT NULL at 1:3", 1, 3),
        ("o = 1", "cannot compare BOOLEAN with INT NOT NULL at 1:3", 1, 3),
        ("d < o", "cannot compare DOUBLE with BOOLEAN at 1:3", 1, 3),
        ("-o", "unary - needs a number, got BOOLEAN at 1:1", 1, 1),
        ("o + o", "+ needs numbers, got BOOLEAN and BOOLEAN at 1:3", 1, 3),
        # what is not a number
        ("s - 1", "- needs numbers, got STRING and INT NOT NULL at 1:3", 1, 3),
        ("s * s", "* needs numbers, got STRING and STRING at 1:3", 1, 3),
        ("-s", "unary - needs a number, got STRING at 1:1", 1, 1),
        ("+s", "unary + needs a number, got STRING at 1:1", 1, 1),
        ("l + 1", "+ needs numbers, got LIST<INT> and INT NOT NULL at 1:3", 1, 3),
        ("#x + 1", "+ needs numbers, got BINARY and INT NOT NULL at 1:4", 1, 4),
        ("s + bin", "+ needs STRING operands, got BINARY at 1:3", 1, 3),
        ("s + l", "+ needs STRING operands, got LIST<INT> at 1:3", 1, 3),
        ("l = 1", "cannot compare LIST<INT> with INT NOT NULL at 1:3", 1, 3),
        ("l < l", "LIST values cannot be compared with < at 1:3", 1, 3),
        ("l = l", "LIST values cannot be compared with = at 1:3", 1, 3),
        ("l != ls", "LIST values cannot be compared with != at 1:3", 1, 3),
        # TIMESTAMP and INTERVAL
        ("ts + ts", "cannot apply + to TIMESTAMP and TIMESTAMP at 1:4", 1, 4),
        ("INTERVAL '1h' - ts", "cannot apply - to INTERVAL NOT NULL and TIMESTAMP at 1:15",
         1, 15),
        ("ts * INTERVAL 1 SECOND", "cannot apply * to TIMESTAMP and INTERVAL NOT NULL at 1:4",
         1, 4),
        ("ts + 1", "+ needs numbers, got TIMESTAMP and INT NOT NULL at 1:4", 1, 4),
        ("i + INTERVAL 1 SECOND", "+ needs numbers, got INT and INTERVAL NOT NULL at 1:3", 1, 3),
        ("ts > 5", "cannot compare TIMESTAMP with INT NOT NULL at 1:4", 1, 4),
        ("ts > 'yesterday'", "'yesterday' is not a time (ISO-8601 expected) at 1:6", 1, 6),
        ("'2024-13-01' = ts", "'2024-13-01' is not a time (ISO-8601 expected) at 1:1", 1, 1),
        # booleans
        ("i AND o", "AND needs BOOLEAN operands, got INT at 1:3", 1, 3),
        ("o AND s", "AND needs BOOLEAN operands, got STRING at 1:3", 1, 3),
        ("o && 1", "AND needs BOOLEAN operands, got INT NOT NULL at 1:3", 1, 3),
        ("o OR s", "OR needs BOOLEAN operands, got STRING at 1:3", 1, 3),
        ("d || o", "OR needs BOOLEAN operands, got DOUBLE at 1:3", 1, 3),
        ("NOT i", "NOT needs a BOOLEAN operand, got INT at 1:1", 1, 1),
        ("NOT i > 1", "NOT needs a BOOLEAN operand, got INT at 1:1", 1, 1),
        ("NOT s", "NOT needs a BOOLEAN operand, got STRING at 1:1", 1, 1),
        # LIKE
        ("s LIKE s", "LIKE needs a constant string pattern at 1:8", 1, 8),
        ("s LIKE 1", "LIKE needs a constant string pattern at 1:8", 1, 8),
        ("s LIKE 'a' + 'b'", "LIKE needs a constant string pattern at 1:12", 1, 12),
        ("s LIKE NULL", "LIKE needs a constant string pattern at 1:8", 1, 8),
        ("l LIKE 'x'", "LIKE needs STRING operands, got LIST<INT> at 1:3", 1, 3),
        ("bin LIKE 'x'", "LIKE needs STRING operands, got BINARY at 1:5", 1, 5),
        # argument counts
        ("length(s, s)", "length takes 1 argument, got 2; length is ((STRING) -> INT) at 1:1",
         1, 1),
        ("length()", "length takes 1 argument, got 0; length is ((STRING) -> INT) at 1:1", 1, 1),
        ("substr(s)", "substr takes 2 arguments, got 1; substr is ((STRING, INT) -> STRING) or "
         "((STRING, INT, INT) -> STRING) at 1:1", 1, 1),
        ("now(1)", "current_timestamp takes 0 arguments, got 1; current_timestamp is "
         "(() -> TIMESTAMP NOT NULL) at 1:1", 1, 1),
        ("index(l)", "index takes 2 arguments, got 1; index is ((LIST<var('a, "
         "constraints={TYPECLASS_ANY})>, INT) -> var('a, constraints={TYPECLASS_ANY})) at 1:1",
         1, 1),
        # argument types
        ("abs(s)", "abs argument 1 must be numeric, got STRING; abs is ((var('a, "
         "constraints={TYPECLASS_NUMERIC})) -> var('a, constraints={TYPECLASS_NUMERIC})) at 1:1",
         1, 1),
        ("bin2str(s)", "bin2str argument 1 must be BINARY, got STRING; bin2str is "
         "((BINARY) -> STRING) at 1:1", 1, 1),
        ("i + size(s)", "size argument 1 must be a LIST, got STRING; size is ((LIST<var('a, "
         "constraints={TYPECLASS_ANY})>) -> INT) at 1:5", 1, 5),
        ("index(l, 'x')", "index argument 2 must be INT, got STRING NOT NULL; index is "
         "((LIST<var('a, constraints={TYPECLASS_ANY})>, INT) -> var('a, "
         "constraints={TYPECLASS_ANY})) at 1:1", 1, 1),
        ("index(l, b)", "index argument 2 must be INT, got BIGINT; index is ((LIST<var('a, "
         "constraints={TYPECLASS_ANY})>, INT) -> var('a, constraints={TYPECLASS_ANY})) at 1:1",
         1, 1),
        ("coalesce(o, i)", "coalesce argument 2 (INT) does not fit BOOLEAN; coalesce is "
         "((var('a, constraints={TYPECLASS_ANY})...) -> var('a, constraints={TYPECLASS_ANY})) "
         "at 1:1", 1, 1),
        ("to_list(o, 1)", "to_list argument 2 (INT NOT NULL) does not fit BOOLEAN; to_list is "
         "((var('a, constraints={TYPECLASS_ANY})...) -> LIST<var('a, "
         "constraints={TYPECLASS_ANY})> NOT NULL) at 1:1", 1, 1),
        ("contains(l, o)", "contains argument 2 (BOOLEAN) does not fit INT; contains is "
         "((LIST<var('a, constraints={TYPECLASS_ANY})>, var('a, constraints={TYPECLASS_ANY})) "
         "-> BOOLEAN) at 1:1", 1, 1),
        ("concat(l, 1)", "concat argument 2 must be a LIST, got INT NOT NULL; concat is "
         "((LIST<var('a, constraints={TYPECLASS_ANY})>...) -> LIST<var('a, "
         "constraints={TYPECLASS_ANY})>) at 1:1", 1, 1),
        ("time_bucket(INTERVAL '1h', s)", "time_bucket argument 2 must be TIMESTAMP, got "
         "STRING; time_bucket is ((INTERVAL, TIMESTAMP) -> TIMESTAMP) at 1:1", 1, 1),
        # constant arguments
        ("round(d, i)", "argument 2 of round must be a constant at 1:10", 1, 10),
        ("substr(s, i)", "argument 2 of substr must be a constant at 1:11", 1, 11),
        ("substr(s, 1, i)", "argument 3 of substr must be a constant at 1:14", 1, 14),
        ("regexp_match(s, s)", "argument 2 of regexp_match must be a constant at 1:17", 1, 17),
        ("date_trunc(s, ts)", "argument 1 of date_trunc must be a constant at 1:12", 1, 12),
        ("date_trunc('fortnight', ts)", "date_trunc unit must be one of microsecond, "
         "millisecond, second, minute, hour, day, week, month, quarter, year at 1:12", 1, 12),
        ("time_bucket(INTERVAL '1h' + INTERVAL '1h', ts)",
         "argument 1 of time_bucket must be a constant at 1:27", 1, 27),
        # aggregates where they are not allowed, and * outside COUNT
        ("sum(i)", "aggregate function sum is not allowed here at 1:1", 1, 1),
        ("count(*)", "aggregate function count is not allowed here at 1:1", 1, 1),
        ("i + max(d)", "aggregate function max is not allowed here at 1:5", 1, 5),
        ("abs(*)", "abs(*) is only for COUNT at 1:1", 1, 1),
    ],
)  # fmt: skip
def test_errors(text: str, message: str, line: int, col: int) -> None:
    exc = error(text)
    assert str(exc) == message
    assert where(exc) == (line, col)
    assert isinstance(exc, InputError)


@pytest.mark.parametrize(
    ("text", "message", "line", "col"),
    [
        ("sum(sum(i))", "aggregate function sum cannot be nested in an aggregate at 1:5", 1, 5),
        ("max(length(s) + min(i))",
         "aggregate function min cannot be nested in an aggregate at 1:17", 1, 17),
        ("count(abs(count(*)))",
         "aggregate function count cannot be nested in an aggregate at 1:11", 1, 11),
        ("sum(*)", "sum(*) is only for COUNT at 1:1", 1, 1),
        ("sum(s)", "sum takes a numeric argument, got STRING at 1:5", 1, 5),
        ("avg(o)", "avg takes a numeric argument, got BOOLEAN at 1:5", 1, 5),
        ("sum(i, 1)", "sum takes 1 argument(s) (value), got 2 at 1:1", 1, 1),
        ("count()", "count takes 1 argument(s) (value), got 0 at 1:1", 1, 1),
        ("approx_quantile(d)",
         "approx_quantile takes 2 argument(s) (value, q), got 1 at 1:1", 1, 1),
        ("approx_quantile(d, d)", "the approx_quantile parameter must be a constant at 1:20",
         1, 20),
        ("approx_count_distinct(l)",
         "approx_count_distinct cannot take a LIST argument, got LIST<INT> at 1:23", 1, 23),
        ("countt(i)", "unknown function 'countt' at 1:1; did you mean 'count'?", 1, 1),
    ],
)  # fmt: skip
def test_aggregate_errors(text: str, message: str, line: int, col: int) -> None:
    exc = error(text, aggregates=True)
    assert str(exc) == message
    assert where(exc) == (line, col)


def test_unknown_names_carry_the_name_and_the_suggestion() -> None:
    exc = error("cpu_utl > 1")
    assert (vars(exc)["name"], vars(exc)["suggestion"]) == ("cpu_utl", "cpu_util")
    assert exc.to_dict() == {
        "error": "TypeCheckError",
        "message": "unknown column 'cpu_utl' at 1:1; did you mean 'cpu_util'?",
        "detail": {"line": 1, "col": 1, "name": "cpu_utl", "suggestion": "cpu_util"},
    }
    exc = error("zzz(i)")
    assert (vars(exc)["name"], vars(exc)["suggestion"]) == ("zzz", None)


def test_a_parse_error_comes_out_of_check_unchanged() -> None:
    with pytest.raises(ParseError) as info:
        check("i +", COLUMNS)
    assert where(info.value) == (1, 4)


def test_the_first_error_in_reading_order_is_reported() -> None:
    exc = error("nope1 + nope2")
    assert str(exc) == "unknown column 'nope1' at 1:1"


# -- bugs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["'at ' + ts", "ts + ' UTC'", "ts LIKE '2024-%'"])
def test_a_string_literal_next_to_a_timestamp_in_concatenation_or_like_stays_a_string(
    text: str,
) -> None:
    node = check(text, COLUMNS)
    assert node.type is not None
    assert node.type.name in ("STRING", "BOOLEAN")


@pytest.mark.parametrize("text", ["1 / 0", "inn % 0", "inn / inn", "index(to_list(1, 2), 5)"])
def test_results_that_can_be_null_are_typed_nullable(text: str) -> None:
    node = check(text, COLUMNS)
    assert node.type is not None
    assert node.type.nullable


def test_an_integer_literal_beyond_bigint_is_rejected_before_any_data() -> None:
    with pytest.raises((TypeCheckError, ParseError)) as info:
        check("99999999999999999999 > b", COLUMNS)
    assert where(info.value) == (1, 1)


@pytest.mark.parametrize(("text", "col"), [("top_k(s, 'a')", 10), ("approx_quantile(d, 'x')", 20)])
def test_aggregate_parameters_are_type_checked(text: str, col: int) -> None:
    exc = error(text, aggregates=True)
    assert where(exc) == (1, col)
