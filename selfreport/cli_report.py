"""`mms report`: the self-report report, written from stored interviews and games."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated, Optional

import typer

from game.cli_support import JsonOption, cli_errors, out, print_json
from game.safe_text import markup_safe

OutDir = Annotated[Path, typer.Option("--out", help="Folder for report.md, report.json and the charts (created if missing).")]
Db = Annotated[Path, typer.Option("--db", help="SQLite database file.")]
Codeword = Annotated[Optional[str], typer.Option(help="Only interviews and games for this codeword.")]
Session = Annotated[Optional[list[str]], typer.Option("--session", help="Only this interview session (as `mms interview` printed it); repeatable. Sessions are never pooled.")]


@cli_errors
def report(
    out_dir: OutDir,
    db: Db = Path("mms.db"),
    codeword: Codeword = None,
    session: Session = None,
    json_output: JsonOption = False,
) -> None:
    """Write the self-report report: a table and a chart per codeword, fine-tuned vs baseline."""
    from game.store import Store

    from .report import ReportRequest, build_report

    request = ReportRequest(out=out_dir, db=db, codeword=codeword, sessions=tuple(session or ()))
    with Store.reader(db) as store:
        result = build_report(store, request)
    if json_output:
        print_json(result.to_json())
        return
    out.print(markup_safe(f"wrote {result.markdown} and {len(result.figures)} chart(s) in {result.out}"))
