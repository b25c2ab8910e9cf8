"""The expression tree.  The parser builds it untyped; the checker returns it with types.

Each walk over a checked or unchecked tree (checking, compiling to Arrow kernels, printing
DuckDB SQL) finds a node's handler in a ``Dispatch`` table keyed by the node's class, as
sqlglot's generator finds its ``TRANSFORMS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast

from rillet.datatypes import DataType


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """Every node knows where it began in the text and, once checked, its type.

    The position is left out of equality: the same expression written elsewhere is equal.
    """

    line: int = field(default=0, compare=False)
    col: int = field(default=0, compare=False)
    type: DataType | None = None

    @property
    def where(self) -> str:
        return f"{self.line}:{self.col}"

    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Literal(Node):
    """A constant: number, string, boolean, NULL, or (internally) an interval in microseconds."""

    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Column(Node):
    """A column; ``qualifier`` is the stream or reference name of ``f.x`` (None for ``x``)."""

    name: str
    qualifier: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribute(Node):
    """``#name``: an event attribute (BINARY; NULL when the event has none)."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unary(Node):
    op: str  # "-", "+", "NOT"
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Binary(Node):
    op: str  # OR AND = != < > <= >= + - * / % LIKE
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True, kw_only=True)
class IsNull(Node):
    operand: Node
    negated: bool = False

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Node):
    """A function call; ``star`` for ``COUNT(*)``; ``aggregate`` once the checker knows."""

    name: str
    args: tuple[Node, ...] = ()
    star: bool = False
    aggregate: bool = False

    def children(self) -> tuple[Node, ...]:
        return self.args


@dataclass(frozen=True, slots=True, kw_only=True)
class Cast(Node):
    """A promotion the checker inserted: ``operand`` as ``type``."""

    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


def walk(node: Node) -> list[Node]:
    """The node and all its descendants, parents first."""
    out = [node]
    for child in node.children():
        out.extend(walk(child))
    return out


P = ParamSpec("P")
R = TypeVar("R")
N = TypeVar("N", bound=Node)


class Dispatch(Generic[P, R]):
    """One walk's handlers, one per node class, each taking the node and the walk's arguments.

    The lookup is by exact class: a node class without a handler of its own is an error
    rather than silently taking its base class's, so a new node cannot be half supported
    (a test checks that every node class has a handler in each walk).

    Examples:
        >>> depth: Dispatch[[int], int] = Dispatch("depth")
        >>> @depth.register(Literal)
        ... def _(node: Literal, start: int) -> int:
        ...     return start
        >>> depth(Literal(value=1), 0)
        0
        >>> depth(Column(name="x"), 0)
        Traceback (most recent call last):
        ...
        TypeError: depth has no handler for Column
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.handlers: dict[type[Node], Callable[Concatenate[Node, P], R]] = {}

    def register(
        self, kind: type[N]
    ) -> Callable[[Callable[Concatenate[N, P], R]], Callable[Concatenate[N, P], R]]:
        """A decorator making the function the handler of ``kind`` nodes."""

        def add(handler: Callable[Concatenate[N, P], R]) -> Callable[Concatenate[N, P], R]:
            if kind in self.handlers:
                raise TypeError(f"{self.name} has two handlers for {kind.__name__}")
            # the key guarantees the handler only ever sees nodes of its own class
            self.handlers[kind] = cast("Callable[Concatenate[Node, P], R]", handler)
            return handler

        return add

    def __call__(self, node: Node, *args: P.args, **kwargs: P.kwargs) -> R:
        handler = self.handlers.get(type(node))
        if handler is None:
            raise TypeError(f"{self.name} has no handler for {type(node).__name__}")
        return handler(node, *args, **kwargs)
