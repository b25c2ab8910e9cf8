"""db.execute: statements other than SELECT, and the text FlumeBase's shell prints for them
(worked out by hand from the reference and FlumeBase's symbol printing)."""

from __future__ import annotations

from pathlib import Path

import pytest

import rillet
from rillet import errors
from rillet.rtsql import catalog
from rillet.rtsql.execute import schema_of
from rillet.rtsql.parser import parse
from rillet.rtsql.results import StatementResult

SUM = "sum ((var('a, constraints={TYPECLASS_NUMERIC})) -> var('a, constraints={TYPECLASS_NUMERIC}))"
TO_LIST = (
    "to_list ((var('a, constraints={TYPECLASS_ANY})...) -> "
    "LIST<var('a, constraints={TYPECLASS_ANY})> NOT NULL)"
)


def test_create_stream_without_from_is_a_stream_fed_by_append(mem: rillet.Database) -> None:
    result = mem.execute("CREATE STREAM data(id int, name string NOT NULL, tags LIST<STRING>);")
    assert isinstance(result, StatementResult)
    assert str(result) == "CREATE STREAM"
    assert list(result) == ["CREATE STREAM"]
    stream = mem.stream("data")
    assert str(stream.schema) == "id INT, name STRING NOT NULL, tags LIST<STRING>"
    assert stream.schema.implicit_time  # stamped with the arrival time
    stream.append((1, "aaron", ["a"]))
    assert stream.read(0).values_tuple()[1:] == (1, "aaron", ["a"])


def test_show_streams_and_describe_print_flumebase_stream_symbols(mem: rillet.Database) -> None:
    mem.execute("CREATE STREAM data (id INT, name STRING NOT NULL)")
    mem.create_stream("perf", "ts TIMESTAMP, ms DOUBLE", time_column="ts")
    assert str(mem.execute("DESCRIBE data")) == (
        "data (STREAM(INT, STRING NOT NULL))\n"
        "  type: Memory\n"
        "  fields:\n"
        "    id INT\n"
        "    name STRING NOT NULL"
    )
    assert mem.execute("SHOW STREAMS").lines == (
        "data (STREAM(INT, STRING NOT NULL))",
        "  type: Memory",
        "  fields:",
        "    id INT",
        "    name STRING NOT NULL",
        "",
        "perf (STREAM(TIMESTAMP NOT NULL, DOUBLE))",  # a time column is never NULL in rillet
        "  type: Memory",
        "  fields:",
        "    ts TIMESTAMP NOT NULL",
        "    ms DOUBLE",
    )
    assert str(mem.execute("SHOW STREAMS;")).count("\n\n") == 1


def test_describe_shows_the_source_of_a_stream_created_from_one(mem: rillet.Database) -> None:
    # the printing alone: the statement is kept for a stream of the same name
    mem.execute("CREATE STREAM x (a INT, ts TIMESTAMP)")
    catalog.remember(
        mem,
        parse(  # type: ignore[arg-type]
            "CREATE STREAM x(a int, ts timestamp) FROM LOCAL FILE 'foo.txt' EVENT FORMAT "
            "'delimited' PROPERTIES ('delimiter' = '|', 'timestamp.col' = 'ts')"
        ),
    )
    assert str(mem.execute("DESCRIBE x")) == (
        "x (STREAM(INT, TIMESTAMP))\n"
        "  type: File\n"
        "  source: foo.txt\n"
        "  format: delimited\n"
        "    format properties:\n"
        "    'delimiter' = '|'\n"
        "    'timestamp.col' = 'ts'\n"
        "  local\n"
        "  fields:\n"
        "    a INT\n"
        "    ts TIMESTAMP"
    )


def test_describe_a_function_prints_its_signature_as_the_reference_does(
    mem: rillet.Database,
) -> None:
    assert str(mem.execute("DESCRIBE length;")) == "length ((STRING) -> INT)"
    assert str(mem.execute("DESCRIBE sum;")) == SUM
    assert str(mem.execute("describe to_list;")) == TO_LIST
    assert str(mem.execute("DESCRIBE LENGTH")) == "length ((STRING) -> INT)"
    assert str(mem.execute("DESCRIBE count")) == (
        "count ((var('a, constraints={TYPECLASS_ANY})) -> BIGINT NOT NULL)"
    )
    assert str(mem.execute("DESCRIBE host")) == "host (() -> STRING NOT NULL)"
    assert str(mem.execute("DESCRIBE priority_level")) == "priority_level (() -> INT NOT NULL)"


def test_show_functions_lists_scalars_and_aggregates_by_name(mem: rillet.Database) -> None:
    lines = mem.execute("SHOW FUNCTIONS").lines
    assert lines == tuple(sorted(lines))
    for line in ["length ((STRING) -> INT)", SUM, TO_LIST, "host (() -> STRING NOT NULL)",
                 "priority (() -> STRING NOT NULL)", "priority_level (() -> INT NOT NULL)",
                 "event_timestamp (() -> TIMESTAMP NOT NULL)"]:  # fmt: skip
        assert line in lines
    names = {line.split(" ")[0] for line in lines}
    assert set(rillet.aggregates.AGGREGATES) <= names  # the sketches too


def test_unquoted_names_are_lower_cased_quoted_ones_kept(mem: rillet.Database) -> None:
    mem.execute('CREATE STREAM "CaseSensitiveStream" (a INT)')
    mem.execute("CREATE STREAM MixedCase (a INT)")
    assert [s.name for s in mem.streams()] == ["CaseSensitiveStream", "mixedcase"]
    with pytest.raises(errors.ConflictError) as twin:
        mem.execute('CREATE STREAM "MIXEDCASE" (b INT)')  # db.sql could not tell them apart
    assert str(twin.value) == (
        "Object already exists at top level: MIXEDCASE (as 'mixedcase'; stream names must "
        "differ in more than case)"
    )
    with pytest.raises(errors.NotFoundError) as info:
        mem.execute("DESCRIBE CaseSensitiveStream")
    assert str(info.value) == (
        "No such identifier: casesensitivestream; did you mean 'CaseSensitiveStream'?"
    )
    assert str(mem.execute('DESCRIBE "CaseSensitiveStream"')).startswith("CaseSensitiveStream (")
    assert mem.stream("CaseSensitiveStream").name == "CaseSensitiveStream"
    with pytest.raises(errors.NotFoundError) as dropped:
        mem.execute("DROP STREAM CaseSensitiveStream")
    assert str(dropped.value).startswith("No such object at top level: casesensitivestream")
    assert str(mem.execute('DROP STREAM "CaseSensitiveStream"')) == "DROP STREAM"
    assert [s.name for s in mem.streams()] == ["mixedcase"]


def test_drop_stream_removes_it_and_its_name_can_be_used_again(mem: rillet.Database) -> None:
    mem.execute("CREATE STREAM foo (x STRING)")
    mem.stream("foo").append(("a",))
    assert str(mem.execute("DROP STREAM foo;")) == "DROP STREAM"
    assert mem.streams() == []
    with pytest.raises(errors.NotFoundError, match=r"^No such object at top level: foo$"):
        mem.execute("DROP STREAM foo")
    mem.execute("CREATE STREAM foo (y INT)")
    assert len(mem.stream("foo")) == 0


def test_a_rejected_statement_changes_nothing(mem: rillet.Database) -> None:
    mem.execute("CREATE STREAM foo (x STRING)")
    with pytest.raises(errors.ConflictError, match=r"^Object already exists at top level: foo$"):
        mem.execute("CREATE STREAM foo (y INT)")
    with pytest.raises(errors.ParseError):
        mem.execute("CREATE STREAM bar (y VARCHAR)")
    with pytest.raises(errors.SchemaError):
        mem.execute("CREATE STREAM baz (y INT, Y STRING)")  # the same name twice
    with pytest.raises(errors.SchemaError):
        mem.execute('CREATE STREAM "a b" (y INT)')  # not a name a stream may have
    assert [str(s.schema) for s in mem.streams()] == ["x STRING"]
    with pytest.raises(errors.InputError, match="text must be a str"):
        mem.execute(5)  # type: ignore[arg-type]


def test_explain_prints_the_parse_tree(mem: rillet.Database) -> None:
    text = (
        "EXPLAIN CREATE STREAM x(a int, b int) FROM LOCAL FILE 'foo.txt' "
        "EVENT FORMAT 'delimited' PROPERTIES ('delimiter' = '|')"
    )
    assert str(mem.execute(text)) == (
        "Parse tree:\n"
        "CREATE STREAM name=x\n"
        "  fields:\n"
        "    a INT\n"
        "    b INT\n"
        "  source: type=FILE local spec=foo.txt\n"
        "  FormatSpec format=delimited\n"
        "    delimiter = |\n"
    )
    assert mem.streams() == []  # explained, not run
    assert str(mem.execute("EXPLAIN DROP FLOW 3")) == "Parse tree:\nDROP type=FLOW id=3\n"


def test_the_parse_tree_of_a_select_with_every_clause() -> None:
    from rillet.rtsql.explain import tree

    statement = parse(
        "SELECT a AS b, COUNT(*), * FROM (SELECT a, k FROM s) AS q "
        "JOIN t ON q.k = t.k OVER RANGE BETWEEN INTERVAL 1 SECONDS PRECEDING AND INTERVAL "
        "2 SECONDS FOLLOWING WHERE NOT a IS NULL GROUP BY a OVER w HAVING b > -1 "
        "WINDOW w AS (RANGE INTERVAL 5 MINUTES PRECEDING)"
    )
    assert (
        "\n".join(tree(statement))
        == """\
SELECT
  expressions:
    AliasedExpr alias=b
      IdentifierExpr name=a
    AliasedExpr
      FnCallExpr name=count args=*
    AllFieldsExpr
  FROM:
    JoinedSource
      left:
        SELECT
          expressions:
            AliasedExpr
              IdentifierExpr name=a
            AliasedExpr
              IdentifierExpr name=k
          FROM:
            Literal source: name=s
          AS: alias=q
      right:
        Literal source: name=t
      ON
        BinExpr op==
          left expr:
            IdentifierExpr name=q.k
          right expr:
            IdentifierExpr name=t.k
      OVER
        RangeSpec
          from: (1 SECONDS) PRECEDING
          to: (2 SECONDS) FOLLOWING
  WHERE
    UnaryExpr op=NOT
      UnaryExpr op=IS NULL
        IdentifierExpr name=a
  GROUP BY
    IdentifierExpr name=a
  OVER
    WindowName name=w
  HAVING
    BinExpr op=>
      left expr:
        IdentifierExpr name=b
      right expr:
        ConstExpr value=(-1)
  Windows:
    WindowDef name=w
      RangeSpec
        from: (5 MINUTES) PRECEDING
        to: (0)"""
    )


def test_the_declared_columns_are_the_schema_the_source_gets() -> None:
    statement = parse(
        "CREATE STREAM t (a INT, \"Ts\" TIMESTAMP NOT NULL, b LIST<STRING>) FROM FILE 'f' "
        "EVENT FORMAT 'delimited' PROPERTIES ('timestamp.col' = 'Ts')"
    )
    schema = schema_of(statement)  # type: ignore[arg-type]
    assert str(schema) == 'a INT, "Ts" TIMESTAMP NOT NULL, b LIST<STRING>'
    assert schema.implicit_time  # the source makes timestamp.col the event time


def test_create_stream_as_select_over_a_missing_stream_creates_nothing(
    mem: rillet.Database,
) -> None:
    with pytest.raises(errors.NotFoundError, match="bar"):
        mem.execute("CREATE STREAM foo AS SELECT x FROM bar")
    assert mem.streams() == []


def test_a_stream_from_a_file_is_described_with_its_source(
    mem: rillet.Database, tmp_path: Path
) -> None:
    path = tmp_path / "data.txt"
    path.write_text("1|aaron\n2|bob\n")
    text = (
        f"CREATE STREAM data (id INT, name STRING) FROM LOCAL FILE '{path}' "
        "EVENT FORMAT 'delimited' PROPERTIES ('delimiter' = '|')"
    )
    assert str(mem.execute(text)) == "CREATE STREAM"
    assert str(mem.execute("DESCRIBE data")) == (
        "data (STREAM(INT, STRING))\n"
        "  type: File\n"
        f"  source: {path}\n"
        "  format: delimited\n"
        "    format properties:\n"
        "    'delimiter' = '|'\n"
        "  local\n"
        "  fields:\n"
        "    id INT\n"
        "    name STRING"
    )
    assert str(mem.execute("DROP STREAM data")) == "DROP STREAM"
    assert mem.streams() == []
