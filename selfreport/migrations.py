"""The interviews' own schema migrations (recorded in `_migrations_selfreport`).

The tables `interviews` and `interview_items` were created by migration 3 of the games' set
(game/migrations.py); everything since is here. Append; never edit a shipped one.
"""

from __future__ import annotations

import json

import sqlite_utils

from game.migrations import Migration, Schema
from game.store import Store

TABLE = "_migrations_selfreport"


def m001_item_notes(db: sqlite_utils.Database) -> None:
    """Why an item was not scored the way its evaluation prefers (a fall-back to sampling, a failure).

    A pre-release build added this column through the games' set; such a database keeps it."""
    if "note" not in db["interview_items"].columns_dict:
        db["interview_items"].add_column("note", str)


def m002_session_column(db: sqlite_utils.Database) -> None:
    """The session that groups one `mms interview` call's interviews, as a column (it was in `params`)."""
    db["interviews"].add_column("session", str)
    for row in db.execute("select id, params from interviews").fetchall():
        session = json.loads(row[1] or "{}").get("session")
        if session:
            db.execute("update interviews set session = ? where id = ?", [session, row[0]])
    db["interviews"].create_index(["session"])


def m003_metric_column(db: sqlite_utils.Database) -> None:
    """An item's metric is named `metric` (it was `eval`, though it holds a metric such as `how_close.you_said`)."""
    db.execute("drop index if exists idx_interview_items_interview_id_eval")
    db.execute("alter table interview_items rename column eval to metric")
    db["interview_items"].create_index(["interview_id", "metric"])


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "item_notes", m001_item_notes),
    (2, "session_column", m002_session_column),
    (3, "metric_column", m003_metric_column),
]


SCHEMA = Schema(TABLE, MIGRATIONS, ("interviews", "interview_items"))  # declared in pyproject.toml (`mms db migrate` applies it)


def ensure_schema(store: Store) -> bool:
    """Migrate this set (a writing store); a read-only store checks it: False when its tables hold nothing to read."""
    return store.ensure_schema(SCHEMA.table, SCHEMA.migrations, tables=SCHEMA.tables)
