"""The ``rillet`` command: a click group with one subcommand a module of :mod:`rillet.commands`."""

from __future__ import annotations

import click

import rillet
from rillet.commands.demo import demo_command
from rillet.commands.ingest import ingest_command
from rillet.commands.serve import serve_command
from rillet.commands.shell import shell_command
from rillet.commands.sql import sql_command
from rillet.commands.streams import streams_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rillet.__version__, prog_name="rillet")
def main() -> None:
    """rillet: real-time monitoring and analysis of data streams."""


main.add_command(serve_command)
main.add_command(demo_command)
main.add_command(shell_command)
main.add_command(sql_command)
main.add_command(ingest_command)
main.add_command(streams_command)

if __name__ == "__main__":
    main(prog_name="rillet")
