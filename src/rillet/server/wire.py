"""Bodies on the wire: what an append may send (JSON, NDJSON, CSV, Arrow IPC) and what a
result is sent as (JSON, NDJSON, CSV, Arrow IPC), chosen by Content-Type and Accept."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.json as pajson
from starlette.responses import Response

from rillet.batches import ipc_bytes
from rillet.errors import InputError, RecordError, SchemaError
from rillet.schema import OFFSET, Schema
from rillet.server.errors import json_bytes

ARROW = "application/vnd.apache.arrow.stream"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
JSON = "application/json"


def media(header: str | None) -> str:
    """The media type of a Content-Type or the first of an Accept, without parameters."""
    return (header or "").split(",")[0].split(";")[0].strip().lower()


def records(
    body: bytes, content_type: str | None, schema: Schema, stream: str | None = None
) -> tuple[Any, bool]:
    """An append's records as ``(data, single)``: ``data`` for ``append_many`` (or one record
    for ``append`` when ``single``).  A body that cannot be read is an InputError saying where
    (a CSV value that does not fit its column, a RecordError naming column, row and value)."""
    kind = media(content_type) or JSON
    if kind == ARROW:
        try:
            table = ipc.open_stream(pa.py_buffer(body)).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"the body is not an Arrow IPC stream: {exc}") from None
        return _distinct_columns(table, stream), False
    if kind == CSV:
        types = {c.name: c.type.arrow for c in schema.columns}
        try:
            table = pacsv.read_csv(
                pa.py_buffer(body), convert_options=pacsv.ConvertOptions(column_types=types)
            )
            return _distinct_columns(table, stream), False
        except KeyError as exc:  # pyarrow's answer to a typed column named twice in the header
            found = re.search(r'Field "(.*)" exists', str(exc))
            raise _twice(found.group(1) if found else str(exc), stream) from None
        except (pa.ArrowInvalid, OSError) as exc:
            raise _csv_value_error(body, schema, stream) or InputError(
                f"the CSV body cannot be read: {exc}"
            ) from None
    if kind in (NDJSON, "application/jsonl", "application/json-seq"):
        table = _ndjson_table(body, schema)
        if table is not None:
            return table, False
        rows = []
        for number, line in enumerate(body.splitlines(), start=1):
            if line.strip():
                rows.append(_json(line, number))
        return rows, False
    # curl sends form-urlencoded unless told: a body that is not a form is read as JSON
    if kind in (JSON, "text/json", "", "application/x-www-form-urlencoded"):
        value = _json(body, None)
        if isinstance(value, dict):
            return value, True
        if isinstance(value, list):
            return value, False
        raise InputError(
            "a JSON body is a record (an object) or an array of records, "
            f"not {type(value).__name__}"
        )
    raise InputError(
        f"Content-Type {kind!r} is not one of {JSON}, {NDJSON}, {CSV}, {ARROW}",
        content_type=kind,
    )


def _distinct_columns(table: pa.Table, stream: str | None) -> pa.Table:
    """``table``, refused when a column name appears twice (which value would be meant?)."""
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            raise _twice(name, stream)
        seen.add(name)
    return table


def _twice(name: str, stream: str | None) -> SchemaError:
    return SchemaError(
        f"column {name!r} appears twice in the body"
        + (f" for stream {stream!r}" if stream else ""),
        stream=stream, column=name,
    )  # fmt: skip


def _csv_value_error(body: bytes, schema: Schema, stream: str | None) -> InputError | None:
    """The first value of a CSV body that does not fit its column, as the library's
    RecordError (stream, column, row, value); None when the CSV itself cannot be read."""
    types = {c.name: c.type.arrow for c in schema.columns}
    labels = {c.name: str(c.type) for c in schema.columns}
    try:
        text = pacsv.read_csv(
            pa.py_buffer(body),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(types, pa.string())),
        )
    except (pa.ArrowInvalid, OSError, KeyError):
        return None
    names = text.column_names
    if len(set(names)) < len(names):
        return _twice(next(n for i, n in enumerate(names) if n in names[:i]), stream)
    for name in names:
        if name not in types:
            continue
        try:
            pacsv.read_csv(
                pa.py_buffer(body),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: types[name]}, include_columns=[name]
                ),
            )
        except (pa.ArrowInvalid, OSError) as exc:
            found = re.search(r"invalid value '(.*)'$", str(exc), re.DOTALL)
            values = text.column(name).to_pylist()
            value = found.group(1) if found else None
            row = values.index(value) if value in values else None
            where = f"column {name!r}" + (f" of row {row}" if row is not None else "")
            return RecordError(
                f"{where}{f' in stream {stream!r}' if stream else ''}: {value!r} is not "
                f"a {labels[name]}",
                stream=stream, column=name, row=row, value=value,
            )  # fmt: skip
    return None


def _ndjson_table(body: bytes, schema: Schema) -> pa.Table | None:
    """NDJSON read in bulk by pyarrow's JSON reader, typed as the stream's columns; None
    when it cannot (a value of another type, an unknown field, a bad line): then each line
    is read on its own, so the error names its line, column and value."""
    fields = [pa.field(c.name, c.type.arrow) for c in schema.columns]
    try:
        table = pajson.read_json(
            pa.BufferReader(body),
            parse_options=pajson.ParseOptions(
                explicit_schema=pa.schema(fields), unexpected_field_behavior="error"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        return None
    # columns no line had are left out, so that a missing time is stamped, as for rows
    present = [
        name for name in table.column_names if table.column(name).null_count < table.num_rows
    ]
    return table.select(present)


def _json(text: bytes, line: int | None) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        where = f"line {line}" if line is not None else f"line {exc.lineno}, column {exc.colno}"
        raise InputError(
            f"the body is not valid JSON at {where}: {exc.msg}",
            line=line if line is not None else exc.lineno,
            col=None if line is not None else exc.colno,
        ) from None


def records_response(
    table: pa.Table | pa.RecordBatch, accept: str | None, offsets: bool = False
) -> Response:
    """Stored records as the client asked, without the engine's ``_offset`` column unless
    ``offsets`` (the query parameter ``offsets=true``) asks for it."""
    if OFFSET in table.schema.names and not offsets:
        table = table.drop_columns([OFFSET])
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    content, kind = table_body(table, accept)
    return Response(content, media_type=kind)


def table_body(table: pa.Table, accept: str | None) -> tuple[bytes, str]:
    """A result table as the client asked (JSON unless Accept says otherwise)."""
    kind = media(accept)
    if kind == ARROW:
        return ipc_bytes(table), ARROW
    if kind == CSV:
        sink = pa.BufferOutputStream()
        try:
            pacsv.write_csv(table, sink)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            sink = pa.BufferOutputStream()  # columns CSV has no text for: as JSON text
            pacsv.write_csv(_as_text(table), sink)
        return sink.getvalue().to_pybytes(), CSV
    if kind == NDJSON:
        names = table.column_names
        columns = [_values(c) for c in table.columns]
        lines = [
            json_bytes(dict(zip(names, row, strict=True))) for row in zip(*columns, strict=True)
        ]
        return b"\n".join(lines) + (b"\n" if lines else b""), NDJSON
    return json_bytes(table_json(table)), JSON


def _values(column: pa.ChunkedArray) -> list[Any]:
    """A column's values as Python's; a time past what Python's datetime holds (DuckDB's
    ``infinity``) is the text ``"infinity"`` or ``"-infinity"``."""
    try:
        values: list[Any] = column.to_pylist()
    except (OverflowError, ValueError):
        values = [_value(v) for v in column]
    return values


def _value(scalar: pa.Scalar) -> Any:
    try:
        return scalar.as_py()
    except (OverflowError, ValueError):
        raw = getattr(scalar, "value", None)
        if isinstance(raw, int):
            return "infinity" if raw > 0 else "-infinity"
        return str(scalar)


def _as_text(table: pa.Table) -> pa.Table:
    """``table`` with each column that CSV cannot write (maps, unions, intervals, fixed-size
    lists, binary that is not UTF-8) as text: JSON for nested values, hex for bytes."""
    columns = []
    for column in table.columns:
        try:
            pacsv.write_csv(pa.table({"x": column}), pa.BufferOutputStream())
            columns.append(column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            columns.append(
                pa.array(
                    [_text(v) for v in _values(column)],
                    pa.string(),
                )
            )
    return pa.Table.from_arrays(columns, names=table.column_names)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.hex() if isinstance(value, bytes) else json_bytes(value).decode()


def table_json(table: pa.Table) -> dict[str, Any]:
    """``{"columns", "types", "rows"}``: rows as lists, times as ISO text."""
    columns = [_values(c) for c in table.columns]
    return {
        "columns": table.column_names,
        "types": [str(t) for t in table.schema.types],
        "rows": [list(row) for row in zip(*columns, strict=True)] if columns else [],
    }


def time_param(value: str | None, name: str) -> dt.datetime | None:
    """A time bound from a query string: epoch nanoseconds or ISO-8601 text (None: open)."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if text.lstrip("-").isdigit():  # epoch nanoseconds; times are kept to the microsecond
            return dt.datetime.fromtimestamp(int(text) // 1000 / 1e6, dt.UTC)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):  # not a time, or past the years 1 to 9999
        raise InputError(
            f"query parameter {name!r} must be epoch nanoseconds or ISO-8601 time, got {value!r}",
            parameter=name,
            value=value,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def flag_param(value: str | None, name: str) -> bool:
    """A yes/no query parameter: ``true``/``1`` or ``false``/``0`` (absent: no)."""
    if value is None or value.lower() in ("", "false", "0", "no"):
        return False
    if value.lower() in ("true", "1", "yes"):
        return True
    raise InputError(
        f"query parameter {name!r} must be true or false, got {value!r}",
        parameter=name,
        value=value,
    )


def int_param(value: str | None, name: str, default: int | None, least: int = 0) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = least - 1
    if number < least:
        raise InputError(
            f"query parameter {name!r} must be a whole number ≥ {least}, got {value!r}",
            parameter=name,
            value=value,
        )
    return number
