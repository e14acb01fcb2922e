"""The behaviors' tables: `datasets` (one row per export) and `training_runs` (one row per
fine-tuning run, local or OpenAI, written as it goes). The one module that reads or writes them.

A training run's row is created `running` before any work starts and closed once as
`succeeded`, `failed` (with the error) or `cancelled`, so a crash leaves a visible trace and
never a silent gap.
"""

from __future__ import annotations

import json
from typing import Any

from game.store import Store, now

from .migrations import ensure_schema

TERMINAL = ("succeeded", "failed", "cancelled")


def record_dataset(store: Store, *, codeword: str, variant: str, params: dict[str, Any], path: str,
                   validation_path: str | None, file_hash: str, counts: dict[str, Any]) -> int:
    ensure_schema(store)
    with store.db.conn:
        return store.db["datasets"].insert({
            "created_at": now(), "codeword": codeword, "variant": variant,
            "params": json.dumps(params, sort_keys=True), "path": path, "validation_path": validation_path,
            "file_hash": file_hash, "counts": json.dumps(counts, sort_keys=True),
        }).last_pk


def start_run(store: Store, *, method: str, base_model: str, data_path: str | None, data_hash: str | None,
              params: dict[str, Any], seed: int | None = None, job_id: str | None = None) -> int:
    ensure_schema(store)
    with store.db.conn:
        return store.db["training_runs"].insert({
            "created_at": now(),
            "method": method,
            "base_model": base_model,
            "data_path": data_path,
            "data_hash": data_hash,
            "params": json.dumps(params, sort_keys=True),
            "seed": seed,
            "status": "running",
            "losses": "[]",
            "job_id": job_id,
        }).last_pk


def update_run(store: Store, run_id: int, **fields: Any) -> None:
    """Set some columns; `losses`/`params` may be given as Python objects."""
    for key in ("losses", "params"):
        if key in fields and not isinstance(fields[key], str):
            fields[key] = json.dumps(fields[key], sort_keys=key == "params")
    with store.db.conn:
        store.db["training_runs"].update(run_id, fields)


def finish_run(store: Store, run_id: int, status: str, **fields: Any) -> None:
    if status not in TERMINAL:
        raise ValueError(f"a finished run is one of {TERMINAL}, not {status!r}")
    update_run(store, run_id, status=status, finished_at=now(), **fields)


def get_run(store: Store, run_id: int) -> dict[str, Any]:
    return store.db["training_runs"].get(run_id)


def find_by_job(store: Store, job_id: str) -> dict[str, Any] | None:
    rows = list(store.db["training_runs"].rows_where("job_id = ?", [job_id], order_by="id desc", limit=1))
    return rows[0] if rows else None
