"""The `quarry` command: one module per command group, each thin (parse, call, print)."""

from __future__ import annotations

import click

from quarry import __version__
from quarry.cli.doctor import doctor
from quarry.cli.emulator import emulator
from quarry.cli.kb import kb
from quarry.cli.keys import keys, usage
from quarry.cli.serve import serve
from quarry.cli.teams import teams
from quarry.cli.ui import ui

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quarry")
def main() -> None:
    """Quarry: Claude and every Amazon Bedrock model behind the APIs your tools already speak."""


main.add_command(doctor)
main.add_command(emulator)
main.add_command(kb)
main.add_command(keys)
main.add_command(serve)
main.add_command(teams)
main.add_command(ui)
main.add_command(usage)
