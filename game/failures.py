"""Why a run's games ended in error, said on stderr after `mms play` and `mms tournament`."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import typer

from .cli_support import err
from .queries import Games
from .safe_text import strip_controls
from .store import Store

SHOWN_REASONS = 5


@dataclass(frozen=True)
class Failures:
    """The games of a run that ended in error, and why: each distinct reason with its count."""

    errors: int
    finished: int
    reasons: list[tuple[str, int]]
    db: Path
    run_id: str

    @property
    def none_decided(self) -> bool:
        return self.errors > 0 and self.errors == self.finished


def run_failures(store: Store, run_id: str) -> Failures:
    totals = store.read.outcome_totals(Games(run=run_id))
    # A conversation id in a reason (a script that ran out in game-7) would make every game's reason
    # distinct. Reasons quote servers' replies: shown without their control characters.
    reasons: Counter[str] = Counter()
    for error, n in store.read.error_reasons(Games(run=run_id)):
        reasons[strip_controls(re.sub(r"\bgame-\d+\b", "game-N", error or "no reason stored"))] += n
    return Failures(totals.get("error", 0), sum(totals.values()), reasons.most_common(), store.path, run_id)


def report_failures(failures: Failures) -> None:
    """Say on stderr why games ended in error; exit 1 when no game of the run was decided.

    Games in error are stored and the run goes on (DESIGN §3), so some errors among decided games
    are a warning and the exit status stays 0; a run in which every game failed measured nothing.
    """
    f = failures
    if not f.errors:
        return
    if f.none_decided:
        head = strip_controls(f"error: no game could be played: all {f.errors} game(s) of run {f.run_id} ended in error")
    else:
        head = strip_controls(f"warning: {f.errors} of {f.finished} games of run {f.run_id} ended in error (not counted in the win rate)")
    err.print(head + ":", markup=False, highlight=False, soft_wrap=True)
    for reason, n in f.reasons[:SHOWN_REASONS]:
        err.print(f"  {n} × {reason}", markup=False, highlight=False, soft_wrap=True)
    if len(f.reasons) > SHOWN_REASONS:
        err.print(strip_controls(f"  and {len(f.reasons) - SHOWN_REASONS} other reason(s): "
                                 f"mms transcripts --db {f.db} --run {f.run_id} --outcome error"),
                  markup=False, highlight=False, soft_wrap=True)
    if f.none_decided:
        raise typer.Exit(1)
