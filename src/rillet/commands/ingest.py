"""``rillet ingest``: a CSV, JSON-lines, Arrow IPC or Parquet file into a stream, all or nothing.

The file is read in Arrow batches by pyarrow's own readers (a CSV's header row names the
columns, typed as the stream's columns are), every batch is checked against the stream's
schema first, and only then appended: a bad value anywhere leaves the stream unchanged.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.json as pajson
import pyarrow.parquet as pq
from rich.progress import Progress

from rillet.batches import to_table
from rillet.commands.options import database_options, open_database
from rillet.errors import NotFoundError, RecordError, RilletError, SchemaError
from rillet.schema import Schema

#: a file's format by its name's ending
SUFFIXES = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".arrow": "arrow",
    ".arrows": "arrow",
    ".ipc": "arrow",
    ".parquet": "parquet",
}
FORMATS = ("csv", "json", "arrow", "parquet")


def batches(
    source: IO[bytes] | io.RawIOBase, form: str, schema: Schema | None
) -> Iterator[pa.RecordBatch]:
    """The file's records as Arrow batches; a CSV's columns typed as ``schema``'s, if given."""
    if form == "csv":
        types = {c.name: c.type.arrow for c in schema.columns} if schema else None
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=1 << 22),
            convert_options=pacsv.ConvertOptions(column_types=types),
        )
        yield from reader
    elif form == "json":
        yield from pajson.read_json(source).to_batches()
    elif form == "arrow":
        data = pa.py_buffer(source.read())
        try:  # the IPC file format (Feather 2), else the stream format
            file = ipc.open_file(data)
        except pa.ArrowInvalid:
            yield from ipc.open_stream(data)
            return
        for i in range(file.num_record_batches):
            yield file.get_batch(i)
    else:  # Parquet's footer is at the end: read whole, then batch by batch
        yield from pq.ParquetFile(pa.BufferReader(source.read())).iter_batches(batch_size=1 << 16)


@click.command("ingest")
@click.option("--stream", "name", required=True, help="the stream to append to")
@click.option("--format", "form", type=click.Choice(FORMATS), help="default: by the file's ending")
@click.option("--create", is_flag=True, help="create the stream from the file's columns")
@click.option("--time-column", help="with --create: the event-time column (else ingest time)")
@click.argument("file", type=click.Path(exists=True, allow_dash=True, dir_okay=False))
@database_options
def ingest_command(
    name: str,
    form: str | None,
    create: bool,
    time_column: str | None,
    file: str,
    url: str | None,
    token: str | None,
    data: str | None,
) -> None:
    """Append the records of FILE ('-': stdin) to a stream, all or nothing."""
    if form is None:
        form = SUFFIXES.get(Path(file).suffix.lower()) if file != "-" else "csv"
        if form is None:
            raise click.UsageError(f"cannot tell the format of {file!r}: give --format")
    try:
        with open_database(url, token, data or "data") as db:
            schema = _schema_of(db, name, create)
            tables = _read(file, form, name, schema)
            if schema is None:
                first = tables[0] if tables else pa.table({})
                db.create_stream(name, first.schema, time_column=time_column)
                schema = db.stream(name).schema
                tables = [to_table(t, schema, name) for t in tables]
            stream = db.stream(name)
            count = 0
            for table in tables:
                stream.append_many(table)
                count += table.num_rows
            stream.flush()
            noun = "record" if count == 1 else "records"
            click.echo(f"{count:,} {noun} appended to {name} (next offset {stream.next_offset})")
    except RilletError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise click.ClickException(f"{file}: not readable as {form}: {exc}") from exc


def _schema_of(db: Any, name: str, create: bool) -> Schema | None:
    """The stream's schema, or None when it is to be made from the file."""
    try:
        return db.stream(name).schema  # type: ignore[no-any-return]
    except NotFoundError:
        if create:
            return None
        raise NotFoundError(
            f"no stream {name!r}: give --create to make it from the file's columns",
            kind="stream",
            name=name,
            suggestion=None,
        ) from None


def _read(file: str, form: str, name: str, schema: Schema | None) -> list[pa.Table]:
    """Every batch of the file, checked against ``schema`` (when the stream exists) before
    anything is appended.  A progress bar shows on a terminal."""
    raw: IO[bytes] = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
    size = Path(file).stat().st_size if file != "-" else None
    tables: list[pa.Table] = []
    row = 0
    with raw, Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"reading {file}", total=size)
        counted = _Counted(raw, lambda n: progress.advance(task, n))
        for batch in batches(counted, form, schema):
            table = pa.Table.from_batches([batch])
            if schema is not None:
                try:
                    table = to_table(table, schema, name)
                except (RecordError, SchemaError) as exc:
                    raise type(exc)(
                        f"{exc} (in the file's records from number {row + 1}; nothing appended)",
                        **exc.detail,
                    ) from None
            tables.append(table)
            row += table.num_rows
    return tables


class _Counted(io.RawIOBase):
    """A binary file that reports how many bytes were read (for the progress bar)."""

    def __init__(self, raw: IO[bytes], seen: Any) -> None:
        self._raw = raw
        self._seen = seen

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._seen(len(data))
        return len(data)
