"""Planning an ad-hoc filter: candidate offsets from indexes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rillet.expressions.nodes import Binary, Cast, Column, Literal, Node
from rillet.monitors.index import COMPARE, Index

FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}
COMPARISONS = frozenset(FLIP)


NUMBERS = frozenset({"INT", "BIGINT", "FLOAT", "DOUBLE", "PRECISE"})


def _numeric_widening(node: Cast) -> bool:
    inner = node.operand.type
    return node.type is not None and inner is not None and {node.type.name, inner.name} <= NUMBERS


def _column(node: Node) -> str | None:
    # a column promoted to STRING compares as text: its index (by value) cannot serve that
    while isinstance(node, Cast) and _numeric_widening(node):
        node = node.operand
    return node.name if isinstance(node, Column) else None


def _constant(node: Node) -> tuple[bool, Any]:
    while isinstance(node, Cast) and _numeric_widening(node):
        node = node.operand
    return (True, node.value) if isinstance(node, Literal) else (False, None)


def comparison(node: Node) -> tuple[str, str, Any] | None:
    """``(column, op, value)`` for ``column op constant`` (either way round), else None."""
    if not (isinstance(node, Binary) and node.op in COMPARISONS):
        return None
    for a, b, op in ((node.left, node.right, node.op), (node.right, node.left, FLIP[node.op])):
        name = _column(a)
        ok, value = _constant(b)
        if name is not None and ok:
            return name, op, value
    return None


def candidates(node: Node, indexes: Mapping[str, Index]) -> np.ndarray | None:
    """A superset of the matching offsets, sorted and unique; None means "could be any"."""
    if isinstance(node, Binary) and node.op in ("AND", "OR"):
        left, right = candidates(node.left, indexes), candidates(node.right, indexes)
        if node.op == "AND":
            if left is None or right is None:
                return left if right is None else right
            return np.intersect1d(left, right, assume_unique=True)
        if left is None or right is None:
            return None
        return np.union1d(left, right)
    found = comparison(node)
    if found is None or found[0] not in indexes:
        return None
    result = indexes[found[0]].lookup(found[1], found[2])
    return None if result is None else np.unique(result)


def exact(node: Node, indexes: Mapping[str, Index]) -> bool:
    """Whether :func:`candidates` gives exactly the matching offsets: ``node`` is made of
    comparisons (with AND and OR) that exact indexes answer."""
    if isinstance(node, Binary) and node.op in ("AND", "OR"):
        return exact(node.left, indexes) and exact(node.right, indexes)
    found = comparison(node)
    if found is None or found[0] not in indexes:
        return False
    index = indexes[found[0]]
    return index.exact and found[1] in (COMPARE if index.numeric else ("=",))
