"""Typed expression tree -> a function over Arrow record batches (whole-array kernels).

``compile`` walks the tree once; the closure it returns runs pyarrow.compute calls per batch
and never touches a record in Python.  Division or remainder by zero gives NULL, so an
expression a monitor evaluates never fails ingestion.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rillet.errors import InputError
from rillet.expressions import functions
from rillet.expressions.nodes import (
    Attribute,
    Binary,
    Call,
    Cast,
    Column,
    IsNull,
    Literal,
    Node,
    Unary,
)

Value = Any  # pa.Array | pa.Scalar
Kernel = Callable[["Context"], Value]
US_TZ = pa.timestamp("us", tz="UTC")


@dataclass(slots=True)
class Context:
    """What a kernel may read: the batch, its event-time column, and one instant for now()."""

    batch: pa.RecordBatch
    time_column: str
    now_us: int = field(default_factory=lambda: time.time_ns() // 1000)

    @property
    def length(self) -> int:
        return int(self.batch.num_rows)

    @property
    def now(self) -> pa.Scalar:
        return pa.scalar(self.now_us, pa.int64()).cast(US_TZ)

    @property
    def event_time(self) -> pa.Array:
        return self.batch.column(self.time_column)


def literal_scalar(node: Literal) -> pa.Scalar:
    assert node.type is not None
    arrow = node.type.arrow
    if node.type.name == "TIMESTAMP" and isinstance(node.value, int):
        return pa.scalar(node.value // 1000, pa.int64()).cast(arrow)
    return pa.scalar(node.value, arrow)


def _divide(left: Value, right: Value) -> Value:
    if pa.types.is_integer(left.type):
        zero = pc.equal(right, 0)
        safe = pc.if_else(zero, pa.scalar(1, right.type), right)
        return pc.if_else(zero, pa.scalar(None, left.type), pc.divide(left, safe))
    return pc.divide(left, right)


def _remainder(left: Value, right: Value) -> Value:
    if pa.types.is_integer(left.type):
        zero = pc.equal(right, 0)
        safe = pc.if_else(zero, pa.scalar(1, right.type), right)
        return pc.if_else(zero, pa.scalar(None, left.type), pc.remainder(left, safe))
    # C's fmod, as DuckDB's %: the sign follows the dividend
    return pc.subtract(left, pc.multiply(pc.trunc(pc.divide(left, right)), right))


def _add(left: Value, right: Value) -> Value:
    if pa.types.is_string(left.type):
        return pc.binary_join_element_wise(left, right, "")
    if pa.types.is_timestamp(left.type) or pa.types.is_duration(left.type):
        return pc.add(left, right)
    return pc.add_checked(left, right)


def _subtract(left: Value, right: Value) -> Value:
    if pa.types.is_timestamp(left.type) or pa.types.is_duration(left.type):
        return pc.subtract(left, right)
    return pc.subtract_checked(left, right)


BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "AND": pc.and_kleene,
    "OR": pc.or_kleene,
    "=": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    ">": pc.greater,
    "<=": pc.less_equal,
    ">=": pc.greater_equal,
    "+": _add,
    "-": _subtract,
    "*": pc.multiply_checked,
    "/": _divide,
    "%": _remainder,
}


def compile(node: Node) -> Kernel:
    """A function computing the (checked) expression over a batch."""
    assert node.type is not None, "compile a checked tree"
    target = node.type.arrow
    if isinstance(node, Literal):
        scalar = literal_scalar(node)
        return lambda ctx: scalar
    if isinstance(node, Column):
        name = node.name
        return lambda ctx: ctx.batch.column(name)
    if isinstance(node, Attribute):
        empty = pa.scalar(None, pa.binary())
        return lambda ctx: empty  # rillet records carry no Flume attributes
    if isinstance(node, Cast):
        inner = compile(node.operand)
        return lambda ctx: pc.cast(inner(ctx), target)
    if isinstance(node, IsNull):
        inner = compile(node.operand)
        test = pc.is_valid if node.negated else pc.is_null
        return lambda ctx: test(inner(ctx))
    if isinstance(node, Unary):
        inner = compile(node.operand)
        if node.op == "NOT":
            return lambda ctx: pc.invert(inner(ctx))
        if node.op == "-":
            return lambda ctx: pc.negate_checked(inner(ctx))
        return inner
    if isinstance(node, Binary):
        left, right = compile(node.left), compile(node.right)
        if node.op == "LIKE":
            assert isinstance(node.right, Literal)
            pattern = str(node.right.value)
            return lambda ctx: pc.match_like(left(ctx), pattern)
        op = BINARY[node.op]

        def binary(ctx: Context) -> Value:
            result = op(left(ctx), right(ctx))
            return result if result.type == target else pc.cast(result, target, safe=False)

        return binary
    if isinstance(node, Call):
        if node.aggregate:
            raise InputError(f"aggregate {node.name} at {node.where} is evaluated by a monitor")
        kernel = functions.SCALARS[node.name].kernel
        args = [compile(a) for a in node.args]
        return lambda ctx: kernel([a(ctx) for a in args], node, ctx)
    raise TypeError(f"cannot compile {type(node).__name__}")


def evaluate(kernel: Kernel, ctx: Context) -> pa.Array:
    """The kernel's result over the whole batch, as an array (constants broadcast)."""
    return functions.as_array(kernel(ctx), ctx.length)
