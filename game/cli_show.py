"""`mms show`: one game's dialogue in the terminal."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from agents.errors import MmsError

from .cli_support import DEFAULT_DB, cli_errors, out
from .store import Store

GameId = Annotated[int | None, typer.Argument(help="The game to show (its id, as in mms transcripts). Default: the game that came closest.")]
ReadDb = Annotated[Path, typer.Option("--db", help="SQLite database to read.")]
Run = Annotated[str | None, typer.Option(help="Pick the closest game of this run only.")]


@cli_errors
def show(game_id: GameId = None, db: ReadDb = Path(DEFAULT_DB), run: Run = None) -> None:
    """Print one game's dialogue in the terminal, the codeword highlighted, the monologue hidden.

    Without a GAME_ID: the game that came closest (a win, else one where anyone said the word, else the longest).

    Watch games as they are played with: mms watch --db DB

    Example: mms show --db demo.db
    """
    from .show import closest_game, render_game
    from .transcripts import game_record

    with Store.reader(db) as store:
        if game_id is None:
            game = closest_game(store, run)
            if game is None:
                raise MmsError(f"no finished game in {db}" + (f" for run {run}" if run else ""))
        else:
            game = store.read.game(game_id)
            if game is None:
                raise MmsError(f"no game {game_id} in {db}")
        record = game_record(store, game)
    out.print(render_game(record))
