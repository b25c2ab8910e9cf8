"""The one lexer: tokens and their positions, Java escapes, comments, and the errors of the
type, expression and statement parsers that read its tokens."""

from __future__ import annotations

import pytest

from rillet.datatypes import parse_type
from rillet.errors import ParseError
from rillet.expressions.parser import parse as parse_expression
from rillet.rtsql.lexer import escape, tokenize, unescape
from rillet.rtsql.parser import parse
from rillet.schema import Schema


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(text)]


def test_one_token_list_for_types_expressions_and_statements() -> None:
    assert kinds("CREATE STREAM s (v LIST<LIST<INT>>, p PRECISE(2));") == [
        ("word", "CREATE"), ("word", "STREAM"), ("word", "s"), ("op", "("), ("word", "v"),
        ("word", "LIST"), ("op", "<"), ("word", "LIST"), ("op", "<"), ("word", "INT"),
        ("op", ">"), ("op", ">"), ("op", ","), ("word", "p"), ("word", "PRECISE"), ("op", "("),
        ("number", "2"), ("op", ")"), ("op", ")"), ("op", ";"), ("end", ""),
    ]  # fmt: skip
    assert kinds("SELECT f.x, #a, \"Q\"\"x\" FROM f WHERE x <> 1.5e3") == [
        ("word", "SELECT"), ("word", "f"), ("op", "."), ("word", "x"), ("op", ","),
        ("attr", "#a"), ("op", ","), ("quoted", '"Q""x"'), ("word", "FROM"), ("word", "f"),
        ("word", "WHERE"), ("word", "x"), ("op", "<>"), ("number", "1.5e3"), ("end", ""),
    ]  # fmt: skip


def test_positions_count_lines_and_columns_from_one() -> None:
    tokens = tokenize("SELECT a\n  /* two\nlines */ FROM\tf // note\n;")
    assert [(t.text, t.line, t.col) for t in tokens] == [
        ("SELECT", 1, 1), ("a", 1, 8), ("FROM", 3, 10), ("f", 3, 15), (";", 4, 1), ("", 4, 2),
    ]  # fmt: skip
    assert tokenize("'a\nb' x")[1].line == 2  # a line break inside a literal counts too


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'\t'", "\t"),
        (r"'a\nb\r\f\b'", "a\nb\r\f\b"),
        (r"'\\N'", "\\N"),
        (r"'it''s'", "it's"),
        (r"'it\'s'", "it's"),
        (r"'\"'", '"'),
        (r"'\u00e9\u0041'", "éA"),
        (r"'\uuu0041'", "A"),  # Java allows several u's
        (r"'\101\60\0'", "A0\0"),  # octal escapes
        (r"'\377\400'", "ÿ 0"),  # \377 is the largest; \40 then 0
        (r"'\q'", "q"),
    ],
)
def test_string_literals_take_java_escapes(literal: str, value: str) -> None:
    assert unescape(literal) == value
    assert unescape(escape(value)) == value
    assert parse_expression(literal).value == value  # type: ignore[attr-defined]


def test_a_property_tab_is_a_tab() -> None:
    statement = parse(
        r"CREATE STREAM t (a INT) FROM FILE 'f' EVENT FORMAT 'delimited' "
        r"PROPERTIES ('delimiter' = '\t')"
    )
    assert statement.source.properties == (("delimiter", "\t"),)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "reader", "message"),
    [
        ("INT $", parse_type, "unexpected '$' at 1:5; expected end of input"),
        ("a INT, $", lambda t: Schema.build(t), "unexpected '$' at 1:8; expected a column name"),
        ("a + $", parse_expression, "unexpected '$' at 1:5; expected an expression"),
        ("SELECT $", parse, "unexpected '$' at 1:8; expected an expression"),
        ("SHOW $", parse, "unexpected '$' at 1:6; expected STREAMS, FLOWS or FUNCTIONS"),
        ("SELECT 'x", parse, "unexpected \"'\" at 1:8; expected a closing quote (')"),
        ('SELECT "x FROM f', parse, "unexpected '\"' at 1:8; expected a closing quote (\")"),
        (
            "SELECT a\nFROM f /* never closed",
            parse,
            "unexpected '/*' at 2:8; expected the comment's closing */",
        ),
        ("LIST<INT", parse_type, "expected '>' at 1:9, found end of input"),
    ],
)
def test_a_bad_character_is_reported_with_what_the_reader_expected_there(
    text: str, reader: object, message: str
) -> None:
    with pytest.raises(ParseError) as info:
        reader(text)  # type: ignore[operator]
    assert str(info.value) == message
