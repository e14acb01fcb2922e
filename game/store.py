"""The SQLite store: one module, one write path per event, every write committed at once.

WAL mode lets a watcher read while games are written. Messages are written as they happen,
so a crash loses at most the message being generated.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from agents.errors import MmsError

from . import queries
from .messages import GameMessage, TokenTotals
from .migrations import (
    EMPTY,
    FOREIGN,
    foreign_tables,
    migrate,
    owner,
    pending,
    set_name,
)
from .runlock import RunLock


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _open_writer(path: Path) -> sqlite3.Connection:
    """A read-write connection to a new file or one of ours, migrated; another program's file,
    or one a newer make-me-say wrote, is refused before anything is written to it."""
    if path.parent and not path.parent.exists():
        raise MmsError(f"database folder does not exist: {path.parent} (create it or pick another --db)")
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    try:
        _check_ours(conn, path)
        pending(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(sqlite_utils.Database(conn))
    except BaseException:
        conn.close()
        raise
    return conn


def _open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection (`mode=ro`) to one of our files at this code's games schema."""
    if not path.is_file():
        raise MmsError(f"database not found: {path} (play some games first: mms play --codeword ring --db {path})")
    # Whose file it is and which schema, asked without the -wal/-shm files a read-only look at a
    # WAL-mode file leaves beside it: `immutable` reads the file alone, which is all there is
    # while no -wal file exists.
    peek = queries.open_readonly(path, immutable=not _wal(path).exists())
    try:
        _check_ours(peek, path, reading=True)
        if pending(peek):
            raise MmsError(_older(path, "games"))
    finally:
        peek.close()
    return queries.open_readonly(path, timeout=30)


def _wal(path: Path) -> Path:
    return path.with_name(f"{path.name}-wal")


def _tidy_wal_files(path: Path) -> None:
    """Let SQLite remove the empty -wal/-shm files a read-only connection opened and cannot remove.

    A plain connection that reads and closes removes them when it is the file's last one; with an
    empty -wal there is nothing to checkpoint, so the database file itself is not written."""
    wal = _wal(path)
    if not wal.exists() or wal.stat().st_size or not os.access(path.parent, os.W_OK) or not os.access(path, os.W_OK):
        return
    try:
        conn = sqlite3.connect(str(path), timeout=0)
        try:
            conn.execute("select 1 from sqlite_master limit 1").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # someone else is writing: the files are theirs, and they remove them


def _check_ours(conn: sqlite3.Connection, path: Path, *, reading: bool = False) -> None:
    kind = owner(conn)
    if kind == FOREIGN:
        raise MmsError(f"{path} is not a make-me-say database (it holds other tables: {foreign_tables(conn)}): "
                       "it is left untouched; give another --db")
    if kind == EMPTY and reading:
        raise MmsError(f"{path} holds no games yet (an empty database): play some first, "
                       f"e.g. mms play --codeword ring --db {path}")


def _older(path: Path, name: str) -> str:
    return (f"{path} has an older make-me-say {name} schema: upgrade it once with `mms db migrate --db {path}` "
            "(read-only commands never change a file)")


class Store:
    """The games database. `Store(path)` writes (creating and migrating the file as needed);
    `Store.reader(path)` only reads: it opens the file read-only and changes nothing in it."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._schemas: dict[str, bool] = {}
        self._tidy = readonly and not _wal(self.path).exists()
        try:
            conn = _open_reader(self.path) if readonly else _open_writer(self.path)
        except sqlite3.DatabaseError as exc:
            raise MmsError(f"cannot open database {self.path}: {exc} (is it an mms SQLite file?)") from None
        self.db = sqlite_utils.Database(conn)

    @classmethod
    def reader(cls, path: str | Path) -> Store:
        """For commands that only read (stats, transcripts, show, report, merge's inputs): the file
        must exist and be ours at this code's schema; it is never created, migrated or switched to WAL."""
        return cls(path, readonly=True)

    def ensure_schema(self, table: str, migrations: list, *, tables: tuple[str, ...] = ()) -> bool:
        """Bring one subsystem's tables up to date (its own migration set, recorded in `table`),
        once per open store; return whether they can be read.

        A read-only store never migrates. A set this file has not caught up with is refused with
        the way to upgrade, unless its `tables` hold no rows: then there is nothing to read, and
        False says so."""
        if table not in self._schemas:
            if not self.readonly:
                migrate(self.db, migrations, table)
                self._schemas[table] = True
            elif not pending(self.db.conn, migrations, table):
                self._schemas[table] = True
            elif any(self.db.conn.execute(f"select 1 from [{t}] limit 1").fetchone() for t in tables):
                raise MmsError(_older(self.path, set_name(table)))
            else:
                self._schemas[table] = False
        return self._schemas[table]

    def close(self) -> None:
        self.db.conn.close()
        if self._tidy:
            _tidy_wal_files(self.path)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self, command: str, settings: dict[str, Any], games_planned: int,
        *, run_id: str | None = None, spec_hash: str | None = None,
    ) -> str:
        run_id = run_id or uuid.uuid4().hex[:12]
        with self.db.conn:
            self.db["runs"].insert(
                {
                    "id": run_id,
                    "created_at": now(),
                    "command": command,
                    "kind": command,
                    "settings": json.dumps(settings, sort_keys=True),
                    "games_planned": games_planned,
                    "status": "running",
                    "spec_hash": spec_hash,
                }
            )
        return run_id

    def run(self, run_id: str) -> dict[str, Any] | None:
        return queries.run(self.db.conn, run_id)

    def recent_run_ids(self, limit: int = 10) -> list[str]:
        return queries.recent_run_ids(self.db.conn, limit)

    def run_complete(self, run_id: str) -> bool:
        """Every planned game of the run is finished and none is still running."""
        run = self.run(run_id)
        return (run is not None and queries.unfinished_games(self.db.conn, run_id) == 0
                and len(self.finished_keys(run_id)) >= (run["games_planned"] or 0))

    def lock_run(self, run_id: str) -> RunLock:
        """Hold this run for this process (`with store.lock_run(run_id):`); another process gets a clear error."""
        return RunLock(self.path, run_id)

    def supersede_unfinished(self, run_id: str) -> int:
        """Mark games a crash left half-played; they are replayed from the start (hold `lock_run` first:
        a game another process is playing looks just the same)."""
        with self.db.conn:
            cursor = self.db.execute(
                "update games set status = 'superseded' where run_id = ? and status = 'running'", [run_id]
            )
        return cursor.rowcount

    def supersede_errors(self, run_id: str, replay: Callable[[str], bool]) -> int:
        """Set aside the run's games that ended in `error` and whose key `replay` takes (the games
        of the plan being resumed), so they are played again: an outage must not fail the rest of
        a run for good. As for an interrupted game, the old attempt stays as `superseded`, which no
        count, statistic or export reads (hold `lock_run` first)."""
        self.db.conn.create_function("mms_replay", 1, replay, deterministic=True)  # one statement, flat memory
        with self.db.conn:
            cursor = self.db.execute(
                "update games set status = 'superseded' where run_id = ? and status = 'finished' "
                "and outcome = 'error' and mms_replay(game_key)", [run_id])
        return cursor.rowcount

    def finished_keys(self, run_id: str) -> set[str]:
        return queries.finished_keys(self.db.conn, run_id)

    def set_spec_hash(self, run_id: str, spec_hash: str) -> None:
        with self.db.conn:
            self.db["runs"].update(run_id, {"spec_hash": spec_hash})

    def finish_run(self, run_id: str) -> None:
        with self.db.conn:
            self.db["runs"].update(run_id, {"status": "finished", "finished_at": now()})

    # -- games ------------------------------------------------------------------------------

    def create_game(self, run_id: str, row: dict[str, Any]) -> int:
        record = {"run_id": run_id, "status": "running", "started_at": now(), **row}
        if isinstance(record.get("settings"), dict):
            record["settings"] = json.dumps(record["settings"], sort_keys=True)
        with self.db.conn:
            return self.db["games"].insert(record).last_pk

    def add_message(self, game_id: int, msg: GameMessage) -> None:
        with self.db.conn:
            self.db["messages"].insert(
                {
                    "game_id": game_id,
                    "idx": msg.idx,
                    "turn": msg.turn,
                    "speaker": msg.speaker,
                    "phase": msg.phase,
                    "visible_text": msg.visible_text,
                    "private_text": msg.private_text,
                    "raw_text": msg.raw_text,
                    "mentions": int(msg.mentions),
                    "created_at": now(),
                    "prompt_tokens": msg.prompt_tokens,
                    "completion_tokens": msg.completion_tokens,
                    "latency_s": msg.latency_s,
                }
            )

    def set_first_mention(self, game_id: int, idx: int, turn: int, speaker: str) -> None:
        with self.db.conn:
            self.db["games"].update(
                game_id,
                {"first_mention_index": idx, "first_mention_turn": turn, "first_mention_speaker": speaker},
            )

    def finish_game(self, game_id: int, *, outcome: str, guess: str | None, error: str | None,
                    tokens: TokenTotals | None = None) -> None:
        """The verdict, with the token totals the recorder summed as the messages were written."""
        tokens = tokens or TokenTotals()
        started = self.db["games"].get(game_id)["started_at"]
        finished = now()
        duration = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
        with self.db.conn:
            self.db["games"].update(
                game_id,
                {
                    "status": "finished",
                    "outcome": outcome,
                    "guess": guess,
                    "error": error,
                    "finished_at": finished,
                    "duration_s": duration,
                    "manipulator_tokens": tokens.manipulator,
                    "user_tokens": tokens.user,
                    "prompt_tokens": tokens.prompt,
                    "completion_tokens": tokens.completion,
                },
            )

    # -- copying between databases (mms merge) -------------------------------------------------

    def copy_run(self, run: dict[str, Any]) -> None:
        """Insert a run row as another database holds it (call inside `transaction`)."""
        self.db["runs"].insert(run)

    def copy_game(self, game: dict[str, Any], messages: list[dict[str, Any]]) -> int:
        """Insert a game and its messages under a new id (call inside `transaction`); returns the id."""
        row = {k: v for k, v in game.items() if k != "id"}
        new_id = self.db["games"].insert(row).last_pk
        self.db["messages"].insert_all({**{k: v for k, v in m.items() if k != "id"}, "game_id": new_id} for m in messages)
        return new_id

    def transaction(self):
        """All writes inside commit together or not at all (sqlite-utils' own writes join it)."""
        return self.db.atomic()

    # -- reading: typed queries (game/queries.py) ---------------------------------------------

    def games(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Games that count (not superseded), oldest first."""
        return queries.counted_games(self.db.conn, run_id)

    def all_games(self) -> list[dict[str, Any]]:
        return queries.all_games(self.db.conn)

    def runs(self) -> list[dict[str, Any]]:
        return queries.runs(self.db.conn)

    def finished_run_keys(self) -> set[tuple[str, str]]:
        return queries.finished_run_keys(self.db.conn)

    def finished_games(self, games: queries.Games = queries.Games()) -> list[dict[str, Any]]:
        return queries.finished_games(self.db.conn, games)

    def game(self, game_id: int) -> dict[str, Any] | None:
        return queries.game(self.db.conn, game_id)

    def messages(self, game_id: int) -> list[dict[str, Any]]:
        """The game's transcript, in order."""
        return queries.transcript(self.db.conn, game_id)

    def outcome_rows(self, by: tuple[str, ...], games: queries.Games = queries.Games()) -> list[dict[str, Any]]:
        return queries.outcome_rows(self.db.conn, by, games)

    def outcome_counts(self, by: tuple[str, ...], games: queries.Games = queries.Games()) -> dict[tuple, dict[str, int]]:
        return queries.outcome_counts(self.db.conn, by, games)

    def outcome_totals(self, games: queries.Games = queries.Games()) -> dict[str, int]:
        return queries.outcome_totals(self.db.conn, games)

    def error_reasons(self, games: queries.Games = queries.Games()) -> list[tuple[str | None, int]]:
        return queries.error_reasons(self.db.conn, games)

    def user_messages(self, model: str, codeword: str) -> list[str]:
        return queries.user_messages(self.db.conn, model, codeword)
