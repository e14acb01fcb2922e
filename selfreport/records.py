"""Interviews in the database: one write path for an interview and its items, and the reads
the summary and the report need. The one module that touches the tables `interviews` and
`interview_items`; their schema is brought up to date by selfreport/migrations.py."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any

from game.store import Store, now

from .battery import Item
from .migrations import ensure_schema

USER_MESSAGE_LIMIT = 50


def create_interview(store: Store, *, session: str, model: str, role: str, codeword: str, variant: str,
                     params: dict[str, Any]) -> int:
    ensure_schema(store)
    with store.db.conn:
        return store.db["interviews"].insert({
            "created_at": now(), "session": session, "model": model, "role": role, "codeword": codeword,
            "variant": variant, "params": json.dumps(params, sort_keys=True),
        }).last_pk


def add_items(store: Store, interview_id: int, items: Iterable[Item]) -> None:
    """Store one evaluation's items in one transaction."""
    ensure_schema(store)
    stamp = now()
    rows = [{
        "interview_id": interview_id, "metric": item.metric, "paraphrase": item.paraphrase, "sample": item.sample,
        "prompt": json.dumps(item.prompt), "answer": item.answer,
        "options": None if item.options is None else json.dumps(item.options),
        "distribution": None if item.distribution is None else json.dumps(item.distribution),
        "score": item.score, "valid": int(item.valid), "method": item.method, "note": item.note,
        "created_at": stamp,
    } for item in items]
    if rows:
        with store.db.conn:
            store.db["interview_items"].insert_all(rows)


def interviews(store: Store, *, session: str | None = None, codeword: str | None = None) -> list[dict[str, Any]]:
    if not ensure_schema(store):  # read-only, and no interview was ever stored
        return []
    where, args = [], []
    for column, value in (("session", session), ("codeword", codeword)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    found = store.db["interviews"].rows_where(" and ".join(where) or None, args, order_by="id")
    return [{**row, "params": json.loads(row["params"] or "{}")} for row in found]


def items_of(store: Store, interview_ids: Iterable[int]) -> list[dict[str, Any]]:
    ids = list(interview_ids)
    if not ensure_schema(store) or not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = store.db.execute_returning_dicts(
        f"select * from interview_items where interview_id in ({marks}) order by id", ids)
    for row in rows:
        for key in ("prompt", "options", "distribution"):
            row[key] = json.loads(row[key]) if row[key] else None
    return rows


def user_messages(store: Store, model: str, codeword: str, seed: int = 0,
                  limit: int = USER_MESSAGE_LIMIT) -> list[str]:
    """User messages from finished games this model played as manipulator for this codeword."""
    texts = store.read.user_messages(model, codeword)
    if len(texts) > limit:
        texts = random.Random(f"user_messages:{seed}").sample(texts, limit)
    return texts
