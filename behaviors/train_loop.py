"""The optimisation loop of `mms train local`: packed rows, AdamW, checkpoints, validation.

One optimiser step sums the trained-token losses of `batch_size` packed rows (each its own
micro-batch, so memory stays that of one row) and divides by the step's trained tokens: the
update is the mean over assistant tokens, whatever the packing. The plan of every epoch — which
dialogues share a row, in which order — is a pure function of the seed and the epoch, so a
run resumed from a checkpoint takes exactly the steps the uninterrupted run would have taken.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.errors import MmsError

from .packed_model import pack_tensors, summed_loss
from .packing import Pack, pack_examples
from .training_data import Example

CHECKPOINT_FORMAT = 1


@dataclass
class LoopState:
    step: int = 0
    tokens: int = 0  # every token of the rows processed so far (the throughput's numerator)
    seconds: float = 0.0  # time spent in training steps (not loading, not validation)
    losses: list[dict[str, Any]] = field(default_factory=list)
    validation: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def epoch_plan(examples: list[Example], max_tokens: int, seed: int, epoch: int) -> list[Pack]:
    return pack_examples(examples, max_tokens, random.Random(seed * 1_000_003 + epoch))


def step_plan(examples: list[Example], max_tokens: int, batch_size: int, seed: int, epochs: int,
              max_steps: int | None) -> list[tuple[int, list[Pack]]]:
    """(epoch, rows) of every optimiser step; with `max_steps` epochs repeat until there are enough."""
    steps: list[tuple[int, list[Pack]]] = []
    epoch = 0
    while (len(steps) < max_steps) if max_steps is not None else (epoch < epochs):
        packs = [p for p in epoch_plan(examples, max_tokens, seed, epoch) if p.trained_tokens]
        if not packs:
            raise MmsError("no dialogue has assistant tokens to train on")
        steps += [(epoch, packs[i : i + batch_size]) for i in range(0, len(packs), batch_size)]
        epoch += 1
    return steps[:max_steps] if max_steps is not None else steps


class Checkpoints:
    """`state.pt` in one folder: LoRA weights, optimiser and schedule, progress. Written atomically."""

    def __init__(self, folder: Path, fingerprint: dict[str, Any], extra: dict[str, Any] | None = None):
        self.folder, self.fingerprint, self.extra = folder, fingerprint, dict(extra or {})

    @property
    def path(self) -> Path:
        return self.folder / "state.pt"

    def exists(self) -> bool:
        return self.path.is_file()

    def save(self, model, optimizer, schedule, state: LoopState) -> None:
        import torch

        self.folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, "extra": self.extra,
            "trainable": {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad},
            "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
            "state": state.__dict__, "rng": torch.get_rng_state(),
        }
        staging = self.path.with_suffix(".tmp")
        torch.save(payload, staging)
        staging.replace(self.path)

    def read(self) -> dict[str, Any]:
        """The checkpoint's contents, refused if another run (other data or settings) wrote it."""
        import torch

        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise MmsError(f"cannot read the checkpoint {self.path} ({type(exc).__name__}): delete it to start over") from None
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT \
                or payload.get("fingerprint") != self.fingerprint:
            raise MmsError(f"the checkpoint in {self.folder} was made with other data or settings: resume with "
                           "the command that started it, or delete the folder to start over")
        return payload

    def load(self, model, optimizer, schedule) -> LoopState:
        import torch

        payload = self.read()
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in payload["trainable"].items():
                params[name].copy_(value)
        optimizer.load_state_dict(payload["optimizer"])
        schedule.load_state_dict(payload["schedule"])
        torch.set_rng_state(payload["rng"])
        return LoopState(**payload["state"])

    def remove(self) -> None:
        for path in (self.path, self.path.with_suffix(".tmp")):
            path.unlink(missing_ok=True)
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()


@dataclass(frozen=True)
class LoopSettings:
    lr: float
    weight_decay: float
    max_grad_norm: float
    checkpoint_every: int  # optimiser steps between checkpoints (0: none)
    eval_every: int  # optimiser steps between validation passes (0: only at the end)


def fit(model, plan: list[tuple[int, list[Pack]]], validation: list[Pack], settings: LoopSettings, device,
        checkpoints: Checkpoints | None, on_step: Callable[[LoopState, dict[str, Any]], None],
        resume: bool = False, autocast=None) -> LoopState:
    """Run `plan` from its start or from the checkpoint; validate at `eval_every` and at the end."""
    import torch

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=settings.weight_decay)
    total = len(plan)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda done: max(0.0, 1.0 - done / total))
    state = LoopState()
    if resume and checkpoints is not None and checkpoints.exists():
        state = checkpoints.load(model, optimizer, schedule)
    while state.step < total:
        epoch, rows = plan[state.step]
        model.train()
        started = time.perf_counter()
        trained = sum(r.trained_tokens for r in rows)
        loss = 0.0
        for row in rows:
            with (autocast or contextlib.nullcontext)():
                part = summed_loss(model, pack_tensors(row, device)) / trained
            part.backward()
            loss += float(part.detach())
        torch.nn.utils.clip_grad_norm_(trainable, settings.max_grad_norm)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        state.seconds += time.perf_counter() - started
        state.tokens += sum(r.tokens for r in rows)
        state.step += 1
        entry = {"step": state.step, "epoch": epoch, "loss": round(loss, 6)}
        state.losses.append(entry)
        last = state.step == total
        if validation and ((settings.eval_every and state.step % settings.eval_every == 0) or last):
            state.validation.append({"step": state.step, "loss": round(evaluate(model, validation, device, autocast), 6)})
        if checkpoints is not None and settings.checkpoint_every and state.step % settings.checkpoint_every == 0 \
                and not last:
            checkpoints.save(model, optimizer, schedule, state)
        on_step(state, entry)
    return state


def evaluate(model, packs: list[Pack], device, autocast=None) -> float:
    """Mean loss per trained token over `packs`, without gradients."""
    import torch

    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for row in packs:
            with (autocast or contextlib.nullcontext)():
                total += float(summed_loss(model, pack_tensors(row, device)))
            tokens += row.trained_tokens
    model.train()
    return total / tokens if tokens else math.nan

