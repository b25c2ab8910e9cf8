"""EXPLAIN's parse tree: a statement as an indented tree, laid out as FlumeBase's is.

Two spaces a level; clauses under their FlumeBase headings (``expressions:``, ``FROM:``,
``WHERE``, ``GROUP BY``, ``OVER``, ``HAVING``, ``Windows:``); expressions as ``BinExpr``,
``UnaryExpr``, ``FnCallExpr``, ``IdentifierExpr`` and ``ConstExpr`` nodes.
"""

from __future__ import annotations

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
from rillet.rtsql import ast, printer

Lines = list[str]
TREE: Dispatch[[int, Lines], None] = Dispatch("parse tree")


def _add(out: Lines, depth: int, text: str) -> None:
    out.append("  " * depth + text)


def expression(node: Node, depth: int, out: Lines) -> None:
    TREE(node, depth, out)


@TREE.register(Literal)
def _literal(node: Literal, depth: int, out: Lines) -> None:
    _add(out, depth, f"ConstExpr value={printer.expression(node)}")


@TREE.register(Column)
def _column(node: Column, depth: int, out: Lines) -> None:
    _add(out, depth, f"IdentifierExpr name={printer.expression(node)}")


@TREE.register(Attribute)
def _attribute(node: Attribute, depth: int, out: Lines) -> None:
    _add(out, depth, f"IdentifierExpr name=#{node.name}")


@TREE.register(Unary)
def _unary(node: Unary, depth: int, out: Lines) -> None:
    _add(out, depth, f"UnaryExpr op={node.op}")
    expression(node.operand, depth + 1, out)


@TREE.register(IsNull)
def _is_null(node: IsNull, depth: int, out: Lines) -> None:
    _add(out, depth, f"UnaryExpr op=IS {'NOT ' if node.negated else ''}NULL")
    expression(node.operand, depth + 1, out)


@TREE.register(Binary)
def _binary(node: Binary, depth: int, out: Lines) -> None:
    _add(out, depth, f"BinExpr op={node.op}")
    _add(out, depth + 1, "left expr:")
    expression(node.left, depth + 2, out)
    _add(out, depth + 1, "right expr:")
    expression(node.right, depth + 2, out)


@TREE.register(Call)
def _call(node: Call, depth: int, out: Lines) -> None:
    if node.star:
        _add(out, depth, f"FnCallExpr name={node.name} args=*")
        return
    _add(out, depth, f"FnCallExpr name={node.name}")
    if node.args:
        _add(out, depth + 1, "args:")
        for arg in node.args:
            expression(arg, depth + 2, out)


@TREE.register(Cast)
def _cast(node: Cast, depth: int, out: Lines) -> None:
    _add(out, depth, f"CastExpr type={node.type}")
    expression(node.operand, depth + 1, out)


def _range(value: ast.Range, depth: int, out: Lines) -> None:
    following = value.following
    _add(out, depth, "RangeSpec")
    _add(out, depth + 1, f"from: ({value.preceding.amount} {value.preceding.unit}) PRECEDING")
    if following is None:
        _add(out, depth + 1, "to: (0)")
    else:
        _add(out, depth + 1, f"to: ({following.amount} {following.unit}) FOLLOWING")


def _window(value: ast.Window, depth: int, out: Lines) -> None:
    if isinstance(value, ast.WindowName):
        _add(out, depth, f"WindowName name={value.name}")
    else:
        _range(value, depth, out)


def _source(value: ast.Source, depth: int, out: Lines) -> None:
    if isinstance(value, ast.StreamRef):
        alias = f", alias={value.alias}" if value.alias is not None else ""
        _add(out, depth, f"Literal source: name={value.name}{alias}")
    else:
        _select(value.select, depth, out, alias=value.alias)


def _from(value: ast.Select, depth: int, out: Lines) -> None:
    """The FROM clause: joins nest to the left, as FlumeBase's JoinedSource does."""

    def joined(count: int, level: int) -> None:
        if count == 0:
            _source(value.source, level, out)
            return
        join = value.joins[count - 1]
        _add(out, level, "JoinedSource")
        _add(out, level + 1, "left:")
        joined(count - 1, level + 2)
        _add(out, level + 1, "right:")
        _source(join.source, level + 2, out)
        _add(out, level + 1, "ON")
        expression(join.on, level + 2, out)
        _add(out, level + 1, "OVER")
        _window(join.over, level + 2, out)

    joined(len(value.joins), depth)


def _select(value: ast.Select, depth: int, out: Lines, alias: str | None = None) -> None:
    _add(out, depth, "SELECT")
    _add(out, depth + 1, "expressions:")
    for item in value.items:
        if isinstance(item, ast.AllColumns):
            _add(out, depth + 2, "AllFieldsExpr")
            continue
        _add(out, depth + 2, "AliasedExpr" + (f" alias={item.alias}" if item.alias else ""))
        expression(item.expr, depth + 3, out)
    _add(out, depth + 1, "FROM:")
    _from(value, depth + 2, out)
    if value.where is not None:
        _add(out, depth + 1, "WHERE")
        expression(value.where, depth + 2, out)
    if value.group_by:
        _add(out, depth + 1, "GROUP BY")
        for column in value.group_by:
            expression(column, depth + 2, out)
    if value.over is not None:
        _add(out, depth + 1, "OVER")
        _window(value.over, depth + 2, out)
    if value.having is not None:
        _add(out, depth + 1, "HAVING")
        expression(value.having, depth + 2, out)
    if value.windows:
        _add(out, depth + 1, "Windows:")
        for each in value.windows:
            _add(out, depth + 2, f"WindowDef name={each.name}")
            _range(each.range, depth + 3, out)
    if alias is not None:
        _add(out, depth + 1, f"AS: alias={alias}")


def tree(statement: ast.Statement, depth: int = 0) -> Lines:
    """The parse tree of a statement, one string a line.

    Examples:
        >>> from rillet.rtsql.parser import parse
        >>> print("\\n".join(tree(parse("SELECT x FROM foo WHERE x > 1"))))
        SELECT
          expressions:
            AliasedExpr
              IdentifierExpr name=x
          FROM:
            Literal source: name=foo
          WHERE
            BinExpr op=>
              left expr:
                IdentifierExpr name=x
              right expr:
                ConstExpr value=1
    """
    out: Lines = []
    if isinstance(statement, ast.Select):
        _select(statement, depth, out)
    elif isinstance(statement, ast.CreateStream):
        _add(out, depth, f"CREATE STREAM name={statement.name}")
        _add(out, depth + 1, "fields:")
        for column in statement.columns:
            _add(out, depth + 2, f"{column.name} {column.type}")
        spec = statement.source
        if spec is not None:
            local = " local" if spec.local else ""
            _add(out, depth + 1, f"source: type={spec.kind}{local} spec={spec.spec}")
            _add(out, depth + 1, f"FormatSpec format={spec.event_format or 'delimited'}")
            for key, value in spec.properties:
                _add(out, depth + 2, f"{key} = {value}")
    elif isinstance(statement, ast.CreateStreamAs):
        _add(out, depth, f"CREATE STREAM name={statement.name} AS")
        for key, option in statement.options:
            _add(out, depth + 1, f"{key} = {option}")
        _select(statement.select, depth + 1, out)
    elif isinstance(statement, ast.RefreshStream):
        since = f" since={statement.since}" if statement.since is not None else ""
        _add(out, depth, f"REFRESH STREAM name={statement.name}{since}")
    elif isinstance(statement, ast.DropStream):
        _add(out, depth, f"DROP type=STREAM name={statement.name}")
    elif isinstance(statement, ast.DropFlow):
        _add(out, depth, f"DROP type=FLOW id={statement.flow_id}")
    elif isinstance(statement, ast.Show):
        _add(out, depth, f"SHOW {statement.what}")
    elif isinstance(statement, ast.Describe):
        _add(out, depth, f"DESCRIBE name={statement.name}")
    else:
        _add(out, depth, "EXPLAIN")
        out.extend(tree(statement.statement, depth + 1))
    return out
