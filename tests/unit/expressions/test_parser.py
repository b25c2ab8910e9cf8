"""The rtsql expression parser: precedence, associativity, literals, names, comments, errors.

Trees are compared as S-expressions (``(OR a (AND b c))``) written by hand from README's
precedence table, loosest first: OR/``||`` · AND/``&&`` · ``= == != <>`` ·
``< > <= >= LIKE`` · ``+ -`` · ``* / %`` · unary ``+ - NOT`` · postfix ``IS [NOT] NULL``.
"""

from __future__ import annotations

import itertools

import pytest

from rillet.expressions.nodes import (
    Attribute,
    Binary,
    Call,
    Column,
    IsNull,
    Literal,
    Node,
    Unary,
    walk,
)
from rillet.expressions.parser import Interval, parse
from tests.unit.support import assert_parse_error

# README's table, loosest level first, every spelling; the canonical name of each spelling
LEVELS: tuple[tuple[str, ...], ...] = (
    ("OR", "||"),
    ("AND", "&&"),
    ("=", "==", "!=", "<>"),
    ("<", ">", "<=", ">=", "LIKE"),
    ("+", "-"),
    ("*", "/", "%"),
)
CANONICAL = {"||": "OR", "&&": "AND", "==": "=", "<>": "!="}
S = 1_000_000  # microseconds


def sexpr(node: Node) -> str:
    """A tree as an S-expression: the shape the parser gave it, without positions."""
    if isinstance(node, Column):
        return node.name
    if isinstance(node, Attribute):
        return f"#{node.name}"
    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, Interval):
            return f"INTERVAL {int(value)}us"
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        return repr(value)
    if isinstance(node, Unary):
        return f"({node.op} {sexpr(node.operand)})"
    if isinstance(node, Binary):
        return f"({node.op} {sexpr(node.left)} {sexpr(node.right)})"
    if isinstance(node, IsNull):
        return f"(IS {'NOT ' if node.negated else ''}NULL {sexpr(node.operand)})"
    if isinstance(node, Call):
        args = "*" if node.star else " ".join(sexpr(a) for a in node.args)
        return f"{node.name}({args})"
    raise AssertionError(f"unexpected node {node!r}")


def canonical(op: str) -> str:
    return CANONICAL.get(op.upper(), op.upper())


# -- precedence and associativity -------------------------------------------------------------


@pytest.mark.parametrize(("looser", "tighter"), list(itertools.combinations(range(len(LEVELS)), 2)))
def test_every_pair_of_levels_binds_as_the_table_says(looser: int, tighter: int) -> None:
    for loose, tight in itertools.product(LEVELS[looser], LEVELS[tighter]):
        lo, ti = canonical(loose), canonical(tight)
        assert sexpr(parse(f"a {loose} b {tight} c")) == f"({lo} a ({ti} b c))"
        assert sexpr(parse(f"a {tight} b {loose} c")) == f"({lo} ({ti} a b) c)"


@pytest.mark.parametrize("level", list(range(len(LEVELS))))
def test_operators_of_one_level_associate_to_the_left(level: int) -> None:
    for first, second in itertools.product(LEVELS[level], repeat=2):
        one, two = canonical(first), canonical(second)
        assert sexpr(parse(f"a {first} b {second} c")) == f"({two} ({one} a b) c)"
        assert sexpr(parse(f"a {first} b {second} c {first} d")) == (
            f"({one} ({two} ({one} a b) c) d)"
        )


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        # unary binds tighter than every binary operator (Java's order)
        ("-a * b", "(* (- a) b)"),
        ("NOT a > b", "(> (NOT a) b)"),
        ("NOT a = b", "(= (NOT a) b)"),
        ("NOT a AND b", "(AND (NOT a) b)"),
        ("NOT a LIKE 'x'", "(LIKE (NOT a) 'x')"),
        ("a * -b", "(* a (- b))"),
        ("a - -b", "(- a (- b))"),
        ("a--b", "(- a (- b))"),
        ("+a % b", "(% (+ a) b)"),
        ("- - a", "(- (- a))"),
        ("NOT NOT a", "(NOT (NOT a))"),
        ("NOT -a", "(NOT (- a))"),
        # postfix IS [NOT] NULL binds tightest, even tighter than unary
        ("-a IS NULL", "(- (IS NULL a))"),
        ("NOT a IS NOT NULL", "(NOT (IS NOT NULL a))"),
        ("a + b IS NULL", "(+ a (IS NULL b))"),
        ("a = b IS NOT NULL", "(= a (IS NOT NULL b))"),
        ("a IS NULL IS NOT NULL", "(IS NOT NULL (IS NULL a))"),
        ("f(a) IS NULL", "(IS NULL f(a))"),
        ("(a + b) IS NULL", "(IS NULL (+ a b))"),
        ("(-a) IS NULL", "(IS NULL (- a))"),
        # parentheses override the table
        ("(a OR b) AND c", "(AND (OR a b) c)"),
        ("a * (b + c)", "(* a (+ b c))"),
        ("a - (b - c)", "(- a (- b c))"),
        ("NOT (a > b)", "(NOT (> a b))"),
        ("-(a + b)", "(- (+ a b))"),
        ("((a))", "a"),
        ("(((a OR b)))", "(OR a b)"),
        # the README's examples
        ("cpu_util > 0.8 || mem_avail < 0.1", "(OR (> cpu_util 0.8) (< mem_avail 0.1))"),
        ("max_latency_ms > 1000", "(> max_latency_ms 1000)"),
        (
            "a OR b AND c = d < e + f * -g IS NULL",
            "(OR a (AND b (= c (< d (+ e (* f (- (IS NULL g))))))))",
        ),
        (
            "a * b + c < d = e AND f OR g",
            "(OR (AND (= (< (+ (* a b) c) d) e) f) g)",
        ),
    ],
)
def test_unary_postfix_and_parentheses(text: str, tree: str) -> None:
    assert sexpr(parse(text)) == tree


def test_unary_minus_folds_into_a_number_literal() -> None:
    assert parse("-3") == Literal(value=-3, line=1, col=1)
    assert parse("- 2.5") == Literal(value=-2.5, line=1, col=1)
    assert parse("-(7)") == Literal(value=-7, line=1, col=1)
    assert parse("- - 3") == Literal(value=3, line=1, col=1)
    assert sexpr(parse("-3 * a")) == "(* -3 a)"
    assert sexpr(parse("a - -3")) == "(- a -3)"
    # but not into an interval, a string or a boolean: those stay operators
    assert sexpr(parse("-INTERVAL 1 SECOND")) == f"(- INTERVAL {S}us)"
    assert sexpr(parse("-'x'")) == "(- 'x')"
    assert sexpr(parse("-TRUE")) == "(- TRUE)"
    assert sexpr(parse("+3")) == "(+ 3)"


# -- literals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("0", 0),
        ("007", 7),
        ("2147483648", 2147483648),
        ("99999999999999999999", 99999999999999999999),
        ("-2147483648", -2147483648),
        ("4.2", 4.2),
        ("4.", 4.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("1.5E-2", 0.015),
        ("2.5e+2", 250.0),
        ("-0.25", -0.25),
    ],
)
def test_number_literals(text: str, value: int | float) -> None:
    node = parse(text)
    assert isinstance(node, Literal)
    assert node.value == value
    assert type(node.value) is type(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'text'", "text"),
        ("''", ""),
        ("'it''s'", "it's"),
        ("''''", "'"),
        (r"'it\'s'", "it's"),
        (r"'a\nb'", "a\nb"),
        (r"'\t\r\b\f\0'", "\t\r\b\f\0"),
        (r"'back\\slash'", "back\\slash"),
        (r"'\\'", "\\"),
        (r"'say \"hi\"'", 'say "hi"'),
        ("'say \"hi\"'", 'say "hi"'),
        (r"'\u00e9\u20AC'", "é€"),
        (r"'\u00e9x'", "éx"),
        ("'日本語 ü'", "日本語 ü"),
        ("'two\nlines'", "two\nlines"),
        ("'// not a comment /* nor this */'", "// not a comment /* nor this */"),
        ("'OR AND NOT'", "OR AND NOT"),
    ],
)
def test_string_literals_take_java_escapes_and_doubled_quotes(text: str, value: str) -> None:
    node = parse(text)
    assert node == Literal(value=value, line=1, col=1)


@pytest.mark.parametrize(
    ("text", "value"),
    [("TRUE", True), ("true", True), ("True", True), ("FALSE", False), ("fAlSe", False)],
)
def test_boolean_literals(text: str, value: bool) -> None:
    node = parse(text)
    assert isinstance(node, Literal)
    assert node.value is value


@pytest.mark.parametrize("text", ["NULL", "null", "Null"])
def test_null_literal(text: str) -> None:
    assert parse(text) == Literal(value=None, line=1, col=1)


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("INTERVAL 5 SECONDS", 5 * S),
        ("INTERVAL 5 SECOND", 5 * S),
        ("interval 1 minute", 60 * S),
        ("Interval 90 Minutes", 90 * 60 * S),
        ("INTERVAL 2 HOURS", 2 * 3600 * S),
        ("INTERVAL 1 DAY", 86400 * S),
        ("INTERVAL 2 WEEKS", 14 * 86400 * S),
        ("INTERVAL 3 MILLISECONDS", 3000),
        ("INTERVAL 7 MICROSECOND", 7),
        ("INTERVAL '5' SECONDS", 5 * S),
        ("INTERVAL '1h'", 3600 * S),
        ("INTERVAL '90s'", 90 * S),
        ("INTERVAL '15m'", 15 * 60 * S),
        ("INTERVAL '7d'", 7 * 86400 * S),
        ("INTERVAL '250ms'", 250_000),
        ("INTERVAL 'daily'", 86400 * S),
    ],
)
def test_interval_literals_are_microseconds(text: str, micros: int) -> None:
    node = parse(text)
    assert isinstance(node, Literal)
    assert isinstance(node.value, Interval)
    assert node.value == micros
    assert (node.line, node.col) == (1, 1)


def test_an_interval_is_one_operand() -> None:
    assert sexpr(parse("ts + INTERVAL 5 SECONDS > now")) == (
        f"(> (+ ts INTERVAL {5 * S}us) current_timestamp())"
    )
    assert sexpr(parse("ts - INTERVAL '1h' * 2")) == f"(- ts (* INTERVAL {3600 * S}us 2))"


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("cpu_util", "cpu_util"),
        ("CPU_Util", "cpu_util"),
        ("_x1", "_x1"),
        ('"CPU_Util"', "CPU_Util"),
        ('"Aa"', "Aa"),
        ('"a""b"', 'a"b'),
        ('"two words"', "two words"),
        ('"select"', "select"),
        ('"OR"', "OR"),
        ('"null"', "null"),
        ('"日本"', "日本"),
        ("select", "select"),
    ],
)
def test_identifiers_are_lower_cased_unless_double_quoted(text: str, name: str) -> None:
    assert parse(text) == Column(name=name, line=1, col=1)


@pytest.mark.parametrize(("text", "name"), [("#host", "host"), ("#Host", "host"), ("#_a1", "_a1")])
def test_attributes(text: str, name: str) -> None:
    assert parse(text) == Attribute(name=name, line=1, col=1)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a oR b", "(OR a b)"),
        ("a AnD b", "(AND a b)"),
        ("nOt a", "(NOT a)"),
        ("a iS nOt NuLl", "(IS NOT NULL a)"),
        ("a is null", "(IS NULL a)"),
        ("a lIkE 'x%'", "(LIKE a 'x%')"),
        ("a like 'x%' or b", "(OR (LIKE a 'x%') b)"),
        ("inTERval 5 sEConds", f"INTERVAL {5 * S}us"),
        ("A Or B aNd C", "(OR a (AND b c))"),
    ],
)
def test_keywords_are_case_insensitive(text: str, tree: str) -> None:
    assert sexpr(parse(text)) == tree


# -- function calls --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("f()", "f()"),
        ("F(a, 1)", "f(a 1)"),
        ("LENGTH(s)", "length(s)"),
        ("f(g(a), b + 1, 'x')", "f(g(a) (+ b 1) 'x')"),
        ("f(a OR b, NOT c)", "f((OR a b) (NOT c))"),
        ("f(a) + g(b) * 2", "(+ f(a) (* g(b) 2))"),
        ("-f(a)", "(- f(a))"),
        ("count(*)", "count(*)"),
        ("COUNT( * )", "count(*)"),
        ("Count(*) > 5", "(> count(*) 5)"),
        ("now", "current_timestamp()"),
        ("NOW", "current_timestamp()"),
        ("current_timestamp", "current_timestamp()"),
        ("CURRENT_TIMESTAMP + INTERVAL 1 SECOND", f"(+ current_timestamp() INTERVAL {S}us)"),
        ("now()", "now()"),
        ("to_list()", "to_list()"),
    ],
)
def test_function_calls(text: str, tree: str) -> None:
    assert sexpr(parse(text)) == tree


def test_count_star_is_marked() -> None:
    node = parse("COUNT(*)")
    assert node == Call(name="count", star=True, line=1, col=1)
    assert parse("count(x)") == Call(
        name="count", args=(Column(name="x", line=1, col=7),), line=1, col=1
    )


# -- comments, whitespace and positions ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a // the rest is a comment + b", "a"),
        ("a // comment\n + b", "(+ a b)"),
        ("a /* c */ + /* multi\nline */ b", "(+ a b)"),
        ("// only a comment\n1", "1"),
        ("/**/a/**/", "a"),
        ("a /* x // y */ + b", "(+ a b)"),
        ("a /* a * b */ * c", "(* a c)"),
        ("\n\t a \r\n +\tb  ", "(+ a b)"),
        ("a/b", "(/ a b)"),
        ("a / b // c", "(/ a b)"),
    ],
)
def test_comments_and_whitespace(text: str, tree: str) -> None:
    assert sexpr(parse(text)) == tree


def test_every_node_knows_where_it_began() -> None:
    text = "/* c */ a +\n  f(b, 'x') * -c IS NULL\n  OR #h"
    node = parse(text)
    where = [(type(n).__name__, sexpr(n), n.line, n.col) for n in walk(node)]
    assert where == [
        ("Binary", "(OR (+ a (* f(b 'x') (- (IS NULL c)))) #h)", 3, 3),
        ("Binary", "(+ a (* f(b 'x') (- (IS NULL c))))", 1, 11),
        ("Column", "a", 1, 9),
        ("Binary", "(* f(b 'x') (- (IS NULL c)))", 2, 13),
        ("Call", "f(b 'x')", 2, 3),
        ("Column", "b", 2, 5),
        ("Literal", "'x'", 2, 8),
        ("Unary", "(- (IS NULL c))", 2, 15),
        ("IsNull", "(IS NULL c)", 2, 18),
        ("Column", "c", 2, 16),
        ("Attribute", "#h", 3, 6),
    ]


def test_interval_and_folded_literals_start_at_their_first_token() -> None:
    node = parse("x +\n   -5")
    assert isinstance(node, Binary)
    assert node.right == Literal(value=-5, line=2, col=4)
    node = parse("x >\n INTERVAL  '1h'")
    assert isinstance(node, Binary)
    assert (node.right.line, node.right.col) == (2, 2)


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "col", "expected", "message"),
    [
        ("a +", 1, 4, "an expression", "expected an expression at 1:4, found end of input"),
        ("", 1, 1, "an expression", "expected an expression at 1:1, found end of input"),
        ("   ", 1, 4, "an expression", "expected an expression at 1:4, found end of input"),
        ("// nothing", 1, 11, "an expression", None),
        ("a b", 1, 3, "an operator or end of input", "expected an operator or end of input "
         "at 1:3, found 'b'"),
        ("(a + b))", 1, 8, "an operator or end of input", None),
        ("(a", 1, 3, "')'", "expected ')' at 1:3, found end of input"),
        ("((a)", 1, 5, "')'", None),
        ("()", 1, 2, "an expression", "expected an expression at 1:2, found ')'"),
        ("f(a b)", 1, 5, "',' or ')'", "expected ',' or ')' at 1:5, found 'b'"),
        ("f(a,", 1, 5, "an expression", None),
        ("f(,)", 1, 3, "an expression", "expected an expression at 1:3, found ','"),
        ("f(a,)", 1, 5, "an expression", None),
        ("count(*, 1)", 1, 8, "')'", "expected ')' at 1:8, found ','"),
        ("'abc", 1, 1, "a closing quote (')", "unexpected \"'\" at 1:1; expected a closing "
         "quote (')"),
        ("a = 'it''s", 1, 9, "a closing quote (')", None),  # 'it' then 's
        ("a IS 3", 1, 6, "NULL or NOT NULL", "expected NULL or NOT NULL at 1:6, found '3'"),
        ("a IS", 1, 5, "NULL or NOT NULL", None),
        ("a IS NOT 3", 1, 10, "NULL", "expected NULL at 1:10, found '3'"),
        ("INTERVAL x", 1, 10, "a number or a quoted duration after INTERVAL", None),
        ("INTERVAL", 1, 9, "a number or a quoted duration after INTERVAL", None),
        ("INTERVAL 'zz'", 1, 10, "a duration such as INTERVAL 5 SECONDS or INTERVAL '1h'",
         "expected a duration such as INTERVAL 5 SECONDS or INTERVAL '1h' at 1:10, "
         "found \"'zz'\""),
        ("INTERVAL 5 FORTNIGHTS", 1, 10,
         "a duration such as INTERVAL 5 SECONDS or INTERVAL '1h'", None),
        ("INTERVAL 0 SECONDS", 1, 10,
         "a duration such as INTERVAL 5 SECONDS or INTERVAL '1h'", None),
        ("a $ b", 1, 3, "an operator or end of input",
         "unexpected '$' at 1:3; expected an operator or end of input"),
        ("a ! b", 1, 3, "an operator or end of input", None),
        ("a + $", 1, 5, "an expression", "unexpected '$' at 1:5; expected an expression"),
        ("AND b", 1, 1, "an expression", "expected an expression at 1:1, found 'AND'"),
        ("a AND OR b", 1, 7, "an expression", "expected an expression at 1:7, found 'OR'"),
        ("a LIKE", 1, 7, "an expression", None),
        ("NOT", 1, 4, "an expression", None),
        ("a.+", 1, 3, "a column name after 'a'.", None),  # a.b is column b of a
        ("a.b.c", 1, 4, "an operator or end of input", None),
        # several lines: the position is in the line where the problem is
        ("a +\n\n  * b", 3, 3, "an expression", "expected an expression at 3:3, found '*'"),
        ("x > 1 AND\n  y <\n", 3, 1, "an expression", None),
        ("a\n  $", 2, 3, "an operator or end of input",
         "unexpected '$' at 2:3; expected an operator or end of input"),
        ("f(a,\n   b c)", 2, 6, "',' or ')'", None),
        ("a /* one\ntwo */ b", 2, 8, "an operator or end of input", None),
        ("a // x\n// y\n  (b", 3, 5, "',' or ')'", None),  # a call to a(b
        ("x = 1 OR\n  y = 'open", 2, 7, "a closing quote (')", None),
    ],
)  # fmt: skip
def test_parse_errors_name_line_column_and_what_was_expected(
    text: str, line: int, col: int, expected: str, message: str | None
) -> None:
    error = assert_parse_error(parse, text, (line, col), expected, message)
    assert error.to_dict()["detail"] == {"line": line, "col": col, "expected": expected}
