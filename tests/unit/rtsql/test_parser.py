"""The statement parser: every example statement of the rtsql reference gives the AST worked
out by hand, and every parse error names its line, column and what was expected there."""

from __future__ import annotations

from typing import Any

import pytest

from rillet.datatypes import parse_type
from rillet.expressions.nodes import Attribute, Binary, Call, Column, IsNull, Literal, Node
from rillet.rtsql import ast
from rillet.rtsql.parser import parse
from tests.property.test_rtsql import shape
from tests.unit.support import assert_parse_error


def col(name: str, qualifier: str | None = None) -> Column:
    return Column(name=name, qualifier=qualifier)


def lit(value: Any) -> Literal:
    return Literal(value=value)


def op(symbol: str, left: Node, right: Node) -> Binary:
    return Binary(op=symbol, left=left, right=right)


def call(name: str, *args: Node, star: bool = False) -> Call:
    return Call(name=name, args=args, star=star)


def item(expr: Node, alias: str | None = None) -> ast.SelectItem:
    return ast.SelectItem(expr=expr, alias=alias)


def sel(*items: ast.SelectItem | ast.AllColumns, source: ast.Source, **clauses: Any) -> ast.Select:
    return ast.Select(items=items, source=source, **clauses)


def ref(name: str, alias: str | None = None) -> ast.StreamRef:
    return ast.StreamRef(name=name, alias=alias)


def preceding(amount: int, unit: str = "SECONDS") -> ast.Range:
    return ast.Range(preceding=ast.Interval(amount=amount, unit=unit))


def stream(name: str, columns: str, source: ast.SourceSpec | None = None) -> ast.CreateStream:
    pairs = [c.strip().split(" ", 1) for c in columns.split(",")]
    defs = tuple(ast.ColumnDef(name=n, type=parse_type(t)) for n, t in pairs)
    return ast.CreateStream(name=name, columns=defs, source=source)


STAR = ast.AllColumns()
FOO = ref("foo")
FIVE_SECONDS = preceding(5)

# Every example statement of shared/reference/flumebase-rtsql.txt, in its order (a line the
# shell continued with its "->" prompt is a line break here).
EXAMPLES: list[tuple[str, ast.Statement]] = [
    ("CREATE STREAM data(id int, name string, favcolor string,\n"
     "luckynumber int) FROM LOCAL SOURCE 'tail(\"/path/to/data.txt\")';",
     stream("data", "id INT, name STRING, favcolor STRING, luckynumber INT",
            ast.SourceSpec(kind="SOURCE", spec='tail("/path/to/data.txt")', local=True))),
    ("SELECT * FROM data;", sel(STAR, source=ref("data"))),
    ("SELECT favcolor FROM data WHERE luckynumber = 42;",
     sel(item(col("favcolor")), source=ref("data"), where=op("=", col("luckynumber"), lit(42)))),
    ("CREATE STREAM foo (x STRING) FROM FILE\n'hdfs://nn.example.com/user/aaron/foo.txt';",
     stream("foo", "x STRING",
            ast.SourceSpec(kind="FILE", spec="hdfs://nn.example.com/user/aaron/foo.txt"))),
    ("CREATE STREAM foo (x STRING) FROM FILE '/user/aaron/foo.txt';",
     stream("foo", "x STRING", ast.SourceSpec(kind="FILE", spec="/user/aaron/foo.txt"))),
    ("CREATE STREAM foo (x STRING) FROM LOCAL FILE '/home/aaron/foo.txt';",
     stream("foo", "x STRING",
            ast.SourceSpec(kind="FILE", spec="/home/aaron/foo.txt", local=True))),
    ("CREATE STREAM foo (x STRING) FROM FILE 'file:///home/aaron/foo.txt';",
     stream("foo", "x STRING", ast.SourceSpec(kind="FILE", spec="file:///home/aaron/foo.txt"))),
    ("CREATE STREAM x(a int, b int) FROM LOCAL FILE 'foo.txt'\n"
     "EVENT FORMAT 'delimited' PROPERTIES ('delimiter' = '|');",
     stream("x", "a INT, b INT",
            ast.SourceSpec(kind="FILE", spec="foo.txt", local=True, event_format="delimited",
                           properties=(("delimiter", "|"),)))),
    ("CREATE STREAM foo AS SELECT x FROM bar;",
     ast.CreateStreamAs(name="foo", select=sel(item(col("x")), source=ref("bar")))),
    ("SHOW FUNCTIONS;", ast.Show(what="FUNCTIONS")),
    ("DESCRIBE sum;", ast.Describe(name="sum")),
    ("DESCRIBE length;", ast.Describe(name="length")),
    ("EXPLAIN SELECT x FROM foo;", ast.Explain(statement=sel(item(col("x")), source=FOO))),
    ("SELECT * FROM foo;", sel(STAR, source=FOO)),
    ("SELECT a, b, d FROM foo;", sel(item(col("a")), item(col("b")), item(col("d")), source=FOO)),
    ("SELECT 2 * a + 3 FROM foo;",
     sel(item(op("+", op("*", lit(2), col("a")), lit(3))), source=FOO)),
    ("SELECT 2 * a AS doubled FROM foo;",
     sel(item(op("*", lit(2), col("a")), "doubled"), source=FOO)),
    ("SELECT doubled FROM (SELECT 2 * a AS doubled FROM foo)\nAS q WHERE doubled > 4;",
     sel(item(col("doubled")),
         source=ast.SubSelect(select=sel(item(op("*", lit(2), col("a")), "doubled"),
                                         source=FOO), alias="q"),
         where=op(">", col("doubled"), lit(4)))),
    ("CREATE STREAM foo (x string) FROM FILE '/f';",
     stream("foo", "x STRING", ast.SourceSpec(kind="FILE", spec="/f"))),
    ("SELECT foo.x FROM foo;", sel(item(col("x", "foo")), source=FOO)),
    ("SELECT v.x FROM verylongname AS v;",
     sel(item(col("x", "v")), source=ref("verylongname", "v"))),
    ("SELECT v.x FROM verylongname v;",
     sel(item(col("x", "v")), source=ref("verylongname", "v"))),
    ("SELECT LENGTH(x) FROM (SELECT x FROM foo) AS f;",
     sel(item(call("length", col("x"))),
         source=ast.SubSelect(select=sel(item(col("x")), source=FOO), alias="f"))),
    ("SELECT x FROM foo WHERE LENGTH(x) > 5;",
     sel(item(col("x")), source=FOO, where=op(">", call("length", col("x")), lit(5)))),
    ("SELECT * FROM f JOIN g ON f.x = g.y\nOVER RANGE INTERVAL 5 SECONDS PRECEDING;",
     sel(STAR, source=ref("f"),
         joins=(ast.Join(source=ref("g"), on=op("=", col("x", "f"), col("y", "g")),
                         over=FIVE_SECONDS),))),
    ("SELECT * FROM f JOIN g ON f.x = g.y OVER\nRANGE BETWEEN INTERVAL 1 SECONDS PRECEDING\n"
     "AND INTERVAL 5 SECONDS FOLLOWING;",
     sel(STAR, source=ref("f"),
         joins=(ast.Join(source=ref("g"), on=op("=", col("x", "f"), col("y", "g")),
                         over=ast.Range(preceding=ast.Interval(amount=1, unit="SECONDS"),
                                        following=ast.Interval(amount=5, unit="SECONDS"))),))),
    ("SELECT COUNT(*) FROM foo OVER RANGE INTERVAL 5 SECONDS PRECEDING;",
     sel(item(call("count", star=True)), source=FOO, over=FIVE_SECONDS)),
    ("SELECT COUNT(*) FROM foo GROUP BY event_src\nOVER RANGE INTERVAL 5 SECONDS PRECEDING;",
     sel(item(call("count", star=True)), source=FOO, group_by=(col("event_src"),),
         over=FIVE_SECONDS)),
    ("SELECT COUNT(*) as hits FROM httpd_log\nOVER RANGE INTERVAL 1 MINUTES PRECEDING;",
     sel(item(call("count", star=True), "hits"), source=ref("httpd_log"),
         over=preceding(1, "MINUTES"))),
    ("SELECT event_src, COUNT(event_src) AS cnt FROM foo\nGROUP BY event_src\n"
     "OVER RANGE INTERVAL 5 SECONDS PRECEDING\nHAVING cnt > 10;",
     sel(item(col("event_src")), item(call("count", col("event_src")), "cnt"), source=FOO,
         group_by=(col("event_src"),), over=FIVE_SECONDS, having=op(">", col("cnt"), lit(10)))),
    ("SELECT COUNT(*) FROM foo OVER mywin\nWINDOW mywin AS (RANGE INTERVAL 10 SECONDS PRECEDING);",
     sel(item(call("count", star=True)), source=FOO, over=ast.WindowName(name="mywin"),
         windows=(ast.WindowDef(name="mywin", range=preceding(10)),))),
    ("SELECT * FROM foo WHERE #interesting IS NOT NULL;",
     sel(STAR, source=FOO, where=IsNull(operand=Attribute(name="interesting"), negated=True))),
    ("SELECT * FROM foo WHERE BIN2STR(#x) = 'abc';",
     sel(STAR, source=FOO, where=op("=", call("bin2str", Attribute(name="x")), lit("abc")))),
    ("SELECT * FROM foo WHERE PRIORITY() = 'ERROR';",
     sel(STAR, source=FOO, where=op("=", call("priority"), lit("ERROR")))),
    ("SELECT * FROM foo WHERE PRIORITY_LEVEL() <= 2;",
     sel(STAR, source=FOO, where=op("<=", call("priority_level"), lit(2)))),
    ("select to_list() from x;", sel(item(call("to_list")), source=ref("x"))),
    ("select to_list(42,211,312) from x;",
     sel(item(call("to_list", lit(42), lit(211), lit(312))), source=ref("x"))),
    ("describe to_list;", ast.Describe(name="to_list")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_every_example_of_the_reference_parses_to_its_ast(
    text: str, expected: ast.Statement
) -> None:
    got = parse(text)
    assert shape(got) == shape(expected)
    assert shape(parse(text.rstrip(";"))) == shape(expected)  # the ';' is optional


def test_other_statements_and_forms() -> None:
    assert parse("DROP STREAM foo") == ast.DropStream(name="foo")
    assert parse("drop flow 12;") == ast.DropFlow(flow_id=12)
    assert parse("SHOW streams") == ast.Show(what="STREAMS")
    assert parse("show Flows") == ast.Show(what="FLOWS")
    assert parse("DESCRIBE perf.alerts") == ast.Describe(name="perf.alerts")
    assert parse('DROP STREAM "CaseSensitiveStream"') == ast.DropStream(name="CaseSensitiveStream")
    assert parse("DROP STREAM CaseSensitiveStream") == ast.DropStream(name="casesensitivestream")
    assert parse("EXPLAIN DROP STREAM x") == ast.Explain(statement=ast.DropStream(name="x"))
    # BETWEEN without RANGE, as the grammar line writes it; singular units; constant amounts
    window = parse("SELECT * FROM f JOIN g ON f.x = g.y OVER BETWEEN INTERVAL 1 HOUR "
                   "PRECEDING AND INTERVAL 2 * 30 MINUTE FOLLOWING")  # fmt: skip
    assert isinstance(window, ast.Select)
    assert window.joins[0].over == ast.Range(
        preceding=ast.Interval(amount=1, unit="HOURS"),
        following=ast.Interval(amount=60, unit="MINUTES"),
    )
    assert isinstance(window.joins[0].over, ast.Range)
    assert (window.joins[0].over.preceding_ms, window.joins[0].over.following_ms) == (
        3_600_000,
        3_600_000,
    )
    for unit, ms in [("SECOND", 1000), ("MINUTES", 60_000), ("DAYS", 86_400_000),
                     ("WEEK", 604_800_000), ("MONTHS", 2_592_000_000),
                     ("YEAR", 31_536_000_000)]:  # fmt: skip
        statement = parse(f"SELECT COUNT(*) FROM f OVER RANGE INTERVAL 1 {unit} PRECEDING")
        assert isinstance(statement, ast.Select) and isinstance(statement.over, ast.Range)
        assert statement.over.preceding_ms == ms
    # several windows, qualified group columns, a quoted alias, comments
    many = parse(
        'SELECT f.k "Key", SUM(v) FROM f // the facts\n GROUP BY f.k OVER w1 /* 10 s */ '
        "WINDOW w1 AS (RANGE INTERVAL 10 SECONDS PRECEDING), WINDOW w2 AS "
        "(RANGE INTERVAL 1 SECONDS PRECEDING)"
    )
    assert isinstance(many, ast.Select)
    assert many.items[0] == item(col("k", "f"), "Key")
    assert many.group_by == (col("k", "f"),)
    assert [w.name for w in many.windows] == ["w1", "w2"]
    assert many.window(ast.WindowName(name="w2")) == preceding(1)


def test_sql_words_rtsql_lacks_are_still_names_where_nothing_else_fits() -> None:
    statement = parse('SELECT distinct, all AS a, "left" FROM f AS "order"')
    assert isinstance(statement, ast.Select)
    assert statement.items == (item(col("distinct")), item(col("all"), "a"), item(col("left")))
    assert statement.source == ref("f", "order")
    assert str(statement) == 'SELECT "distinct", "all" AS a, "left" FROM f AS "order"'


def test_properties_take_java_escapes_and_keep_their_order() -> None:
    statement = parse(
        r"CREATE STREAM t (a STRING, ts TIMESTAMP) FROM FILE 'C:\\logs\\a.tsv' EVENT FORMAT "
        r"'delimited' PROPERTIES ('delimiter' = '\t', 'null.sequence' = '\\N', "
        r"'timestamp.col' = 'ts', 'quote' = 'it''s \u00e9\101')"
    )
    assert isinstance(statement, ast.CreateStream) and statement.source is not None
    assert statement.source.spec == "C:\\logs\\a.tsv"
    assert statement.source.properties == (
        ("delimiter", "\t"),
        ("null.sequence", "\\N"),
        ("timestamp.col", "ts"),
        ("quote", "it's éA"),
    )
    assert statement.source.property_map["delimiter"] == "\t"


def test_positions_of_statement_parts() -> None:
    statement = parse(
        "SELECT a\nFROM f\n  JOIN g ON f.x = g.y OVER w\n"
        "WINDOW w AS (RANGE INTERVAL 1 SECOND PRECEDING)"
    )
    assert isinstance(statement, ast.Select)
    assert (statement.line, statement.col) == (1, 1)
    assert (statement.source.line, statement.source.col) == (2, 6)
    join = statement.joins[0]
    assert (join.line, join.col) == (3, 3)
    assert (join.on.line, join.on.col) == (3, 17)  # the "=" of the condition
    assert (join.over.line, join.over.col) == (3, 28)
    assert (statement.windows[0].line, statement.windows[0].col) == (4, 1)


# -- errors ----------------------------------------------------------------------------------

STATEMENTS = "a statement (SELECT, CREATE STREAM, DROP, SHOW, DESCRIBE or EXPLAIN)"


@pytest.mark.parametrize(
    ("text", "line", "col", "expected", "message"),
    [
        ("SELECT * FROM select", 1, 15, "a stream name or (SELECT ...)",
         "expected a stream name or (SELECT ...) at 1:15, found 'select'"),
        ("", 1, 1, STATEMENTS, f"expected {STATEMENTS} at 1:1, found end of input"),
        ("SELEC * FROM x", 1, 1, STATEMENTS, None),
        ("SELECT FROM x", 1, 8, "an expression", "expected an expression at 1:8, found 'FROM'"),
        ("SELECT a b c FROM x", 1, 12, "',', AS, an alias or FROM",
         "expected ',', AS, an alias or FROM at 1:12, found 'c'"),
        ("SELECT a FROM", 1, 14, "a stream name or (SELECT ...)", None),
        ("SELECT a FROM x WHERE", 1, 22, "an expression", None),
        ("SELECT a FROM x WHERE a GROUP x", 1, 31, "'BY'", None),
        ("SELECT a FROM x OVER RANGE INTERVAL 5 SECONDS PRECEDING WHERE a", 1, 57,
         "HAVING, WINDOW or end of statement",
         "expected HAVING, WINDOW or end of statement at 1:57, found 'WHERE'"),
        ("SELECT a FROM x HAVING a WHERE b", 1, 26, "WINDOW or end of statement", None),
        ("SELECT a FROM x y z", 1, 19,
         "JOIN, WHERE, GROUP BY, OVER, HAVING, WINDOW or end of statement",
         "expected JOIN, WHERE, GROUP BY, OVER, HAVING, WINDOW or end of statement at 1:19, "
         "found 'z'"),
        ("SELECT a FROM f)", 1, 16, "';' or end of input", None),
        ("SELECT a FROM f WINDOW w AS (RANGE INTERVAL 1 SECOND PRECEDING) HAVING a", 1, 65,
         "end of statement", None),
        ("SELECT a FROM x;;", 1, 17, "';' or end of input", None),
        ("SELECT a FROM (SELECT b FROM y)", 1, 32,
         "a reference name for the nested SELECT (AS name)", None),
        ("SELECT a FROM (SELECT b FROM y", 1, 31, "')' closing the nested SELECT", None),
        ("SELECT a FROM f JOIN g f.x = g.y", 1, 25, "ON and the join condition", None),  # g AS f
        ("SELECT a FROM f JOIN g ON f.x = g.y", 1, 36, "OVER and the join's window", None),
        ("SELECT a FROM f OVER", 1, 21, "RANGE INTERVAL ... or a window name", None),
        ("SELECT a FROM f OVER RANGE 5 SECONDS PRECEDING", 1, 28, "INTERVAL or BETWEEN", None),
        ("SELECT a FROM f OVER RANGE INTERVAL x SECONDS PRECEDING", 1, 37,
         "a whole number of time units (0 or more)", None),
        ("SELECT a FROM f OVER RANGE INTERVAL -5 SECONDS PRECEDING", 1, 37,
         "a whole number of time units (0 or more)", None),
        ("SELECT a FROM f OVER RANGE INTERVAL 5 FORTNIGHTS PRECEDING", 1, 39,
         "a time unit (SECONDS, MINUTES, HOURS, DAYS, WEEKS, MONTHS, YEARS)", None),
        ("SELECT a FROM f OVER RANGE INTERVAL 5 SECONDS", 1, 46, "'PRECEDING'", None),
        ("SELECT a FROM f OVER RANGE BETWEEN INTERVAL 1 SECONDS PRECEDING AND "
         "INTERVAL 2 SECONDS PRECEDING", 1, 88, "'FOLLOWING'", None),
        ("SELECT a FROM f WINDOW w (RANGE INTERVAL 1 SECONDS PRECEDING)", 1, 26, "'AS'", None),
        ("SELECT a FROM f WINDOW w AS (w2)", 1, 30, "RANGE", None),
        ("SELECT a FROM f GROUP BY a + 1", 1, 26, "a column to group by", None),
        ("SELECT a AS FROM f", 1, 13, "an alias (a name)", None),
        ("SELECT f. FROM f", 1, 11, "a column name after 'f'.", None),
        ("SELECT 'abc FROM f", 1, 8, "a closing quote (')",
         "unexpected \"'\" at 1:8; expected a closing quote (')"),
        ("SELECT a FROM f WHERE a = 1 $", 1, 29,
         "GROUP BY, OVER, HAVING, WINDOW or end of statement", None),
        ("SELECT a\nFROM f\nWHERE a >\n", 4, 1, "an expression", None),
        ("CREATE TABLE t (a INT)", 1, 8, "'STREAM'", None),
        ("CREATE STREAM t a INT", 1, 17, "'(' and the columns, or AS SELECT", None),
        ("CREATE STREAM t (a INT b INT)", 1, 24, "',' or ')'", None),
        ("CREATE STREAM t (a VARCHAR)", 1, 20,
         "a type (BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, STRING, BINARY, TIMESTAMP, PRECISE(n), "
         "LIST<t>)", None),
        ("CREATE STREAM t (select INT)", 1, 18, "a column name", None),
        ("CREATE STREAM t (a INT) FROM TAPE 'x'", 1, 30, "LOCAL, FILE, SOURCE or NODE", None),
        ("CREATE STREAM t (a INT) FROM LOCAL TAPE 'x'", 1, 36, "FILE, SOURCE or NODE", None),
        ("CREATE STREAM t (a INT) FROM FILE x.txt", 1, 35, "the file as a quoted string", None),
        ("CREATE STREAM t (a INT) FROM FILE 'x' EVENT 'csv'", 1, 45, "'FORMAT'", None),
        ("CREATE STREAM t (a INT) FROM FILE 'x' EVENT FORMAT csv", 1, 52,
         "the event format as a quoted string ('delimited', ...)", None),
        ("CREATE STREAM t (a INT) FROM FILE 'x' EVENT FORMAT 'delimited' PROPERTIES "
         "(delimiter = '|')", 1, 76, "a property name as a quoted string", None),
        ("CREATE STREAM t (a INT) FROM FILE 'x' EVENT FORMAT 'delimited' PROPERTIES "
         "('delimiter' '|')", 1, 88, "'='", None),
        ("CREATE STREAM t AS FROM f", 1, 20, "SELECT", None),
        # SQL that rtsql does not have: said so, never read as an alias (LEFT JOIN is not
        # an inner join of f aliased "left")
        ("SELECT DISTINCT a FROM f", 1, 8, "a select expression or *",
         "expected a select expression or * at 1:8, found 'DISTINCT' (rtsql has no DISTINCT "
         "or ALL: every SELECT is ALL)"),
        ("SELECT ALL * FROM f", 1, 8, "a select expression or *", None),
        ("SELECT a FROM f LEFT JOIN g ON f.a = g.b OVER RANGE INTERVAL 1 SECOND PRECEDING", 1,
         17, "JOIN, WHERE, GROUP BY, OVER, HAVING, WINDOW or end of statement",
         "expected JOIN, WHERE, GROUP BY, OVER, HAVING, WINDOW or end of statement at 1:17, "
         "found 'LEFT' (rtsql has only inner joins, written JOIN)"),
        ("SELECT a FROM f WHERE a > 1 ORDER BY a", 1, 29,
         "GROUP BY, OVER, HAVING, WINDOW or end of statement",
         "expected GROUP BY, OVER, HAVING, WINDOW or end of statement at 1:29, found 'ORDER' "
         "(rtsql has no ORDER BY or LIMIT)"),
        ("SELECT a limit FROM f", 1, 10, "',', AS, an alias or FROM", None),
        ("SELECT a FROM f WHERE a IN (1, 2)", 1, 25,
         "GROUP BY, OVER, HAVING, WINDOW or end of statement",
         "expected GROUP BY, OVER, HAVING, WINDOW or end of statement at 1:25, found 'IN' "
         "(rtsql has no IN, EXISTS or subqueries in WHERE)"),
        ("SELECT COUNT(DISTINCT a) FROM f OVER RANGE INTERVAL 1 SECONDS PRECEDING", 1, 14,
         "an argument",
         "expected an argument at 1:14, found 'DISTINCT' (rtsql has no COUNT(DISTINCT ...): "
         "approx_count_distinct(x) counts distinct values)"),
        ("SELECT CAST(a AS STRING) FROM f", 1, 15, "',' or ')'",
         "expected ',' or ')' at 1:15, found 'AS' (rtsql has no CAST: values are promoted to "
         "wider types as needed)"),
        ("SELECT a FROM f WINDOW w AS (RANGE INTERVAL 1 SECONDS PRECEDING), "
         "WINDOW w AS (RANGE INTERVAL 2 SECONDS PRECEDING)", 1, 74,
         "a window name not defined before",
         "expected a window name not defined before at 1:74, found 'w' ('w' is defined "
         "twice)"),
        ("DROP TABLE x", 1, 6, "STREAM or FLOW", None),
        ("DROP FLOW x", 1, 11, "a flow id (a number)", None),
        ("DROP STREAM", 1, 12, "a stream name", None),
        ("SHOW TABLES", 1, 6, "STREAMS, FLOWS or FUNCTIONS", None),
        ("DESCRIBE", 1, 9, "a stream or function name", None),
        ("EXPLAIN EXPLAIN SELECT 1 FROM f", 1, 9,
         "a statement (SELECT, CREATE STREAM, DROP, SHOW, DESCRIBE)", None),
    ],
)  # fmt: skip
def test_parse_errors_name_line_column_and_what_was_expected(
    text: str, line: int, col: int, expected: str, message: str | None
) -> None:
    assert_parse_error(parse, text, (line, col), expected, message)


def test_every_registered_aggregate_parses_in_a_windowed_select() -> None:
    from rillet.aggregates import AGGREGATES

    for name, function in AGGREGATES.items():
        args = (
            ["*"]
            if function.star
            else ["x", *("0.5" if p == "q" else "3" for p in function.params)]
        )
        statement = parse(
            f"SELECT k, {name.upper()}({', '.join(args)}) AS v FROM s GROUP BY k "
            "OVER RANGE INTERVAL 1 MINUTE PRECEDING"
        )
        assert isinstance(statement, ast.Select)
        value = statement.items[1]
        assert isinstance(value, ast.SelectItem) and isinstance(value.expr, Call)
        assert value.expr.name == name and value.alias == "v"
        assert value.expr.star == function.star
