"""The expression tree.  The parser builds it untyped; the checker returns it with types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rillet.datatypes import DataType


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """Every node knows where it began in the text and, once checked, its type."""

    line: int = 0
    col: int = 0
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
    name: str


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
