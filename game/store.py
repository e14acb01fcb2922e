"""The SQLite store: one module, one write path per event.

WAL mode lets a watcher read while games are written. Messages are written as they happen,
so a crash loses at most the message being generated. Each write commits at once, except while
the runner holds commits (`hold_commits`): then writes wait for its next `commit()`, so the
messages of many games share one transaction (group commit). Writes always go to the one
connection in the order they happen, so whatever point a commit falls at, what it commits is a
prefix of the games' events: a game's verdict is never committed before its own messages.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.db import NotFoundError

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
from .rows import (
    GameRow,
    MessageRow,
    RunRow,
    first_mention_columns,
    insert_sql,
    update_sql,
    verdict_columns,
)
from .runlock import RunLock


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# While commits are held, the most writes left uncommitted: past it a write commits at once, so a
# holder that never commits still keeps the transaction (and the -wal file) bounded.
MAX_UNCOMMITTED = 10_000

_MESSAGE_COLUMNS = MessageRow.COLUMNS[1:]  # all but the id SQLite assigns
_INSERT_MESSAGE = insert_sql(MessageRow, _MESSAGE_COLUMNS)


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


def require_games_db(path: str | Path, codeword: str = "ring") -> None:
    """Refuse a games database that is not there, before anything else is checked or created."""
    if not Path(path).is_file():
        raise MmsError(f"database not found: {path} (play some games first: mms play --codeword {codeword} --db {path})")


def _open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection (`mode=ro`) to one of our files at this code's games schema."""
    require_games_db(path)
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
    `Store.reader(path)` only reads: it opens the file read-only and changes nothing in it.
    Either reads through `store.read` (game/queries.py)."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._schemas: dict[str, bool] = {}
        self._tidy = readonly and not _wal(self.path).exists()
        self._held = False
        self._uncommitted = 0
        try:
            conn = _open_reader(self.path) if readonly else _open_writer(self.path)
        except sqlite3.DatabaseError as exc:
            raise MmsError(f"cannot open database {self.path}: {exc} (is it an mms SQLite file?)") from None
        self.db = sqlite_utils.Database(conn)
        self.read = queries.Reads(conn)

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
            self.db["runs"].insert(RunRow(
                id=run_id, created_at=now(), command=command, kind=command, settings=settings,
                games_planned=games_planned, status="running", spec_hash=spec_hash,
            ).to_row())
        return run_id

    def run_complete(self, run_id: str) -> bool:
        """Every planned game of the run is finished and none is still running."""
        run = self.read.run(run_id)
        return (run is not None and self.read.unfinished_games(run_id) == 0
                and len(self.read.finished_keys(run_id)) >= (run["games_planned"] or 0))

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

    def set_spec_hash(self, run_id: str, spec_hash: str) -> None:
        with self.db.conn:
            self.db["runs"].update(run_id, {"spec_hash": spec_hash})

    def finish_run(self, run_id: str) -> None:
        with self.db.conn:
            self.db["runs"].update(run_id, {"status": "finished", "finished_at": now()})

    # -- games ------------------------------------------------------------------------------

    def create_game(self, run_id: str, game: GameRow) -> int:
        """Write a new game's row (its setup), running from now; returns its id."""
        row = replace(game, run_id=run_id, status="running", started_at=now()).to_row()
        del row["id"]
        with self._write():
            return self.db.conn.execute(insert_sql(GameRow, tuple(row)), list(row.values())).lastrowid

    def add_message(self, game_id: int, msg: GameMessage) -> None:
        row = MessageRow.of(game_id, msg, now()).to_row()
        with self._write():
            self.db.conn.execute(_INSERT_MESSAGE, [row[c] for c in _MESSAGE_COLUMNS])

    def set_first_mention(self, game_id: int, idx: int, turn: int, speaker: str) -> None:
        self._update_game(game_id, first_mention_columns(idx, turn, speaker))

    def finish_game(self, game_id: int, *, outcome: str, guess: str | None, error: str | None,
                    tokens: TokenTotals | None = None) -> None:
        """The verdict, with the token totals the recorder summed as the messages were written."""
        tokens = tokens or TokenTotals()
        found = self.db.conn.execute("select started_at from games where id = ?", (game_id,)).fetchone()
        if found is None:
            raise NotFoundError(f"no game {game_id}")
        finished = now()
        duration = (datetime.fromisoformat(finished) - datetime.fromisoformat(found[0])).total_seconds()
        self._update_game(game_id, verdict_columns(outcome, guess, error, finished, duration, tokens))

    def _update_game(self, game_id: int, values: dict[str, Any]) -> None:
        with self._write():
            self.db.conn.execute(update_sql(GameRow, list(values)), [*values.values(), game_id])

    # -- group commit ------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write of a game: committed at once, or while commits are held, by the next `commit()`."""
        if not self._held:
            with self.db.conn:
                yield
            return
        yield
        self._uncommitted += 1
        if self._uncommitted >= MAX_UNCOMMITTED:
            self.commit()

    @contextmanager
    def hold_commits(self) -> Iterator[None]:
        """Inside, the writes of games wait for `commit()`: the holder commits many games' writes
        in one transaction. Leaving commits what is still waiting; leaving on an error rolls it
        back instead (those games were not reported done, and a resume plays them again)."""
        self._held = True
        try:
            yield
        except BaseException:
            self._held = False
            self._rollback()
            raise
        self._held = False
        self.commit()

    @property
    def uncommitted(self) -> int:
        """Writes made while commits are held and not committed yet."""
        return self._uncommitted

    def commit(self) -> None:
        self.db.conn.commit()
        self._uncommitted = 0

    def _rollback(self) -> None:
        self._uncommitted = 0
        try:
            self.db.conn.rollback()
        except sqlite3.Error:
            pass  # the connection is already broken: what raised says why, and nothing was committed

    # -- copying between databases (mms merge) -------------------------------------------------

    def copy_run(self, run: dict[str, Any]) -> None:
        """Insert a run row as another database holds it (call inside `transaction`)."""
        self.db["runs"].insert(run)

    def finish_if_complete(self, run_id: str) -> bool:
        """Mark a run finished when every planned game is (call inside `transaction`): what a merge
        of its shards needs, as no shard alone holds all its games. Its finish time is that of its
        last game. Returns whether it was marked."""
        run = self.read.run(run_id)
        if run is None or run["status"] == "finished" or not self.run_complete(run_id):
            return False
        last = self.db.execute("select max(finished_at) from games where run_id = ? and status = 'finished'",
                               [run_id]).fetchone()[0]
        self.db["runs"].update(run_id, {"status": "finished", "finished_at": last or now()})
        return True

    def copy_game(self, game: dict[str, Any], messages: list[dict[str, Any]]) -> int:
        """Insert a game and its messages under a new id (call inside `transaction`); returns the id."""
        row = {k: v for k, v in game.items() if k != "id"}
        new_id = self.db["games"].insert(row).last_pk
        self.db["messages"].insert_all({**{k: v for k, v in m.items() if k != "id"}, "game_id": new_id} for m in messages)
        return new_id

    def transaction(self):
        """All writes inside commit together or not at all (sqlite-utils' own writes join it)."""
        return self.db.atomic()
