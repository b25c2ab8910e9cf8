"""The scalar function library: each function's signatures, Arrow kernel and DuckDB rendering.

The reference's built-ins (length, square, bin2str, str2bin, to_list, concat, contains, index,
size, current_timestamp, event_timestamp) plus abs, round, floor, ceil, lower, upper, substr,
trim, like, regexp_match, coalesce, date_trunc and time_bucket.  Kernels are whole-array
pyarrow/numpy calls; none loops over records.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.datatypes import DataType
from rillet.errors import TypeCheckError
from rillet.expressions.nodes import Call, Literal, Node
from rillet.expressions.signatures import ListOf, Signature, SigType, TypeVar, promotes, t

if TYPE_CHECKING:
    from rillet.aggregates import AggregateFunction
    from rillet.expressions.kernels import Context

Value = Any  # a pyarrow Array or Scalar
Kernel = Callable[[list[Value], Call, "Context"], Value]
Render = Callable[[list[str], Call], str]
ErrorMaker = Callable[..., TypeCheckError]
ALIASES = {"now": "current_timestamp", "substring": "substr", "ceiling": "ceil"}
DATE_UNITS = ("microsecond", "millisecond", "second", "minute", "hour", "day", "week", "month",
              "quarter", "year")  # fmt: skip
BUCKET_ORIGIN_US = 946_857_600_000_000  # 2000-01-03T00:00:00Z, DuckDB's time_bucket origin


@dataclass(frozen=True, slots=True)
class Function:
    """A scalar function: signatures (overloads), kernel, DuckDB SQL and constant arguments."""

    name: str
    signatures: tuple[Signature, ...]
    kernel: Kernel
    sql: Render
    description: str
    constant: tuple[int, ...] = ()  # argument positions that must be literals
    may_be_null: bool = False  # NULL even when no argument is (index past the end)

    def describe(self) -> str:
        return " or ".join(str(s) for s in self.signatures)

    def validate(self, node: Call, args: Sequence[Node], error: ErrorMaker) -> None:
        if self.name in ("concat", "coalesce") and not args:
            raise error(node, f"{self.name} needs at least one argument")
        for i in self.constant:
            if i < len(args) and not _is_literal(args[i]):
                raise error(args[i], f"argument {i + 1} of {self.name} must be a constant")
        if self.name == "regexp_match" and len(args) > 1:
            pattern = _literal(args[1])
            if isinstance(pattern, str):  # RE2's own reading: a bad one fails at submission
                try:
                    pc.match_substring_regex(pa.array([""], pa.string()), pattern)
                except pa.ArrowInvalid as exc:
                    raise error(
                        args[1], f"regexp_match pattern {pattern!r} is not valid: {exc}"
                    ) from None
        if self.name == "date_trunc":
            unit = _literal(args[0])
            if not isinstance(unit, str) or unit.lower() not in DATE_UNITS:
                raise error(args[0], f"date_trunc unit must be one of {', '.join(DATE_UNITS)}")


def _is_literal(node: Node) -> bool:
    from rillet.expressions.nodes import Cast

    return isinstance(node, Literal) or (isinstance(node, Cast) and _is_literal(node.operand))


def _literal(node: Node) -> Any:

    return node.value if isinstance(node, Literal) else _literal(node.operand)  # type: ignore[attr-defined]


A = TypeVar("a", "ANY")
NUM = TypeVar("a", "NUMERIC")
SCALARS: dict[str, Function] = {}


def register(function: Function) -> Function:
    """Add a scalar function to the library (built-ins register like plug-ins)."""
    SCALARS[function.name] = function
    return function


def _fn(
    name: str,
    sigs: Sequence[tuple[Sequence[SigType], SigType] | Signature],
    kernel: Kernel,
    sql: Render,
    description: str,
    constant: tuple[int, ...] = (),
    may_be_null: bool = False,
) -> None:
    signatures = tuple(
        s if isinstance(s, Signature) else Signature(tuple(s[0]), s[1]) for s in sigs
    )
    register(Function(name, signatures, kernel, sql, description, constant, may_be_null))


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


# -- helpers over Arrow values ---------------------------------------------------------------


def decimal_op(op: Callable[[Value, Value], Value], left: Value, right: Value) -> Value:
    """PRECISE arithmetic: decimal128(38, s) results may need more digits than 38 while being
    computed, so it runs in decimal256 and the caller casts back to the column's scale."""
    if pa.types.is_decimal128(left.type):
        # p1 + p2 + 1 digits for a product must fit decimal256's 76
        wide = pa.decimal256(37, left.type.scale)
        return op(pc.cast(left, wide), pc.cast(right, wide))
    return op(left, right)


def _rescale(value: Value, node: Call) -> Value:
    """A PRECISE result back at the scale of its type, rounded half up."""
    target = _arrow_type(node)
    if pa.types.is_decimal(target) and value.type != target:
        value = pc.round(value, target.scale, round_mode="half_towards_infinity")
        return pc.cast(value, target, safe=False)
    return value


def as_array(value: Value, length: int) -> pa.Array:
    """A scalar broadcast to ``length`` rows, or the array itself."""
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    if isinstance(value, pa.Scalar):
        return pa.repeat(value, length) if value.is_valid else pa.nulls(length, type=value.type)
    return value


def _arrow_type(node: Node) -> pa.DataType:
    assert node.type is not None
    return node.type.arrow


def _to_list(args: list[Value], node: Call, ctx: Context) -> Value:
    n, length = len(args), ctx.length
    item = _arrow_type(node).value_type
    offsets = pa.array(
        np.arange(0, n * length + 1, max(n, 1) if n else 1, dtype=np.int32)[: length + 1]
    )
    if n == 0:
        return pa.ListArray.from_arrays(
            pa.array(np.zeros(length + 1, np.int32)), pa.array([], item)
        )
    columns = pa.concat_arrays([as_array(a, length).cast(item) for a in args])
    order = (np.arange(length)[:, None] + np.arange(n)[None, :] * length).ravel()
    return pa.ListArray.from_arrays(offsets, columns.take(pa.array(order)))


def _concat(args: list[Value], node: Call, ctx: Context) -> Value:
    length = ctx.length
    target = _arrow_type(node)
    lists = [as_array(a, length).cast(target) for a in args]
    parents, values, keys = [], [], []
    sizes = np.zeros(length, dtype=np.int64)
    for i, lst in enumerate(lists):
        parent = pc.list_parent_indices(lst).to_numpy()
        parents.append(parent)
        values.append(pc.list_flatten(lst))
        keys.append(parent * len(lists) + i)
        sizes += pc.fill_null(pc.list_value_length(lst), 0).to_numpy()
    order = np.argsort(np.concatenate(keys), kind="stable")
    flat = pa.concat_arrays(values).take(pa.array(order))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat.cast(_arrow_type(node).value_type))


def _contains(args: list[Value], node: Call, ctx: Context) -> Value:
    lst = as_array(args[0], ctx.length)
    needle = as_array(args[1], ctx.length)
    parents = pc.list_parent_indices(lst)
    values = pc.list_flatten(lst)
    wanted = needle.take(parents)
    # rtsql: contains(to_list(NULL), NULL) is true; a NULL list gives NULL
    if pa.types.is_null(values.type) or pa.types.is_null(wanted.type):
        equal = pa.array(np.zeros(len(values), dtype=bool))
    else:
        equal = pc.fill_null(pc.equal(values, wanted), False)
    both_null = pc.and_(values.is_null(), wanted.is_null())
    hit = pc.or_(equal, both_null).to_numpy(zero_copy_only=False)
    found = np.zeros(ctx.length, dtype=bool)
    np.logical_or.at(found, parents.to_numpy()[hit], True)
    return pa.array(found, mask=lst.is_null().to_numpy(zero_copy_only=False))


def _index(args: list[Value], node: Call, ctx: Context) -> Value:
    lst = as_array(args[0], ctx.length)
    idx = as_array(args[1], ctx.length).cast(pa.int64())
    lengths = pc.fill_null(pc.list_value_length(lst), 0).to_numpy().astype(np.int64)
    i = pc.fill_null(idx, -1).to_numpy()
    ok = (i >= 0) & (i < lengths) & lst.is_valid().to_numpy(zero_copy_only=False)
    starts = lst.offsets.to_numpy()[:-1].astype(np.int64)
    positions = np.where(ok, starts + i, 0)
    values = lst.values
    if len(values) == 0:
        return pa.nulls(ctx.length, type=_arrow_type(node))
    taken = values.take(pa.array(positions))
    return pc.if_else(pa.array(ok), taken, pa.nulls(ctx.length, type=taken.type))


def _time_bucket(args: list[Value], node: Call, ctx: Context) -> Value:
    width = int(_literal(node.args[0]))
    micros = as_array(args[1], ctx.length).cast(pa.int64())
    valid = micros.is_valid().to_numpy(zero_copy_only=False)
    us = pc.fill_null(micros, 0).to_numpy()
    floored = (us - BUCKET_ORIGIN_US) // width * width + BUCKET_ORIGIN_US
    return pa.array(floored, mask=~valid).cast(pa.timestamp("us", tz="UTC"))


def _round(args: list[Value], node: Call, ctx: Context) -> Value:
    digits = int(_literal(node.args[1])) if len(args) > 1 else 0
    value = args[0]
    if pa.types.is_integer(value.type) and digits >= 0:
        return value
    return pc.round(value, ndigits=digits, round_mode="half_towards_infinity")


def _substr(args: list[Value], node: Call, ctx: Context) -> Value:
    start = int(_literal(node.args[1]))
    begin = max(start - 1, 0)
    if len(args) > 2:
        stop = max(start - 1 + int(_literal(node.args[2])), 0)
        return pc.utf8_slice_codeunits(args[0], start=begin, stop=max(stop, begin))
    return pc.utf8_slice_codeunits(args[0], start=begin)


def _substr_sql(sql: list[str], node: Call) -> str:
    """DuckDB counts a start below 1 from the end; rtsql (SQL's SUBSTRING) does not."""
    start = int(_literal(node.args[1]))
    begin = max(start - 1, 0)
    if len(sql) > 2:
        stop = max(start - 1 + int(_literal(node.args[2])), begin)
        return f"substring({sql[0]}, {begin + 1}, {stop - begin})"
    return f"substring({sql[0]}, {begin + 1})"


def _int_part(fn: Callable[[Value], Value]) -> Kernel:
    def kernel(args: list[Value], node: Call, ctx: Context) -> Value:
        return args[0] if pa.types.is_integer(args[0].type) else fn(args[0])

    return kernel


STR, INT, BOOL, BIN, TS = t("STRING"), t("INT"), t("BOOLEAN"), t("BINARY"), t("TIMESTAMP")
TS_NN = t("TIMESTAMP NOT NULL")
INTERVAL = DataType("INTERVAL")

_fn(
    "length",
    [((STR,), INT)],
    lambda a, n, c: pc.utf8_length(a[0]).cast(pa.int32()),
    lambda s, n: f"CAST(length({s[0]}) AS INTEGER)",
    "the number of characters in a string",
)
_fn(
    "square",
    [((NUM,), NUM)],
    lambda a, n, c: _rescale(decimal_op(pc.multiply_checked, a[0], a[0]), n),
    lambda s, n: f"(({s[0]}) * ({s[0]}))",
    "a number times itself",
)
_fn(
    "bin2str",
    [((BIN,), STR)],
    lambda a, n, c: pc.cast(a[0], pa.string()),
    lambda s, n: f"decode({s[0]})",
    "the UTF-8 text in a BINARY value",
)
_fn(
    "str2bin",
    [((STR,), BIN)],
    lambda a, n, c: pc.cast(a[0], pa.binary()),
    lambda s, n: f"encode({s[0]})",
    "the UTF-8 bytes of a string",
)
_fn(
    "to_list",
    [Signature((A,), ListOf(A, nullable=False), varargs=True)],
    _to_list,
    lambda s, n: f"list_value({', '.join(s)})",
    "a list of the arguments",
)
_fn(
    "concat",
    [Signature((ListOf(A),), ListOf(A), varargs=True)],
    _concat,
    lambda s, n: f"flatten([coalesce(x, []) for x in [{', '.join(s)}]])",
    "the lists one after another",
)
_fn("contains", [((ListOf(A), A), BOOL)], _contains,
    lambda s, n: (f"(CASE WHEN {s[0]} IS NULL THEN NULL WHEN {s[1]} IS NULL THEN "
                  f"list_count({s[0]}) < len({s[0]}) "
                  f"ELSE coalesce(list_contains({s[0]}, {s[1]}), false) END)"),
    "whether a list holds a value")  # fmt: skip
_fn(
    "index",
    [((ListOf(A), INT), A)],
    _index,
    lambda s, n: f"(CASE WHEN {s[1]} >= 0 THEN {s[0]}[{s[1]} + 1] END)",
    "the i-th item (from 0)",
    may_be_null=True,
)
_fn(
    "size",
    [((ListOf(A),), INT)],
    lambda a, n, c: pc.list_value_length(a[0]).cast(pa.int32()),
    lambda s, n: f"CAST(len({s[0]}) AS INTEGER)",
    "the number of items in a list",
)
_fn(
    "current_timestamp",
    [((), TS_NN)],
    lambda a, n, c: c.now,
    lambda s, n: "current_timestamp",
    "the time now",
)
_fn(
    "event_timestamp",
    [((), TS_NN)],
    lambda a, n, c: c.event_time,
    lambda s, n: "__event_time__",
    "the record's event time",
)
# Flume's event properties.  A rillet record comes from this host through append or a
# source, and has no priority of its own: it reads as Flume's default, INFO (level 3 of
# FATAL 0, ERROR 1, WARN 2, INFO 3, DEBUG 4, TRACE 5).
HOST = socket.gethostname()
_fn(
    "host",
    [((), t("STRING NOT NULL"))],
    lambda a, n, c: pa.scalar(HOST, pa.string()),
    lambda s, n: "'" + HOST.replace("'", "''") + "'",
    "the host the event came from",
)
_fn(
    "priority",
    [((), t("STRING NOT NULL"))],
    lambda a, n, c: pa.scalar("INFO", pa.string()),
    lambda s, n: "'INFO'",
    "the event's priority (FATAL, ERROR, WARN, INFO, DEBUG, TRACE)",
)
_fn(
    "priority_level",
    [((), t("INT NOT NULL"))],
    lambda a, n, c: pa.scalar(3, pa.int32()),
    lambda s, n: "CAST(3 AS INTEGER)",
    "the event's priority as a number, the most urgent (FATAL) 0",
)
_fn(
    "abs",
    [((NUM,), NUM)],
    lambda a, n, c: pc.abs_checked(a[0]),
    lambda s, n: f"abs({s[0]})",
    "the absolute value",
)
_fn("floor", [((NUM,), NUM)], _int_part(pc.floor), lambda s, n: f"floor({s[0]})", "rounded down")
_fn("ceil", [((NUM,), NUM)], _int_part(pc.ceil), lambda s, n: f"ceil({s[0]})", "rounded up")
_fn(
    "round",
    [((NUM,), NUM), ((NUM, INT), NUM)],
    _round,
    lambda s, n: f"round({', '.join(s)})",
    "rounded half away from zero",
    constant=(1,),
)
_fn(
    "lower",
    [((STR,), STR)],
    lambda a, n, c: pc.utf8_lower(a[0]),
    lambda s, n: f"lower({s[0]})",
    "in lower case",
)
_fn(
    "upper",
    [((STR,), STR)],
    lambda a, n, c: pc.utf8_upper(a[0]),
    lambda s, n: f"upper({s[0]})",
    "in upper case",
)
_fn(
    "substr",
    [((STR, INT), STR), ((STR, INT, INT), STR)],
    _substr,
    lambda s, n: _substr_sql(s, n),
    "part of a string from a 1-based position",
    constant=(1, 2),
)
_fn(
    "trim",
    [((STR,), STR)],
    lambda a, n, c: pc.utf8_trim(a[0], " "),
    lambda s, n: f"trim({s[0]})",
    "without leading and trailing spaces",
)
_fn(
    "like",
    [((STR, STR), BOOL)],
    lambda a, n, c: pc.match_like(a[0], _literal(n.args[1])),
    lambda s, n: f"({s[0]} LIKE {s[1]} ESCAPE '\\')",
    "SQL LIKE ('%' any run, '_' one character)",
    constant=(1,),
)
_fn(
    "regexp_match",
    [((STR, STR), BOOL)],
    lambda a, n, c: pc.match_substring_regex(a[0], _literal(n.args[1])),
    lambda s, n: f"regexp_matches({s[0]}, {s[1]})",
    "whether a regular expression matches",
    constant=(1,),
)
_fn(
    "coalesce",
    [Signature((A,), A, varargs=True)],
    lambda a, n, c: pc.coalesce(*a) if a else pa.scalar(None),
    lambda s, n: f"coalesce({', '.join(s)})",
    "the first argument that is not NULL",
)
_fn(
    "date_trunc",
    [((STR, TS), TS)],
    lambda a, n, c: pc.floor_temporal(a[1], unit=str(_literal(n.args[0])).lower()),
    lambda s, n: f"date_trunc({s[0]}, {s[1]})",
    "a time truncated to a unit",
    constant=(0,),
)
_fn(
    "time_bucket",
    [((INTERVAL, TS), TS)],
    _time_bucket,
    lambda s, n: f"time_bucket({s[0]}, {s[1]})",
    "the start of the bucket a time falls in",
    constant=(0,),
)


# -- aggregates (rillet.aggregates) ----------------------------------------------------------


def aggregate_function(name: str) -> AggregateFunction | None:
    from rillet.aggregates import AGGREGATES

    return AGGREGATES.get(name)


def aggregate_names() -> list[str]:
    from rillet.aggregates import AGGREGATES

    return list(AGGREGATES)


def check_aggregate(
    node: Call, name: str, function: AggregateFunction, args: list[Node], error: ErrorMaker
) -> Call:
    """Type an aggregate call: one value argument (none for COUNT(*)) then constant params."""
    import dataclasses

    if node.star:
        if name != "count":
            raise error(node, f"{name}(*) is only for COUNT")
        return dataclasses.replace(node, name=name, args=(), aggregate=True,
                                   type=function.result_type(None))  # fmt: skip
    expected = 1 + len(function.params)
    if len(args) != expected:
        names = ", ".join(["value", *function.params])
        raise error(node, f"{name} takes {expected} argument(s) ({names}), got {len(args)}")
    for i, param in enumerate(args[1:], start=1):
        if not _is_literal(param):
            raise error(param, f"the {name} parameter must be a constant")
        wanted = function.signature.args[i] if i < len(function.signature.args) else None
        if isinstance(wanted, DataType) and param.type is not None:
            if not promotes(param.type, wanted):
                label = function.params[i - 1]
                raise error(
                    param, f"the {name} parameter {label} must be {wanted}, got {param.type}"
                )
    value_type = args[0].type
    try:
        result = function.result_type(value_type)
    except TypeCheckError as exc:
        raise error(args[0], exc.message) from None
    return dataclasses.replace(node, name=name, args=tuple(args), aggregate=True, type=result)


def functions() -> list[str]:
    """Every function with its signature in the reference's notation, by name.

    Examples:
        >>> [f for f in functions() if f.startswith("length ")]
        ['length ((STRING) -> INT)']
    """
    lines = [f"{name} {s}" for name, fn in SCALARS.items() for s in fn.signatures]
    try:
        from rillet.aggregates import AGGREGATES
    except ImportError:  # pragma: no cover - the aggregates package is part of rillet
        AGGREGATES = {}
    lines += [f"{name} {fn.signature}" for name, fn in AGGREGATES.items()]
    return sorted(lines)
