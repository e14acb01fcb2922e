"""`mms watch`: the terminal UI on a store, following the games as they are written.

Declared to the `mms` root in pyproject.toml (`mms.commands`).
"""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from game.cli_support import DEFAULT_DB, cli_errors

WatchDb = Annotated[Path, typer.Option("--db", help="SQLite database to watch (never created by watching).")]
Follow = Annotated[bool, typer.Option(help="Start by following the newest running game.")]
Interval = Annotated[float, typer.Option(min=0.05, help="Seconds between two looks at the database.")]


@cli_errors
def watch(db: WatchDb = Path(DEFAULT_DB), follow: Follow = True, interval: Interval = 0.5) -> None:
    """Watch games live in a terminal UI: the games list, transcripts, run progress, win rate."""
    from .app import run_app, watch_app

    run_app(watch_app(db, follow=follow, poll_interval=interval))


COMMANDS = {"watch": watch}
