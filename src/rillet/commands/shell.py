"""``rillet shell``: FlumeBase's rtsql shell, interactive or over a script."""

from __future__ import annotations

import sys
from typing import TextIO

import click

import rillet
from rillet.commands.options import database_options
from rillet.errors import RilletError
from rillet.shell.output import Console
from rillet.shell.session import Session


@click.command("shell")
@click.argument("target", required=False)
@click.option("-f", "--file", "path", type=click.File("r"), help="run the statements of a file")
@click.option(
    "--wait",
    type=float,
    default=2.0,
    show_default=True,
    help="after a script, how long watched flows may go on printing (s)",
)
@database_options
def shell_command(
    target: str | None,
    path: TextIO | None,
    wait: float,
    url: str | None,
    token: str | None,
    data: str | None,
) -> None:
    """The rtsql shell: TARGET is a server's URL or 'local' (the default, on --data or in
    memory).  Statements end with ';'; \\h lists the commands.  With -f or a pipe on stdin it
    runs the statements and exits, with status 1 if any failed."""
    # prompt-toolkit's import is a quarter of a second: only the shell pays it
    from rillet.shell.repl import interactive, script

    session = Session(
        Console(), lambda: rillet.connect(data) if data else rillet.connect(), token=token
    )
    remote = target if target and target != "local" else (url if target is None else None)
    try:
        if remote:
            session.open_remote(remote)
        else:
            session.open_local()
    except RilletError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    try:
        if path is not None:
            script(session, path, wait)
        elif not sys.stdin.isatty():
            script(session, sys.stdin, wait)
        else:
            interactive(session)
    finally:
        session.close()
    failed = session.errors + sum(w.failed for w in session.watchers.values())
    if failed:
        sys.exit(1)
