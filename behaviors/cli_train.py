"""`mms train local` and `mms train openai`: fine-tune on a chat JSONL file, record the run.

``game/cli.py`` calls :func:`register` with its Typer app. Shared CLI helpers come from
``game.cli_support``; heavy imports stay inside ``register`` so ``mms`` starts quickly.
"""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time,
# and those of the commands below name objects local to ``register``.
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``train`` command group (``local``, ``openai``) to ``app``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.table import Table

    from agents.errors import MmsError
    from game.cli_support import DEFAULT_DB, JsonOption, cli_errors, err, out, print_json
    from game.safe_text import markup_safe
    from game.store import Store

    from .train_local import LocalTrainConfig
    from .train_openai import DEFAULT_BASE, OpenAITrainConfig

    train_app = typer.Typer(help="Fine-tune a model on a chat JSONL file: local LoRA, or an OpenAI fine-tuning job.",
                            no_args_is_help=True)
    app.add_typer(train_app, name="train")
    DbOption = Annotated[Path, typer.Option("--db", help="SQLite database that records the run (training_runs).")]

    @train_app.command("local")
    @cli_errors
    def train_local_command(
        data: Annotated[Path, typer.Argument(metavar="FILE", help="Training file: chat JSONL ({\"messages\": [...]} per line), e.g. from mms export.")],
        out_dir: Annotated[Path, typer.Option("--out", help="Folder for the adapters: one sub-folder seed<S> per seed.")],
        base: Annotated[str, typer.Option(help="Base model: local:smollm2, hf:<folder or cached repo>, or a model folder.")] = "local:smollm2",
        epochs: Annotated[int, typer.Option(min=1, help="Passes over the data (the study used 4).")] = 4,
        lr: Annotated[float, typer.Option(help="Peak learning rate of AdamW (linear decay to zero).")] = 2e-4,
        batch_size: Annotated[int, typer.Option(min=1, help="Packed rows of --max-length tokens per optimiser step (each its own micro-batch).")] = 2,
        lora_r: Annotated[int, typer.Option(min=1, help="LoRA rank.")] = 8,
        lora_alpha: Annotated[int, typer.Option(min=1, help="LoRA alpha (scale = alpha / r).")] = 16,
        lora_dropout: Annotated[float, typer.Option(min=0.0, max=1.0, help="Dropout on the LoRA input (0.05 costs ~30% of the speed on a CPU).")] = 0.0,
        target_modules: Annotated[str, typer.Option(help="Layers that get LoRA: all-linear, or comma-separated names (q_proj,v_proj).")] = "all-linear",
        max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after this many optimiser steps (overrides --epochs; cycles over the data if needed).")] = None,
        max_length: Annotated[int, typer.Option(min=8, help="Tokens per packed row: whole dialogues are packed into rows this long; a longer dialogue is cut at the end.")] = 2048,
        limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N dialogues of the file.")] = None,
        val_fraction: Annotated[float, typer.Option(min=0.0, max=0.49, help="Share of the dialogues held back (the same ones for every seed); their loss is measured at the end.")] = 0.05,
        eval_every: Annotated[int, typer.Option(min=0, help="Also measure the held-back loss every N steps (0: only at the end).")] = 0,
        checkpoint_every: Annotated[int, typer.Option(min=0, help="Save a checkpoint every N steps, for --resume (0: never).")] = 20,
        resume: Annotated[bool, typer.Option("--resume", help="Continue each seed from its checkpoint in --out (same data and settings).")] = False,
        seeds: Annotated[int | None, typer.Option(min=1, help="Train this many adapters, seeds 0..N-1 (different LoRA init and data order).")] = None,
        seed: Annotated[int | None, typer.Option(help="Train one adapter with this seed (default 0).")] = None,
        device: Annotated[str, typer.Option(help="auto (a CUDA GPU if there is one, in bfloat16), cpu (float32) or cuda.")] = "auto",
        threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for torch (default: one per core); on a machine other jobs keep busy, fewer can be faster.")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace adapters already in --out.")] = False,
        db: DbOption = Path(DEFAULT_DB),
        json_output: JsonOption = False,
    ) -> None:
        """Train LoRA adapters on a base model, with the loss on the assistant's tokens only.

        Dialogues are packed into rows of --max-length tokens (attention stays within each
        dialogue), checkpointed every --checkpoint-every steps; after an interruption the same
        command with --resume continues where it stopped. Prints each adapter's model spec, for
        mms play --manipulator SPEC --manipulator-prompt none and mms interview --model SPEC.

        Example: mms train local ft_bark.jsonl --out adapters/bark --epochs 1 --lr 1e-3
        """
        from .train_local import train_local

        if seeds is not None and seed is not None:
            raise MmsError("give --seeds N (seeds 0..N-1) or --seed S, not both")
        chosen = list(range(seeds)) if seeds is not None else [seed if seed is not None else 0]
        config = LocalTrainConfig(
            epochs=epochs, lr=lr, batch_size=batch_size, lora_r=lora_r, lora_alpha=lora_alpha,
            lora_dropout=lora_dropout, target_modules=target_modules, max_steps=max_steps, max_length=max_length,
            val_fraction=val_fraction, eval_every=eval_every, checkpoint_every=checkpoint_every,
        )
        _quiet_transformers()
        progress = _LocalProgress(_progress_bar(quiet=json_output, eta=True))
        with Store(db) as store, progress.bar:
            try:
                result = train_local(store, data, base, out_dir, config, chosen, limit=limit, overwrite=overwrite,
                                     resume=resume, threads=threads, device=device, progress=progress)
            except KeyboardInterrupt:
                err.print("interrupted: the run is recorded as cancelled; the same command with --resume "
                          "continues from its last checkpoint")
                raise typer.Exit(130) from None
        adapters = result.adapters
        if json_output:
            print_json({
                "method": "local", "base": result.base, "base_dir": result.base_dir, "data": result.data_path,
                "data_hash": result.data_hash, "examples": result.examples, "truncated": result.truncated,
                "trained_tokens": result.trained_tokens, "steps": result.steps, "db": str(db),
                "val_examples": result.val_examples, "device": result.device, "threads": result.threads,
                "fill": result.fill, "model_id": adapters[0].model_id,
                "seeds": [a.seed for a in adapters], "run_ids": [a.run_id for a in adapters],
                "adapters": [str(a.adapter_dir) for a in adapters], "model_ids": [a.model_id for a in adapters],
                "first_loss": [a.first_loss for a in adapters], "last_loss": [a.last_loss for a in adapters],
                "final_train_loss": [a.final_train_loss for a in adapters],
                "val_loss": [a.val_loss for a in adapters], "tokens": [a.tokens for a in adapters],
                "tokens_per_s": [round(a.tokens_per_s, 1) for a in adapters],
                "seconds": [round(a.seconds, 1) for a in adapters],
            })
            return
        table = Table(title=f"LoRA on {result.base} ({result.device}, {result.threads} threads): {result.examples} "
                      f"dialogues ({result.val_examples} held back), {result.steps} steps per seed, rows "
                      f"{result.fill:.0%} full" + (f", {result.truncated} cut at --max-length {max_length}"
                                                  if result.truncated else ""))
        for column in ("seed", "run", "loss first → last", "held-back loss", "tokens/s", "time", "adapter"):
            table.add_column(column, overflow="fold")
        for a in adapters:
            held = f"{a.val_loss:.3f}" if a.val_loss is not None else "–"
            table.add_row(str(a.seed), str(a.run_id), f"{a.first_loss:.3f} → {a.last_loss:.3f}", held,
                          f"{a.tokens_per_s:.0f}", f"{a.seconds:.0f} s", str(a.adapter_dir))
        out.print(table)
        out.print(markup_safe(f"Recorded in {db} (training_runs). Play or interview the result with:"))
        for a in adapters:
            out.print(markup_safe(f"  mms play --manipulator '{a.model_id}' --manipulator-prompt none --codeword WORD"),
                      highlight=False, soft_wrap=True)

    @train_app.command("openai")
    @cli_errors
    def train_openai_command(
        data: Annotated[Path | None, typer.Argument(metavar="FILE", help="Training file (chat JSONL). Omit with --resume.")] = None,
        base: Annotated[str, typer.Option(help="OpenAI model to fine-tune.")] = DEFAULT_BASE,
        epochs: Annotated[int | None, typer.Option(min=1, help="n_epochs (the study used 4). Default: the API's auto.")] = None,
        batch_size: Annotated[int | None, typer.Option(min=1, help="batch_size. Default: auto.")] = None,
        lr_multiplier: Annotated[float | None, typer.Option(help="learning_rate_multiplier. Default: auto.")] = None,
        suffix: Annotated[str | None, typer.Option(help="Up to 64 characters added to the fine-tuned model's name.")] = None,
        validation: Annotated[Path | None, typer.Option(help="Validation file (chat JSONL), e.g. from mms export --split.")] = None,
        seed: Annotated[int | None, typer.Option(help="The job's seed (the API picks one if omitted).")] = None,
        resume: Annotated[str | None, typer.Option(help="Re-attach to this fine-tuning job (ftjob-...) and follow it to the end.")] = None,
        follow: Annotated[bool, typer.Option(help="Follow the job to its end (--no-follow: create it and return; --resume later).")] = True,
        poll_interval: Annotated[float, typer.Option(min=0.0, help="Seconds between two looks at the job.")] = 15.0,
        db: DbOption = Path(DEFAULT_DB),
        json_output: JsonOption = False,
    ) -> None:
        """Run an OpenAI fine-tuning job: upload the file, create the job, follow it, record the model.

        Needs OPENAI_API_KEY. Ctrl-C stops following, not the job: re-attach with --resume JOB_ID.

        Example: mms train openai ft_bark.jsonl --epochs 4 --suffix bark
        """
        import asyncio

        from .train_openai import attach, follow as follow_job, make_client, require_key, start_job

        if (data is None) == (resume is None):
            raise MmsError("give a training FILE to start a job, or --resume JOB_ID to follow one, not both")
        job_settings = (epochs, batch_size, lr_multiplier, suffix, validation, seed)
        if resume is not None and any(v is not None for v in job_settings):
            raise MmsError("--resume follows a job as it was created: drop --epochs, --batch-size, --lr-multiplier, "
                           "--suffix, --validation and --seed")
        config = OpenAITrainConfig(base=base, epochs=epochs, batch_size=batch_size, lr_multiplier=lr_multiplier,
                                   suffix=suffix, seed=seed, validation=validation)
        require_key()

        async def run(store, progress):
            client = make_client()
            try:
                if resume is not None:
                    run_id, job = await attach(client, store, resume)
                else:
                    run_id, job = await start_job(client, store, data, config)
                progress.job(job)
                if not follow:
                    return run_id, job, None
                return run_id, job, await follow_job(client, store, run_id, job.id, interval=poll_interval,
                                                     progress=progress)
            finally:
                await client.close()

        progress = _JobProgress(_progress_bar(quiet=json_output, eta=False))
        with Store(db) as store, progress.bar:
            try:
                run_id, job, result = asyncio.run(run(store, progress))
            except KeyboardInterrupt:
                job_id = progress.job_id or resume
                hint = f"; re-attach with: mms train openai --resume {job_id}" if job_id else ""
                err.print(markup_safe(f"stopped following: the job goes on at OpenAI{hint}"))
                raise typer.Exit(130) from None
        if result is None:
            if json_output:
                print_json({"method": "openai", "run_id": run_id, "job_id": job.id, "status": job.status,
                            "model_id": None, "spec": None, "db": str(db)})
            else:
                out.print(markup_safe(f"created {job.id} ({job.status}); follow it with: mms train openai --resume {job.id}"))
            return
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

    def _progress_bar(*, quiet: bool, eta: bool) -> Progress:
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[speed]}"), TimeElapsedColumn()]
        if eta:
            columns += [TextColumn("ETA"), TimeRemainingColumn()]
        return _Bars(*columns, console=err, disable=quiet)

    class _Bars(Progress):
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

    class _LocalProgress:
        """One bar per seed, with the loss of the last step."""

        def __init__(self, bar: Progress):
            self.bar, self.tasks = bar, {}

        def start(self, seed: int, total_steps: int, done: int) -> None:
            self.tasks[seed] = self.bar.add_task(f"seed {seed}", total=total_steps, completed=done, loss="–", speed="")

        def step(self, seed: int, step: int, loss: float, tokens_per_s: float) -> None:
            self.bar.update(self.tasks[seed], completed=step, loss=f"{loss:.4f}", speed=f"{tokens_per_s:.0f} tok/s")

    class _JobProgress:
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


def _quiet_transformers() -> None:
    """No per-shard loading bars or advisory warnings over our own progress bar."""
    import warnings

    from transformers.utils import logging as hf_logging

    warnings.filterwarnings("ignore", category=FutureWarning, message=".*is_gradient_checkpointing")

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
