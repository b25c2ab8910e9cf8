"""The ``rillet`` command: a click group with one subcommand a module of :mod:`rillet.commands`."""

from __future__ import annotations

import click

import rillet
from rillet.commands.demo import demo_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rillet.__version__, prog_name="rillet")
def main() -> None:
    """rillet: real-time monitoring and analysis of data streams."""


main.add_command(demo_command)

if __name__ == "__main__":
    main()
