"""`mms db merge` and `mms db migrate`: database maintenance."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from agents.errors import MmsError

from .cli_support import DEFAULT_DB, JsonOption, cli_errors, out, print_json
from .safe_text import markup_safe
from .store import Store

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("merge")
@cli_errors
def db_merge(
    out_db: Annotated[Path, typer.Argument(help="Database to merge into (created if missing).")],
    inputs: Annotated[list[Path], typer.Argument(help="Shard databases to merge.")],
    json_output: JsonOption = False,
) -> None:
    """Merge shard databases into one; each game (run, game key) is kept once."""
    from .merge import merge_databases

    result = merge_databases(out_db, inputs)
    if json_output:
        print_json(result)
    else:
        out.print(f"merged {result['games']} games ({result['messages']} messages) from {result['inputs']} "
                  f"databases into {markup_safe(str(out_db))}; skipped {result['duplicates']} duplicates and "
                  f"{result['unfinished']} unfinished games"
                  + (f"; {result['finished_runs']} run(s) now have every planned game and are finished"
                     if result["finished_runs"] else ""))


@db_app.command("migrate")
@cli_errors
def db_migrate(
    db: Annotated[Path, typer.Option("--db", help="SQLite database file to upgrade (never created).")] = Path(DEFAULT_DB),
    json_output: JsonOption = False,
) -> None:
    """Bring a database made by an older make-me-say up to this version's schema (every table set).

    Commands that write do this on their own; read-only ones (stats, transcripts, show, report) never change a file, and ask for this first when the file is older.
    """
    from .migrations import versions
    from .plugins import SCHEMAS, declared

    if not db.is_file():
        raise MmsError(f"database not found: {db}")
    with Store(db) as store:  # opening a writing store migrates the games' set
        schema = {}
        for _, declared_schema in declared(SCHEMAS):
            store.ensure_schema(declared_schema.table, declared_schema.migrations, tables=declared_schema.tables)
            schema[declared_schema.name] = max(versions(store.db.conn, declared_schema.table), default=0)
    if json_output:
        print_json({"db": str(db), **schema})
        return
    out.print(f"{db} is up to date: schema " + ", ".join(f"{name} {v}" for name, v in schema.items()),
              highlight=False, soft_wrap=True)
