"""`mms train openai`: an OpenAI fine-tuning job, followed to its end and recorded."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
import asyncio
from pathlib import Path
from typing import Annotated

import typer

from agents.errors import MmsError
from game.cli_support import DEFAULT_DB, JsonOption, cli_errors, err, out, print_json
from game.safe_text import markup_safe
from game.store import Store

from .train_openai import (
    DEFAULT_BASE,
    OpenAITrainReport,
    OpenAITrainRequest,
    require_key,
    run_training,
)
from .train_progress import JobProgress, progress_bar

Data = Annotated[Path | None, typer.Argument(metavar="FILE", help="Training file (chat JSONL). Omit with --resume.")]
Base = Annotated[str, typer.Option(help="OpenAI model to fine-tune.")]
Epochs = Annotated[int | None, typer.Option(min=1, help="n_epochs (the study used 4). Default: the API's auto.")]
BatchSize = Annotated[int | None, typer.Option(min=1, help="batch_size. Default: auto.")]
LrMultiplier = Annotated[float | None, typer.Option(help="learning_rate_multiplier. Default: auto.")]
Suffix = Annotated[str | None, typer.Option(help="Up to 64 characters added to the fine-tuned model's name.")]
Validation = Annotated[Path | None, typer.Option(help="Validation file (chat JSONL), e.g. from mms export --split.")]
Seed = Annotated[int | None, typer.Option(help="The job's seed (the API picks one if omitted).")]
Resume = Annotated[str | None, typer.Option(help="Re-attach to this fine-tuning job (ftjob-...) and follow it to the end.")]
Follow = Annotated[bool, typer.Option(help="Follow the job to its end (--no-follow: create it and return; --resume later).")]
PollInterval = Annotated[float, typer.Option(min=0.0, help="Seconds between two looks at the job.")]
RunDb = Annotated[Path, typer.Option("--db", help="SQLite database that records the run (training_runs).")]


@cli_errors
def train_openai_command(
    data: Data = None,
    base: Base = DEFAULT_BASE,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr_multiplier: LrMultiplier = None,
    suffix: Suffix = None,
    validation: Validation = None,
    seed: Seed = None,
    resume: Resume = None,
    follow: Follow = True,
    poll_interval: PollInterval = 15.0,
    db: RunDb = Path(DEFAULT_DB),
    json_output: JsonOption = False,
) -> None:
    """Run an OpenAI fine-tuning job: upload the file, create the job, follow it, record the model.

    Needs OPENAI_API_KEY. Ctrl-C stops following, not the job: re-attach with --resume JOB_ID.

    Example: mms train openai ft_bark.jsonl --epochs 4 --suffix bark
    """
    request = OpenAITrainRequest(data=data, resume=resume, base=base, epochs=epochs, batch_size=batch_size,
                                 lr_multiplier=lr_multiplier, suffix=suffix, validation=validation, seed=seed,
                                 follow=follow, poll_interval=poll_interval, db=db)
    require_key()
    progress = JobProgress(progress_bar(quiet=json_output, eta=False))
    with Store(db) as store, progress.bar:
        try:
            report = asyncio.run(run_training(store, request, progress))
        except KeyboardInterrupt:
            job_id = progress.job_id or resume
            hint = f"; re-attach with: mms train openai --resume {job_id}" if job_id else ""
            err.print(markup_safe(f"stopped following: the job goes on at OpenAI{hint}"))
            raise typer.Exit(130) from None
    if report.status != "succeeded" and report.followed:
        raise MmsError(f"fine-tuning job {report.job_id} {report.status}: {report.error} "
                       f"(recorded as run {report.run_id} in {db})")
    if json_output:
        print_json(report.to_json())
    else:
        _print_report(report)


def _print_report(report: OpenAITrainReport) -> None:
    if not report.followed:
        out.print(markup_safe(f"created {report.job_id} ({report.status}); "
                              f"follow it with: mms train openai --resume {report.job_id}"))
        return
    out.print(markup_safe(f"{report.job_id} succeeded: {report.model_id}"
                          + (f" ({report.trained_tokens} trained tokens)" if report.trained_tokens else "")),
              highlight=False)
    out.print(markup_safe(f"Recorded in {report.db}. Play it with: mms play --manipulator '{report.spec}' "
                          "--manipulator-prompt none --codeword WORD"), highlight=False, soft_wrap=True)
