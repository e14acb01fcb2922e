"""The behaviors' own schema migrations (recorded in `_migrations_behaviors`).

The tables `datasets` and `training_runs` were created by migration 3 of the games' set
(game/migrations.py); changes to them since go here, numbered from 1. None yet.
"""

from __future__ import annotations

from game.migrations import Migration, Schema
from game.store import Store

TABLE = "_migrations_behaviors"
MIGRATIONS: list[tuple[int, str, Migration]] = []


SCHEMA = Schema(TABLE, MIGRATIONS, ("datasets", "training_runs"))  # declared in pyproject.toml (`mms db migrate` applies it)


def ensure_schema(store: Store) -> bool:
    """Migrate this set (a writing store); a read-only store checks it: False when its tables hold nothing to read."""
    return store.ensure_schema(SCHEMA.table, SCHEMA.migrations, tables=SCHEMA.tables)
