"""``db.execute(text)``: one rtsql statement, parsed and carried out.

SELECT becomes a flow (:func:`rillet.flows.submit`); CREATE STREAM ... FROM hands the stream
to its source (:func:`rillet.sources.create_source_stream`); the other statements are done
here and return a :class:`~rillet.rtsql.results.StatementResult` printed as FlumeBase's
shell prints them.  Everything is checked before anything changes.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from rillet import flows, sources
from rillet.errors import ConflictError, UnsupportedError
from rillet.expressions.functions import functions
from rillet.flows.flow import refuse_stopping_named
from rillet.rtsql import ast, catalog, describe, explain
from rillet.rtsql.parser import parse
from rillet.rtsql.results import StatementResult
from rillet.schema import Schema
from rillet.stream import StreamOptions

if TYPE_CHECKING:
    from rillet.database import Database


def execute(db: Database, text: str) -> Any:
    """Run the statement in ``text`` on ``db`` (see the module's docstring)."""
    statement = parse(text)
    if isinstance(statement, ast.Select):
        return flows.submit(db, statement, text)
    if isinstance(statement, ast.CreateStreamAs):
        db._named.create(statement, text)
        return StatementResult(statement, ("CREATE STREAM",))
    return StatementResult(statement, tuple(run(db, statement)))


def run(db: Database, statement: ast.Statement) -> list[str]:
    """Carry out a statement other than SELECT; the lines the shell prints for it."""
    if isinstance(statement, ast.CreateStream):
        create_stream(db, statement)
        return ["CREATE STREAM"]
    if isinstance(statement, ast.CreateStreamAs):
        db._named.create(statement, "")  # pragma: no cover - execute() passes the text
        return ["CREATE STREAM"]
    if isinstance(statement, ast.RefreshStream):
        db._named.refresh(statement.name.lower(), statement.since)
        return ["REFRESH STREAM"]
    if isinstance(statement, ast.DropStream):
        drop_stream(db, statement.name)
        return ["DROP STREAM"]
    if isinstance(statement, ast.DropFlow):
        flow = db.flow(statement.flow_id)
        refuse_stopping_named(flow, "DROP FLOW")
        flow.cancel()
        return ["DROP FLOW"]
    if isinstance(statement, ast.Show):
        if statement.what == "STREAMS":
            return describe.show_streams(db)
        if statement.what == "FLOWS":
            return describe.show_flows(db.flows())
        return functions()
    if isinstance(statement, ast.Describe):
        return describe.describe(db, statement)
    if isinstance(statement, ast.Explain):
        return explain_lines(db, statement.statement)
    raise UnsupportedError(f"{type(statement).__name__} cannot be run here")


def explain_lines(db: Database, statement: ast.Statement) -> list[str]:
    """EXPLAIN: ``Parse tree:``, the tree, and for a SELECT the flow's operator graph."""
    lines = ["Parse tree:", *explain.tree(statement), ""]
    if isinstance(statement, ast.Select):
        graph = flows.explain(db, statement)
        lines.extend(str(graph).rstrip("\n").split("\n"))
    return lines


def schema_of(statement: ast.CreateStream) -> Schema:
    """The declared columns as a schema stamped with arrival time; a source with a
    ``timestamp.col`` property makes that column the event time itself, and says what is
    wrong with the property if anything is."""
    return Schema.build([(c.name, c.type) for c in statement.columns], None)


def create_stream(db: Database, statement: ast.CreateStream) -> None:
    """CREATE STREAM: a stream fed by ``append``, or by its source when it has FROM."""
    from rillet.database import _stream_name

    _stream_name(statement.name)  # the same rule for names as create_stream's
    db._named.check_new(statement.name)
    if catalog.find(db, statement.name) is not None:
        raise ConflictError(
            f"Object already exists at top level: {statement.name}",
            kind="stream",
            name=statement.name,
        )
    # SQL over the streams (db.sql) names them case-insensitively: "FOO" beside foo would
    # read foo there
    twin = next((s.name for s in db.streams() if s.name.lower() == statement.name.lower()), None)
    if twin is not None:
        raise ConflictError(
            f"Object already exists at top level: {statement.name} (as {twin!r}; stream names "
            "must differ in more than case)",
            kind="stream",
            name=statement.name,
        )
    schema = schema_of(statement)
    spec = statement.source
    if spec is None:
        db._create_stream(statement.name, schema, StreamOptions())
    else:
        made = sources.create_source_stream(
            db, statement.name, schema, spec.kind, spec.spec, local=spec.local,
            event_format=spec.event_format, properties=spec.property_map,
        )  # fmt: skip
        # DESCRIBE finds it by the name it got (the sources keep a quoted name's case with
        # Database._create_stream, as above)
        statement = dataclasses.replace(statement, name=getattr(made, "name", statement.name))
    catalog.remember(db, statement)


def drop_stream(db: Database, name: str) -> None:
    """DROP STREAM: stop its source (if any), then delete the stream (and its rejects)."""
    stream = catalog.stream(db, name, "No such object at top level")
    db._named.check_drop(stream.name, by_user=True)  # before its source stops
    db.drop_stream(stream.name)  # stops its source first
    catalog.forget(db, stream.name)
