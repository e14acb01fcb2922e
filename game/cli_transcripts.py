"""`mms transcripts`: export finished games with every message, for analysis."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from .cli_support import DEFAULT_DB, JsonOption, cli_errors, out, print_json
from .rules import OUTCOMES
from .safe_text import markup_safe
from .store import Store
from .transcripts import (
    FORMATS,
    TranscriptsReport,
    TranscriptsRequest,
    export_transcripts,
)

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
    request = TranscriptsRequest(out=out_path, db=db, fmt=fmt, outcome=outcome, codeword=codeword, run=run,
                                 manipulator=manipulator, include_private=include_private)
    with Store.reader(db) as store:
        report = export_transcripts(store, request)
    if json_output:
        print_json(report.to_json())
        return
    _print_transcripts(report, request)


def _print_transcripts(report: TranscriptsReport, request: TranscriptsRequest) -> None:
    if report.games == 0:
        filters = request.filters()
        out.print(markup_safe(f"no finished games{' match ' + filters if filters else ' in ' + str(request.db)}: "
                              f"wrote an empty {report.format} file → {report.out}"), highlight=False, soft_wrap=True)
        return
    private = " (private monologue included)" if request.include_private else ""
    out.print(markup_safe(f"{report.games} games, {report.messages} messages → {report.out}{private}"),
              highlight=False, soft_wrap=True)
