"""Outcome counts and win rates with 95% Wilson intervals.

The win rate is wins over decided games: `error` games are neither wins nor losses, so they
are left out of the denominator. Without decided games the rate and its interval are None.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.errors import MmsError

from .queries import GROUP_FIELDS, Games
from .rules import OUTCOMES
from .store import Store, require_games_db

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def outcome_rate(counts: dict[str, int], outcome: str) -> tuple[float | None, list[float] | None]:
    """The share of decided games (errors left out) that ended in `outcome`, with its Wilson interval;
    (None, None) without decided games: there is no rate to give, and 0 in [0, 1] would read as one."""
    decided = sum(int(counts.get(o, 0)) for o in OUTCOMES if o != "error")
    if not decided:
        return None, None
    k = int(counts.get(outcome, 0))
    return k / decided, list(wilson_interval(k, decided))


@dataclass(frozen=True)
class Summary:
    """Counts of every outcome plus the win rate over decided games and its interval (None without any)."""

    counts: dict[str, int]  # every outcome, in the order of OUTCOMES
    win_rate: float | None
    win_rate_ci: tuple[float, float] | None

    @classmethod
    def of(cls, counts: dict[str, int]) -> Summary:
        every = {o: int(counts.get(o, 0)) for o in OUTCOMES}
        rate, interval = outcome_rate(every, "win")
        return cls(every, rate, None if interval is None else (interval[0], interval[1]))

    @property
    def games(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {**self.counts, "games": self.games, "win_rate": self.win_rate,
                "win_rate_ci": None if self.win_rate_ci is None else list(self.win_rate_ci)}


def summarise(counts: dict[str, int]) -> dict[str, Any]:
    """Counts of every outcome plus the win rate and its interval, as a table row reads them."""
    return Summary.of(counts).to_json()


DEFAULT_GROUPING = ("manipulator", "persona", "codeword", "tier")


def parse_grouping(text: str | None) -> tuple[str, ...]:
    if not text:
        return DEFAULT_GROUPING
    fields = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in fields if f not in GROUP_FIELDS]
    if unknown or not fields:
        raise MmsError(f"cannot group by {', '.join(unknown) or text!r}: use any of {', '.join(GROUP_FIELDS)}")
    return fields


def rejudge(rows: list[dict[str, Any]]) -> int:
    """Judge each stored guess again with today's guess check (in place); returns how many changed.

    A game's stored outcome is what was decided when it was played: databases written before the
    guess check read a guess in context ("a ring" was a `win`) keep it. Only `win` and
    `correct_guess` games have a guess; the codeword and rule stored with each game are used.
    """
    from .referee import Referee

    referees: dict[tuple[str, str], Referee] = {}
    changed = 0
    for row in rows:
        if row["outcome"] not in ("win", "correct_guess") or row.get("guess") is None:
            continue
        key = (row["_codeword"], row["_rule"] or "paper")
        if key not in referees:
            referees[key] = Referee(*key)
        outcome = "correct_guess" if referees[key].guess_matches(row["guess"]) else "win"
        changed += outcome != row["outcome"]
        row["outcome"] = outcome
    return changed


@dataclass(frozen=True)
class GroupStats:
    """One group of the leaderboard: its fields' values, its outcomes, the median turn of the first
    mention (over games with one) and the mean tokens per game, prompts included."""

    key: dict[str, Any]  # grouping field → value
    summary: Summary
    median_first_mention_turn: float | None
    tokens_per_game: float

    def to_json(self) -> dict[str, Any]:
        return {**self.key, **self.summary.to_json(), "median_first_mention_turn": self.median_first_mention_turn,
                "tokens_per_game": self.tokens_per_game}


@dataclass(frozen=True)
class RunProgress:
    """Whether one run is done: a merge of its shards finishes it."""

    id: str
    status: str
    games_planned: int


@dataclass(frozen=True)
class StatsReport:
    """The leaderboard; `to_json()` is what `mms stats --json` prints, key for key."""

    total: Summary
    group_by: tuple[str, ...]
    groups: tuple[GroupStats, ...]
    rejudged: int | None = None  # None: the stored outcomes were read as they are
    run: RunProgress | None = None  # only when one run was asked for

    def to_json(self) -> dict[str, Any]:
        body = self.total.to_json()
        if self.rejudged is not None:
            body["rejudged"] = self.rejudged
        body |= {"group_by": list(self.group_by), "groups": [g.to_json() for g in self.groups]}
        if self.run is not None:
            body |= {"run_status": self.run.status, "games_planned": self.run.games_planned}
        return body


def group_stats(store: Store, run_id: str | None = None, by: tuple[str, ...] = DEFAULT_GROUPING, *,
                rejudge_guesses: bool = False) -> StatsReport:
    """Finished games of the whole database (or one run), overall and per group. With
    `rejudge_guesses` every stored guess is judged again by the current guess check (nothing is
    written) and `rejudged` counts the changes."""
    rows = store.read.outcome_rows(by, Games(run=run_id))
    changed = rejudge(rows) if rejudge_guesses else None
    total: dict[str, int] = {}
    cells: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        total[row["outcome"]] = total.get(row["outcome"], 0) + 1
        cell = cells.setdefault(tuple(row[f] for f in by), {"counts": {}, "turns": [], "tokens": []})
        cell["counts"][row["outcome"]] = cell["counts"].get(row["outcome"], 0) + 1
        if row["first_mention_turn"] is not None:
            cell["turns"].append(row["first_mention_turn"])
        cell["tokens"].append(row["tokens"])
    groups = tuple(
        GroupStats(dict(zip(by, key)), Summary.of(cell["counts"]),
                   statistics.median(cell["turns"]) if cell["turns"] else None,
                   round(statistics.fmean(cell["tokens"]), 1) if cell["tokens"] else 0.0)
        for key, cell in sorted(cells.items(), key=lambda kv: tuple(str(k) for k in kv[0]))
    )
    return StatsReport(Summary.of(total), tuple(by), groups, rejudged=changed)


def outcome_stats(store: Store, run_id: str | None = None, by: tuple[str, ...] = DEFAULT_GROUPING, *,
                  rejudge_guesses: bool = False) -> dict[str, Any]:
    """`group_stats` as the dict an outcome table reads (and `mms tournament` prints from)."""
    return group_stats(store, run_id, by, rejudge_guesses=rejudge_guesses).to_json()


@dataclass(frozen=True)
class StatsRequest:
    """`mms stats`'s options, checked when made: the database must exist (stats never creates one)
    and the grouping must name known fields."""

    db: Path
    by: str | None = None
    run: str | None = None
    rejudge: bool = False
    grouping: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        require_games_db(self.db)
        object.__setattr__(self, "grouping", parse_grouping(self.by))


def leaderboard(request: StatsRequest) -> StatsReport:
    """The core of `mms stats`: read-only; a run asked for must be in the database."""
    with Store.reader(request.db) as store:
        if request.run is None:
            return group_stats(store, None, request.grouping, rejudge_guesses=request.rejudge)
        record = store.read.run(request.run)
        if record is None:
            raise MmsError(f"no run {request.run!r} in {request.db} ({_known_runs(store)})")
        report = group_stats(store, request.run, request.grouping, rejudge_guesses=request.rejudge)
        return replace(report, run=RunProgress(request.run, record["status"], record["games_planned"]))


def _known_runs(store: Store) -> str:
    recent = store.read.recent_run_ids(5)
    if not recent:
        return "it has no runs yet"
    return f"its latest runs: {', '.join(recent)}; all of them: mms stats --db {store.path} --by run"
