"""The tree's walks: every node class has a handler in each of them, and a node without one
fails loudly, naming its class, rather than taking a neighbour's handler."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rillet.datatypes import DataType
from rillet.errors import TypeCheckError
from rillet.expressions import nodes
from rillet.expressions.check import CHECK, check
from rillet.expressions.duckdb import RENDER, render
from rillet.expressions.kernels import COMPILE, compile
from rillet.expressions.nodes import Cast, Column, Dispatch, Literal, Node
from rillet.rtsql.explain import TREE
from rillet.rtsql.printer import EXPRESSION

NODE_CLASSES = {
    kind
    for kind in vars(nodes).values()
    if isinstance(kind, type) and issubclass(kind, Node) and kind is not Node
}
#: the node classes each walk handles
HANDLED = {walk.name: set(walk.handlers) for walk in (CHECK, COMPILE, RENDER, EXPRESSION, TREE)}
INT = DataType("INT")


@dataclass(frozen=True, slots=True, kw_only=True)
class Shadow(Column):
    """A node class outside nodes.py: a subclass does not inherit its base's handler."""


def test_the_node_classes_are_found() -> None:
    # guards the test below from passing over an empty set
    names = {kind.__name__ for kind in NODE_CLASSES}
    assert {"Literal", "Column", "Binary", "Call", "Cast"} <= names


@pytest.mark.parametrize("walk", HANDLED)
def test_every_node_class_has_a_handler_in_each_walk(walk: str) -> None:
    assert HANDLED[walk] == NODE_CLASSES


def test_a_node_without_a_handler_is_an_internal_error_naming_its_class() -> None:
    with pytest.raises(TypeError, match="^check has no handler for Shadow$"):
        check(Shadow(name="x"), {"x": INT})
    with pytest.raises(TypeError, match="^compile has no handler for Shadow$"):
        compile(Shadow(name="x", type=INT))
    with pytest.raises(TypeError, match="^render has no handler for Node$"):
        render(Node(type=INT), "ts")


def test_a_class_takes_one_handler_per_walk() -> None:
    walk: Dispatch[[], str] = Dispatch("walk")
    walk.register(Literal)(lambda node: "first")
    with pytest.raises(TypeError, match="walk has two handlers for Literal"):
        walk.register(Literal)(lambda node: "second")
    assert walk(Literal(value=1)) == "first"


def test_a_checked_tree_is_not_checked_again() -> None:
    # only the checker makes a Cast; meeting one means the tree was checked already
    checked = check("x + 1.5", {"x": INT})
    assert isinstance(checked, nodes.Binary) and isinstance(checked.left, Cast)
    with pytest.raises(TypeCheckError, match="^cannot check Cast at 1:1$"):
        check(checked, {"x": INT})
