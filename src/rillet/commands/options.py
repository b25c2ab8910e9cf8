"""The options every command that reaches a database shares: a server or a data folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

import rillet

F = TypeVar("F", bound=Callable[..., Any])


def database_options(command: F) -> F:
    """``--url``/``RILLET_URL`` and ``--token``/``RILLET_TOKEN`` reach a server, ``--data`` a
    local folder (a database in memory when neither is given)."""
    for option in reversed(
        [
            click.option("--url", envvar="RILLET_URL", help="a rillet server (RILLET_URL)"),
            click.option(
                "--token", envvar="RILLET_TOKEN", help="the server's bearer token (RILLET_TOKEN)"
            ),
            click.option(
                "--data",
                type=click.Path(file_okay=False),
                help="a local data folder (default: ./data; for the shell, a database in memory)",
            ),
        ]
    ):
        command = option(command)
    return command


def open_database(url: str | None, token: str | None, data: str | None) -> Any:
    """The database the options name: a server by URL, else a local folder or memory."""
    if url:
        return rillet.connect(url, token=token) if token else rillet.connect(url)
    return rillet.connect(data) if data else rillet.connect()
