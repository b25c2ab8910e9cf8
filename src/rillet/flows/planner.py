"""The planner: a parsed SELECT (:mod:`rillet.rtsql.ast`) checked and made a plan.

Every mistake a SELECT can hold is found here, before anything runs: an unknown stream
(names are exact: unquoted ones were lower-cased by the parser), an unknown or ambiguous
column, a type error (``WHERE 42``), an aggregate without OVER, HAVING naming something
that is not an output column, an alias used by a sibling expression, a join condition that
is not an equality of one column of each side.

Names resolve against *fields*: each source's columns under its reference name.  A single
stream's frame keeps its columns' names; after a join every column is renamed
``ref.column`` in the frame, so both sides' ``x`` can be told apart.  With aggregates, the
window's output holds the group keys (``__key<i>``) and the calls (``__agg<i>``), and the
selected expressions are computed over them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rillet.datatypes import DataType
from rillet.errors import (
    AmbiguousColumnError,
    QueryError,
    TypeCheckError,
    UnknownColumnError,
    suggest,
)
from rillet.expressions import functions
from rillet.expressions.check import Checker
from rillet.expressions.nodes import (
    Binary,
    Call,
    Cast,
    Column,
    IsNull,
    Literal,
    Node,
    Unary,
    walk,
)
from rillet.expressions.signatures import common_type
from rillet.flows import plan as p
from rillet.flows.config import FlowConfig
from rillet.flows.flow import Flow
from rillet.flows.frames import TIME, TIME_TYPE
from rillet.flows.runtime import start
from rillet.flows.timewindows import END, START, WindowSpec
from rillet.schema import IMPLICIT_TIME

if TYPE_CHECKING:
    from rillet.database import Database
    from rillet.rtsql import ast


@dataclass(frozen=True, slots=True)
class Field:
    """A column a query may name: its source's reference name, its name, its name in the
    frame, and its type."""

    ref: str | None
    name: str
    frame: str
    type: DataType


def submit(
    db: Database, select: ast.Select, text: str, options: Mapping[str, Any] | None = None
) -> Flow:
    """Check ``select`` and start it as a flow (``text`` is the query as submitted;
    ``options`` the flow's own: ``lateness``, ``idle_timeout``, ``sketches``)."""
    plan, names = plan_select(db, select, options)
    query = text.strip()
    if query.endswith(";"):
        query = query[:-1].rstrip()
    return start(db, plan, query, names, options)


def explain(db: Database, select: ast.Select) -> str:
    """The operator graph of ``select``: ``Flow:`` and one operator a line, each above
    what feeds it."""
    plan, names = plan_select(db, select)
    return f"Flow: output columns {', '.join(names)}\n" + p.explain(plan)


def plan_select(
    db: Database,
    select: ast.Select,
    options: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> tuple[p.PlanNode, list[str]]:
    """The checked plan of ``select`` and its output columns' names (its frame's, too).

    ``options`` are the flow's own (:meth:`FlowConfig.with_options`) over ``settings`` (by
    default the session's); with ``sketches = 'state'`` (a roll-up's), sketch metrics of
    TUMBLE/HOP/SESSION windows are BINARY DataSketches states."""
    config = FlowConfig.of(db.config if settings is None else settings).with_options(options or {})
    node, fields = _source(db, select.source)
    for join in select.joins:
        node, fields = _join(db, select, node, fields, join)
    columns = node.columns
    aliases = {i.alias for i in select.items if not _is_star(i) and i.alias}  # type: ignore[union-attr]
    if select.where is not None:
        predicate = _boolean(_check(_resolve(select.where, fields, aliases), columns), "WHERE")
        node = p.Select(node, predicate)
    items = _items(select, fields)
    calls = [c for _, expr in items for c in walk(expr) if _is_aggregate(c)]
    timed = [g for g in select.group_by if isinstance(g, Call)]
    if timed:
        if len(timed) > 1 or select.over is not None:
            extra = timed[1] if len(timed) > 1 else select.over
            raise _error(
                QueryError,
                extra,
                f"a GROUP BY takes one window: TUMBLE, HOP or SESSION, or OVER, not both, "
                f"at {extra.line}:{extra.col}",  # type: ignore[union-attr]
            )
        node, outputs = _time_window(
            select, node, fields, items, aliases, timed[0], config.sketch_state
        )
    elif (calls or select.group_by) and select.over is None:
        what = calls[0] if calls else select.group_by[0]
        word = f"aggregate function {_name(what)}" if calls else "GROUP BY"
        raise _error(
            QueryError,
            what,
            f"{word} at {what.line}:{what.col} needs an OVER clause (OVER RANGE INTERVAL n "
            "unit PRECEDING): rtsql aggregates over windows only",
        )
    elif select.over is not None and (calls or select.group_by):
        node, outputs = _aggregate(select, node, fields, items, aliases)
    else:
        outputs = [(name, _check(_resolve(expr, fields, aliases), columns)) for name, expr in items]
    names = [name for name, _ in outputs]
    node = p.Compute(node, tuple(outputs))
    if select.having is not None:
        out = node.columns
        having = _resolve_output(select.having, out)
        node = p.Select(node, _boolean(_check(having, out), "HAVING"), "Having")
    return node, names


# -- sources -------------------------------------------------------------------------------------


def _source(db: Database, source: ast.Source) -> tuple[p.PlanNode, list[Field]]:
    from rillet.rtsql import ast, catalog

    if isinstance(source, ast.StreamRef):
        stream = catalog.stream(db, source.name)
        columns = {c.name: c.type for c in stream.schema.columns}
        fields = [
            Field(source.ref, name, name, dtype)
            for name, dtype in columns.items()
            if name != IMPLICIT_TIME
        ]
        return p.Scan(stream.name, columns), fields
    node, names = plan_select(db, source.select)
    out = node.columns
    return node, [Field(source.alias, name, name, out[name]) for name in names]


def _join(
    db: Database, select: ast.Select, left: p.PlanNode, fields: list[Field], join: ast.Join
) -> tuple[p.PlanNode, list[Field]]:
    right, right_fields = _source(db, join.source)
    condition = join.on
    sides: list[tuple[Field, bool] | None] = []
    if isinstance(condition, Binary) and condition.op == "=":
        for operand in (condition.left, condition.right):
            sides.append(_side(operand, fields, right_fields))
    if len(sides) != 2 or None in sides or sides[0][1] == sides[1][1]:  # type: ignore[index]
        from rillet.rtsql.printer import expression

        raise _error(
            QueryError,
            condition,
            f"a join condition must be an equality of one column of each stream "
            f"(f.x = g.y), not {expression(condition)} at {condition.line}:{condition.col}",
        )
    (a, a_left), (b, _) = sides  # type: ignore[misc]
    left_field, right_field = (a, b) if a_left else (b, a)
    key_type = common_type(left_field.type, right_field.type)
    if key_type is None:
        raise _error(
            TypeCheckError,
            condition,
            f"a join compares {left_field.type} with {right_field.type} at "
            f"{condition.line}:{condition.col}",
        )
    window = _range(select, join.over)
    taken: set[str] = set()
    renamed: list[Field] = []
    names: list[list[tuple[str, str]]] = [[], []]
    for side, group in ((0, fields), (1, right_fields)):
        for f in group:
            frame = f"{f.ref}.{f.name}" if f.ref else f.name
            while frame in taken:
                frame += "_"
            taken.add(frame)
            names[side].append((f.frame, frame))
            renamed.append(Field(f.ref, f.name, frame, f.type))
    node = p.Join(
        left,
        right,
        _cast(Column(name=left_field.frame, type=left_field.type), key_type),
        _cast(Column(name=right_field.frame, type=right_field.type), key_type),
        window.preceding_ms * 1000,
        window.following_ms * 1000,
        tuple(names[0]),
        tuple(names[1]),
    )
    return node, renamed


def _side(node: Node, left: list[Field], right: list[Field]) -> tuple[Field, bool] | None:
    """The field a join condition's operand names and whether it is the left stream's."""
    if not isinstance(node, Column):
        return None
    found = _lookup(node, [*left, *right], set())
    if found in left:
        return found, True
    return found, False


def _range(select: ast.Select, over: ast.Window) -> ast.Range:
    try:
        window = select.window(over)
    except KeyError:
        name = getattr(over, "name", "")
        raise _error(
            QueryError,
            over,
            f"unknown window {name!r} at {over.line}:{over.col}: no WINDOW {name} AS (...) "
            "clause defines it",
        ) from None
    if window.preceding_ms <= 0 and window.following_ms <= 0:
        raise _error(
            QueryError,
            window,
            f"a window must have a width, not {window.preceding_ms} ms at "
            f"{window.line}:{window.col}",
        )
    return window


# -- names ---------------------------------------------------------------------------------------


def _lookup(node: Column, fields: Sequence[Field], aliases: set[str]) -> Field:
    name, ref = node.name, node.qualifier
    where = f"at {node.line}:{node.col}"
    if ref is not None:
        known = [f.ref for f in fields]
        if ref not in known:
            raise _unknown(f"{ref}.{name}", f"no stream or reference {ref!r}", node, known)
        matches = [f for f in fields if f.ref == ref and f.name == name]
        if not matches:
            names = [f.name for f in fields if f.ref == ref]
            raise _unknown(name, f"{ref} has no column {name!r}", node, names)
        return matches[0]
    matches = [f for f in fields if f.name == name]
    if len(matches) > 1:
        refs = ", ".join(f"{f.ref}.{name}" for f in matches)
        raise _error(
            AmbiguousColumnError,
            node,
            f"column {name!r} {where} is ambiguous: qualify it as one of {refs}",
        )
    if not matches:
        if name in aliases:
            raise _error(
                QueryError,
                node,
                f"{name!r} {where} is the alias of another selected expression; an alias "
                "names its output column and is not visible to its sibling expressions",
            )
        raise _unknown(name, f"unknown column {name!r}", node, [f.name for f in fields])
    return matches[0]


def _error(kind: type[QueryError] | type[TypeCheckError], node: Any, message: str) -> Exception:
    """An error of ``kind`` about ``node`` (which has ``line`` and ``col``)."""
    return kind(message, line=node.line, col=node.col)


def _unknown(
    name: str, what: str, node: Node, candidates: Sequence[str | None]
) -> UnknownColumnError:
    names = [c for c in candidates if c is not None]
    hint = suggest(name, names)
    message = f"{what} at {node.line}:{node.col}" + (f"; did you mean {hint!r}?" if hint else "")
    return UnknownColumnError(
        message, kind="column", name=name, suggestion=hint, line=node.line, col=node.col
    )


def _map(node: Node, change: Callable[[Node], Node | None]) -> Node:
    """``node`` with each sub-tree that ``change`` replaces (returns not None) replaced."""
    replaced = change(node)
    if replaced is not None:
        return replaced
    if isinstance(node, Unary | IsNull | Cast):
        return dataclasses.replace(node, operand=_map(node.operand, change))
    if isinstance(node, Binary):
        return dataclasses.replace(
            node, left=_map(node.left, change), right=_map(node.right, change)
        )
    if isinstance(node, Call):
        return dataclasses.replace(node, args=tuple(_map(a, change) for a in node.args))
    return node


def _resolve(node: Node, fields: Sequence[Field], aliases: set[str]) -> Node:
    """``node`` with every column named by its frame name."""

    def column(each: Node) -> Node | None:
        if not isinstance(each, Column):
            return None
        found = _lookup(each, fields, aliases)
        return Column(name=found.frame, line=each.line, col=each.col)

    return _map(node, column)


def _resolve_output(node: Node, columns: p.Columns) -> Node:
    """HAVING's columns: output columns only."""

    def column(each: Node) -> Node | None:
        if isinstance(each, Call) and _is_aggregate(each):
            raise QueryError(
                f"HAVING calls the aggregate function {functions.canonical(each.name)} at "
                f"{each.line}:{each.col}: HAVING sees the output columns only; name the "
                "aggregate in the select list and use the name (SELECT COUNT(*) AS n ... "
                "HAVING n > 1)",
                line=each.line,
                col=each.col,
            )
        if not isinstance(each, Column):
            return None
        if each.qualifier is not None or each.name not in columns:
            name = f"{each.qualifier}.{each.name}" if each.qualifier else each.name
            hint = suggest(each.name, list(columns))
            raise UnknownColumnError(
                f"HAVING names {name!r} at {each.line}:{each.col}, which is not an output "
                f"column (output columns: {', '.join(columns)})"
                + (f"; did you mean {hint!r}?" if hint else ""),
                kind="column",
                name=name,
                suggestion=hint,
                line=each.line,
                col=each.col,
            )
        return None

    return _map(node, column)


def _check(node: Node, columns: p.Columns, aggregates: bool = False) -> Node:
    return Checker(columns, allow_aggregates=aggregates).check(node)


def _boolean(node: Node, clause: str) -> Node:
    assert node.type is not None
    if node.type.name not in ("BOOLEAN", "NULL"):
        raise _error(
            TypeCheckError,
            node,
            f"{clause} needs a BOOLEAN condition, got {node.type} at {node.line}:{node.col}",
        )
    return node


def _cast(node: Node, target: DataType) -> Node:
    assert node.type is not None
    if node.type.with_nullable(True) == target.with_nullable(True):
        return node
    return Cast(operand=node, type=target.with_nullable(node.type.nullable))


# -- selected expressions ------------------------------------------------------------------------


def _is_star(item: object) -> bool:
    from rillet.rtsql import ast

    return isinstance(item, ast.AllColumns)


def _items(select: ast.Select, fields: list[Field]) -> list[tuple[str, Node]]:
    """The selected expressions (``*`` expanded) with their output names."""
    from rillet.rtsql import ast
    from rillet.rtsql.printer import expression

    out: list[tuple[str, Node]] = []
    counts: dict[str, int] = {}
    for f in fields:
        counts[f.name] = counts.get(f.name, 0) + 1
    for item in select.items:
        if isinstance(item, ast.AllColumns):
            chosen = [f for f in fields if item.qualifier in (None, f.ref)]
            if not chosen:
                raise _unknown(
                    f"{item.qualifier}.*",
                    f"no stream or reference {item.qualifier!r}",
                    Column(name="*", line=item.line, col=item.col),
                    [f.ref for f in fields],
                )
            for f in chosen:
                name = f"{f.ref}.{f.name}" if counts[f.name] > 1 and f.ref else f.name
                out.append(
                    (name, Column(name=f.name, qualifier=f.ref, line=item.line, col=item.col))
                )
            continue
        expr = item.expr
        if item.alias is not None:
            name = item.alias
        elif isinstance(expr, Column):
            name = expr.name
        else:  # the expression's text, without the parentheses around a whole operation
            name = expression(expr)
            if isinstance(expr, Binary) and name.startswith("(") and name.endswith(")"):
                name = name[1:-1]
        out.append((name, expr))
    # a.h and b.h, selected as they are: named by their qualified names, not both "h"
    taken = [name for name, _ in out]
    return [
        (f"{e.qualifier}.{e.name}", e)
        if isinstance(e, Column) and e.qualifier and name == e.name and taken.count(name) > 1
        else (name, e)
        for name, e in out
    ]


def _is_aggregate(node: Node) -> bool:
    if not isinstance(node, Call):
        return False
    name = functions.canonical(node.name)
    return name not in functions.SCALARS and functions.aggregate_function(name) is not None


def _name(node: Node) -> str:
    return node.name if isinstance(node, Call) else ""


def _aggregate(
    select: ast.Select,
    node: p.PlanNode,
    fields: list[Field],
    items: list[tuple[str, Node]],
    aliases: set[str],
) -> tuple[p.Window, list[tuple[str, Node]]]:
    """The window of an aggregating SELECT, and its output expressions over the window's
    columns (``__key<i>``, ``__agg<i>``)."""
    assert select.over is not None
    window = _range(select, select.over)
    if window.following is not None:
        raise _error(
            QueryError,
            window,
            f"an aggregate's window reaches back only (RANGE INTERVAL n unit PRECEDING), "
            f"not FOLLOWING at {window.line}:{window.col}",
        )
    columns = node.columns
    keys: list[tuple[str, Node]] = []
    key_of: dict[str, str] = {}
    for column in select.group_by:
        resolved = _resolve(column, fields, aliases)
        assert isinstance(resolved, Column)
        if resolved.name not in key_of:
            key_of[resolved.name] = f"__key{len(keys)}"
            keys.append((key_of[resolved.name], _check(resolved, columns)))
    rewritten, calls = _rewrite_items(items, fields, aliases, columns, key_of)
    plan = p.Window(node, tuple(keys), tuple(calls), window.preceding_ms * 1000)
    out = plan.columns
    return plan, [(name, _check(expr, out)) for name, expr in rewritten]


def _rewrite_items(
    items: list[tuple[str, Node]],
    fields: list[Field],
    aliases: set[str],
    columns: p.Columns,
    key_of: dict[str, str],
    bounds: dict[str, str] | None = None,
) -> tuple[list[tuple[str, Node]], list[tuple[str, Call]]]:
    """The selected expressions over a window's columns (``__key<i>``, ``__agg<i>`` and,
    for TUMBLE/HOP/SESSION, ``bounds``: window_start and window_end), and the calls."""
    calls: list[tuple[str, Call]] = []

    def rewrite(each: Node) -> Node | None:
        if _is_aggregate(each):
            typed = _check(_resolve(each, fields, aliases), columns, aggregates=True)
            assert isinstance(typed, Call)
            for name, call in calls:
                if call == typed:
                    return Column(name=name, line=each.line, col=each.col)
            name = f"__agg{len(calls)}"
            calls.append((name, typed))
            return Column(name=name, line=each.line, col=each.col)
        if isinstance(each, Column):
            if bounds and each.qualifier is None and each.name in bounds:
                # the window's bound, unless the input's column of that name is grouped by
                # (a roll-up over a roll-up reads its input's window_start as its time)
                if not any(f.name == each.name and f.frame in key_of for f in fields):
                    return Column(name=bounds[each.name], line=each.line, col=each.col)
            found = _lookup(each, fields, aliases)
            key = key_of.get(found.frame)
            if key is None:
                raise _error(
                    QueryError,
                    each,
                    f"column {each.name!r} at {each.line}:{each.col} must be in GROUP BY or "
                    "inside an aggregate function",
                )
            return Column(name=key, line=each.line, col=each.col)
        return None

    return [(name, _map(expr, rewrite)) for name, expr in items], calls


# -- TUMBLE, HOP, SESSION ------------------------------------------------------------------------

#: each window function's arguments after the time column
_WINDOW_ARGS = {"tumble": ("size",), "hop": ("slide", "size"), "session": ("gap",)}
_BOUNDS = {"window_start": START, "window_end": END}


def _time_window(
    select: ast.Select,
    node: p.PlanNode,
    fields: list[Field],
    items: list[tuple[str, Node]],
    aliases: set[str],
    call: Call,
    sketch_state: bool,
) -> tuple[p.TimeWindow, list[tuple[str, Node]]]:
    """The TUMBLE/HOP/SESSION window of an aggregating SELECT and its output expressions."""
    kind = call.name.lower()
    names = _WINDOW_ARGS[kind]
    usage = f"{kind.upper()}(time column, " + ", ".join(f"INTERVAL <{n}>" for n in names) + ")"
    where = f"at {call.line}:{call.col}"
    if len(call.args) != 1 + len(names):
        raise _error(QueryError, call, f"{kind.upper()} {where} takes {usage}")
    columns = node.columns
    time = _window_time(call.args[0], fields, aliases, columns, kind, usage)
    sizes: dict[str, int] = {}
    for name, arg in zip(names, call.args[1:], strict=True):
        value = _constant_interval(arg)
        if value is None:
            raise _error(
                QueryError,
                arg,
                f"{kind.upper()}'s {name} at {arg.line}:{arg.col} must be an interval such as "
                f"INTERVAL '1' MINUTE; {usage}",
            )
        if value <= 0:
            raise _error(
                QueryError,
                arg,
                f"{kind.upper()}'s {name} at {arg.line}:{arg.col} must be positive, not {value} us",
            )
        sizes[name] = value
    if kind == "hop" and sizes["size"] % sizes["slide"]:
        raise _error(
            QueryError,
            call,
            f"HOP {where}: the size ({sizes['size']} us) must be a whole number of slides "
            f"({sizes['slide']} us)",
        )
    if kind == "tumble":
        spec = WindowSpec("tumble", size=sizes["size"], slide=sizes["size"])
    elif kind == "hop":
        spec = WindowSpec("hop", size=sizes["size"], slide=sizes["slide"])
    else:
        spec = WindowSpec("session", gap=sizes["gap"])
    keys: list[tuple[str, Node]] = []
    key_of: dict[str, str] = {}
    for column in select.group_by:
        if isinstance(column, Call):
            continue
        resolved = _resolve(column, fields, aliases)
        assert isinstance(resolved, Column)
        if resolved.name not in key_of:
            key_of[resolved.name] = f"__key{len(keys)}"
            keys.append((key_of[resolved.name], _check(resolved, columns)))
    rewritten, calls = _rewrite_items(items, fields, aliases, columns, key_of, _BOUNDS)
    plan = p.TimeWindow(node, tuple(keys), tuple(calls), spec, time, sketch_state)
    out = plan.columns
    return plan, [(name, _check(expr, out)) for name, expr in rewritten]


def _window_time(
    arg: Node, fields: list[Field], aliases: set[str], columns: p.Columns, kind: str, usage: str
) -> Node:
    """The window's time column, checked: a TIMESTAMP column of the input (``timestamp``
    names the records' own time where no column has that name)."""
    where = f"at {arg.line}:{arg.col}"
    if not isinstance(arg, Column):
        raise _error(QueryError, arg, f"{kind.upper()} {where} needs a time column: {usage}")
    if arg.qualifier is None and arg.name in ("timestamp", IMPLICIT_TIME):
        if not any(f.name == arg.name for f in fields):
            return _check(
                Column(name=TIME, line=arg.line, col=arg.col), {**columns, TIME: TIME_TYPE}
            )
    resolved = _check(_resolve(arg, fields, aliases), columns)
    assert resolved.type is not None
    if resolved.type.name != "TIMESTAMP":
        raise _error(
            QueryError,
            arg,
            f"{kind.upper()} {where} needs a time column (TIMESTAMP), not {arg.name!r} of type "
            f"{resolved.type}",
        )
    return resolved


def _constant_interval(node: Node) -> int | None:
    """Microseconds of an ``INTERVAL`` literal (either form), else None."""
    while isinstance(node, Cast):
        node = node.operand
    if isinstance(node, Unary) and node.op == "-":
        inner = _constant_interval(node.operand)
        return None if inner is None else -inner
    if isinstance(node, Literal) and type(node.value).__name__ == "_Interval":
        return int(node.value)
    return None
