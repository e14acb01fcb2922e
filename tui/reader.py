"""Read the games store for the watcher: read-only, incremental, never creating the file.

Another process (or a worker in this one) writes games; the watcher polls. Each poll first asks
SQLite whether anything was committed since the last one (`PRAGMA data_version`, a counter that
moves only when another connection commits), and if so reads only what changed: messages with
an id above the last one seen, games above the last game id, and the games known to be running
or that just got messages. Reads are cheap whatever the database's size; the games list is paged.

Every method may be called from a worker thread; one lock serialises use of the connection.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from game import queries
from game.rows import GameRow

from .filters import GameFilter

PAGE_SIZE = 200
# Characters of each text of a message read for a transcript; the rest is read when asked for.
PREVIEW_CHARS = 3_000


@dataclass(frozen=True)
class ListedGame(GameRow):
    """One game as the games list and the transcript header show it: its row, and how many
    conversation messages it has so far."""

    said: int = 0

    @property
    def total(self) -> int:
        return 2 * (self.messages_per_player or 0)

    @property
    def seat(self) -> str:
        """Who sat in the user's seat: the persona, or "human"."""
        return "human" if self.user == "human" else (self.persona or "")


@dataclass(frozen=True)
class MessageRow:
    """One message as a transcript reads it: each text perhaps only its start (see `messages`),
    with its full length in characters."""

    id: int
    idx: int
    speaker: str
    phase: str
    visible_text: str
    private_text: str
    visible_chars: int
    private_chars: int

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> "MessageRow":
        visible, private = r.get("visible_text") or "", r.get("private_text") or ""
        return cls(r["id"], r["idx"], r["speaker"], r["phase"], visible, private,
                   r.get("visible_chars") or len(visible), r.get("private_chars") or len(private))


@dataclass(frozen=True)
class Summary:
    """Run progress for the header: the newest run, and the whole database."""

    games: int = 0
    running: int = 0
    wins: int = 0
    decided: int = 0  # finished without error
    run_id: str | None = None
    run_kind: str | None = None
    run_status: str | None = None
    run_planned: int = 0
    run_done: int = 0
    run_running: int = 0
    run_errors: int = 0
    run_wins: int = 0
    run_decided: int = 0


@dataclass(frozen=True)
class DbState:
    """Whether there is anything to show, and if not, why."""

    kind: str  # missing | unreadable | empty | ok
    detail: str = ""


@dataclass
class Poll:
    """What changed since the previous poll."""

    state: DbState
    reset: bool = False  # first contact with the data: reload everything
    games: list[ListedGame] = field(default_factory=list)  # new or changed games (superseded included)
    message_games: set[int] = field(default_factory=set)  # games that got new messages
    summary: Summary = field(default_factory=Summary)


class StoreReader:
    def __init__(self, path: str | Path, *, timeout: float = 0.25):
        self.path = Path(path)
        self.timeout = timeout
        self._read: queries.Reads | None = None  # over a read-only connection, once the file can be read
        self._lock = threading.Lock()
        self._label = "g.manipulator"
        self._columns: frozenset[str] = frozenset()
        self._version: int | None = None
        self._max_game = 0
        self._max_message = 0
        self._running: set[int] = set()
        self._last_state: DbState | None = None

    def close(self) -> None:
        with self._lock:
            if self._read is not None:
                self._read.conn.close()
                self._read = None

    # -- polling ------------------------------------------------------------------------------

    def poll(self) -> Poll | None:
        """Changes since the last poll, or None when nothing was committed meanwhile."""
        with self._lock:
            state = self._open()
            if state.kind != "ok":
                if state == self._last_state:
                    return None
                self._last_state = state
                return Poll(state, reset=True)
            self._last_state = state
            try:
                version = self._read.data_version()
                if version == self._version:
                    return None
                first = self._version is None
                poll = self._baseline() if first else self._changes()
                self._version = version
                poll.summary = self._summary()
                if poll.summary.games == 0:
                    poll.state = DbState("empty")
                return poll
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc) or "no such column" in str(exc):
                    self._version = None
                    return Poll(DbState("empty", "the database has no games table yet"), reset=True)
                return None  # busy or locked: try again next time
            except sqlite3.DatabaseError as exc:
                self._drop()
                return Poll(DbState("unreadable", str(exc)), reset=True)

    def _open(self) -> DbState:
        if self._read is not None:
            return DbState("ok")
        if not self.path.exists():
            return DbState("missing")
        try:
            conn = queries.open_readonly(self.path, self.timeout)
            ready = queries.Reads(conn).has_game_tables()
        except sqlite3.DatabaseError as exc:
            return DbState("unreadable", str(exc))
        if not ready:
            conn.close()
            return DbState("empty", "the database has no games table yet")
        read = queries.Reads(conn)
        self._label, self._columns = read.manipulator_label(), read.game_columns()
        self._read = read
        return DbState("ok")

    def _drop(self) -> None:
        if self._read is not None:
            self._read.conn.close()
        self._read, self._version = None, None

    def _baseline(self) -> Poll:
        self._max_game, self._max_message, self._running = self._read.high_water()
        return Poll(DbState("ok"), reset=True)

    def _changes(self) -> Poll:
        since = self._read.messages_since(self._max_message)
        touched = set(since)
        self._max_message = max([self._max_message, *since.values()])
        ids = sorted(touched | self._running)
        marks = ",".join("?" * len(ids))
        where = f"g.id > ? or g.id in ({marks})" if ids else "g.id > ?"
        games = self._select(where, [self._max_game, *ids], order="g.id")
        for game in games:
            self._max_game = max(self._max_game, game.id)
            if game.status == "running":
                self._running.add(game.id)
            else:
                self._running.discard(game.id)
        return Poll(DbState("ok"), games=games, message_games=touched)

    def _summary(self) -> Summary:
        t = self._read.totals()
        overall = (t["games"], t["running"], t["wins"], t["decided"])
        run = self._read.latest_run()
        if run is None:
            return Summary(*overall)
        r = self._read.totals(run["id"])
        return Summary(
            *overall,
            run_id=run["id"],
            run_kind=run.get("kind") or run["command"],
            run_status=run["status"],
            run_planned=run["games_planned"] or 0,
            run_done=r["finished"], run_running=r["running"], run_errors=r["errors"], run_wins=r["wins"],
            run_decided=r["decided"],
        )

    # -- reading ------------------------------------------------------------------------------

    def page(self, flt: GameFilter, before_id: int | None = None, limit: int = PAGE_SIZE) -> tuple[list[ListedGame], int]:
        """Up to `limit` games matching the filter, newest first, older than `before_id`;
        and how many games match in all."""
        with self._lock:
            if self._open().kind != "ok":
                return [], 0
            where, args = flt.sql(self._label)
            try:
                total = self._read.count_games(where, args)
                if before_id is not None:
                    where, args = f"{where} and g.id < ?", [*args, before_id]
                return self._select(where, args, order="g.id desc", limit=limit), total
            except sqlite3.OperationalError:
                return [], 0

    def count(self, flt: GameFilter) -> int:
        """How many games match the filter."""
        with self._lock:
            if self._open().kind != "ok":
                return 0
            where, args = flt.sql(self._label)
            try:
                return self._read.count_games(where, args)
            except sqlite3.OperationalError:
                return 0

    def game(self, game_id: int) -> ListedGame | None:
        with self._lock:
            if self._open().kind != "ok":
                return None
            rows = self._select("g.id = ?", [game_id], order="g.id")
            return rows[0] if rows else None

    def messages(self, game_id: int, after_idx: int = -1, limit: int | None = None) -> list[MessageRow]:
        """A game's messages after `after_idx`, in order, each text up to `PREVIEW_CHARS`;
        with `limit`, only the last ones."""
        with self._lock:
            if self._open().kind != "ok":
                return []
            rows = self._read.messages_after(game_id, after_idx, limit, chars=PREVIEW_CHARS)
        return [MessageRow.from_record(r) for r in rows]

    def whole_message(self, message_id: int) -> MessageRow | None:
        """One message with all of its texts."""
        with self._lock:
            if self._open().kind != "ok":
                return None
            row = self._read.message_texts(message_id)
        return MessageRow.from_record(row) if row else None

    def message_count(self, game_id: int) -> int:
        with self._lock:
            if self._open().kind != "ok":
                return 0
            return self._read.message_count(game_id)

    def _select(self, where: str, args: list[Any], *, order: str, limit: int | None = None) -> list[ListedGame]:
        """Games, each free text cut to `PREVIEW_CHARS` (and "…"): an error can be a web page."""
        found = self._read.game_rows(where, args, label=self._label, order=order, limit=limit,
                                     columns=self._columns, chars=PREVIEW_CHARS + 1)
        for r in found:
            r.update({k: r[k][:PREVIEW_CHARS] + "…" for k in GameRow.FREE_TEXT if r[k] and len(r[k]) > PREVIEW_CHARS})
        return [ListedGame.from_row(r) for r in found]
