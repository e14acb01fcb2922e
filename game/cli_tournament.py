"""`mms tournament`: play a spec's matrix of games, resumably."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer

from .cli_support import (
    DEFAULT_DB,
    CallTimeoutOption,
    DbOption,
    JsonOption,
    MaxRequestsOption,
    RetryBudgetOption,
    cli_errors,
    err,
    out,
    print_json,
)
from .failures import report_failures
from .outcome_table import outcome_table
from .store import Store

Spec = Annotated[Path, typer.Argument(help="Tournament spec (TOML); see examples/.")]
Shard = Annotated[str | None, typer.Option(help="Play only slice i of n of the games, e.g. 1/4; merge shard databases with `mms db merge`.")]
Concurrency = Annotated[int | None, typer.Option(min=1, help="Override the spec's concurrency.")]


@cli_errors
def tournament(
    spec: Spec,
    db: DbOption = Path(DEFAULT_DB),
    shard: Shard = None,
    concurrency: Concurrency = None,
    call_timeout: CallTimeoutOption = None,
    retry_budget: RetryBudgetOption = None,
    max_requests: MaxRequestsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Play a matrix of manipulators × users × codewords × games, resumably.

    Run it again on the same database to continue after a crash, Ctrl-C or an outage: decided
    games are kept, interrupted ones and those that ended in error are replayed from the start
    (the old attempts are kept aside, counted nowhere), none is counted twice.

    Exit status: 0 when at least one game of the run was decided (games in error are listed as a
    warning), 1 when every game ended in error (the reasons are printed), 2 for bad input.
    """
    from .tournament import TournamentRequest, play_tournament

    request = TournamentRequest(spec, shard=shard, concurrency=concurrency, call_timeout=call_timeout,
                                retry_budget=retry_budget, max_requests=max_requests)
    announce = None if json_output else err.print
    with Store(db) as store, store.lock_run(request.spec.name):
        report = play_tournament(store, request, quiet=json_output, announce=announce)
    if json_output:
        print_json(report.to_json())
    else:
        out.print(outcome_table(f"Tournament {report.run_id}", list(report.rows), extra=True))
    report_failures(report.failures)
