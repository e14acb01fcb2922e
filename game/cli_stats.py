"""`mms stats`: the leaderboard of a database's games."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from .cli_support import DEFAULT_DB, JsonOption, cli_errors, out, print_json
from .outcome_table import group_rows, outcome_table
from .safe_text import markup_safe
from .stats import StatsReport, StatsRequest, leaderboard

ReadDb = Annotated[Path, typer.Option("--db", help="SQLite database to read (opened read-only, never created).")]
By = Annotated[str | None, typer.Option(help="Group by these fields, comma-separated: manipulator, user, persona, codeword, tier, rule, run. Default: manipulator,persona,codeword,tier.")]
Run = Annotated[str | None, typer.Option(help="Only this run id (a tournament's name).")]
Rejudge = Annotated[bool, typer.Option("--rejudge", help="Judge every stored guess again with the current guess check (a guess counts when it names the codeword in any words: 'a ring'); stored outcomes are not changed, and the count of changed games is printed ('rejudged' in --json).")]


@cli_errors
def stats(
    db: ReadDb = Path(DEFAULT_DB),
    by: By = None,
    run: Run = None,
    rejudge: Rejudge = False,
    json_output: JsonOption = False,
) -> None:
    """The leaderboard: outcomes per group with win rates and 95% Wilson intervals."""
    report = leaderboard(StatsRequest(db, by, run, rejudge))
    if json_output:
        print_json(report.to_json())
    else:
        _print_stats(report, db)


def _print_stats(report: StatsReport, db: Path) -> None:
    if report.rejudged is not None:
        out.print(f"{report.rejudged} stored guesses judged again changed outcome (the database is unchanged)")
    grouping = report.group_by
    out.print(outcome_table(f"Outcomes in {db} by {', '.join(grouping)}", group_rows(report.to_json(), grouping),
                            extra=True))
    if report.run is not None:
        out.print(f"Run {markup_safe(report.run.id)}: {report.run.status}, "
                  f"{report.run.games_planned} games planned")
