"""Every read of runs, games and messages: typed queries over any SQLite connection.

The store (read-write, as `store.read`), the watcher's read-only connection, stats, transcripts,
reports and the interview all read games through `Reads`, so what is read and how is known in
one place; which columns a row has is known from `game/rows.py`. Queries return dicts (whatever
the connection's row factory), or the typed values named.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .rows import GameRow

LABEL = "coalesce(g.manipulator_label, g.manipulator)"
# Fields games can be grouped by, and the SQL for each over `games g`.
GROUP_FIELDS = {
    "manipulator": LABEL,
    "user": "g.user",
    "persona": "g.persona",
    "codeword": "g.codeword",
    "tier": "coalesce(g.tier, '')",
    "rule": "g.rule",
    "run": "g.run_id",
}


class Where:
    """A where-clause over `games g`, built one condition at a time with its arguments in order:
    the one builder behind every filter of games (`Games` here, the watcher's filter line)."""

    def __init__(self, *clauses: str):
        self.clauses: list[str] = list(clauses)
        self.args: list[Any] = []

    def add(self, clause: str, *args: Any) -> Where:
        self.clauses.append(clause)
        self.args += args
        return self

    def equal(self, column: str, value: Any, *, fold: bool = False) -> Where:
        """`column = value` when a value is given; `fold` compares lower-cased (give `value` folded)."""
        if value is None:
            return self
        return self.add(f"lower({column}) = ?" if fold else f"{column} = ?", value)

    def contains(self, columns: Iterable[str], word: str) -> Where:
        """Any of the columns holds `word` (lower-cased), taken literally (no LIKE wildcards)."""
        columns = list(columns)
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self.add("(" + " or ".join(f"lower(coalesce({c}, '')) like ? escape '\\'" for c in columns) + ")",
                        *[pattern] * len(columns))

    def sql(self) -> tuple[str, list[Any]]:
        return " and ".join(self.clauses), list(self.args)


@dataclass(frozen=True)
class Games:
    """Which finished games: every field given must match. `manipulator` matches the spec or the label."""

    outcome: str | None = None
    codeword: str | None = None
    run: str | None = None
    manipulator: str | None = None
    manipulator_prompt: str | None = None
    exclude_errors: bool = False

    def where(self) -> tuple[str, list[Any]]:
        where = Where("g.status = 'finished'")
        for column, value in (("g.outcome", self.outcome), ("g.codeword", self.codeword), ("g.run_id", self.run),
                              ("g.manipulator_prompt", self.manipulator_prompt)):
            where.equal(column, value)
        if self.manipulator is not None:
            where.add("(g.manipulator = ? or g.manipulator_label = ?)", self.manipulator, self.manipulator)
        if self.exclude_errors:
            where.add("g.outcome != 'error'")
        return where.sql()


def rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _first(cursor: sqlite3.Cursor) -> dict[str, Any] | None:
    found = rows(cursor)
    return found[0] if found else None


def open_readonly(path, timeout: float = 5.0, *, immutable: bool = False) -> sqlite3.Connection:
    """A read-only connection for a watcher: it never creates the file, and never migrates it.

    `immutable` also skips SQLite's locking and WAL files: only for a file nobody writes now."""
    from pathlib import Path

    # A URI keeps odd characters in the path safe.
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}", uri=True,
                           timeout=timeout, check_same_thread=False)


class Reads:
    """The reads of one connection: `store.read` for a store, or a watcher's own over a read-only one."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- games --------------------------------------------------------------------------------

    def finished_games(self, games: Games = Games()) -> list[dict[str, Any]]:
        """Finished games (never superseded or unfinished ones), oldest first."""
        where, args = games.where()
        return rows(self.conn.execute(f"select g.* from games g where {where} order by g.id", args))

    def games(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Games that count (not superseded, finished or not), oldest first."""
        where, args = "status != 'superseded'", []
        if run_id:
            where, args = where + " and run_id = ?", [run_id]
        return rows(self.conn.execute(f"select * from games where {where} order by id", args))

    def all_games(self) -> list[dict[str, Any]]:
        """Every game row, whatever its status, oldest first (for merging databases)."""
        return rows(self.conn.execute("select * from games order by id"))

    def finished_run_keys(self) -> set[tuple[str, str]]:
        """(run, game key) of every finished game."""
        return {(r[0], r[1]) for r in self.conn.execute(
            "select run_id, game_key from games where status = 'finished'")}

    def game(self, game_id: int) -> dict[str, Any] | None:
        return _first(self.conn.execute("select * from games where id = ?", [game_id]))

    def outcome_rows(self, by: Sequence[str], games: Games = Games()) -> list[dict[str, Any]]:
        """One row per finished game: its group fields, outcome, first-mention turn and tokens."""
        columns = "".join(f"{GROUP_FIELDS[f]} as {f}, " for f in by)
        where, args = games.where()
        return rows(self.conn.execute(
            f"select {columns}g.outcome as outcome, g.first_mention_turn as first_mention_turn, "
            "g.guess as guess, g.codeword as _codeword, g.rule as _rule, "
            f"coalesce(g.prompt_tokens, 0) + coalesce(g.completion_tokens, 0) as tokens from games g where {where}",
            args))

    def outcome_counts(self, by: Sequence[str], games: Games = Games()) -> dict[tuple, dict[str, int]]:
        """Finished games counted per group (the `by` fields) and outcome."""
        counts: dict[tuple, dict[str, int]] = {}
        for row in self.outcome_rows(by, games):
            cell = counts.setdefault(tuple(row[f] for f in by), {})
            cell[row["outcome"]] = cell.get(row["outcome"], 0) + 1
        return counts

    def outcome_totals(self, games: Games = Games()) -> dict[str, int]:
        """Finished games per outcome, counted by SQLite (no row per game in memory)."""
        where, args = games.where()
        return dict(self.conn.execute(f"select g.outcome, count(*) from games g where {where} group by g.outcome",
                                      args))

    def error_reasons(self, games: Games = Games()) -> list[tuple[str | None, int]]:
        """Each distinct error of the finished games in error, with how many games it ended."""
        where, args = games.where()
        return self.conn.execute(f"select g.error, count(*) from games g where {where} and g.outcome = 'error' "
                                 "group by g.error", args).fetchall()

    def unfinished_games(self, run_id: str) -> int:
        """Games of the run still running (not finished, not set aside as superseded)."""
        return self.conn.execute("select count(*) from games where run_id = ? and status = 'running'",
                                 [run_id]).fetchone()[0]

    def finished_keys(self, run_id: str) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "select game_key from games where run_id = ? and status = 'finished'", [run_id])}

    # -- runs ---------------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any] | None:
        return _first(self.conn.execute("select * from runs where id = ?", [run_id]))

    def runs(self) -> list[dict[str, Any]]:
        return rows(self.conn.execute("select * from runs order by rowid"))

    def recent_run_ids(self, limit: int = 10) -> list[str]:
        return [r[0] for r in self.conn.execute("select id from runs order by created_at desc limit ?", [limit])]

    def latest_run(self) -> dict[str, Any] | None:
        return _first(self.conn.execute("select * from runs order by created_at desc, rowid desc limit 1"))

    # -- messages -----------------------------------------------------------------------------

    def messages(self, game_id: int) -> list[dict[str, Any]]:
        """A game's messages in order, guess included."""
        return rows(self.conn.execute("select * from messages where game_id = ? order by idx", [game_id]))

    def conversation_texts(self, run_id: str | None = None) -> Iterator[tuple[int, str, str]]:
        """(game id, speaker, visible text) of the conversation messages of counted games, game by
        game in order; streamed from the cursor, so memory stays flat in the number of games."""
        where, args = "g.status != 'superseded'", []
        if run_id:
            where, args = where + " and g.run_id = ?", [run_id]
        yield from self.conn.execute(
            f"""select m.game_id, m.speaker, coalesce(m.visible_text, '') from messages m
                join games g on g.id = m.game_id
                where {where} and m.phase = 'conversation' order by m.game_id, m.idx""", args)

    def user_messages(self, model: str, codeword: str) -> list[str]:
        """Non-empty conversation messages of the users a model played against as manipulator, for
        one codeword, in finished games without errors."""
        return [r[0] for r in self.conn.execute(
            """select m.visible_text from messages m join games g on g.id = m.game_id
               where (g.manipulator = ? or g.manipulator_label = ?) and g.codeword = ?
                 and g.status = 'finished' and g.outcome != 'error'
                 and m.speaker = 'user' and m.phase = 'conversation' and trim(m.visible_text) != ''
               order by m.id""", [model, model, codeword])]

    # -- the watcher: incremental reads -------------------------------------------------------

    def data_version(self) -> int:
        """SQLite's counter of commits by other connections: unchanged means nothing new to read."""
        return self.conn.execute("pragma data_version").fetchone()[0]

    def has_game_tables(self) -> bool:
        tables = {r[0] for r in self.conn.execute("select name from sqlite_master where type = 'table'")}
        return {"games", "messages"} <= tables

    def game_columns(self) -> frozenset[str]:
        """The columns this file's `games` table has (a database from before a migration lacks some)."""
        return frozenset(r[1] for r in self.conn.execute("pragma table_info(games)"))

    def manipulator_label(self) -> str:
        """The SQL for a game's manipulator label (databases from before tournaments have no label)."""
        return LABEL if "manipulator_label" in self.game_columns() else "g.manipulator"

    def high_water(self) -> tuple[int, int, set[int]]:
        """The largest game id, the largest message id, and the ids of running games."""
        max_game = self.conn.execute("select coalesce(max(id), 0) from games").fetchone()[0]
        max_message = self.conn.execute("select coalesce(max(id), 0) from messages").fetchone()[0]
        running = {r[0] for r in self.conn.execute("select id from games where status = 'running'")}
        return max_game, max_message, running

    def messages_since(self, message_id: int) -> dict[int, int]:
        """Games that got messages with ids above `message_id`: game id → its largest new message id."""
        return {r[0]: r[1] for r in self.conn.execute(
            "select game_id, max(id) from messages where id > ? group by game_id", [message_id])}

    def game_rows(self, where: str, args: Sequence[Any], *, columns: Collection[str] = GameRow.COLUMNS,
                  label: str = LABEL, order: str = "g.id", limit: int | None = None,
                  chars: int | None = None) -> list[dict[str, Any]]:
        """Games for the games list (`where` over `games g`), each with its conversation messages so far
        (`said`). `columns` are those the file has (the others read as null); the manipulator label is
        `label`. With `chars`, the free texts only up to that many characters."""
        def select(c: str) -> str:
            if c == "manipulator_label":
                return f"{label} as {c}"
            if c not in columns:
                return f"null as {c}"
            return f"substr(g.{c}, 1, {int(chars)}) as {c}" if chars is not None and c in GameRow.FREE_TEXT else f"g.{c}"

        sql = f"""select {', '.join(map(select, GameRow.COLUMNS))},
                         (select count(*) from messages m where m.game_id = g.id and m.phase = 'conversation') as said
                  from games g where {where} order by {order}"""
        if limit is not None:
            sql += f" limit {int(limit)}"
        return rows(self.conn.execute(sql, list(args)))

    def count_games(self, where: str, args: Sequence[Any]) -> int:
        return self.conn.execute(f"select count(*) from games g where {where}", list(args)).fetchone()[0]

    def messages_after(self, game_id: int, after_idx: int = -1, limit: int | None = None, *,
                       chars: int | None = None) -> list[dict[str, Any]]:
        """A game's messages after `after_idx`, in order; with `limit`, only the last ones. With
        `chars`, each text only up to that many characters (SQLite cuts it, so a huge message is
        never read whole), and its full length as `visible_chars` and `private_chars`."""
        if chars is None:
            texts = "visible_text, private_text"
        else:
            texts = ("substr(visible_text, 1, :chars) as visible_text, substr(private_text, 1, :chars) as private_text, "
                     "length(visible_text) as visible_chars, length(private_text) as private_chars")
        sql = (f"select id, idx, turn, speaker, phase, {texts}, mentions "
               "from messages where game_id = :game and idx > :after order by idx desc")
        args: dict[str, Any] = {"game": game_id, "after": after_idx, "chars": chars}
        if limit is not None:
            sql += " limit :limit"
            args["limit"] = limit
        return list(reversed(rows(self.conn.execute(sql, args))))

    def message_texts(self, message_id: int) -> dict[str, Any] | None:
        """One message whole, by its row id."""
        return _first(self.conn.execute("select id, idx, turn, speaker, phase, visible_text, private_text, mentions "
                                        "from messages where id = ?", [message_id]))

    def message_count(self, game_id: int) -> int:
        return self.conn.execute("select count(*) from messages where game_id = ?", [game_id]).fetchone()[0]

    def totals(self, run_id: str | None = None) -> dict[str, int]:
        """Counts over games that count (of one run, or all): games, running, finished, errors, wins, decided."""
        where, args = "status != 'superseded'", []
        if run_id is not None:
            where, args = where + " and run_id = ?", [run_id]
        row = self.conn.execute(
            f"""select count(*), coalesce(sum(status = 'running'), 0), coalesce(sum(status = 'finished'), 0),
                       coalesce(sum(outcome = 'error'), 0), coalesce(sum(outcome = 'win'), 0),
                       coalesce(sum(status = 'finished' and outcome != 'error'), 0)
                from games where {where}""", args).fetchone()
        return dict(zip(("games", "running", "finished", "errors", "wins", "decided"), row))
