"""The outcome table `mms play`, `mms stats` and `mms tournament` print: outcomes per group."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

from .rules import OUTCOMES
from .safe_text import markup_safe

SHORT_NAMES = {"games": "games", "win": "win", "violation": "viol", "no_codeword": "none",
               "correct_guess": "guess", "error": "error"}


def outcome_table(title: str, rows: list[tuple[str, dict[str, Any]]], extra: bool = False) -> Table:
    """Outcomes per group, narrow enough for 80 columns: one space between columns and no rules
    but the header's, short headers explained in the caption, numbers never cut; only the group
    label wraps (or folds) in the width that is left. Titles and labels (paths, specs, tournament
    labels, personas) are shown as written."""
    table = Table(title=markup_safe(title), caption="; ".join(_notes(rows, extra)), box=box.SIMPLE_HEAD,
                  show_edge=False, padding=(0, 0))
    table.add_column("group", overflow="fold", ratio=1)
    for o in ("games", *OUTCOMES):
        table.add_column(SHORT_NAMES[o], justify="right", no_wrap=True)
    table.add_column("win rate [95% CI]", justify="right", no_wrap=True)
    if extra:
        table.add_column("turn", justify="right", no_wrap=True)
        table.add_column("tokens", justify="right", no_wrap=True)
    for label, s in rows:
        cells = [markup_safe(label), *(str(s[o]) for o in ("games", *OUTCOMES)), win_rate_cell(s)]
        if extra:
            turn = s.get("median_first_mention_turn")
            cells += ["" if turn is None else f"{turn:g}", f"{s['tokens_per_game']:.0f}" if "tokens_per_game" in s else ""]
        table.add_row(*cells)
    return table


def _notes(rows: list[tuple[str, dict[str, Any]]], extra: bool) -> list[str]:
    notes = ["viol = violation, none = no_codeword, guess = correct_guess",
             "win rate over games without error"]
    if extra:
        notes.append("turn = median turn of the first mention, tokens = mean tokens per game")
    if any(s["win_rate"] is None for _, s in rows):
        notes.append("n/a = no decided games")
    return notes


def win_rate_cell(s: dict[str, Any]) -> str:
    """The win rate with its interval, or n/a where no game was decided (no rate, not 0 in [0, 1])."""
    if s["win_rate"] is None:
        return "n/a"
    lo, hi = s["win_rate_ci"]
    return f"{s['win_rate']:.2f} [{lo:.2f}, {hi:.2f}]"


def group_rows(result: dict[str, Any], grouping) -> list[tuple[str, dict[str, Any]]]:
    """One row per group of an `outcome_stats` result, then the total."""
    return [(" / ".join(str(g[f]) for f in grouping), g) for g in result["groups"]] + [("all", result)]
