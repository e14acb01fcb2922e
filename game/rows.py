"""The rows of the games' tables (`runs`, `games`, `messages`) as typed records: the one place
besides the migrations that names their columns.

Each record's fields are its table's columns, in the order the migrations leave them (a test
checks the two agree), so a module that reads or writes a row goes through a record and never
spells a column out itself. JSON columns are decoded by `from_row` and encoded by `to_row`, here
alone. A record built from a partial row (a SELECT of some columns, a database from before a
migration) holds None for what it lacks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from .messages import GameMessage, TokenTotals


def _decode(raw: Any) -> Any:
    """A JSON column's value; text that is not JSON is kept as it is rather than lost."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _encode(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


class _Row:
    """What every record shares: its table, its columns and the JSON ones among them."""

    TABLE: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    JSON_COLUMNS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        """From a row as SQLite gives it (any subset of the columns; a subclass's own fields too)."""
        return cls(**{f.name: _decode(row[f.name]) if f.name in cls.JSON_COLUMNS else row[f.name]
                      for f in fields(cls) if f.name in row})

    def to_row(self) -> dict[str, Any]:
        """The table's columns as SQLite stores them (JSON columns as text)."""
        return {c: _encode(getattr(self, c)) if c in self.JSON_COLUMNS else getattr(self, c) for c in self.COLUMNS}


def _columns(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class RunRow(_Row):
    """One run: a `mms play`, a tournament or its shard."""

    TABLE = "runs"
    JSON_COLUMNS = ("settings",)

    id: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
    command: str | None = None
    settings: Any = None  # every setting of the run
    games_planned: int | None = None
    status: str | None = None  # running | finished
    spec_hash: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class GameRow(_Row):
    """One game: its setup, its verdict and its totals."""

    TABLE = "games"
    JSON_COLUMNS = ("settings",)
    # Free text a model or a person wrote: a reader showing many games reads only their start.
    FREE_TEXT: ClassVar[tuple[str, ...]] = ("topic", "guess", "error")

    id: int | None = None
    run_id: str | None = None
    game_key: str | None = None
    codeword: str | None = None
    manipulator: str | None = None
    user: str | None = None
    persona: str | None = None
    topic: str | None = None
    seed_word: str | None = None
    rule: str | None = None
    messages_per_player: int | None = None
    stop_on_mention: int | None = None
    settings: Any = None  # every game setting
    seed: int | None = None
    status: str | None = None  # running | finished | superseded
    outcome: str | None = None  # win | violation | no_codeword | correct_guess | error
    first_mention_index: int | None = None
    first_mention_turn: int | None = None
    first_mention_speaker: str | None = None
    guess: str | None = None
    error: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    manipulator_tokens: int | None = None
    user_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tier: str | None = None
    manipulator_label: str | None = None
    manipulator_prompt: str | None = None
    shard: str | None = None

    @property
    def first_mention(self) -> dict[str, Any] | None:
        """Where the codeword was first said (message index, the speaker's turn, the speaker), if it was."""
        if self.first_mention_index is None:
            return None
        return {"index": self.first_mention_index, "turn": self.first_mention_turn,
                "speaker": self.first_mention_speaker}

    @property
    def tokens(self) -> dict[str, int | None]:
        """The token totals per seat and per kind, as stored (None where nothing was recorded)."""
        return {"manipulator": self.manipulator_tokens, "user": self.user_tokens, "prompt": self.prompt_tokens,
                "completion": self.completion_tokens}

    @property
    def timings(self) -> dict[str, Any]:
        return {"started_at": self.started_at, "finished_at": self.finished_at, "duration_s": self.duration_s}


def first_mention_columns(index: int, turn: int, speaker: str) -> dict[str, Any]:
    """The columns that record where the codeword was first said."""
    return {"first_mention_index": index, "first_mention_turn": turn, "first_mention_speaker": speaker}


def verdict_columns(outcome: str, guess: str | None, error: str | None, finished_at: str, duration_s: float,
                    tokens: TokenTotals) -> dict[str, Any]:
    """The columns a game's verdict sets, its token totals with it."""
    return {"status": "finished", "outcome": outcome, "guess": guess, "error": error, "finished_at": finished_at,
            "duration_s": duration_s, "manipulator_tokens": tokens.manipulator, "user_tokens": tokens.user,
            "prompt_tokens": tokens.prompt, "completion_tokens": tokens.completion}


@dataclass(frozen=True)
class MessageRow(_Row):
    """One message of a game, the guess included."""

    TABLE = "messages"

    id: int | None = None
    game_id: int | None = None
    idx: int | None = None  # 0-based position in the game, guess included
    turn: int | None = None  # the speaker's own message number, 1-based
    speaker: str | None = None  # user | manipulator
    phase: str | None = None  # conversation | guess
    visible_text: str | None = None
    private_text: str | None = None  # the manipulator's monologue, never shown to the user
    raw_text: str | None = None  # the model's reply exactly as generated (holds the monologue)
    mentions: int | None = None  # 1 if the referee found the codeword in the visible text
    created_at: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None

    @classmethod
    def of(cls, game_id: int, msg: GameMessage, created_at: str) -> MessageRow:
        """The row a judged message is written as."""
        return cls(None, game_id, msg.idx, msg.turn, msg.speaker, msg.phase, msg.visible_text, msg.private_text,
                   msg.raw_text, int(msg.mentions), created_at, msg.prompt_tokens, msg.completion_tokens,
                   msg.latency_s)


RunRow.COLUMNS = _columns(RunRow)
GameRow.COLUMNS = _columns(GameRow)
MessageRow.COLUMNS = _columns(MessageRow)
RECORDS: tuple[type[_Row], ...] = (RunRow, GameRow, MessageRow)


def insert_sql(record: type[_Row], columns: tuple[str, ...]) -> str:
    """An INSERT of these columns of the record's table, one `?` each."""
    return f"insert into {record.TABLE} ({', '.join(f'[{c}]' for c in columns)}) values ({', '.join('?' * len(columns))})"


def update_sql(record: type[_Row], columns: tuple[str, ...] | list[str]) -> str:
    """An UPDATE of these columns of one row by its id, one `?` each and the id last."""
    return f"update {record.TABLE} set {', '.join(f'[{c}] = ?' for c in columns)} where id = ?"
