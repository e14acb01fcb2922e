"""Progress on stderr for `mms train local` (one bar per seed) and `mms train openai` (the job's bar
and events)."""

from __future__ import annotations

from datetime import datetime

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from game.cli_support import err
from game.safe_text import markup_safe


def progress_bar(*, quiet: bool, eta: bool) -> Progress:
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[speed]}"), TimeElapsedColumn()]
    if eta:
        columns += [TextColumn("ETA"), TimeRemainingColumn()]
    return Bars(*columns, console=err, disable=quiet)


class Bars(Progress):
    """Drawn from its first bar on, so that an error before training starts (a bad line of the
    file) is the one line on stderr, with no blank line from an empty display before it."""

    def __enter__(self):
        return self

    def add_task(self, *args, **kwargs):
        self.start()
        return super().add_task(*args, **kwargs)

    def stop(self):
        if self.live.is_started:
            super().stop()


class LocalProgress:
    """One bar per seed, with the loss of the last step."""

    def __init__(self, bar: Progress):
        self.bar, self.tasks = bar, {}

    def start(self, seed: int, total_steps: int, done: int) -> None:
        self.tasks[seed] = self.bar.add_task(f"seed {seed}", total=total_steps, completed=done, loss="–", speed="")

    def step(self, seed: int, step: int, loss: float, tokens_per_s: float) -> None:
        self.bar.update(self.tasks[seed], completed=step, loss=f"{loss:.4f}", speed=f"{tokens_per_s:.0f} tok/s")


class JobProgress:
    """The job's status and steps on a bar; its events printed above it as they come."""

    def __init__(self, bar: Progress):
        self.bar, self.task, self.job_id = bar, None, None

    def job(self, job) -> None:
        self.job_id = job.id
        if self.task is None:
            self.task = self.bar.add_task(markup_safe(f"{job.id} {job.status}"), total=None, loss="–", speed="")
        else:
            self.bar.update(self.task, description=markup_safe(f"{job.id} {job.status}"))

    def event(self, event) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        if getattr(event, "type", None) == "metrics" and "step" in data:
            loss = data.get("train_loss")
            self.bar.update(self.task, completed=data["step"], total=data.get("total_steps"),
                            loss=f"{loss:.4f}" if isinstance(loss, int | float) else "–")
            return
        when = datetime.fromtimestamp(event.created_at).strftime("%H:%M:%S")
        colour = {"error": "red", "warn": "yellow"}.get(event.level, "dim")
        self.bar.console.print(f"[{colour}]{when}[/] {markup_safe(str(event.message))}", highlight=False, soft_wrap=True)


def quiet_transformers() -> None:
    """No per-shard loading bars or advisory warnings over our own progress bar."""
    import warnings

    from transformers.utils import logging as hf_logging

    warnings.filterwarnings("ignore", category=FutureWarning, message=".*is_gradient_checkpointing")

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
