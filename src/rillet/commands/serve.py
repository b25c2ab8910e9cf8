"""``rillet serve``: the HTTP server over a data folder."""

from __future__ import annotations

import sys

import click

from rillet.errors import RilletError


@click.command("serve")
@click.option("--data", type=click.Path(file_okay=False), help="the data folder (default: memory)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9470, show_default=True)
@click.option("--token", envvar="RILLET_TOKEN", help="one admin token (RILLET_TOKEN)")
@click.option("--tokens-file", type=click.Path(dir_okay=False), help="lines of 'token role'")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True))
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True))
@click.option("--demo", is_flag=True, help="feed a generated perf log and access log")
def serve_command(
    data: str | None,
    host: str,
    port: int,
    token: str | None,
    tokens_file: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    demo: bool,
) -> None:
    """Serve the database over HTTP: the API under /v1, live events, /metrics, /healthz."""
    from rillet.server.config import ServerConfig, read_tokens
    from rillet.server.run import serve

    try:
        tokens = read_tokens(tokens_file) if tokens_file else {}
        if token:
            tokens[token] = "admin"
        status = serve(data, host, port, ServerConfig(tokens=tokens), tls_cert, tls_key, demo)
    except RilletError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    sys.exit(status)
