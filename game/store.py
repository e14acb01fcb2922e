"""The SQLite store: one module, one write path per event, every write committed at once.

WAL mode lets a watcher read while games are written. Messages are written as they happen,
so a crash loses at most the message being generated.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from agents.errors import MmsError

from . import queries
from .messages import GameMessage, TokenTotals
from .migrations import migrate


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._schemas: set[str] = set()
        if self.path.parent and not self.path.parent.exists():
            raise MmsError(f"database folder does not exist: {self.path.parent} (create it or pick another --db)")
        try:
            conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise MmsError(f"cannot open database {self.path}: {exc} (is it an mms SQLite file?)") from None

    def ensure_schema(self, name: str, apply) -> None:
        """Bring one subsystem's tables up to date (its own migration set), once per open store."""
        if name not in self._schemas:
            apply(self.db)
            self._schemas.add(name)

    def close(self) -> None:
        self.db.conn.close()

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

    def supersede_unfinished(self, run_id: str) -> int:
        """Mark games a crash left half-played; they are replayed from the start."""
        with self.db.conn:
            cursor = self.db.execute(
                "update games set status = 'superseded' where run_id = ? and status = 'running'", [run_id]
            )
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
        """All writes inside commit together or not at all."""
        return self.db.conn

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

    def user_messages(self, model: str, codeword: str) -> list[str]:
        return queries.user_messages(self.db.conn, model, codeword)
