"""`mms transcripts`: export finished games with every message, for analysis."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from agents.errors import MmsError

from .cli_support import DEFAULT_DB, JsonOption, cli_errors, out, print_json
from .rules import OUTCOMES
from .safe_text import markup_safe
from .store import Store
from .transcripts import FORMATS, check_out_path, check_outcome, describe_filters, export_transcripts, resolve_format

OutPath = Annotated[Path, typer.Option("--out", help="File to write; replaced only once the export is complete.")]
Format = Annotated[str | None, typer.Option("--format", help=f"{', '.join(FORMATS)}. Default: from the --out suffix (.jsonl, .csv, .md).")]
ReadDb = Annotated[Path, typer.Option("--db", help="SQLite database to read.")]
Outcome = Annotated[str | None, typer.Option(help=f"Only games with this outcome: {', '.join(OUTCOMES)}.")]
Codeword = Annotated[str | None, typer.Option(help="Only games with this codeword.")]
Run = Annotated[str | None, typer.Option(help="Only this run id (a tournament's name).")]
Manipulator = Annotated[str | None, typer.Option(help="Only games of this manipulator: its model spec or tournament label.")]
IncludePrivate = Annotated[bool, typer.Option("--include-private", help="Also export the manipulator's private monologue and the raw model replies (left out by default).")]


@cli_errors
def transcripts(
    out_path: OutPath,
    fmt: Format = None,
    db: ReadDb = Path(DEFAULT_DB),
    outcome: Outcome = None,
    codeword: Codeword = None,
    run: Run = None,
    manipulator: Manipulator = None,
    include_private: IncludePrivate = False,
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
