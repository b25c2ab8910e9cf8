"""Random rtsql statements: printing a statement and parsing the text gives the statement back;
random junk, and valid statements with characters dropped, swapped or inserted, never make
the parser raise anything but a ParseError (with a position inside the text).

Expressions inside the statements are the expression property test's random trees
(tests/property/test_expressions.py), with qualified columns added.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rillet.datatypes import parse_type
from rillet.errors import ParseError
from rillet.expressions.nodes import Call, Column, Literal, Node
from rillet.rtsql import ast
from rillet.rtsql.parser import RESERVED, parse
from tests.property.test_expressions import _name, _text, _tree

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUOTED = 'aB c"é_1.'
TYPES = ["INT", "BIGINT NOT NULL", "DOUBLE", "FLOAT", "BOOLEAN", "STRING NOT NULL", "BINARY",
         "TIMESTAMP", "PRECISE(2)", "LIST<INT NOT NULL>",
         "LIST<LIST<STRING>> NOT NULL"]  # fmt: skip
SPEC_ALPHABET = "ab/.\"'\\\t é(){}*"


def _ident(rnd: random.Random) -> str:
    """A canonical name: an unquoted one (lower case, maybe a keyword) or a quoted one."""
    if rnd.random() < 0.75:
        return _name(rnd)
    return "".join(rnd.choice(QUOTED) for _ in range(rnd.randint(1, 5)))


def _stream(rnd: random.Random) -> str:
    if rnd.random() < 0.2:
        return f"{_name(rnd)}.{_name(rnd)}"  # dotted, as perf.alerts
    return _ident(rnd)


def _expr(rnd: random.Random, depth: int = 4) -> Node:
    """A random expression; some columns qualified, no call named by a statement keyword."""

    def fix(node: Node) -> Node:
        changes: dict[str, Any] = {}
        for field in dataclasses.fields(node):
            value = getattr(node, field.name)
            if isinstance(value, Node):
                changes[field.name] = fix(value)
            elif isinstance(value, tuple) and value and isinstance(value[0], Node):
                changes[field.name] = tuple(fix(v) for v in value)
        if isinstance(node, Call) and node.name.upper() in RESERVED:
            changes["name"] = node.name + "_f"
        if isinstance(node, Column) and rnd.random() < 0.3:
            changes["qualifier"] = _ident(rnd)
        return dataclasses.replace(node, **changes) if changes else node

    return fix(_tree(rnd, rnd.randint(0, depth)))


def _interval(rnd: random.Random) -> ast.Interval:
    return ast.Interval(amount=rnd.choice([0, 1, 5, 60, 10**6]), unit=rnd.choice(list(ast.UNIT_MS)))


def _range(rnd: random.Random) -> ast.Range:
    following = _interval(rnd) if rnd.random() < 0.4 else None
    return ast.Range(preceding=_interval(rnd), following=following)


def _window(rnd: random.Random) -> ast.Window:
    return _range(rnd) if rnd.random() < 0.7 else ast.WindowName(name=_ident(rnd))


def _source(rnd: random.Random, depth: int) -> ast.Source:
    if depth > 0 and rnd.random() < 0.2:
        return ast.SubSelect(select=_select(rnd, depth - 1), alias=_ident(rnd))
    return ast.StreamRef(name=_stream(rnd), alias=_ident(rnd) if rnd.random() < 0.4 else None)


def _maybe(rnd: random.Random, p: float = 0.4) -> bool:
    return rnd.random() < p


def _select(rnd: random.Random, depth: int = 2) -> ast.Select:
    items: list[ast.SelectItem | ast.AllColumns] = []
    for _ in range(rnd.randint(1, 3)):
        if _maybe(rnd, 0.2):
            items.append(ast.AllColumns())
        else:
            alias = _ident(rnd) if _maybe(rnd) else None
            items.append(ast.SelectItem(expr=_expr(rnd), alias=alias))
    joins = tuple(
        ast.Join(source=_source(rnd, depth), on=_expr(rnd, 2), over=_window(rnd))
        for _ in range(rnd.choice([0, 0, 1, 2]))
    )
    group = tuple(
        Column(name=_ident(rnd), qualifier=_ident(rnd) if _maybe(rnd, 0.3) else None)
        for _ in range(rnd.choice([0, 0, 1, 2]))
    )
    names = dict.fromkeys(_ident(rnd) for _ in range(rnd.choice([0, 0, 1, 2])))  # distinct
    windows = tuple(ast.WindowDef(name=name, range=_range(rnd)) for name in names)
    return ast.Select(
        items=tuple(items), source=_source(rnd, depth), joins=joins,
        where=_expr(rnd) if _maybe(rnd) else None, group_by=group,
        over=_window(rnd) if _maybe(rnd) else None,
        having=_expr(rnd) if _maybe(rnd, 0.3) else None, windows=windows,
    )  # fmt: skip


def _create(rnd: random.Random) -> ast.CreateStream:
    columns = tuple(
        ast.ColumnDef(name=_ident(rnd), type=parse_type(rnd.choice(TYPES)))
        for _ in range(rnd.randint(1, 4))
    )
    source = None
    if _maybe(rnd, 0.7):
        fmt = rnd.choice([None, "delimited", "regex", "json", "avro", _text(rnd, SPEC_ALPHABET, 4)])
        properties: tuple[tuple[str, str], ...] = ()
        if fmt is not None and _maybe(rnd, 0.6):
            # each key once: a key given twice is a ParseError
            keys = {_text(rnd, SPEC_ALPHABET, 5) for _ in range(rnd.randint(1, 3))}
            properties = tuple((key, _text(rnd, SPEC_ALPHABET, 5)) for key in sorted(keys))
        source = ast.SourceSpec(
            kind=rnd.choice(ast.SOURCE_KINDS), spec=_text(rnd, SPEC_ALPHABET, 12),
            local=_maybe(rnd, 0.5), event_format=fmt, properties=properties,
        )  # fmt: skip
    return ast.CreateStream(name=_stream(rnd), columns=columns, source=source)


def _statement(rnd: random.Random, explain: bool = True) -> ast.Statement:
    kind = rnd.randrange(9 if explain else 8)
    if kind in (0, 1, 2):
        return _select(rnd)
    if kind == 3:
        return _create(rnd)
    if kind == 4:
        return ast.CreateStreamAs(name=_stream(rnd), select=_select(rnd))
    if kind == 5:
        if _maybe(rnd, 0.5):
            return ast.DropStream(name=_stream(rnd))
        return ast.DropFlow(flow_id=rnd.randint(0, 10**6))
    if kind == 6:
        return ast.Show(what=rnd.choice(ast.SHOW_TARGETS))
    if kind == 7:
        return ast.Describe(name=_stream(rnd))
    return ast.Explain(statement=_statement(rnd, explain=False))


def shape(value: Any) -> Any:
    """A statement or expression as nested tuples, literals with their Python type (so that
    1, 1.0 and TRUE differ), positions left out."""
    if isinstance(value, Literal):
        return ("Literal", type(value.value).__name__, value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple(
            (f.name, shape(getattr(value, f.name)))
            for f in dataclasses.fields(value)
            if f.name not in ("line", "col") and not (f.name == "type" and isinstance(value, Node))
        )
    if isinstance(value, tuple):
        return tuple(shape(v) for v in value)
    return value


seeds = st.integers(0, 2**32 - 1)


@SETTINGS
@given(seeds)
def test_a_printed_statement_parses_back_to_itself(seed: int) -> None:
    statement = _statement(random.Random(seed))
    text = str(statement)
    assert shape(parse(text)) == shape(statement), text
    assert shape(parse(text + " ;")) == shape(statement)


def _fragments() -> list[str]:
    words = sorted(RESERVED) + ["STREAM", "FLOW", "STREAMS", "FILE", "LOCAL", "EVENT",
                                "FORMAT", "PROPERTIES", "INTERVAL", "SECONDS", "count", "x",
                                "#a"]  # fmt: skip
    return [*words, "(", ")", ",", ";", "*", ".", "=", "'s'", '"Q"', "'", '"', "1", "2.5", " "]


@SETTINGS
@given(st.lists(st.sampled_from(_fragments()), max_size=30), st.randoms(use_true_random=False))
def test_junk_is_only_ever_a_parse_error(fragments: list[str], rnd: random.Random) -> None:
    text = "".join(f + rnd.choice([" ", "", "\n"]) for f in fragments)
    _parse_or_parse_error(text)


@SETTINGS
@given(seeds, st.text(max_size=3))
def test_damaged_statements_are_only_ever_parse_errors(seed: int, noise: str) -> None:
    rnd = random.Random(seed)
    text = str(_statement(rnd))
    for _ in range(rnd.randint(1, 3)):
        at = rnd.randrange(len(text) + 1)
        action = rnd.randrange(3)
        if action == 0:
            text = text[:at] + text[at + 1 :]
        elif action == 1:
            text = text[:at] + noise + text[at:]
        else:
            other = rnd.randrange(len(text) + 1)
            text = text[:at] + text[other:] + text[at:other]
    _parse_or_parse_error(text)


def _parse_or_parse_error(text: str) -> None:
    try:
        parse(text)
    except ParseError as error:
        assert error.line is not None and error.col is not None
        lines = text.split("\n")
        assert 1 <= error.line <= len(lines), (text, error)
        assert 1 <= error.col <= len(lines[error.line - 1]) + 1, (text, error)
        assert error.expected, (text, error)
