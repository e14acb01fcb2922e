"""What every `mms` command shares: consoles, common options, error handling, JSON output.

Command modules of every package import these from here, not from `game.cli` (the
composition root, which imports them).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agents.errors import MmsError

from .safe_text import markup_safe

DEFAULT_MODEL = "local:smollm2"
DEFAULT_DB = "mms.db"

err = Console(stderr=True)
out = Console()

DbOption = Annotated[Path, typer.Option("--db", help="SQLite database file (created if missing).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def cli_errors(fn):
    """Turn user-facing errors into one line on stderr and exit status 2, never a traceback.

    The message quotes user input and model or server replies: it is printed as written."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MmsError as exc:
            err.print(f"[bold red]error:[/] {markup_safe(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def print_json(obj: dict[str, Any]) -> None:
    typer.echo(json.dumps(obj, sort_keys=False))
