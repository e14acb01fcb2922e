"""`mms tournament`: play a spec's matrix of games, resumably."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
import asyncio
from pathlib import Path
from typing import Annotated

import typer

from agents.backend import CallLimits

from .cli_support import (
    DEFAULT_DB,
    CallTimeoutOption,
    DbOption,
    JsonOption,
    MaxRequestsOption,
    RetryBudgetOption,
    call_limits,
    cli_errors,
    err,
    out,
    print_json,
)
from .failures import report_failures, run_failures
from .outcome_table import group_rows, outcome_table
from .play_progress import play_with_progress
from .rules import OUTCOMES
from .stats import outcome_stats
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
    from .tournament import load_spec, parse_shard

    parsed = load_spec(spec)
    slice_ = parse_shard(shard)
    limits = call_limits(call_timeout, retry_budget, parsed.call_limits(), max_requests)
    with Store(db) as store, store.lock_run(parsed.name):
        _tournament(store, parsed, spec, db, shard, slice_, concurrency, limits, json_output)


def _tournament(store: Store, parsed, spec: Path, db: Path, shard, slice_, concurrency, limits: CallLimits,
                json_output: bool) -> None:
    from .tournament import prepare_run

    run_id, todo, already, replayed = prepare_run(store, parsed, str(spec), slice_)
    if not json_output:
        err.print(f"tournament {run_id}: {already + len(todo)} games{' in shard ' + shard if shard else ''}, "
                  f"{already} already finished{replayed.describe()}")
    asyncio.run(play_with_progress(store, run_id, todo, concurrency or parsed.concurrency, limits,
                                   quiet=json_output, already_done=already))
    if store.run_complete(run_id):
        store.finish_run(run_id)
    result = outcome_stats(store, run_id, ("manipulator", "persona", "codeword"))
    failures = run_failures(store, run_id)
    if json_output:
        flat = {k: result[k] for k in ("games", *OUTCOMES, "win_rate", "win_rate_ci")}
        print_json({"run_id": run_id, "db": str(db), "played": len(todo), "skipped": already,
                    "replayed_errors": replayed.errors, **flat})
    else:
        out.print(outcome_table(f"Tournament {run_id}", group_rows(result, result["group_by"]), extra=True))
    report_failures(failures)
