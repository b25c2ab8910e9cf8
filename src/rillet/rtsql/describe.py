"""The text of SHOW and DESCRIBE, in FlumeBase's shell notation.

A stream reads as FlumeBase's stream symbol prints::

    data (STREAM(INT, STRING))
      type: Source
      source: tail("/path/to/data.txt")
      format: delimited
      local
      fields:
        id INT
        name STRING

(FlumeBase prints a field as ``label/alias/(display name) type``, the three names alike for
a declared column; rillet prints it as CREATE STREAM declares it), and a function as its name
and signature: ``length ((STRING) -> INT)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rillet.aggregates import AGGREGATES
from rillet.datatypes import DataType
from rillet.expressions import functions
from rillet.rtsql import ast, catalog, printer
from rillet.schema import IMPLICIT_TIME

if TYPE_CHECKING:
    from rillet.database import Database
    from rillet.monitors.stream import MonitoredStream

#: FlumeBase's names of the kinds of stream source
SOURCE_TYPES = {"FILE": "File", "SOURCE": "Source", "NODE": "Node"}


def stream_lines(db: Database, stream: MonitoredStream) -> list[str]:
    """A stream as DESCRIBE shows it.  A stream fed by ``append`` (no FROM clause) is of
    FlumeBase's type ``Memory``: events handed to the engine directly."""
    created = catalog.created(db, stream.name)
    columns: list[tuple[str, DataType]]
    if created is not None:
        columns = [(c.name, c.type) for c in created.columns]
    else:
        schema = stream.schema
        columns = [
            (c.name, c.type)
            for c in schema.columns
            if not (schema.implicit_time and c.name == IMPLICIT_TIME)
        ]
    lines = [f"{stream.name} (STREAM({', '.join(str(t) for _, t in columns)}))"]
    spec = created.source if created is not None else None
    if spec is None:
        lines.append("  type: Memory")
    else:
        lines.append(f"  type: {SOURCE_TYPES[spec.kind]}")
        lines.append(f"  source: {spec.spec}")
        lines.append(f"  format: {spec.event_format or 'delimited'}")
        if spec.properties:
            lines.append("    format properties:")
            lines.extend(f"    '{key}' = '{value}'" for key, value in spec.properties)
        if spec.local:
            lines.append("  local")
    lines.append("  fields:")
    lines.extend(f"    {printer.name(name)} {dtype}" for name, dtype in columns)
    return lines


def function_lines(name: str) -> list[str] | None:
    """``name (signature)``, one line an overload, or None if there is no such function."""
    name = functions.canonical(name)
    scalar = functions.SCALARS.get(name)
    if scalar is not None:
        return [f"{name} {signature}" for signature in scalar.signatures]
    aggregate = AGGREGATES.get(name)
    if aggregate is not None:
        return [f"{name} {aggregate.signature}"]
    return None


def describe(db: Database, statement: ast.Describe) -> list[str]:
    """DESCRIBE: a stream's definition, else a function's signatures."""
    found = catalog.find(db, statement.name)
    if found is not None:
        return stream_lines(db, found)
    lines = function_lines(statement.name)
    if lines is None:
        names = [s.name for s in db.streams()] + list(functions.SCALARS) + list(AGGREGATES)
        raise catalog.no_such("No such identifier", statement.name, names)
    return lines


def show_streams(db: Database) -> list[str]:
    """SHOW STREAMS: every stream's definition, a blank line after each but the last."""
    lines: list[str] = []
    for each in db.streams():
        if lines:
            lines.append("")
        lines.extend(stream_lines(db, each))
    return lines


def show_flows(flows: list[Any]) -> list[str]:
    """SHOW FLOWS: the shell's ``\\f`` table (watch mark, id, output stream, query, state,
    and the error of a named flow that failed)."""
    lines = ["Watch?\tFlowId\tStream\tQuery\tState\tError"]
    for flow in flows:
        mark = "  *" if getattr(flow, "watched", False) else "   "
        name = getattr(flow, "name", None) or ""
        error = " ".join((flow.error or "").split())  # one line in the table
        lines.append(f"{mark}\t{flow.id}\t{name}\t{flow.query}\t{flow.state}\t{error}")
    return lines
