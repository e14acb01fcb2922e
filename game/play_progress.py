"""Play planned games with a live progress bar on stderr (`mms play`, `mms tournament`)."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from agents.backend import CallLimits
from agents.registry import Registry

from .cli_support import err
from .store import Store


def _bar(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]games"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[tally]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
    )


def _describe(tally: dict[str, int]) -> str:
    decided = sum(n for o, n in tally.items() if o != "error")
    rate = f"win {tally.get('win', 0) / decided:.0%}" if decided else "win –"
    return f"{rate}  errors {tally.get('error', 0)}"


async def play_with_progress(store: Store, run_id: str, setups, concurrency: int, limits: CallLimits, *,
                             quiet: bool, already_done: int = 0) -> dict[str, str]:
    """Play games with a live progress bar: done/total, ETA, win rate so far and errors."""
    from .runner import GameRunner

    registry = Registry(limits)
    runner = GameRunner(store, registry, concurrency)
    progress = _bar(quiet)
    tally: dict[str, int] = {}
    with progress:
        task = progress.add_task("games", total=already_done + len(setups), completed=already_done,
                                 tally=_describe(tally))

        def done(_setup, outcome: str) -> None:
            tally[outcome] = tally.get(outcome, 0) + 1
            progress.update(task, advance=1, tally=_describe(tally))

        try:
            return await runner.run(run_id, setups, on_done=done)
        finally:
            await registry.aclose()
