"""``rillet sql``: one ad-hoc SQL query, its result printed as a table, CSV or JSON."""

from __future__ import annotations

import click

from rillet.commands.options import database_options, open_database
from rillet.commands.output import FORMATS, write
from rillet.errors import RilletError


@click.command("sql")
@click.argument("query")
@click.option("--format", "form", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--include-open",
    is_flag=True,
    help="Also the rows of roll-ups' windows still open, as their partial result now.",
)
@database_options
def sql_command(
    query: str,
    form: str,
    include_open: bool,
    url: str | None,
    token: str | None,
    data: str | None,
) -> None:
    """Run QUERY (DuckDB's SQL over the streams) and print its rows."""
    try:
        with open_database(url, token, data or "data") as db:
            write(db.sql(query, include_open=include_open).arrow(), form)
    except RilletError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
