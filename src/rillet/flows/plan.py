"""A flow's plan: the operator graph as frozen data, checked before anything runs.

The planner (:mod:`rillet.flows.planner`) turns a SELECT into these nodes, each holding
checked expressions and knowing its output columns; :func:`build` makes the running
operators of a plan, and :func:`explain` prints it (EXPLAIN's operator graph).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa

from rillet.aggregates import AGGREGATES
from rillet.datatypes import DataType
from rillet.expressions.kernels import compile
from rillet.expressions.nodes import Call, Cast, Column, Literal, Node, walk
from rillet.flows.config import FlowConfig
from rillet.flows.flow import Input
from rillet.flows.join import WindowJoin
from rillet.flows.operators import Aggregate, EventAggregate, Filter, JoinSide, Operator, Project
from rillet.flows.timewindows import END, SKETCHES, START, EventWindows, WindowSpec
from rillet.flows.windows import Aggregation, Counters, GroupKey, WindowAggregate

Columns = Mapping[str, DataType]
_Node = TypeVar("_Node")


@dataclass(frozen=True, slots=True)
class Scan:
    """The records of a stream, from its first kept one, then live."""

    stream: str
    columns: Columns


@dataclass(frozen=True, slots=True)
class Select:
    """Rows where ``predicate`` holds (WHERE, HAVING)."""

    input: PlanNode
    predicate: Node
    label: str = "Filter"

    @property
    def columns(self) -> Columns:
        return self.input.columns


@dataclass(frozen=True, slots=True)
class Compute:
    """The output columns: each a name and an expression over the input's columns."""

    input: PlanNode
    outputs: tuple[tuple[str, Node], ...]

    @property
    def columns(self) -> Columns:
        return {name: _typed(node) for name, node in self.outputs}


@dataclass(frozen=True, slots=True)
class Window:
    """Rolling bucketed aggregation: group keys and aggregate calls over ``width_us``."""

    input: PlanNode
    keys: tuple[tuple[str, Node], ...]
    calls: tuple[tuple[str, Call], ...]
    width_us: int

    @property
    def columns(self) -> Columns:
        return {name: _typed(node) for name, node in (*self.keys, *self.calls)}


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """TUMBLE, HOP or SESSION windows by ``time``: group keys and aggregate calls, and the
    windows' bounds as ``__wstart`` and ``__wend`` (the output records' time)."""

    input: PlanNode
    keys: tuple[tuple[str, Node], ...]
    calls: tuple[tuple[str, Call], ...]
    spec: WindowSpec
    time: Node
    sketch_state: bool = False

    @property
    def columns(self) -> Columns:
        out = {name: _typed(node) for name, node in self.keys}
        for name, node in self.calls:
            binary = self.sketch_state and functions_name(node) in SKETCHES
            out[name] = DataType("BINARY") if binary else _typed(node)
        out[START] = out[END] = DataType("TIMESTAMP", nullable=False)
        return out


def functions_name(node: Call) -> str:
    """The canonical name of an aggregate call."""
    from rillet.expressions import functions

    return functions.canonical(node.name)


@dataclass(frozen=True, slots=True)
class Join:
    """Windowed inner equi-join; ``names`` renames each side's columns in the output."""

    left: PlanNode
    right: PlanNode
    left_key: Node
    right_key: Node
    preceding_us: int
    following_us: int
    left_names: tuple[tuple[str, str], ...]  # (input column, output column)
    right_names: tuple[tuple[str, str], ...]

    @property
    def columns(self) -> Columns:
        left, right = self.left.columns, self.right.columns
        out = {new: left[old] for old, new in self.left_names}
        out.update({new: right[old] for old, new in self.right_names})
        return out


PlanNode = Scan | Select | Compute | Window | TimeWindow | Join


def _typed(node: Node) -> DataType:
    assert node.type is not None, "plans hold checked expressions"
    return node.type


def _key(name: str, node: Node) -> GroupKey:
    column = node.name if isinstance(node, Column) else None
    return GroupKey(name, compile(node), _typed(node), column)


def _constant(node: Node) -> object:
    while isinstance(node, Cast):
        node = node.operand
    assert isinstance(node, Literal)
    return node.value


#: the windows a node's rows reach through WHEREs and projections alone (each row in its
#: place), and the columns of its rows their time is computed from (lower-cased)
_Under = tuple[EventWindows, frozenset[str]]


def build(
    plan: PlanNode,
    downstream: Operator,
    config: FlowConfig,
    counters: Counters,
    stream_of: Callable[[str], object],
    under: _Under | None = None,
) -> list[Input]:
    """The operators of ``plan`` feeding ``downstream``, as the flow's inputs."""
    if isinstance(plan, Scan):
        stream = stream_of(plan.stream)
        return [Input(stream, downstream)]  # type: ignore[arg-type]
    if isinstance(plan, Select):
        # before windows, the rows a WHERE leaves out go on marked: their time moves the
        # watermark (the greatest event time *seen*), unless the WHERE reads that time (one
        # that leaves out records of bad clocks keeps them from the watermark too)
        marks = under is not None and not (_names(plan.predicate) & under[1])
        if under is not None and marks:
            under[0].marked = True
        operator: Operator = Filter(compile(plan.predicate), downstream, marks)
        return build(plan.input, operator, config, counters, stream_of, under)
    if isinstance(plan, Compute):
        operator = Project([(name, compile(node)) for name, node in plan.outputs], downstream)
        if under is not None:  # the time's columns, as the projection's input names them
            read = [_names(node) for name, node in plan.outputs if name.lower() in under[1]]
            under = (under[0], frozenset().union(*read))
        return build(plan.input, operator, config, counters, stream_of, under)
    if isinstance(plan, TimeWindow):
        windows = EventWindows(
            [_key(name, node) for name, node in plan.keys],
            _aggregations(plan.calls),
            plan.spec,
            compile(plan.time),
            config,
            downstream.push,
            counters,
            arrival_time=all(
                stream_of(name).schema.implicit_time  # type: ignore[attr-defined]
                for name in streams(plan.input)
            ),
        )
        operator = EventAggregate(windows, downstream)
        under = (windows, _names(plan.time))
        return build(plan.input, operator, config, counters, stream_of, under)
    if isinstance(plan, Window):
        keys = [_key(name, node) for name, node in plan.keys]
        calls = _aggregations(plan.calls)
        window = plan.width_us

        def make(emit: Callable[..., None]) -> WindowAggregate:
            return WindowAggregate(keys, calls, window, config, emit, counters)

        operator = Aggregate(make, downstream)
        return build(plan.input, operator, config, counters, stream_of)
    join = WindowJoin(
        compile(plan.left_key),
        compile(plan.right_key),
        _typed(plan.left_key),
        [old for old, _ in plan.left_names],
        [old for old, _ in plan.right_names],
        plan.preceding_us,
        plan.following_us,
        config.slack_us,
        _Renamed([new for _, new in (*plan.left_names, *plan.right_names)], downstream).push,
        counters,
    )
    ended = [False, False]
    left = build(plan.left, JoinSide(join, True, downstream, ended), config, counters, stream_of)
    right = build(plan.right, JoinSide(join, False, downstream, ended), config, counters, stream_of)
    return [*left, *right]


def _names(node: Node) -> frozenset[str]:
    """The columns an expression reads (lower-cased)."""
    return frozenset(n.name.lower() for n in walk(node) if isinstance(n, Column))


def _aggregations(calls: tuple[tuple[str, Call], ...]) -> list[Aggregation]:
    return [
        Aggregation(
            name,
            AGGREGATES[node.name],
            compile(node.args[0]) if node.args else None,
            node.args[0].type if node.args else None,
            tuple(_constant(a) for a in node.args[1:]),
            _typed(node),
        )
        for name, node in calls
    ]


class _Renamed:
    """Gives a join's output columns their names in the plan."""

    def __init__(self, names: Sequence[str], downstream: Operator) -> None:
        self.names = list(names)
        self.downstream = downstream

    def push(self, batch: pa.RecordBatch) -> None:
        names = [*self.names, *batch.schema.names[len(self.names) :]]
        self.downstream.push(batch.rename_columns(names))


def streams(plan: PlanNode) -> list[str]:
    """The streams a plan reads, in the order it reads them."""
    if isinstance(plan, Scan):
        return [plan.stream]
    if isinstance(plan, Join):
        return [*streams(plan.left), *streams(plan.right)]
    return streams(plan.input)


def first_node(plan: PlanNode | None, kind: type[_Node]) -> _Node | None:
    """The first node of type ``kind`` down ``plan`` and its inputs, if there is one."""
    while plan is not None and not isinstance(plan, kind):
        plan = getattr(plan, "input", None)
    return plan


def time_windows(plan: PlanNode) -> TimeWindow | None:
    """A plan's TUMBLE, HOP or SESSION windows, if it has them."""
    return first_node(plan, TimeWindow)


def explain(plan: PlanNode, indent: int = 0) -> str:
    """The operator graph, one operator a line, each above its inputs."""
    pad = "  " * indent
    if isinstance(plan, Scan):
        columns = ", ".join(f"{k} {v}" for k, v in plan.columns.items())
        return f"{pad}Scan {plan.stream} ({columns})"
    if isinstance(plan, Select):
        line = f"{pad}{plan.label} {_text(plan.predicate)}"
        return line + "\n" + explain(plan.input, indent + 1)
    if isinstance(plan, Compute):
        outputs = ", ".join(f"{_text(node)} AS {name}" for name, node in plan.outputs)
        return f"{pad}Project {outputs}\n" + explain(plan.input, indent + 1)
    if isinstance(plan, TimeWindow):
        keys = ", ".join(_text(node) for _, node in plan.keys) or "()"
        calls = ", ".join(f"{_text(node)} AS {name}" for name, node in plan.calls)
        spec = plan.spec
        sizes = (
            f"gap {spec.gap} us"
            if spec.kind == "session"
            else f"size {spec.size} us, slide {spec.slide} us"
        )
        line = (
            f"{pad}{spec.kind.title()}Window by {_text(plan.time)} ({sizes}) keys [{keys}] "
            f"calls [{calls}]"
        )
        return line + "\n" + explain(plan.input, indent + 1)
    if isinstance(plan, Window):
        keys = ", ".join(_text(node) for _, node in plan.keys) or "()"
        calls = ", ".join(f"{_text(node)} AS {name}" for name, node in plan.calls)
        line = f"{pad}WindowAggregate keys [{keys}] calls [{calls}] over {plan.width_us} us"
        return line + "\n" + explain(plan.input, indent + 1)
    line = (
        f"{pad}WindowJoin {_text(plan.left_key)} = {_text(plan.right_key)} "
        f"range ({plan.preceding_us} us preceding, {plan.following_us} us following]"
    )
    return "\n".join([line, explain(plan.left, indent + 1), explain(plan.right, indent + 1)])


def _text(node: Node) -> str:
    """An expression as rtsql text, for EXPLAIN."""
    from rillet.rtsql.printer import expression

    try:
        return expression(node)
    except Exception:  # an rtsql-only node: its repr says enough
        return type(node).__name__
