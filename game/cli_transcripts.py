"""`mms transcripts`: export finished games with every message, for analysis.

``game/cli.py`` calls :func:`register` with its Typer app. Shared CLI helpers come from
``game.cli_support``; heavy imports stay inside ``register`` so ``mms`` starts quickly.
"""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time,
# and those of the command below name objects local to ``register``.
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``transcripts`` and ``show`` commands to ``app``."""
    from agents.errors import MmsError
    from game.cli_support import DEFAULT_DB, JsonOption, cli_errors, out, print_json
    from game.safe_text import markup_safe

    from .rules import OUTCOMES
    from .store import Store
    from .transcripts import FORMATS, check_out_path, check_outcome, describe_filters, export_transcripts, resolve_format

    @app.command()
    @cli_errors
    def transcripts(
        out_path: Annotated[Path, typer.Option("--out", help="File to write; replaced only once the export is complete.")],
        fmt: Annotated[str | None, typer.Option("--format", help=f"{', '.join(FORMATS)}. Default: from the --out suffix (.jsonl, .csv, .md).")] = None,
        db: Annotated[Path, typer.Option("--db", help="SQLite database to read.")] = Path(DEFAULT_DB),
        outcome: Annotated[str | None, typer.Option(help=f"Only games with this outcome: {', '.join(OUTCOMES)}.")] = None,
        codeword: Annotated[str | None, typer.Option(help="Only games with this codeword.")] = None,
        run: Annotated[str | None, typer.Option(help="Only this run id (a tournament's name).")] = None,
        manipulator: Annotated[str | None, typer.Option(help="Only games of this manipulator: its model spec or tournament label.")] = None,
        include_private: Annotated[bool, typer.Option("--include-private", help="Also export the manipulator's private monologue and the raw model replies (left out by default).")] = False,
        json_output: JsonOption = False,
    ) -> None:
        """Export finished games, with settings, outcome and every message, as JSON Lines, CSV or Markdown.

        jsonl: one game per line, its messages in order by idx.

        csv: one row per message, the game's columns repeated on each row (ready for pandas.read_csv).

        md: a readable document, one section per game: a settings table, then the dialogue.

        Superseded (replayed) and unfinished games are never exported. The manipulator's private monologue is left out unless --include-private.

        Example: mms transcripts --db mms.db --outcome win --out wins.md
        """
        check_out_path(out_path, db)
        fmt = resolve_format(fmt, out_path)
        check_outcome(outcome)
        if not db.is_file():
            raise MmsError(f"database not found: {db} (play some games first: mms play --codeword ring --db {db})")
        with Store.reader(db) as store:
            result = export_transcripts(
                store, out_path, fmt, include_private=include_private,
                outcome=outcome, codeword=codeword, run=run, manipulator=manipulator,
            )
        if json_output:
            print_json(result)
            return
        if result["games"] == 0:
            filters = describe_filters(outcome, codeword, run, manipulator)
            out.print(markup_safe(f"no finished games{' match ' + filters if filters else ' in ' + str(db)}: "
                                  f"wrote an empty {fmt} file → {out_path}"), highlight=False, soft_wrap=True)
            return
        private = " (private monologue included)" if include_private else ""
        out.print(markup_safe(f"{result['games']} games, {result['messages']} messages → {out_path}{private}"),
                  highlight=False, soft_wrap=True)

    @app.command()
    @cli_errors
    def show(
        game_id: Annotated[int | None, typer.Argument(help="The game to show (its id, as in mms transcripts). Default: the game that came closest.")] = None,
        db: Annotated[Path, typer.Option("--db", help="SQLite database to read.")] = Path(DEFAULT_DB),
        run: Annotated[str | None, typer.Option(help="Pick the closest game of this run only.")] = None,
    ) -> None:
        """Print one game's dialogue in the terminal, the codeword highlighted, the monologue hidden.

        Without a GAME_ID: the game that came closest (a win, else one where anyone said the word, else the longest).

        Watch games as they are played with: mms watch --db DB

        Example: mms show --db demo.db
        """
        from .show import closest_game, render_game
        from .transcripts import game_record

        if not db.is_file():
            raise MmsError(f"database not found: {db} (play some games first: mms play --codeword ring --db {db})")
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
