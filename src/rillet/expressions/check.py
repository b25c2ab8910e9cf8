"""The checker: resolves names, infers types along rtsql's promotions, inserts casts.

Everything wrong with an expression is found here, before any data is touched, and reported
with its line and column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from rillet.datatypes import DataType
from rillet.errors import TypeCheckError, suggest
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
from rillet.expressions.parser import Interval, parse
from rillet.expressions.signatures import NUMERIC_ORDER, ListOf, TypeVar, bind, common_type
from rillet.time import to_ns

BOOLEAN = DataType("BOOLEAN")
STRING = DataType("STRING")
TIMESTAMP = DataType("TIMESTAMP")
INTERVAL = DataType("INTERVAL")
NULL = DataType("NULL")
COMPARISONS = ("=", "!=", "<", ">", "<=", ">=")
NUMERIC = (*NUMERIC_ORDER, "PRECISE")


def _error(node: Node, message: str, hint: str | None = None, **detail: object) -> TypeCheckError:
    """An error at ``node``: ``<message> at <line>:<col>[; did you mean <hint>?]``."""
    text = f"{message} at {node.where}" + (f"; did you mean {hint!r}?" if hint else "")
    return TypeCheckError(text, line=node.line, col=node.col, **detail)


class Checker:
    """Types an expression against a stream's columns (name -> type)."""

    def __init__(self, columns: Mapping[str, DataType], allow_aggregates: bool = False) -> None:
        self.columns = columns
        self.allow_aggregates = allow_aggregates

    def check(self, node: Node, inside_aggregate: bool = False) -> Node:
        return CHECK(node, self, inside_aggregate)


CHECK: Dispatch[[Checker, bool], Node] = Dispatch("check")
"""The checker's handlers: (node, checker, inside an aggregate's arguments) -> typed node."""


@CHECK.register(Literal)
def _literal(node: Literal, checker: Checker, inside: bool) -> Node:
    if isinstance(node.value, int) and not -(2**63) <= node.value < 2**63:
        raise _error(node, f"integer literal {node.value} is out of range for BIGINT")
    return dataclasses.replace(node, type=literal_type(node.value))


@CHECK.register(Column)
def _column(node: Column, checker: Checker, inside: bool) -> Node:
    dtype = checker.columns.get(node.name)
    if dtype is None:
        hint = suggest(node.name, checker.columns)
        raise _error(node, f"unknown column {node.name!r}", hint, name=node.name, suggestion=hint)
    return dataclasses.replace(node, type=dtype)


@CHECK.register(Attribute)
def _attribute(node: Attribute, checker: Checker, inside: bool) -> Node:
    return dataclasses.replace(node, type=DataType("BINARY"))


@CHECK.register(IsNull)
def _is_null(node: IsNull, checker: Checker, inside: bool) -> Node:
    operand = checker.check(node.operand, inside)
    return dataclasses.replace(node, operand=operand, type=DataType("BOOLEAN", False))


@CHECK.register(Cast)
def _cast_node(node: Cast, checker: Checker, inside: bool) -> Node:
    # the parser never makes a Cast (the checker inserts them), so a tree holding one was
    # checked already, and the checker takes only parsed trees
    raise _error(node, "cannot check Cast")


@CHECK.register(Unary)
def _unary(node: Unary, checker: Checker, inside: bool) -> Node:
    operand = checker.check(node.operand, inside)
    kind = _kind(operand)
    if node.op == "NOT":
        if kind not in ("BOOLEAN", "NULL"):
            raise _error(node, f"NOT needs a BOOLEAN operand, got {operand.type}")
        operand = _cast(operand, BOOLEAN)
        return dataclasses.replace(node, operand=operand, type=_nullable(BOOLEAN, operand))
    if kind not in (*NUMERIC, "INTERVAL", "NULL"):
        raise _error(node, f"unary {node.op} needs a number, got {operand.type}")
    return dataclasses.replace(node, operand=operand, type=operand.type)


@CHECK.register(Binary)
def _binary(node: Binary, checker: Checker, inside: bool) -> Node:
    left = checker.check(node.left, inside)
    right = checker.check(node.right, inside)
    if node.op in COMPARISONS or node.op == "-":  # not in + (concatenation) or LIKE
        left, right = _timestamp_literals(left, right)
    lk, rk = _kind(left), _kind(right)
    nullable = _any_nullable(left, right)
    op = node.op
    if op in ("AND", "OR"):
        for side in (left, right):
            if _kind(side) not in ("BOOLEAN", "NULL"):
                raise _error(node, f"{op} needs BOOLEAN operands, got {side.type}")
        left, right = _cast(left, BOOLEAN), _cast(right, BOOLEAN)
        return dataclasses.replace(node, left=left, right=right, type=_n(BOOLEAN, nullable))
    if op == "LIKE":
        if not isinstance(right, Literal) or not isinstance(right.value, str):
            raise _error(right, "LIKE needs a constant string pattern")
        left = _promote(left, STRING, node, "LIKE")
        return dataclasses.replace(node, left=left, right=right, type=_n(BOOLEAN, nullable))
    if op in COMPARISONS:
        common = _common(left, right)
        if common is None:
            raise _error(node, f"cannot compare {left.type} with {right.type}")
        if common.name == "LIST":
            raise _error(node, f"LIST values cannot be compared with {op}")
        if common.name == "NULL":
            common = BOOLEAN.with_nullable(True)
        left, right = _cast(left, common), _cast(right, common)
        return dataclasses.replace(node, left=left, right=right, type=_n(BOOLEAN, nullable))
    # arithmetic
    if {lk, rk} <= {"TIMESTAMP", "INTERVAL", "NULL"} and "NULL" not in (lk, rk):
        result = {
            ("TIMESTAMP", "+", "INTERVAL"): TIMESTAMP,
            ("INTERVAL", "+", "TIMESTAMP"): TIMESTAMP,
            ("TIMESTAMP", "-", "INTERVAL"): TIMESTAMP,
            ("TIMESTAMP", "-", "TIMESTAMP"): INTERVAL,
            ("INTERVAL", "+", "INTERVAL"): INTERVAL,
            ("INTERVAL", "-", "INTERVAL"): INTERVAL,
        }.get((lk, op, rk))
        if result is None:
            raise _error(node, f"cannot apply {op} to {left.type} and {right.type}")
        return dataclasses.replace(node, left=left, right=right, type=_n(result, nullable))
    if op == "+" and "STRING" in (lk, rk):
        left, right = (
            _promote(left, STRING, node, "+"),
            _promote(right, STRING, node, "+"),
        )
        return dataclasses.replace(node, left=left, right=right, type=_n(STRING, nullable))
    common = _common(left, right)
    if common is None or common.name not in (*NUMERIC, "NULL"):
        raise _error(node, f"{op} needs numbers, got {left.type} and {right.type}")
    left, right = _cast(left, common), _cast(right, common)
    if op in ("/", "%") and common.name in ("INT", "BIGINT"):
        common = common.with_nullable(True)  # division by zero is NULL
    return dataclasses.replace(node, left=left, right=right, type=common)


def _promote(node: Node, target: DataType, at: Node, what: str) -> Node:
    if _kind(node) in ("LIST", "BINARY"):
        raise _error(at, f"{what} needs {target.name} operands, got {node.type}")
    common = _common(node, Literal(value="", type=target))
    if common is None or common.name != target.name:
        raise _error(at, f"{what} needs {target.name} operands, got {node.type}")
    return _cast(node, target.with_nullable(True))


@CHECK.register(Call)
def _call(node: Call, checker: Checker, inside: bool) -> Node:
    name = functions.canonical(node.name)
    function = functions.SCALARS.get(name)
    aggregate = functions.aggregate_function(name) if function is None else None
    if function is None and aggregate is None:
        names = [*functions.SCALARS, *functions.aggregate_names()]
        hint = suggest(node.name, names)
        raise _error(node, f"unknown function {node.name!r}", hint, name=node.name, suggestion=hint)
    if aggregate is not None:
        if not checker.allow_aggregates:
            raise _error(node, f"aggregate function {name} is not allowed here")
        if inside:
            raise _error(node, f"aggregate function {name} cannot be nested in an aggregate")
    elif node.star:
        raise _error(node, f"{name}(*) is only for COUNT")
    args = [checker.check(arg, inside or aggregate is not None) for arg in node.args]
    if aggregate is not None:
        return functions.check_aggregate(node, name, aggregate, args, _error)
    assert function is not None
    reasons = []
    for signature in function.signatures:
        result, promoted = bind(signature, [a.type or NULL for a in args])
        if result is not None:
            assert isinstance(promoted, list)
            cast_args = tuple(_cast(a, p) for a, p in zip(args, promoted, strict=True))
            function.validate(node, cast_args, _error)
            if function.may_be_null and not _declared_not_null(signature.result):
                result = result.with_nullable(True)  # index() past the end is NULL
            return dataclasses.replace(node, name=name, args=cast_args, type=result)
        reasons.append(str(promoted))
    raise _error(node, f"{name} {reasons[0]}; {name} is {function.describe()}")


def _declared_not_null(sig: object) -> bool:
    if isinstance(sig, DataType):
        return not sig.nullable
    if isinstance(sig, ListOf):
        return not sig.nullable
    return isinstance(sig, TypeVar) and sig.not_null


def literal_type(value: object) -> DataType:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return DataType("BOOLEAN", False)
    if isinstance(value, Interval):
        return DataType("INTERVAL", False)
    if isinstance(value, int):
        return DataType("INT" if -(2**31) <= value < 2**31 else "BIGINT", False)
    if isinstance(value, float):
        return DataType("DOUBLE", False)
    return DataType("STRING", False)


def _kind(node: Node) -> str:
    return node.type.name if node.type is not None else "NULL"


def _any_nullable(*nodes: Node) -> bool:
    return any(n.type is None or n.type.nullable for n in nodes)


def _n(dtype: DataType, nullable: bool) -> DataType:
    return dtype.with_nullable(nullable)


def _nullable(dtype: DataType, node: Node) -> DataType:
    return dtype.with_nullable(_any_nullable(node))


def _common(left: Node, right: Node) -> DataType | None:
    assert left.type is not None and right.type is not None
    if {left.type.name, right.type.name} == {"INTERVAL"}:
        return INTERVAL
    if "INTERVAL" in (left.type.name, right.type.name) and "NULL" not in (
        left.type.name,
        right.type.name,
    ):
        return None
    return common_type(left.type, right.type)


def _cast(node: Node, target: DataType) -> Node:
    """``node`` promoted to ``target`` (a Cast node only where the Arrow type changes)."""
    assert node.type is not None
    if node.type.name == "NULL" and isinstance(node, Literal):
        return dataclasses.replace(node, type=target.with_nullable(True))
    if node.type.with_nullable(True) == target.with_nullable(True):
        return node
    return Cast(
        operand=node, type=target.with_nullable(node.type.nullable), line=node.line, col=node.col
    )


def _timestamp_literals(left: Node, right: Node) -> tuple[Node, Node]:
    """A string literal compared with a TIMESTAMP is read as a time, as SQL does."""

    def as_time(node: Node) -> Node:
        if isinstance(node, Literal) and isinstance(node.value, str):
            try:
                ns = to_ns(node.value)
            except (TypeError, ValueError):
                raise _error(node, f"{node.value!r} is not a time (ISO-8601 expected)") from None
            return dataclasses.replace(node, value=ns, type=DataType("TIMESTAMP", False))
        return node

    if _kind(left) == "TIMESTAMP":
        right = as_time(right)
    if _kind(right) == "TIMESTAMP":
        left = as_time(left)
    return left, right


def check(
    text: str | Node, columns: Mapping[str, DataType], allow_aggregates: bool = False
) -> Node:
    """Parse (if text) and type-check an expression against ``columns``."""
    node = parse(text) if isinstance(text, str) else text
    return Checker(columns, allow_aggregates).check(node)
