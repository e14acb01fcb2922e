"""`mms db merge` and `mms db migrate`: database maintenance."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from .cli_support import DEFAULT_DB, JsonOption, cli_errors, out, print_json
from .safe_text import markup_safe

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("merge")
@cli_errors
def db_merge(
    out_db: Annotated[Path, typer.Argument(help="Database to merge into (created if missing).")],
    inputs: Annotated[list[Path], typer.Argument(help="Shard databases to merge.")],
    json_output: JsonOption = False,
) -> None:
    """Merge shard databases into one; each game (run, game key) is kept once."""
    from .merge import MergeRequest, merge

    report = merge(MergeRequest(out_db, tuple(inputs)))
    if json_output:
        print_json(report.to_json())
    else:
        out.print(f"merged {report.games} games ({report.messages} messages) from {report.inputs} "
                  f"databases into {markup_safe(str(out_db))}; skipped {report.duplicates} duplicates and "
                  f"{report.unfinished} unfinished games"
                  + (f"; {report.finished_runs} run(s) now have every planned game and are finished"
                     if report.finished_runs else ""))


@db_app.command("migrate")
@cli_errors
def db_migrate(
    db: Annotated[Path, typer.Option("--db", help="SQLite database file to upgrade (never created).")] = Path(DEFAULT_DB),
    json_output: JsonOption = False,
) -> None:
    """Bring a database made by an older make-me-say up to this version's schema (every table set).

    Commands that write do this on their own; read-only ones (stats, transcripts, show, report) never change a file, and ask for this first when the file is older.
    """
    from .upgrade import MigrateRequest, migrate_database

    report = migrate_database(MigrateRequest(db))
    if json_output:
        print_json(report.to_json())
        return
    out.print(f"{db} is up to date: schema " + ", ".join(f"{name} {v}" for name, v in report.schemas.items()),
              highlight=False, soft_wrap=True)
