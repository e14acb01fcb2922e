"""`mms train local`: LoRA adapters on a base model, recorded as training runs."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agents.errors import MmsError
from game.cli_support import DEFAULT_DB, JsonOption, cli_errors, err, out, print_json
from game.safe_text import markup_safe
from game.store import Store

from .train_local import LocalTrainConfig, LocalTrainReport
from .train_progress import LocalProgress, progress_bar, quiet_transformers

Data = Annotated[Path, typer.Argument(metavar="FILE", help="Training file: chat JSONL ({\"messages\": [...]} per line), e.g. from mms export.")]
OutDir = Annotated[Path, typer.Option("--out", help="Folder for the adapters: one sub-folder seed<S> per seed.")]
Base = Annotated[str, typer.Option(help="Base model: local:smollm2, hf:<folder or cached repo>, or a model folder.")]
Epochs = Annotated[int, typer.Option(min=1, help="Passes over the data (the study used 4).")]
Lr = Annotated[float, typer.Option(help="Peak learning rate of AdamW (linear decay to zero).")]
BatchSize = Annotated[int, typer.Option(min=1, help="Packed rows of --max-length tokens per optimiser step (each its own micro-batch).")]
LoraR = Annotated[int, typer.Option(min=1, help="LoRA rank.")]
LoraAlpha = Annotated[int, typer.Option(min=1, help="LoRA alpha (scale = alpha / r).")]
LoraDropout = Annotated[float, typer.Option(min=0.0, max=1.0, help="Dropout on the LoRA input (0.05 costs ~30% of the speed on a CPU).")]
TargetModules = Annotated[str, typer.Option(help="Layers that get LoRA: all-linear, or comma-separated names (q_proj,v_proj).")]
MaxSteps = Annotated[int | None, typer.Option(min=1, help="Stop after this many optimiser steps (overrides --epochs; cycles over the data if needed).")]
MaxLength = Annotated[int, typer.Option(min=8, help="Tokens per packed row: whole dialogues are packed into rows this long; a longer dialogue is cut at the end.")]
Limit = Annotated[int | None, typer.Option(min=1, help="Use only the first N dialogues of the file.")]
ValFraction = Annotated[float, typer.Option(min=0.0, max=0.49, help="Share of the dialogues held back (the same ones for every seed); their loss is measured at the end.")]
EvalEvery = Annotated[int, typer.Option(min=0, help="Also measure the held-back loss every N steps (0: only at the end).")]
CheckpointEvery = Annotated[int, typer.Option(min=0, help="Save a checkpoint every N steps, for --resume (0: never).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue each seed from its checkpoint in --out (same data and settings).")]
Seeds = Annotated[int | None, typer.Option(min=1, help="Train this many adapters, seeds 0..N-1 (different LoRA init and data order).")]
Seed = Annotated[int | None, typer.Option(help="Train one adapter with this seed (default 0).")]
Device = Annotated[str, typer.Option(help="auto (a CUDA GPU if there is one, in bfloat16), cpu (float32) or cuda.")]
Threads = Annotated[int | None, typer.Option(min=1, help="CPU threads for torch (default: one per core); on a machine other jobs keep busy, fewer can be faster.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace adapters already in --out.")]
RunDb = Annotated[Path, typer.Option("--db", help="SQLite database that records the run (training_runs).")]


@cli_errors
def train_local_command(
    data: Data,
    out_dir: OutDir,
    base: Base = "local:smollm2",
    epochs: Epochs = 4,
    lr: Lr = 2e-4,
    batch_size: BatchSize = 2,
    lora_r: LoraR = 8,
    lora_alpha: LoraAlpha = 16,
    lora_dropout: LoraDropout = 0.0,
    target_modules: TargetModules = "all-linear",
    max_steps: MaxSteps = None,
    max_length: MaxLength = 2048,
    limit: Limit = None,
    val_fraction: ValFraction = 0.05,
    eval_every: EvalEvery = 0,
    checkpoint_every: CheckpointEvery = 20,
    resume: Resume = False,
    seeds: Seeds = None,
    seed: Seed = None,
    device: Device = "auto",
    threads: Threads = None,
    overwrite: Overwrite = False,
    db: RunDb = Path(DEFAULT_DB),
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
    quiet_transformers()
    progress = LocalProgress(progress_bar(quiet=json_output, eta=True))
    with Store(db) as store, progress.bar:
        try:
            result = train_local(store, data, base, out_dir, config, chosen, limit=limit, overwrite=overwrite,
                                 resume=resume, threads=threads, device=device, progress=progress)
        except KeyboardInterrupt:
            err.print("interrupted: the run is recorded as cancelled; the same command with --resume "
                      "continues from its last checkpoint")
            raise typer.Exit(130) from None
    report = LocalTrainReport(result, db)
    if json_output:
        print_json(report.to_json())
    else:
        _print_report(report, max_length)


def _print_report(report: LocalTrainReport, max_length: int) -> None:
    r = report.result
    table = Table(title=f"LoRA on {r.base} ({r.device}, {r.threads} threads): {r.examples} "
                  f"dialogues ({r.val_examples} held back), {r.steps} steps per seed, rows "
                  f"{r.fill:.0%} full" + (f", {r.truncated} cut at --max-length {max_length}" if r.truncated else ""))
    for column in ("seed", "run", "loss first → last", "held-back loss", "tokens/s", "time", "adapter"):
        table.add_column(column, overflow="fold")
    for a in r.adapters:
        held = f"{a.val_loss:.3f}" if a.val_loss is not None else "–"
        table.add_row(str(a.seed), str(a.run_id), f"{a.first_loss:.3f} → {a.last_loss:.3f}", held,
                      f"{a.tokens_per_s:.0f}", f"{a.seconds:.0f} s", str(a.adapter_dir))
    out.print(table)
    out.print(markup_safe(f"Recorded in {report.db} (training_runs). Play or interview the result with:"))
    for a in r.adapters:
        out.print(markup_safe(f"  mms play --manipulator '{a.model_id}' --manipulator-prompt none --codeword WORD"),
                  highlight=False, soft_wrap=True)
