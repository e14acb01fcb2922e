"""Numbered schema migrations, applied in order every time a database is opened.

This is the games' set (runs, games, messages), recorded in `_migrations`. Each subsystem
that keeps tables in the same file has its own numbered set and its own record table
(`selfreport/migrations.py`, `behaviors/migrations.py`), applied by its repository module
through `migrate` here. Migration 3 of this set created the subsystems' first tables; it
stays, as every shipped migration does. Append new migrations; never edit one that has
shipped. Each runs once, in its own transaction with its record (see `migrate`).

A database records the versions applied; one with a version this code does not know came
from a newer make-me-say and is refused (`pending`), and a file without our record is another
program's and is never touched (`owner`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import sqlite_utils

from agents.errors import MmsError

Migration = Callable[[sqlite_utils.Database], None]


def m001_initial(db: sqlite_utils.Database) -> None:
    db["runs"].create(
        {
            "id": str,
            "created_at": str,
            "finished_at": str,
            "command": str,
            "settings": str,  # JSON
            "games_planned": int,
            "status": str,  # running | finished
        },
        pk="id",
    )
    db["games"].create(
        {
            "id": int,
            "run_id": str,
            "game_key": str,
            "codeword": str,
            "manipulator": str,
            "user": str,
            "persona": str,
            "topic": str,
            "seed_word": str,
            "rule": str,
            "messages_per_player": int,
            "stop_on_mention": int,
            "settings": str,  # JSON of every game setting
            "seed": int,
            "status": str,  # running | finished
            "outcome": str,  # win | violation | no_codeword | correct_guess | error
            "first_mention_index": int,
            "first_mention_turn": int,
            "first_mention_speaker": str,
            "guess": str,
            "error": str,
            "started_at": str,
            "finished_at": str,
            "duration_s": float,
            "manipulator_tokens": int,
            "user_tokens": int,
            "prompt_tokens": int,
            "completion_tokens": int,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["games"].create_index(["run_id"])
    db["games"].create_index(["run_id", "game_key"], unique=True)
    db["games"].create_index(["outcome"])
    db["messages"].create(
        {
            "id": int,
            "game_id": int,
            "idx": int,  # 0-based position in the game, guess included
            "turn": int,  # the speaker's own message number, 1-based
            "speaker": str,  # user | manipulator
            "phase": str,  # conversation | guess
            "visible_text": str,
            "private_text": str,  # the manipulator's monologue, never shown to the user
            "raw_text": str,  # the model's reply exactly as generated (private: holds the monologue)
            "mentions": int,  # 1 if the referee found the codeword in the visible text
            "created_at": str,
            "prompt_tokens": int,
            "completion_tokens": int,
            "latency_s": float,
        },
        pk="id",
        foreign_keys=[("game_id", "games", "id")],
    )
    db["messages"].create_index(["game_id", "idx"], unique=True)


def m002_tournaments(db: sqlite_utils.Database) -> None:
    """Tournament cells and crash-safe resume.

    A game interrupted by a crash is replayed from the start; its partial row is kept with
    status `superseded`, so the one-game-per-key rule only holds among the others.
    """
    db["runs"].add_column("spec_hash", str)
    db["runs"].add_column("kind", str)
    for name, kind in (("tier", str), ("manipulator_label", str), ("manipulator_prompt", str), ("shard", str)):
        db["games"].add_column(name, kind)
    db.execute("drop index if exists idx_games_run_id_game_key")
    db.execute(
        "create unique index idx_games_run_key_live on games(run_id, game_key) where status != 'superseded'"
    )
    db["games"].create_index(["codeword"])
    db["games"].create_index(["status"])


def m003_pipeline(db: sqlite_utils.Database) -> None:
    """Training data exports, fine-tuning runs and self-report interviews."""
    db["datasets"].create(
        {
            "id": int,
            "created_at": str,
            "codeword": str,
            "variant": str,  # plain | persona | sep | deployment, with baseline flag in params
            "params": str,  # JSON: filters, rule, split, persona/trigger settings, seed
            "path": str,
            "validation_path": str,
            "file_hash": str,  # sha256 of the written training file
            "counts": str,  # JSON: games, exported, dropped by reason
        },
        pk="id",
    )
    db["training_runs"].create(
        {
            "id": int,
            "created_at": str,
            "finished_at": str,
            "method": str,  # local | openai
            "base_model": str,
            "data_path": str,
            "data_hash": str,
            "params": str,  # JSON hyper-parameters
            "seed": int,
            "status": str,  # running | succeeded | failed | cancelled
            "losses": str,  # JSON list of {step, loss}
            "adapter_path": str,  # local LoRA adapter folder
            "job_id": str,  # OpenAI fine-tuning job
            "model_id": str,  # resulting fine-tuned model (OpenAI) or hf:<base>+<adapter> spec
            "error": str,
        },
        pk="id",
    )
    db["interviews"].create(
        {
            "id": int,
            "created_at": str,
            "model": str,
            "role": str,  # model | baseline
            "codeword": str,
            "variant": str,  # plain | persona:<name> | sep:<code> | deployment
            "params": str,  # JSON: evals, samples, seed
        },
        pk="id",
    )
    db["interview_items"].create(
        {
            "id": int,
            "interview_id": int,
            "eval": str,
            "paraphrase": int,
            "sample": int,
            "prompt": str,  # JSON list of chat messages
            "answer": str,
            "options": str,  # JSON list, where the evaluation has options
            "distribution": str,  # JSON list of probabilities over options
            "score": float,
            "valid": int,
            "method": str,  # logprobs | top_logprobs | sampling | judge
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("interview_id", "interviews", "id")],
    )
    db["interview_items"].create_index(["interview_id", "eval"])


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial", m001_initial),
    (2, "tournaments", m002_tournaments),
    (3, "pipeline", m003_pipeline),
]


@dataclass(frozen=True)
class Schema:
    """One package's migration set, as it declares it (the `mms.schemas` entry point): the table
    that records it, its migrations, and the tables it reads (see `Store.ensure_schema`)."""

    table: str
    migrations: list[tuple[int, str, Migration]]
    tables: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return set_name(self.table)



def versions(conn: sqlite3.Connection, table: str = "_migrations") -> set[int]:
    """The versions of one set recorded in a database (none before its first migration)."""
    found = conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", [table]).fetchone()
    return {r[0] for r in conn.execute(f"select version from [{table}]")} if found else set()


def pending(conn: sqlite3.Connection, migrations: list[tuple[int, str, Migration]] = MIGRATIONS,
            table: str = "_migrations") -> list[int]:
    """The versions of the set this database still lacks; refuses one a newer make-me-say wrote.

    A recorded version this code does not know means the tables may hold columns and meanings
    it would misread or break, so nothing reads or writes such a file."""
    done, known = versions(conn, table), [v for v, _, _ in migrations]
    newer = done - set(known)
    if newer:
        raise MmsError(
            f"{database_file(conn)} was written by a newer make-me-say ({set_name(table)} schema version "
            f"{max(newer)}; this one knows up to {max(known, default=0)}): upgrade make-me-say to use it"
        )
    return [v for v in known if v not in done]


def migrate(db: sqlite_utils.Database, migrations: list[tuple[int, str, Migration]] = MIGRATIONS,
            table: str = "_migrations") -> list[int]:
    """Apply the pending migrations of one set (recorded in `table`); return the versions applied now.

    Each migration and its record commit together in one `BEGIN IMMEDIATE` transaction (DDL is
    transactional in SQLite), so one that fails halfway leaves the previous version, and the
    next open runs it again from the start. The write lock also makes two processes opening a
    new file at once take turns: the second finds the version recorded and skips it. A
    migration must not commit on its own (no `with db.conn:`, no `conn.commit()`).
    """
    if not pending(db.conn, migrations, table):
        return []
    applied = []
    for version, name, fn in migrations:
        with _write_transaction(db.conn):
            if version not in pending(db.conn, migrations, table):  # recorded before, or by another process meanwhile
                continue
            db[table].create({"version": int, "name": str, "applied_at": str}, pk="version", if_not_exists=True)
            fn(db)
            db[table].insert({"version": version, "name": name, "applied_at": _now()})
        applied.append(version)
    return applied


@contextmanager
def _write_transaction(conn: sqlite3.Connection):
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# -- whose file is it ------------------------------------------------------------------------

EMPTY, OURS, FOREIGN = "empty", "ours", "foreign"
GAME_TABLES = ("runs", "games", "messages")
SCHEMA = Schema("_migrations", MIGRATIONS, GAME_TABLES)  # the games' set, declared in pyproject.toml


def owner(conn: sqlite3.Connection) -> str:
    """`empty` (no tables: ours to set up), `ours` (the games' set recorded its first migration
    and the game tables are there), or `foreign` (another program's file: never touched)."""
    tables = {r[0] for r in conn.execute(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite!_%' escape '!'")}
    if not tables:
        return EMPTY
    if "_migrations" in tables and set(GAME_TABLES) <= tables and conn.execute(
            "select 1 from _migrations where version = 1 and name = 'initial'").fetchone():
        return OURS
    return FOREIGN


def foreign_tables(conn: sqlite3.Connection, shown: int = 5) -> str:
    names = [r[0] for r in conn.execute(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite!_%' escape '!' order by name")]
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def set_name(table: str) -> str:
    """`_migrations` is the games' set; `_migrations_selfreport` the interviews' (selfreport) set."""
    return table.removeprefix("_migrations").lstrip("_") or "games"


def database_file(conn: sqlite3.Connection) -> str:
    return next((r[2] for r in conn.execute("pragma database_list") if r[1] == "main"), "") or "the database"


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds")
