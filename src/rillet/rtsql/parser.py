"""The rtsql statement parser: text -> :mod:`rillet.rtsql.ast` statements.

Statements are read from the one lexer's tokens; expressions with the expression parser
(:class:`rillet.expressions.parser.Parser`, with the statement keywords reserved) and column
types with :class:`rillet.datatypes.TypeParser`.  Every error is a ParseError with the line,
column and what was expected there.
"""

from __future__ import annotations

from typing import Any

from rillet.datatypes import TypeParser
from rillet.expressions.nodes import Binary, Call, Column, Literal, Node, Unary
from rillet.expressions.parser import KEYWORDS as EXPRESSION_KEYWORDS
from rillet.expressions.parser import Interval as IntervalValue
from rillet.expressions.parser import Parser as ExpressionParser
from rillet.expressions.parser import unquote
from rillet.rtsql import ast
from rillet.rtsql.lexer import Token, unescape

#: words that cannot be names unquoted, because a clause could start there
STATEMENT_KEYWORDS = frozenset(
    {
        "SELECT", "FROM", "WHERE", "GROUP", "BY", "HAVING", "OVER", "WINDOW", "JOIN", "ON",
        "AS", "RANGE", "BETWEEN", "PRECEDING", "FOLLOWING", "CREATE", "DROP", "SHOW",
        "DESCRIBE", "EXPLAIN",
    }
)  # fmt: skip
RESERVED = EXPRESSION_KEYWORDS | STATEMENT_KEYWORDS
#: unit words (singular or plural) -> the AST's plural unit
UNITS = {**{u: u for u in ast.UNIT_MS}, **{u[:-1]: u for u in ast.UNIT_MS}}
#: SQL words rtsql does not have, never read as an alias, each with what to say instead
NOT_RTSQL = {
    **dict.fromkeys(
        ("INNER", "OUTER", "LEFT", "RIGHT", "FULL", "NATURAL", "CROSS"),
        "rtsql has only inner joins, written JOIN",
    ),
    **dict.fromkeys(("ORDER", "LIMIT"), "rtsql has no ORDER BY or LIMIT"),
    "UNION": "rtsql has no UNION",
    **dict.fromkeys(("IN", "EXISTS"), "rtsql has no IN, EXISTS or subqueries in WHERE"),
    **dict.fromkeys(("DISTINCT", "ALL"), "rtsql has no DISTINCT or ALL: every SELECT is ALL"),
}
STATEMENTS = "a statement (SELECT, CREATE STREAM, DROP, SHOW, DESCRIBE or EXPLAIN)"
#: the windows a GROUP BY may name beside its columns
WINDOW_FUNCTIONS = ("tumble", "hop", "session")
_SELECT_CLAUSES = ("JOIN", "WHERE", "GROUP BY", "OVER", "HAVING", "WINDOW")


class Parser(ExpressionParser, TypeParser):
    """Reads one statement (a trailing ``;`` is optional)."""

    def __init__(self, text: str) -> None:
        super().__init__(text, RESERVED)

    def statement_only(self) -> ast.Statement:
        result = self.statement()
        self.accept(";")
        if self.token.kind != "end":
            raise self.error("';' or end of input")
        return result

    # -- helpers ----------------------------------------------------------------------------

    def at(self, token: Token | None = None) -> dict[str, Any]:
        token = token or self.token
        return {"line": token.line, "col": token.col}

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "word" and self.token.upper in words

    def identifier(self, expected: str) -> str:
        """A name: a word that is not a keyword (lower-cased), or a double-quoted name."""
        token = self.token
        if token.kind == "quoted":
            self.advance()
            return unquote(token.text)
        if token.kind == "word" and token.upper not in RESERVED:
            self.advance()
            return token.text.lower()
        raise self.error(expected)

    def stream_name(self, expected: str = "a stream name") -> str:
        """A stream's name; unquoted names may have dotted parts (``perf.alerts``)."""
        quoted = self.token.kind == "quoted"
        name = self.identifier(expected)
        while not quoted and self.token.text == "." and self.peek().kind == "word":
            self.advance()
            name += "." + self.identifier("a name after '.'")
        return name

    def string(self, expected: str) -> str:
        if self.token.kind != "string":
            raise self.error(expected)
        return unescape(self.advance().text)

    # -- statements -------------------------------------------------------------------------

    def statement(self) -> ast.Statement:
        token = self.token
        word = token.upper if token.kind == "word" else ""
        if word == "SELECT":
            return self.select()
        if word == "CREATE":
            return self.create()
        if word == "REFRESH":
            self.advance()
            self.expect("STREAM")
            name = self.stream_name()
            since = self.string("the time as a quoted string") if self.accept("SINCE") else None
            return ast.RefreshStream(name=name, since=since, **self.at(token))
        if word == "DROP":
            self.advance()
            if self.accept("STREAM"):
                return ast.DropStream(name=self.stream_name(), **self.at(token))
            if self.accept("FLOW"):
                if self.token.kind != "number" or not self.token.text.isdigit():
                    raise self.error("a flow id (a number)")
                return ast.DropFlow(flow_id=int(self.advance().text), **self.at(token))
            raise self.error("STREAM or FLOW")
        if word == "SHOW":
            self.advance()
            if not self.is_word(*ast.SHOW_TARGETS):
                raise self.error("STREAMS, FLOWS or FUNCTIONS")
            return ast.Show(what=self.advance().upper, **self.at(token))
        if word == "DESCRIBE":
            self.advance()
            return ast.Describe(
                name=self.stream_name("a stream or function name"), **self.at(token)
            )
        if word == "EXPLAIN":
            self.advance()
            if self.is_word("EXPLAIN"):
                raise self.error(STATEMENTS.replace(" or EXPLAIN", ""))
            return ast.Explain(statement=self.statement(), **self.at(token))
        raise self.error(STATEMENTS)

    def create(self) -> ast.CreateStream | ast.CreateStreamAs:
        start = self.advance()
        self.expect("STREAM")
        name = self.stream_name()
        options = self.with_options() if self.accept("WITH") else ()
        if options or self.is_word("AS"):
            self.expect("AS")
            if not self.is_word("SELECT"):
                raise self.error("SELECT")
            return ast.CreateStreamAs(
                name=name, select=self.select(), options=options, **self.at(start)
            )
        self.expect("(", "'(' and the columns, or AS SELECT")
        columns = [self.column_def()]
        while self.accept(","):
            columns.append(self.column_def())
        self.expect(")", "',' or ')'")
        source = self.source_spec() if self.is_word("FROM") else None
        return ast.CreateStream(name=name, columns=tuple(columns), source=source, **self.at(start))

    def with_options(self) -> tuple[tuple[str, str | int | float], ...]:
        """``(name = value, ...)`` after WITH: values are quoted strings, numbers or words."""
        self.expect("(")
        options: list[tuple[str, str | int | float]] = []
        while True:
            key = self.identifier("an option name")
            self.expect("=")
            token = self.token
            value: str | int | float
            if token.kind == "string":
                value = self.string("an option value")
            elif token.kind == "number":
                text = self.advance().text
                value = int(text) if text.isdigit() else float(text)
            elif token.kind == "word":
                value = self.advance().text
            else:
                raise self.error("an option value (a quoted string, a number or a word)")
            options.append((key, value))
            if not self.accept(","):
                break
        self.expect(")", "',' or ')'")
        return tuple(options)

    def column_def(self) -> ast.ColumnDef:
        token = self.token
        name = self.identifier("a column name")
        return ast.ColumnDef(name=name, type=self.datatype(), **self.at(token))

    def source_spec(self) -> ast.SourceSpec:
        start = self.advance()  # FROM
        local = self.accept("LOCAL")
        if not self.is_word(*ast.SOURCE_KINDS):
            raise self.error("FILE, SOURCE or NODE" if local else "LOCAL, FILE, SOURCE or NODE")
        kind = self.advance().upper
        spec = self.string(f"the {kind.lower()} as a quoted string")
        event_format = None
        properties: list[tuple[str, str]] = []
        if self.accept("EVENT"):
            self.expect("FORMAT")
            event_format = self.string("the event format as a quoted string ('delimited', ...)")
            if self.accept("PROPERTIES"):
                self.expect("(")
                while True:
                    at = self.token
                    key = self.string("a property name as a quoted string")
                    if any(key == k for k, _ in properties):  # which one would count is unclear
                        raise self.error(
                            "a property not given before", at, f"{key!r} is given twice"
                        )
                    self.expect("=")
                    properties.append((key, self.string("a property value as a quoted string")))
                    if not self.accept(","):
                        break
                self.expect(")", "',' or ')'")
        return ast.SourceSpec(
            kind=kind, spec=spec, local=local, event_format=event_format,
            properties=tuple(properties), **self.at(start),
        )  # fmt: skip

    # -- SELECT -----------------------------------------------------------------------------

    def select(self) -> ast.Select:
        start = self.expect("SELECT")
        after = self.peek()
        if self.is_word("DISTINCT", "ALL") and (
            after.text == "*"
            or (after.kind in ("word", "quoted", "number", "string", "attr"))
            and after.upper not in ("FROM", "AS")
        ):
            raise self.error("a select expression or *", note=NOT_RTSQL[self.token.upper])
        items = [self.select_item()]
        while self.accept(","):
            items.append(self.select_item())
        if not self.is_word("FROM"):
            raise self.error("',', AS, an alias or FROM")
        self.advance()
        source = self.source()
        joins = []
        while self.is_word("JOIN"):
            join = self.advance()
            right = self.source()
            self.expect("ON", "ON and the join condition")
            on = self.binary()
            self.expect("OVER", "OVER and the join's window")
            joins.append(ast.Join(source=right, on=on, over=self.window(), **self.at(join)))
        where = self.binary() if self.accept("WHERE") else None
        group_by: list[Node] = []
        if self.accept("GROUP"):
            self.expect("BY")
            group_by.append(self.group_column())
            while self.accept(","):
                group_by.append(self.group_column())
        over = self.window() if self.accept("OVER") else None
        having = self.binary() if self.accept("HAVING") else None
        windows = []
        if self.is_word("WINDOW"):
            windows.append(self.window_def())
            while self.accept(","):
                at = self.peek()  # the name after WINDOW
                windows.append(self.window_def())
                if any(w.name == windows[-1].name for w in windows[:-1]):
                    raise self.error(
                        "a window name not defined before",
                        at,
                        f"{windows[-1].name!r} is defined twice",
                    )
        if self.token.kind != "end" and self.token.text not in (";", ")"):
            # a clause out of order, or something no clause starts with
            expected = self.clauses_after(joins, where, group_by, over, having, windows)
            note = NOT_RTSQL.get(self.token.upper, "") if self.token.kind == "word" else ""
            raise self.error(expected, note=note)
        return ast.Select(
            items=tuple(items), source=source, joins=tuple(joins), where=where,
            group_by=tuple(group_by), over=over, having=having, windows=tuple(windows),
            **self.at(start),
        )  # fmt: skip

    def clauses_after(self, *clauses: object) -> str:
        """What may still come after the clauses given so far (they have a fixed order)."""
        filled = [i for i, clause in enumerate(clauses) if clause]
        rest = list(_SELECT_CLAUSES[filled[-1] + (filled[-1] > 0) :] if filled else _SELECT_CLAUSES)
        rest.append("end of statement")
        return ", ".join(rest[:-1]) + " or " + rest[-1] if len(rest) > 1 else rest[0]

    def select_item(self) -> ast.SelectItem | ast.AllColumns:
        token = self.token
        if token.text == "*" and token.kind == "op":
            self.advance()
            return ast.AllColumns(**self.at(token))
        expr = self.binary()
        return ast.SelectItem(expr=expr, alias=self.alias("an alias (a name)"), **self.at(token))

    def alias(self, expected: str) -> str | None:
        """``[AS] name`` after an expression or a stream, or None when there is none."""
        if self.accept("AS") or self.is_name():
            return self.identifier(expected)
        return None

    def is_name(self) -> bool:
        """Whether a name (an alias) is next; never a word of SQL that rtsql lacks."""
        token = self.token
        if token.kind == "quoted":
            return True
        return token.kind == "word" and token.upper not in RESERVED and token.upper not in NOT_RTSQL

    def group_column(self) -> Node:
        start = self.token
        node = self.binary()
        if isinstance(node, Call) and node.name.lower() in WINDOW_FUNCTIONS:
            return node  # TUMBLE(ts, ...), HOP(ts, ...), SESSION(ts, ...): checked by the planner
        if not isinstance(node, Column):
            raise self.error("a column to group by", start)
        return node

    def source(self) -> ast.Source:
        token = self.token
        if token.text == "(" and token.kind == "op":
            self.advance()
            select = self.select()
            self.expect(")", "')' closing the nested SELECT")
            self.accept("AS")
            alias = self.identifier("a reference name for the nested SELECT (AS name)")
            return ast.SubSelect(select=select, alias=alias, **self.at(token))
        name = self.stream_name("a stream name or (SELECT ...)")
        return ast.StreamRef(name=name, alias=self.alias("a reference name"), **self.at(token))

    # -- windows ----------------------------------------------------------------------------

    def window(self) -> ast.Window:
        token = self.token
        if self.is_word("RANGE", "BETWEEN"):
            return self.range()
        if self.is_name():
            return ast.WindowName(name=self.identifier("a window"), **self.at(token))
        raise self.error("RANGE INTERVAL ... or a window name")

    def window_def(self) -> ast.WindowDef:
        start = self.expect("WINDOW")
        name = self.identifier("a window name")
        self.expect("AS")
        self.expect("(")
        if not self.is_word("RANGE", "BETWEEN"):
            raise self.error("RANGE")
        window = self.range()
        self.expect(")")
        return ast.WindowDef(name=name, range=window, **self.at(start))

    def range(self) -> ast.Range:
        start = self.token
        if self.accept("RANGE") and not self.is_word("BETWEEN"):
            if not self.is_word("INTERVAL"):
                raise self.error("INTERVAL or BETWEEN")
            preceding = self.interval_bound("PRECEDING")
            return ast.Range(preceding=preceding, **self.at(start))
        self.expect("BETWEEN")
        preceding = self.interval_bound("PRECEDING")
        self.expect("AND")
        following = self.interval_bound("FOLLOWING")
        return ast.Range(preceding=preceding, following=following, **self.at(start))

    def interval_bound(self, direction: str) -> ast.Interval:
        start = self.expect("INTERVAL")
        amount_token = self.token
        amount = _constant(self.binary(4))  # + - and tighter: the amount stops at its unit
        if amount is None or amount < 0:
            raise self.error("a whole number of time units (0 or more)", amount_token)
        if not (self.token.kind == "word" and self.token.upper in UNITS):
            raise self.error("a time unit (SECONDS, MINUTES, HOURS, DAYS, WEEKS, MONTHS, YEARS)")
        unit = UNITS[self.advance().upper]
        self.expect(direction)
        return ast.Interval(amount=amount, unit=unit, **self.at(start))


def _constant(node: Node) -> int | None:
    """The value of a constant integer expression (``5``, ``2 * 30``), else None."""
    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool | IntervalValue):
            return value
        return None
    if isinstance(node, Unary) and node.op in "+-":
        inner = _constant(node.operand)
        return None if inner is None else (-inner if node.op == "-" else inner)
    if isinstance(node, Binary) and node.op in ("+", "-", "*"):
        left, right = _constant(node.left), _constant(node.right)
        if left is None or right is None:
            return None
        return left + right if node.op == "+" else left - right if node.op == "-" else left * right
    return None


def parse(text: str) -> ast.Statement:
    """The statement in ``text`` (a trailing ``;`` is optional).

    Examples:
        >>> parse("SELECT x FROM foo;").source
        StreamRef(name='foo', alias=None)
        >>> parse("SELECT * FROM select")
        Traceback (most recent call last):
        ...
        rillet.errors.ParseError: expected a stream name or (SELECT ...) at 1:15, found 'select'
    """
    return Parser(text).statement_only()
