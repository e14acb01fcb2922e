"""What every `mms` command shares: consoles, common options, error handling, JSON output.

Command modules of every package import these from here; `game.cli`, the composition root,
only mounts the commands the packages declare (game/plugins.py).
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agents.backend import DEFAULT_CALL_TIMEOUT, DEFAULT_RETRY_BUDGET, CallLimits
from agents.errors import MmsError
from agents.settings import MAX_REQUESTS, check_environment

from .safe_text import json_dumps, markup_safe

DEFAULT_MODEL = "local:smollm2"
DEFAULT_DB = "mms.db"

err = Console(stderr=True)
out = Console()

DbOption = Annotated[Path, typer.Option("--db", help="SQLite database file (created if missing).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
CallTimeoutOption = Annotated[float | None, typer.Option(
    "--call-timeout", metavar="SECONDS",
    help="Seconds one attempt of a model call to a server (openai: specs) may take, the whole reply read; "
         f"a slower attempt is cut off and retried. Default: a tournament spec's call_timeout, else {DEFAULT_CALL_TIMEOUT:g}.")]
RetryBudgetOption = Annotated[float | None, typer.Option(
    "--retry-budget", metavar="SECONDS",
    help="Seconds one model call to a server may take over all its attempts and the waits between them "
         "(each retry is announced on stderr); a Retry-After longer than what is left fails the call at once. "
         f"Default: a tournament spec's retry_budget, else {DEFAULT_RETRY_BUDGET:g}.")]

MaxRequestsOption = Annotated[str | None, typer.Option(
    "--max-requests", metavar="N", show_default=False,
    help="The most requests in flight to one model server (openai: specs), counted per server URL and shared "
         "by every spec on it; each replica of a spec has its own. Games at once (--concurrency) bound them too. "
         f"Default: a tournament spec's max_requests, else {MAX_REQUESTS.name}, else {MAX_REQUESTS.default} "
         f"(what one vLLM server batches by default); {MAX_REQUESTS.low} to {MAX_REQUESTS.high}.")]


def call_limits(call_timeout: float | None, retry_budget: float | None, base: CallLimits | None = None,
                max_requests: str | None = None) -> CallLimits:
    """`--call-timeout`, `--retry-budget` and `--max-requests` over `base` (a tournament spec's), else the defaults."""
    base = base or CallLimits()
    return CallLimits(base.timeout_s if call_timeout is None else call_timeout,
                      base.budget_s if retry_budget is None else retry_budget,
                      base.max_requests if max_requests is None else _as_number(max_requests))


def _as_number(text: str) -> int | str:
    """An option's digits as a number; anything else as it is, for `CallLimits` to refuse in one line
    (typer's own refusal of a bad number is three)."""
    digits = text.strip()
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 13 else text


def database_error(path: Path | None, exc: sqlite3.DatabaseError) -> MmsError:
    """A database that fails in the middle of a command, as one line: which file, what is wrong, the fix."""
    name = f"database {path}" if path is not None else "the database"
    said = str(exc) or type(exc).__name__
    text = said.lower()
    if "readonly" in text or "read-only" in text:
        return MmsError(f"cannot write to {name}: it is read-only ({said}); make the file and its folder "
                        "writable (an immutable file shows an 'i' in lsattr), or pick another --db")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return MmsError(f"{name} is damaged ({said}); restore a copy, or save what is left with "
                        f"`sqlite3 {path or 'FILE'} .recover | sqlite3 recovered.db` and use --db recovered.db")
    if "locked" in text or "busy" in text:
        return MmsError(f"{name} is locked by another process ({said}); wait for it to finish, or pick another --db")
    if "full" in text:
        return MmsError(f"no space left for {name} ({said}); free some disk space and run the command again")
    return MmsError(f"{name} failed: {said}")


def _database_errors(fn):
    """sqlite errors after the database was opened (Store refuses what it cannot open) → `database_error`,
    naming the command's --db."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            path = kwargs.get("db") or kwargs.get("out_db")
            raise database_error(path, exc) from exc

    return wrapper


def cli_errors(fn):
    """Turn user-facing errors into one line on stderr and exit status 2, never a traceback; the
    environment settings (agents/settings.py) are checked first, so every command starts on good ones.

    The message quotes user input and model or server replies: it is printed as written."""
    fn = _database_errors(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            check_environment()
            return fn(*args, **kwargs)
        except MmsError as exc:
            err.print(f"[bold red]error:[/] {markup_safe(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def print_json(obj: dict[str, Any]) -> None:
    typer.echo(json_dumps(obj, sort_keys=False))
