"""The rtsql expression parser: precedence as a table (loosest level first)."""

from __future__ import annotations

import re
from typing import Any

from rillet.datatypes import INT_RANGE
from rillet.expressions.nodes import Attribute, Binary, Call, Column, IsNull, Literal, Node, Unary
from rillet.rtsql.lexer import Token, TokenStream, unescape
from rillet.time import parse_duration_us

# Java's order for the operators rtsql has; `||`/`&&` are Confluo's OR/AND, `==`/`<>` aliases.
BINARY: tuple[dict[str, str], ...] = (
    {"OR": "OR", "||": "OR"},
    {"AND": "AND", "&&": "AND"},
    {"=": "=", "==": "=", "!=": "!=", "<>": "!="},
    {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "LIKE": "LIKE"},
    {"+": "+", "-": "-"},
    {"*": "*", "/": "/", "%": "%"},
)
#: every spelling of a binary operator: (its level, the operator)
OPERATORS = {
    spelling: (level, op) for level, ops in enumerate(BINARY) for spelling, op in ops.items()
}
KEYWORDS = frozenset({"OR", "AND", "NOT", "IS", "NULL", "TRUE", "FALSE", "LIKE", "INTERVAL"})
_UNITS = {
    "MICROSECOND": "us", "MILLISECOND": "ms", "SECOND": "s", "MINUTE": "m", "HOUR": "h",
    "DAY": "d", "WEEK": "w",
}  # fmt: skip


class Parser(TokenStream):
    """Parses one expression; every error names its line, column and what was expected.

    ``reserved`` are the words that cannot be a column name unquoted (the statement parser
    adds its keywords to the expression language's own).
    """

    def __init__(self, text: str, reserved: frozenset[str] = KEYWORDS) -> None:
        super().__init__(text)
        self.reserved = reserved

    def parse(self) -> Node:
        node = self.binary()
        if self.token.kind != "end":
            raise self.error("an operator or end of input")
        return node

    def binary(self, level: int = 0) -> Node:
        """Operators of ``level`` (an index of BINARY) and tighter, left to right: precedence
        climbing, one call a level that actually has an operator."""
        left = self.unary()
        while (found := OPERATORS.get(self.token.upper)) is not None and found[0] >= level:
            token = self.advance()
            right = self.binary(found[0] + 1)
            left = Binary(op=found[1], left=left, right=right, line=token.line, col=token.col)
        return left

    def unary(self) -> Node:
        token = self.token
        if token.upper in ("-", "+", "NOT"):
            self.advance()
            operand = self.unary()
            if token.upper == "-" and isinstance(operand, Literal) and _is_number(operand.value):
                return Literal(value=-operand.value, line=token.line, col=token.col)
            return Unary(op=token.upper, operand=operand, line=token.line, col=token.col)
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while self.token.upper == "IS":
            token = self.advance()
            negated = self.token.upper == "NOT"
            if negated:
                self.advance()
            if self.token.upper != "NULL":
                raise self.error("NULL" if negated else "NULL or NOT NULL")
            self.advance()
            node = IsNull(operand=node, negated=negated, line=token.line, col=token.col)
        return node

    def primary(self) -> Node:
        token = self.token
        kind, upper = token.kind, token.upper
        at: dict[str, Any] = {"line": token.line, "col": token.col}
        if kind == "number":
            self.advance()
            if re.fullmatch(r"\d+", token.text):
                return Literal(value=int(token.text), **at)
            return Literal(value=float(token.text), **at)
        if kind == "string":
            self.advance()
            return Literal(value=unescape(token.text), **at)
        if kind == "attr":
            self.advance()
            return Attribute(name=token.text[1:].lower(), **at)
        if kind == "quoted":
            self.advance()
            return self.column(unquote(token.text), at)
        if upper == "(":
            self.advance()
            node = self.binary()
            self.expect(")")
            return node
        if kind == "word":
            if upper in ("TRUE", "FALSE"):
                self.advance()
                return Literal(value=upper == "TRUE", **at)
            if upper == "NULL":
                self.advance()
                return Literal(value=None, **at)
            if upper == "INTERVAL":
                return self.interval()
            if upper == "LIKE" and self.tokens[self.i + 1].text == "(":
                self.advance()
                return self.call(token)  # the like(s, pattern) function
            if upper in self.reserved:
                raise self.error("an expression")
            self.advance()
            if self.token.text == "(":
                return self.call(token)
            if upper in ("CURRENT_TIMESTAMP", "NOW") and self.token.text != ".":
                return Call(name="current_timestamp", **at)
            return self.column(token.text.lower(), at)
        raise self.error("an expression")

    def column(self, name: str, at: dict[str, Any]) -> Column:
        """``name``, or ``name.column`` where ``name`` qualifies it (a stream or reference)."""
        if self.token.text != "." or self.token.kind != "op":
            return Column(name=name, **at)
        self.advance()
        token = self.token
        if token.kind == "word" and token.upper not in self.reserved:
            self.advance()
            return Column(name=token.text.lower(), qualifier=name, **at)
        if token.kind == "quoted":
            self.advance()
            return Column(name=unquote(token.text), qualifier=name, **at)
        raise self.error(f"a column name after {name!r}.")

    def call(self, name: Token) -> Node:
        self.expect("(")
        at: dict[str, Any] = {"line": name.line, "col": name.col}
        if self.token.text == "*":
            self.advance()
            self.expect(")")
            return Call(name=name.text.lower(), star=True, **at)
        args: list[Node] = []
        if self.token.upper == "DISTINCT" and self.peek().text not in (",", ")", "."):
            raise self.error(
                "an argument",
                note="rtsql has no COUNT(DISTINCT ...): approx_count_distinct(x) counts "
                "distinct values",
            )
        if self.token.text != ")":
            args.append(self.binary())
            while self.token.text == ",":
                self.advance()
                args.append(self.binary())
        if self.token.text != ")":
            cast = name.upper == "CAST" and self.token.upper == "AS"
            note = "rtsql has no CAST: values are promoted to wider types as needed" if cast else ""
            raise self.error("',' or ')'", note=note)
        self.advance()
        return Call(name=name.text.lower(), args=tuple(args), **at)

    def interval(self) -> Node:
        """``INTERVAL 5 SECOND``, ``INTERVAL '5' SECONDS`` or ``INTERVAL '5s'`` (microseconds)."""
        start = self.advance()
        token = self.token
        if token.kind not in ("number", "string"):
            note = _POSITIVE if token.text == "-" else ""
            raise self.error("a number or a quoted duration after INTERVAL", note=note)
        self.advance()
        amount = unescape(token.text) if token.kind == "string" else token.text
        unit = self.token.upper.rstrip("S") if self.token.kind == "word" else ""
        if unit in _UNITS:
            self.advance()
            text = f"{amount.strip()}{_UNITS[unit]}"
        else:
            text = amount
        try:
            micros = parse_duration_us(text, "interval")
        except Exception:
            raise self.error(
                "a duration such as INTERVAL 5 SECONDS or INTERVAL '1h'",
                token,
                note=_POSITIVE if _NOT_POSITIVE.match(amount) else "",
            ) from None
        return Literal(value=_Interval(micros), line=start.line, col=start.col)


_POSITIVE = "an interval must be more than 0, as a window's size, slide and gap must"
_NOT_POSITIVE = re.compile(r"\s*(?:-|0+(?:\.0*)?(?![\d.]))")  # a minus sign, or an amount of 0


class _Interval(int):
    """An interval literal's value: microseconds, told apart from a plain integer."""


Interval = _Interval


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool | _Interval)


def unquote(text: str) -> str:
    """The name in a double-quoted identifier (``""`` inside stands for one quote)."""
    return text[1:-1].replace('""', '"')


def parse(text: str) -> Node:
    """The untyped tree of an rtsql expression.

    Examples:
        >>> parse("cpu_util > 0.8 || mem_avail < 0.1").op
        'OR'
        >>> parse("a +").col
        Traceback (most recent call last):
        ...
        rillet.errors.ParseError: expected an expression at 1:4, found end of input
    """
    return Parser(text).parse()


INT_MAX = INT_RANGE["INT"][1]
