"""rtsql text from statements and expressions: what ``str(statement)`` gives.

The text parses back to an equal statement (expressions are fully parenthesized, names
quoted where they would not survive unquoted), which the property tests check.
"""

from __future__ import annotations

import math
import re

from rillet.expressions.nodes import (
    Attribute,
    Binary,
    Call,
    Cast,
    Column,
    Dispatch,
    IsNull,
    Literal,
    Node,
    Unary,
)
from rillet.expressions.parser import Interval as IntervalValue
from rillet.rtsql import ast
from rillet.rtsql.lexer import escape

_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")
_CALL_WORDS = {"CURRENT_TIMESTAMP", "NOW"}  # parse as calls even without parentheses


def name(value: str) -> str:
    """An identifier as rtsql text: bare when it reads back the same, else double-quoted."""
    from rillet.rtsql.parser import NOT_RTSQL, RESERVED

    upper = value.upper()
    plain = upper not in RESERVED and upper not in _CALL_WORDS and upper not in NOT_RTSQL
    if plain and _PLAIN.fullmatch(value):
        return value
    return '"' + value.replace('"', '""') + '"'


def stream_name(value: str) -> str:
    """A stream name: dotted parts (``perf.alerts``) stay unquoted when each part may."""
    parts = value.split(".")
    if len(parts) > 1 and all(name(p) == p for p in parts):
        return value
    return name(value)


EXPRESSION: Dispatch[[], str] = Dispatch("rtsql text")


def expression(node: Node) -> str:
    """An expression as rtsql text (every operation in parentheses)."""
    return EXPRESSION(node)


@EXPRESSION.register(Literal)
def _literal(node: Literal) -> str:
    value = node.value
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, IntervalValue):
        return f"INTERVAL '{int(value)}us'"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value} has no rtsql literal")
        # a sign binds looser than IS NULL: -1 IS NULL is -(1 IS NULL)
        return f"({value!r})" if math.copysign(1, value) < 0 else repr(value)
    if isinstance(value, str):
        return escape(value)
    raise ValueError(f"{value!r} has no rtsql literal")


@EXPRESSION.register(Column)
def _column(node: Column) -> str:
    return (name(node.qualifier) + "." if node.qualifier is not None else "") + name(node.name)


@EXPRESSION.register(Attribute)
def _attribute(node: Attribute) -> str:
    return "#" + node.name


@EXPRESSION.register(Unary)
def _unary(node: Unary) -> str:
    return f"({node.op} {expression(node.operand)})"


@EXPRESSION.register(Binary)
def _binary(node: Binary) -> str:
    return f"({expression(node.left)} {node.op} {expression(node.right)})"


@EXPRESSION.register(IsNull)
def _is_null(node: IsNull) -> str:
    return f"({expression(node.operand)} IS {'NOT ' if node.negated else ''}NULL)"


@EXPRESSION.register(Call)
def _call(node: Call) -> str:
    args = "*" if node.star else ", ".join(expression(a) for a in node.args)
    return f"{node.name}({args})"


@EXPRESSION.register(Cast)
def _cast(node: Cast) -> str:
    return expression(node.operand)  # a promotion the checker inserted; the text has none


# -- statements ------------------------------------------------------------------------------


def interval(value: ast.Interval) -> str:
    return f"INTERVAL {value.amount} {value.unit}"


def window(value: ast.Window) -> str:
    if isinstance(value, ast.WindowName):
        return name(value.name)
    if value.following is None:
        return f"RANGE {interval(value.preceding)} PRECEDING"
    return (
        f"RANGE BETWEEN {interval(value.preceding)} PRECEDING "
        f"AND {interval(value.following)} FOLLOWING"
    )


def source(value: ast.Source) -> str:
    if isinstance(value, ast.SubSelect):
        return f"({select(value.select)}) AS {name(value.alias)}"
    alias = f" AS {name(value.alias)}" if value.alias is not None else ""
    return stream_name(value.name) + alias


def select(value: ast.Select) -> str:
    parts = ["SELECT " + ", ".join(text(i) for i in value.items), "FROM " + source(value.source)]
    parts.extend(text(join) for join in value.joins)
    if value.where is not None:
        parts.append("WHERE " + expression(value.where))
    if value.group_by:
        parts.append("GROUP BY " + ", ".join(expression(c) for c in value.group_by))
    if value.over is not None:
        parts.append("OVER " + window(value.over))
    if value.having is not None:
        parts.append("HAVING " + expression(value.having))
    if value.windows:
        parts.append(", ".join(text(w) for w in value.windows))
    return " ".join(parts)


def statement(value: ast.Statement) -> str:
    """A statement as rtsql text (without a trailing ``;``).

    Examples:
        >>> from rillet.rtsql.parser import parse
        >>> text = "select a+1 x from S where #k is null over range interval 1 hour preceding"
        >>> statement(parse(text))
        'SELECT (a + 1) AS x FROM s WHERE (#k IS NULL) OVER RANGE INTERVAL 1 HOURS PRECEDING'
    """
    if isinstance(value, ast.Select):
        return select(value)
    if isinstance(value, ast.CreateStream):
        columns = ", ".join(text(c) for c in value.columns)
        out = f"CREATE STREAM {stream_name(value.name)} ({columns})"
        spec = value.source
        if spec is not None:
            out += f" FROM {'LOCAL ' if spec.local else ''}{spec.kind} {escape(spec.spec)}"
            if spec.event_format is not None:
                out += f" EVENT FORMAT {escape(spec.event_format)}"
                if spec.properties:
                    pairs = ", ".join(f"{escape(k)} = {escape(v)}" for k, v in spec.properties)
                    out += f" PROPERTIES ({pairs})"
        return out
    if isinstance(value, ast.CreateStreamAs):
        options = ""
        if value.options:
            pairs = ", ".join(
                f"{name(k)} = {escape(v) if isinstance(v, str) else v}" for k, v in value.options
            )
            options = f" WITH ({pairs})"
        return f"CREATE STREAM {stream_name(value.name)}{options} AS {select(value.select)}"
    if isinstance(value, ast.RefreshStream):
        since = f" SINCE {escape(value.since)}" if value.since is not None else ""
        return f"REFRESH STREAM {stream_name(value.name)}{since}"
    if isinstance(value, ast.DropStream):
        return f"DROP STREAM {stream_name(value.name)}"
    if isinstance(value, ast.DropFlow):
        return f"DROP FLOW {value.flow_id}"
    if isinstance(value, ast.Show):
        return f"SHOW {value.what}"
    if isinstance(value, ast.Describe):
        return f"DESCRIBE {stream_name(value.name)}"
    return f"EXPLAIN {statement(value.statement)}"


def text(value: ast.Located) -> str:
    """Any part of a statement as rtsql text (``str()`` of every AST class)."""
    if isinstance(value, ast.Interval):
        return interval(value)
    if isinstance(value, ast.Range | ast.WindowName):
        return window(value)
    if isinstance(value, ast.WindowDef):
        return f"WINDOW {name(value.name)} AS ({window(value.range)})"
    if isinstance(value, ast.StreamRef | ast.SubSelect):
        return source(value)
    if isinstance(value, ast.Join):
        return f"JOIN {source(value.source)} ON {expression(value.on)} OVER {window(value.over)}"
    if isinstance(value, ast.AllColumns):
        return "*" if value.qualifier is None else f"{name(value.qualifier)}.*"
    if isinstance(value, ast.SelectItem):
        return expression(value.expr) + (f" AS {name(value.alias)}" if value.alias else "")
    if isinstance(value, ast.ColumnDef):
        return f"{name(value.name)} {value.type}"
    if isinstance(value, ast.SourceSpec):
        return statement(ast.CreateStream(name="s", columns=(), source=value)).split(") ", 1)[1]
    return statement(value)  # type: ignore[arg-type]
