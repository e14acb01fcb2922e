"""`mms watch`: the terminal UI on a store, following the games as they are written.

``game/cli.py`` calls :func:`register` with its Typer app.
"""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``watch`` command to ``app``."""
    from game.cli_support import DEFAULT_DB, cli_errors

    @app.command()
    @cli_errors
    def watch(
        db: Annotated[Path, typer.Option("--db", help="SQLite database to watch (never created by watching).")] = Path(DEFAULT_DB),
        follow: Annotated[bool, typer.Option(help="Start by following the newest running game.")] = True,
        interval: Annotated[float, typer.Option(min=0.05, help="Seconds between two looks at the database.")] = 0.5,
    ) -> None:
        """Watch games live in a terminal UI: the games list, transcripts, run progress, win rate."""
        from .app import run_app, watch_app

        run_app(watch_app(db, follow=follow, poll_interval=interval))
