"""OpenAI fine-tuning jobs: upload the file, create the job, follow it to the end, record it.

Request shapes follow the current API: the files are uploaded as multipart with
`purpose=fine-tune`; the job names its hyper-parameters under
`method: {type: "supervised", supervised: {hyperparameters: {...}}}` (the top-level
`hyperparameters` field is deprecated); progress is read from the job and its events, whose
`metrics` events carry the training loss per step. The run is recorded in `training_runs` before
the first upload, gets its job id as soon as the job exists, and is closed when the job ends, so
`--resume JOB_ID` can re-attach after the terminal was closed. The SDK is given a plain
`httpx.AsyncClient` (so `respx` can fake the API in tests); the key is read from the environment,
never stored, and scrubbed from error messages.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agents import openai_client
from agents.errors import MmsError
from game.cli_support import DEFAULT_DB
from game.store import Store

from . import records
from .training_data import file_sha256, load_chat_jsonl

DEFAULT_BASE = "gpt-4o-mini-2024-07-18"
TERMINAL = ("succeeded", "failed", "cancelled")
EVENT_PAGE = 100
MAX_EVENT_PAGES = 20  # per poll: enough to catch up after a long pause without paging forever


@dataclass(frozen=True)
class OpenAITrainConfig:
    base: str = DEFAULT_BASE
    epochs: int | None = None  # None: the API's "auto"
    batch_size: int | None = None
    lr_multiplier: float | None = None
    suffix: str | None = None
    seed: int | None = None
    validation: Path | None = None

    def __post_init__(self) -> None:
        if self.epochs is not None and self.epochs < 1:
            raise MmsError("--epochs must be at least 1")
        if self.batch_size is not None and self.batch_size < 1:
            raise MmsError("--batch-size must be at least 1")
        if self.lr_multiplier is not None and not self.lr_multiplier > 0:
            raise MmsError("--lr-multiplier must be positive")
        if self.suffix is not None and not 0 < len(self.suffix) <= 64:
            raise MmsError("--suffix takes 1 to 64 characters")

    def hyperparameters(self) -> dict[str, Any]:
        """Only those given: the API picks the others ("auto")."""
        given = {"n_epochs": self.epochs, "batch_size": self.batch_size, "learning_rate_multiplier": self.lr_multiplier}
        return {k: v for k, v in given.items() if v is not None}

    def job_request(self, training_file: str, validation_file: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.base,
            "training_file": training_file,
            "method": {"type": "supervised", "supervised": {"hyperparameters": self.hyperparameters()}},
        }
        optional = {"validation_file": validation_file, "suffix": self.suffix, "seed": self.seed}
        return body | {k: v for k, v in optional.items() if v is not None}

    def params(self) -> dict[str, Any]:
        return {"base": self.base, **self.hyperparameters(), "suffix": self.suffix, "seed": self.seed,
                "validation_path": str(self.validation) if self.validation else None}


@dataclass
class JobResult:
    run_id: int
    job_id: str
    status: str
    model_id: str | None = None
    error: str | None = None
    trained_tokens: int | None = None
    losses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def spec(self) -> str | None:
        """The spec that plays or interviews the fine-tuned model."""
        return f"openai:{self.model_id}" if self.model_id else None


@dataclass(frozen=True)
class OpenAITrainRequest:
    """`mms train openai`'s options, checked once when made: a FILE or --resume (not both), no job
    settings with --resume (the job keeps those it was created with), then the settings themselves."""

    data: Path | None = None
    resume: str | None = None
    base: str = DEFAULT_BASE
    epochs: int | None = None
    batch_size: int | None = None
    lr_multiplier: float | None = None
    suffix: str | None = None
    validation: Path | None = None
    seed: int | None = None
    follow: bool = True
    poll_interval: float = 15.0
    db: Path = Path(DEFAULT_DB)  # where the run is recorded; named in the report
    config: OpenAITrainConfig = field(init=False)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.resume is None):
            raise MmsError("give a training FILE to start a job, or --resume JOB_ID to follow one, not both")
        settings = (self.epochs, self.batch_size, self.lr_multiplier, self.suffix, self.validation, self.seed)
        if self.resume is not None and any(v is not None for v in settings):
            raise MmsError("--resume follows a job as it was created: drop --epochs, --batch-size, --lr-multiplier, "
                           "--suffix, --validation and --seed")
        object.__setattr__(self, "config", OpenAITrainConfig(
            base=self.base, epochs=self.epochs, batch_size=self.batch_size, lr_multiplier=self.lr_multiplier,
            suffix=self.suffix, seed=self.seed, validation=self.validation))


@dataclass(frozen=True)
class OpenAITrainReport:
    """One `mms train openai`: the job as created (--no-follow, `followed` false: no model nor losses
    yet) or as it ended. `to_json()` is what --json prints, key for key."""

    run_id: int
    job_id: str
    status: str
    db: Path
    followed: bool
    model_id: str | None = None
    spec: str | None = None
    error: str | None = None
    trained_tokens: int | None = None
    losses: tuple[dict[str, Any], ...] = ()

    @classmethod
    def created(cls, run_id: int, job: Any, db: Path) -> OpenAITrainReport:
        return cls(run_id, job.id, job.status, db, followed=False)

    @classmethod
    def finished(cls, result: JobResult, db: Path) -> OpenAITrainReport:
        return cls(result.run_id, result.job_id, result.status, db, followed=True, model_id=result.model_id,
                   spec=result.spec, error=result.error, trained_tokens=result.trained_tokens,
                   losses=tuple(result.losses))

    def to_json(self) -> dict[str, Any]:
        body = {"method": "openai", "run_id": self.run_id, "job_id": self.job_id, "status": self.status,
                "model_id": self.model_id, "spec": self.spec}
        if self.followed:
            body |= {"trained_tokens": self.trained_tokens, "steps": len(self.losses),
                     "first_loss": self.losses[0]["loss"] if self.losses else None,
                     "last_loss": self.losses[-1]["loss"] if self.losses else None}
        return body | {"db": str(self.db)}


class JobProgress(Protocol):
    def job(self, job: Any) -> None: ...
    def event(self, event: Any) -> None: ...


class _Silent:
    def job(self, job: Any) -> None:
        pass

    def event(self, event: Any) -> None:
        pass


def require_key() -> None:
    openai_client.require_key("mms train openai")


def make_client(timeout: float = 120.0):
    """The SDK on a plain httpx client; the base URL is the SDK's (OPENAI_BASE_URL or the official API)."""
    require_key()
    return openai_client.make_client(timeout=timeout, max_retries=2)  # the SDK's own retries, as before


async def start_job(client, store: Store, data_path: Path, config: OpenAITrainConfig) -> tuple[int, Any]:
    """Check and upload the file(s), create the job; return (training run id, job)."""
    load_chat_jsonl(data_path)  # a bad line fails here, before anything is uploaded or paid for
    if config.validation is not None:
        load_chat_jsonl(config.validation)
    params = config.params()
    run_id = records.start_run(store, method="openai", base_model=config.base, data_path=str(data_path.resolve()),
                                     data_hash=file_sha256(data_path), params=params, seed=config.seed)
    try:
        training_file = await upload(client, data_path)
        validation_file = await upload(client, config.validation) if config.validation else None
        params |= {"training_file": training_file, "validation_file": validation_file}
        job = await _api("create the fine-tuning job",
                         client.fine_tuning.jobs.create(**config.job_request(training_file, validation_file)))
    except BaseException as exc:
        status = "cancelled" if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError) else "failed"
        records.finish_run(store, run_id, status, params=params, error=str(exc) or type(exc).__name__)
        raise
    records.update_run(store, run_id, job_id=job.id, params=params)
    return run_id, job


async def upload(client, path: Path) -> str:
    created = await _api(f"upload {path}", client.files.create(file=(path.name, path.read_bytes()), purpose="fine-tune"))
    return created.id


async def attach(client, store: Store, job_id: str) -> tuple[int, Any]:
    """`--resume`: the job as it is now, and its training run (a new row if this database never saw it)."""
    job = await _api(f"find fine-tuning job {job_id}", client.fine_tuning.jobs.retrieve(job_id))
    row = records.find_by_job(store, job_id)
    if row is not None:
        return row["id"], job
    hyper = job.hyperparameters.model_dump(exclude_none=True) if job.hyperparameters else {}
    params = {"base": job.model, **hyper, "training_file": job.training_file,
              "validation_file": job.validation_file, "resumed": True}
    run_id = records.start_run(store, method="openai", base_model=job.model, data_path=None, data_hash=None,
                                     params=params, seed=job.seed, job_id=job_id)
    return run_id, job


async def follow(client, store: Store, run_id: int, job_id: str, *, interval: float = 15.0,
                 progress: JobProgress | None = None) -> JobResult:
    """Poll the job and its new events every `interval` seconds until it ends; record the outcome.

    Losses are recorded as they arrive. If following stops early (Ctrl-C, network), the run stays
    `running`: the job goes on at OpenAI, and `--resume` picks it up again.
    """
    progress = progress or _Silent()
    seen: set[str] = set()
    result = JobResult(run_id, job_id, "running", losses=_recorded_losses(store, run_id))
    steps_seen = {entry["step"] for entry in result.losses}
    while True:
        job = await _api(f"read fine-tuning job {job_id}", client.fine_tuning.jobs.retrieve(job_id))
        new_losses = False
        for event in await new_events(client, job_id, seen):
            progress.event(event)
            entry = _loss_entry(event)
            if entry is not None and entry["step"] not in steps_seen:
                steps_seen.add(entry["step"])
                result.losses.append(entry)
                new_losses = True
        if new_losses:
            result.losses.sort(key=lambda e: e["step"])
            records.update_run(store, run_id, losses=result.losses)
        progress.job(job)
        if job.status in TERMINAL:
            break
        await asyncio.sleep(interval)
    result.status, result.model_id, result.trained_tokens = job.status, job.fine_tuned_model, job.trained_tokens
    code, message = getattr(job.error, "code", None), getattr(job.error, "message", None)
    if message or code:
        result.error = f"{code}: {message}" if code and message else message or code
    elif job.status != "succeeded":
        result.error = f"the job was {job.status}"
    records.finish_run(store, run_id, job.status, model_id=job.fine_tuned_model, losses=result.losses,
                             error=result.error, job_id=job_id)
    return result


async def run_training(store: Store, request: OpenAITrainRequest, progress: JobProgress | None = None
                       ) -> OpenAITrainReport:
    """Start the request's job (or re-attach to it) and, unless told not to, follow it to its end."""
    progress = progress or _Silent()
    client = make_client()
    try:
        if request.resume is not None:
            run_id, job = await attach(client, store, request.resume)
        else:
            run_id, job = await start_job(client, store, request.data, request.config)
        progress.job(job)
        if not request.follow:
            return OpenAITrainReport.created(run_id, job, request.db)
        result = await follow(client, store, run_id, job.id, interval=request.poll_interval, progress=progress)
        return OpenAITrainReport.finished(result, request.db)
    finally:
        await client.close()


async def new_events(client, job_id: str, seen: set[str]) -> list[Any]:
    """Events not yet seen, oldest first (the API lists the newest first, paging backwards)."""
    fresh: list[Any] = []
    page = await _api(f"read the events of {job_id}", client.fine_tuning.jobs.list_events(job_id, limit=EVENT_PAGE))
    for _ in range(MAX_EVENT_PAGES):
        for event in page.data:
            if event.id in seen:
                break
            fresh.append(event)
        else:
            if page.has_next_page():
                page = await _api(f"read the events of {job_id}", page.get_next_page())
                continue
        break
    seen.update(event.id for event in fresh)
    return sorted(fresh, key=lambda e: e.created_at)


def _loss_entry(event: Any) -> dict[str, Any] | None:
    data = event.data if isinstance(event.data, dict) else None
    if getattr(event, "type", None) != "metrics" or not data or "step" not in data or "train_loss" not in data:
        return None
    entry = {"step": int(data["step"]), "loss": float(data["train_loss"])}
    if data.get("valid_loss") is not None:
        entry["valid_loss"] = float(data["valid_loss"])
    return entry


def _recorded_losses(store: Store, run_id: int) -> list[dict[str, Any]]:
    import json

    return json.loads(records.get_run(store, run_id)["losses"] or "[]")


async def _api(doing: str, call):
    """Await one SDK call; API failures become one clear line (the key never appears in it)."""
    import openai

    try:
        return await call
    except openai.APIStatusError as exc:
        raise _error(f"could not {doing}: HTTP {exc.status_code}: {openai_client.detail(exc)}"
                     f"{openai_client.auth_hint(exc.status_code)}") from None
    except openai.APIConnectionError as exc:
        raise _error(f"could not {doing}: cannot reach the API ({exc})") from None


def _error(message: str) -> MmsError:
    return MmsError(openai_client.scrub(message))
