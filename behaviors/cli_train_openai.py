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

from .train_openai import DEFAULT_BASE, OpenAITrainConfig
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
    from .train_openai import require_key

    if (data is None) == (resume is None):
        raise MmsError("give a training FILE to start a job, or --resume JOB_ID to follow one, not both")
    job_settings = (epochs, batch_size, lr_multiplier, suffix, validation, seed)
    if resume is not None and any(v is not None for v in job_settings):
        raise MmsError("--resume follows a job as it was created: drop --epochs, --batch-size, --lr-multiplier, "
                       "--suffix, --validation and --seed")
    config = OpenAITrainConfig(base=base, epochs=epochs, batch_size=batch_size, lr_multiplier=lr_multiplier,
                               suffix=suffix, seed=seed, validation=validation)
    require_key()
    progress = JobProgress(progress_bar(quiet=json_output, eta=False))
    with Store(db) as store, progress.bar:
        try:
            run_id, job, result = asyncio.run(_run(store, progress, data, config, resume, follow, poll_interval))
        except KeyboardInterrupt:
            job_id = progress.job_id or resume
            hint = f"; re-attach with: mms train openai --resume {job_id}" if job_id else ""
            err.print(markup_safe(f"stopped following: the job goes on at OpenAI{hint}"))
            raise typer.Exit(130) from None
    if result is None:
        _print_created(run_id, job, db, json_output)
    else:
        _print_result(result, db, json_output)


async def _run(store: Store, progress: JobProgress, data: Path | None, config: OpenAITrainConfig,
               resume: str | None, follow: bool, poll_interval: float):
    """Start the job (or re-attach to it) and, unless told not to, follow it: (run id, job, result or None)."""
    from .train_openai import attach, follow as follow_job, make_client, start_job

    client = make_client()
    try:
        if resume is not None:
            run_id, job = await attach(client, store, resume)
        else:
            run_id, job = await start_job(client, store, data, config)
        progress.job(job)
        if not follow:
            return run_id, job, None
        return run_id, job, await follow_job(client, store, run_id, job.id, interval=poll_interval, progress=progress)
    finally:
        await client.close()


def _print_created(run_id, job, db: Path, json_output: bool) -> None:
    if json_output:
        print_json({"method": "openai", "run_id": run_id, "job_id": job.id, "status": job.status,
                    "model_id": None, "spec": None, "db": str(db)})
    else:
        out.print(markup_safe(f"created {job.id} ({job.status}); follow it with: mms train openai --resume {job.id}"))


def _print_result(result, db: Path, json_output: bool) -> None:
    if result.status != "succeeded":
        raise MmsError(f"fine-tuning job {result.job_id} {result.status}: {result.error} "
                       f"(recorded as run {result.run_id} in {db})")
    if json_output:
        print_json({
            "method": "openai", "run_id": result.run_id, "job_id": result.job_id, "status": result.status,
            "model_id": result.model_id, "spec": result.spec, "trained_tokens": result.trained_tokens,
            "steps": len(result.losses), "first_loss": result.losses[0]["loss"] if result.losses else None,
            "last_loss": result.losses[-1]["loss"] if result.losses else None, "db": str(db),
        })
        return
    out.print(markup_safe(f"{result.job_id} succeeded: {result.model_id}"
                          + (f" ({result.trained_tokens} trained tokens)" if result.trained_tokens else "")),
              highlight=False)
    out.print(markup_safe(f"Recorded in {db}. Play it with: mms play --manipulator '{result.spec}' "
                          "--manipulator-prompt none --codeword WORD"), highlight=False, soft_wrap=True)
