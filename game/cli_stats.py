"""`mms stats`: the leaderboard of a database's games."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from agents.errors import MmsError

from .cli_support import DEFAULT_DB, JsonOption, cli_errors, out, print_json
from .outcome_table import group_rows, outcome_table
from .safe_text import markup_safe
from .stats import outcome_stats, parse_grouping
from .store import Store

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
    if not db.exists():
        raise MmsError(f"database not found: {db} (play some games first: mms play --codeword ring --db {db})")
    grouping = parse_grouping(by)
    with Store.reader(db) as store:
        if run is not None and store.read.run(run) is None:
            raise MmsError(f"no run {run!r} in {db} ({_known_runs(store)})")
        result = outcome_stats(store, run, grouping, rejudge_guesses=rejudge)
        if run is not None:  # whether the run is done: a merge of its shards finishes it
            record = store.read.run(run)
            result |= {"run_status": record["status"], "games_planned": record["games_planned"]}
    if json_output:
        print_json(result)
        return
    if rejudge:
        out.print(f"{result['rejudged']} stored guesses judged again changed outcome (the database is unchanged)")
    out.print(outcome_table(f"Outcomes in {db} by {', '.join(grouping)}", group_rows(result, grouping), extra=True))
    if run is not None:
        out.print(f"Run {markup_safe(run)}: {result['run_status']}, {result['games_planned']} games planned")


def _known_runs(store: Store) -> str:
    recent = store.read.recent_run_ids(5)
    if not recent:
        return "it has no runs yet"
    return f"its latest runs: {', '.join(recent)}; all of them: mms stats --db {store.path} --by run"
