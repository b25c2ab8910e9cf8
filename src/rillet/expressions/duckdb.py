"""Typed expression tree -> DuckDB SQL, for pushing a predicate or projection down."""

from __future__ import annotations

from rillet.datatypes import DataType
from rillet.expressions import functions
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
from rillet.time import us_to_datetime

_TYPES = {
    "BOOLEAN": "BOOLEAN", "INT": "INTEGER", "BIGINT": "BIGINT", "FLOAT": "FLOAT",
    "DOUBLE": "DOUBLE", "STRING": "VARCHAR", "BINARY": "BLOB", "TIMESTAMP": "TIMESTAMPTZ",
    "INTERVAL": "INTERVAL", "NULL": "INTEGER",
}  # fmt: skip
# rillet aggregate name -> DuckDB's
AGGREGATES = {"stddev": "stddev_samp", "variance": "var_samp", "approx_quantile": "quantile_cont"}


def sql_type(dtype: DataType) -> str:
    if dtype.name == "PRECISE":
        return f"DECIMAL(38, {dtype.scale})"
    if dtype.name == "LIST":
        assert dtype.item is not None
        return f"{sql_type(dtype.item)}[]"
    return _TYPES[dtype.name]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render(node: Node, time_column: str) -> str:
    """DuckDB SQL computing the same value as the Arrow kernel of ``node``."""
    assert node.type is not None
    return RENDER(node, node.type, time_column)


RENDER: Dispatch[[DataType, str], str] = Dispatch("render")
"""The printer's handlers: (node, its checked type, the event-time column) -> SQL."""


@RENDER.register(Literal)
def _literal(node: Literal, dtype: DataType, time_column: str) -> str:
    kind = dtype.name
    value = node.value
    if value is None:
        return f"CAST(NULL AS {sql_type(dtype)})" if kind != "NULL" else "NULL"
    if kind == "BOOLEAN":
        return "TRUE" if value else "FALSE"
    if kind == "TIMESTAMP":
        return f"TIMESTAMPTZ '{us_to_datetime(int(value) // 1000).isoformat()}'"
    if kind == "INTERVAL":
        return f"to_microseconds({int(value)})"
    if kind == "STRING":
        return _string(str(value))
    if isinstance(value, float):  # as text, so -0.0, inf and nan survive
        return f"CAST('{value!r}' AS {sql_type(dtype)})"
    return f"CAST({value!r} AS {sql_type(dtype)})"


@RENDER.register(Column)
def _column(node: Column, dtype: DataType, time_column: str) -> str:
    return quote(node.name)


@RENDER.register(Attribute)
def _attribute(node: Attribute, dtype: DataType, time_column: str) -> str:
    return "CAST(NULL AS BLOB)"


@RENDER.register(Cast)
def _cast(node: Cast, dtype: DataType, time_column: str) -> str:
    return f"CAST({render(node.operand, time_column)} AS {sql_type(dtype)})"


@RENDER.register(IsNull)
def _is_null(node: IsNull, dtype: DataType, time_column: str) -> str:
    return f"({render(node.operand, time_column)} IS {'NOT ' if node.negated else ''}NULL)"


@RENDER.register(Unary)
def _unary(node: Unary, dtype: DataType, time_column: str) -> str:
    op = "NOT " if node.op == "NOT" else node.op
    return f"({op}{render(node.operand, time_column)})"


@RENDER.register(Binary)
def _binary(node: Binary, dtype: DataType, time_column: str) -> str:
    left, right = render(node.left, time_column), render(node.right, time_column)
    operand = node.left.type.name if node.left.type is not None else "NULL"
    if node.op == "+" and dtype.name == "STRING":
        return f"({left} || {right})"
    if node.op == "LIKE":  # Arrow's LIKE takes backslash as its escape
        return f"({left} LIKE {right} ESCAPE '\\')"
    if node.op in ("/", "%") and operand in ("INT", "BIGINT"):
        return f"({left} {'//' if node.op == '/' else '%'} NULLIF({right}, 0))"
    if node.op in ("/", "%") and operand == "PRECISE":  # by zero is NULL here too
        return f"({left} {node.op} NULLIF({right}, 0))"
    op = {"!=": "<>"}.get(node.op, node.op)
    return f"({left} {op} {right})"


@RENDER.register(Call)
def _call(node: Call, dtype: DataType, time_column: str) -> str:
    if node.name == "event_timestamp":
        return quote(time_column)
    args = [render(a, time_column) for a in node.args]
    if node.aggregate:
        if node.star:
            return "count(*)"
        return f"{AGGREGATES.get(node.name, node.name)}({', '.join(args)})"
    return functions.SCALARS[node.name].sql(args, node)
