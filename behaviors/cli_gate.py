"""`mms gate <behaviour>`: one behaviour gate per behaviour (Make Me Say's is `mms fit`)."""

import typer

from .economic.cli import economic_command

gate_app = typer.Typer(help="Behaviour gates: did an organism learn its behaviour? (Make Me Say's is `mms fit`.)",
                       no_args_is_help=True)
gate_app.command("economic")(economic_command)
