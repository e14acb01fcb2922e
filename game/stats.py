"""Outcome counts and win rates with 95% Wilson intervals.

The win rate is wins over decided games: `error` games are neither wins nor losses, so they
are left out of the denominator.
"""

from __future__ import annotations

import math
from typing import Any

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


def summarise(counts: dict[str, int]) -> dict[str, Any]:
    """Counts of every outcome plus the win rate and its interval."""
    out: dict[str, Any] = {o: int(counts.get(o, 0)) for o in OUTCOMES}
    out["games"] = sum(out[o] for o in OUTCOMES)
    decided = out["games"] - out["error"]
    out["win_rate"] = out["win"] / decided if decided else 0.0
    out["win_rate_ci"] = list(wilson_interval(out["win"], decided))
    return out


def outcome_stats(store: Store, run_id: str | None = None) -> dict[str, Any]:
    """Finished games of the whole database (or one run), overall and per manipulator × codeword."""
    where = "status = 'finished'" + (" and run_id = :run" if run_id else "")
    params = {"run": run_id} if run_id else {}
    total: dict[str, int] = {}
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for row in store.db.query(
        f"select manipulator, codeword, outcome, count(*) as n from games where {where} "
        "group by manipulator, codeword, outcome order by manipulator, codeword",
        params,
    ):
        total[row["outcome"]] = total.get(row["outcome"], 0) + row["n"]
        cell = groups.setdefault((row["manipulator"], row["codeword"]), {})
        cell[row["outcome"]] = row["n"]
    result = summarise(total)
    result["groups"] = [
        {"manipulator": m, "codeword": c, **summarise(counts)} for (m, c), counts in sorted(groups.items())
    ]
    return result
