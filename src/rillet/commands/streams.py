"""``rillet streams``: the streams of a database with their schema and size."""

from __future__ import annotations

import click
import pyarrow as pa

from rillet.commands.options import database_options, open_database
from rillet.commands.output import FORMATS, write
from rillet.errors import RilletError


@click.command("streams")
@click.option("--format", "form", type=click.Choice(FORMATS), default="table", show_default=True)
@database_options
def streams_command(form: str, url: str | None, token: str | None, data: str | None) -> None:
    """List the streams: name, records, time column and columns."""
    try:
        with open_database(url, token, data or "data") as db:
            streams = db.streams()
            table = pa.table(
                {
                    "name": [s.name for s in streams],
                    "records": pa.array([len(s) for s in streams], pa.int64()),
                    "time_column": [s.time_column for s in streams],
                    "columns": [str(s.schema) for s in streams],
                }
            )
            write(table, form)
    except RilletError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
