"""`mms db migrate`: bring a database up to every schema the installed packages declare."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agents.errors import MmsError

from .migrations import versions
from .plugins import SCHEMAS, declared
from .store import Store


@dataclass(frozen=True)
class MigrateRequest:
    """The file to upgrade: it must exist (migrating never creates a database)."""

    db: Path

    def __post_init__(self) -> None:
        if not self.db.is_file():
            raise MmsError(f"database not found: {self.db}")


@dataclass(frozen=True)
class MigrateReport:
    """Each declared schema's version after the upgrade; `to_json()` is what `mms db migrate --json`
    prints, key for key."""

    db: Path
    schemas: dict[str, int]  # schema name → version, the games' set first

    def to_json(self) -> dict[str, str | int]:
        return {"db": str(self.db), **self.schemas}


def migrate_database(request: MigrateRequest) -> MigrateReport:
    """Opening a writing store migrates the games' set; every other declared set is brought up here."""
    schemas: dict[str, int] = {}
    with Store(request.db) as store:
        for _, schema in declared(SCHEMAS):
            store.ensure_schema(schema.table, schema.migrations, tables=schema.tables)
            schemas[schema.name] = max(versions(store.db.conn, schema.table), default=0)
    return MigrateReport(request.db, schemas)
