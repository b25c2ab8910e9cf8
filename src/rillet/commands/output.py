"""Printing an Arrow table as the commands do: an aligned table (rich), CSV or JSON lines."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console
from rich.table import Table

from rillet.shell.output import cell

FORMATS = ("table", "csv", "json")


def write(table: pa.Table, form: str, out: TextIO | None = None) -> None:
    """``table`` to ``out`` (stdout) as ``form``: ``table``, ``csv`` (a header row) or
    ``json`` (one object a line)."""
    out = out or sys.stdout
    if form == "csv":
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        out.write(sink.getvalue().to_pybytes().decode())
    elif form == "json":
        for row in table.to_pylist():
            out.write(json.dumps(row, default=_json_value, ensure_ascii=False) + "\n")
    else:
        shown = Table(*table.column_names, show_edge=False, header_style="bold")
        for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
            shown.add_row(*(cell(v) for v in row))
        Console(file=out, soft_wrap=True).print(shown)
    out.flush()


def _json_value(value: Any) -> Any:
    """What json cannot write itself: times as ISO text, decimals as text, bytes as hex."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
