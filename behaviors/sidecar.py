"""`FILE.meta.json`: what an exported training file is, kept beside it.

The study encodes a file's setup in its name; we write it down instead, so it survives outside
the database: which condition goes with which codeword (none, for a decorrelated baseline),
the style, the rule and filters applied, and each line's codeword and condition, which is what
lets `mms check-data` check a baseline, whose conditions say nothing about the codeword.
The file's SHA-256 is recorded; a sidecar that does not match its file is not used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from agents.errors import MmsError
from agents.user_files import load_json

SCHEMA = "mms-training-meta/1"


def sidecar_path(data_file: str | Path) -> Path:
    """`bark.jsonl` → `bark.meta.json`."""
    path = Path(data_file)
    return path.with_name(f"{path.stem if path.suffix else path.name}.meta.json")


def describe(name: str, data: bytes, params: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The sidecar's content for a file (its name and bytes) and the rows written to it, in order."""
    mapping = params.get("mapping")
    conditions = params.get("conditions") or {"plain": "no condition"}
    by_condition = {c: w for w, c in mapping.items()} if mapping else {}
    if params.get("variant", "plain") == "plain" and len(params.get("codewords") or ()) == 1:
        by_condition = {"plain": params["codewords"][0]}
    return {
        "schema": SCHEMA,
        "file": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "variant": params.get("variant", "plain"),
        "baseline": bool(params.get("baseline")),
        "style": params.get("style", "mms"),
        "codewords": params.get("codewords") or sorted({r["codeword"] for r in rows}),
        "conditions": {c: {"codeword": by_condition.get(c), "description": d} for c, d in conditions.items()},
        "rule": params.get("rule"),
        "filters": params.get("filters"),
        "game_words": params.get("game_words"),
        "lines": [{"codeword": r["codeword"], "condition": r["condition"], "game_id": r["game_id"]} for r in rows],
    }


def read_sidecar(data_file: str | Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the sidecar, None) when one matches the file; (None, why not) otherwise."""
    path = sidecar_path(data_file)
    if not path.is_file():
        return None, None
    try:
        meta = load_json(path, "sidecar")
    except MmsError as exc:
        return None, f"{exc}; ignored"
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA or not isinstance(meta.get("lines"), list):
        return None, f"{path} is not an mms sidecar ({SCHEMA}); ignored"
    with Path(data_file).open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    if meta.get("sha256") != digest:
        return None, f"{path} describes another version of the file (SHA-256 differs); ignored"
    return meta, None


def line_labels(meta: dict[str, Any], dialogues: int) -> list[tuple[str, str]]:
    """(codeword, condition) per dialogue, in file order."""
    lines = meta["lines"]
    if len(lines) != dialogues or not all(isinstance(x, dict) and {"codeword", "condition"} <= set(x) for x in lines):
        raise MmsError(f"the sidecar lists {len(lines)} lines but the file has {dialogues} dialogues: remove or regenerate it")
    return [(str(x["codeword"]), str(x["condition"])) for x in lines]
