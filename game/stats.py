"""Outcome counts and win rates with 95% Wilson intervals.

The win rate is wins over decided games: `error` games are neither wins nor losses, so they
are left out of the denominator. Without decided games the rate and its interval are None.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from agents.errors import MmsError

from .queries import GROUP_FIELDS, Games
from .rules import OUTCOMES
from .store import Store

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


def summarise(counts: dict[str, int]) -> dict[str, Any]:
    """Counts of every outcome plus the win rate and its interval."""
    out: dict[str, Any] = {o: int(counts.get(o, 0)) for o in OUTCOMES}
    out["games"] = sum(out[o] for o in OUTCOMES)
    out["win_rate"], out["win_rate_ci"] = outcome_rate(out, "win")
    return out


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


def outcome_stats(store: Store, run_id: str | None = None, by: tuple[str, ...] = DEFAULT_GROUPING, *,
                  rejudge_guesses: bool = False) -> dict[str, Any]:
    """Finished games of the whole database (or one run), overall and per group.

    Each group also has the median turn of the first mention (over games with one) and the
    mean tokens per game, prompts included. With `rejudge_guesses` every stored guess is judged
    again by the current guess check (nothing is written) and `rejudged` counts the changes.
    """
    rows = store.read.outcome_rows(by, Games(run=run_id))
    changed = rejudge(rows) if rejudge_guesses else None
    total: dict[str, int] = {}
    groups: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        total[row["outcome"]] = total.get(row["outcome"], 0) + 1
        cell = groups.setdefault(tuple(row[f] for f in by), {"counts": {}, "turns": [], "tokens": []})
        cell["counts"][row["outcome"]] = cell["counts"].get(row["outcome"], 0) + 1
        if row["first_mention_turn"] is not None:
            cell["turns"].append(row["first_mention_turn"])
        cell["tokens"].append(row["tokens"])
    result = summarise(total)
    if changed is not None:
        result["rejudged"] = changed
    result["group_by"] = list(by)
    result["groups"] = [
        {
            **dict(zip(by, key)),
            **summarise(cell["counts"]),
            "median_first_mention_turn": statistics.median(cell["turns"]) if cell["turns"] else None,
            "tokens_per_game": round(statistics.fmean(cell["tokens"]), 1) if cell["tokens"] else 0.0,
        }
        for key, cell in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0]))
    ]
    return result
