"""One line of a chat JSONL file (`{"messages": [{"role", "content"}, ...]}`) and what is wrong
with it as a fine-tuning example: the one validator, used by `mms check-data` (every problem of
every line) and by training (the first problem stops it).

The rules: UTF-8 JSON objects with a "messages" list (nested at most MAX_NESTING deep, strings
that are Unicode text: agents/user_files.py); each message an object with a known role
and non-empty text; after an optional system message, roles alternate from `user` and end on
`assistant`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.user_files import Unreadable, brief, json_value

ROLES = ("system", "user", "assistant")
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}


def structure_problems(messages: Sequence[Any]) -> list[str]:
    """What is wrong with a list of chat messages as a fine-tuning example (nothing: [])."""
    if not messages:
        return ["no messages"]
    problems: list[str] = []
    roles: list[str | None] = []
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict):
            problems.append(f"message {i} is not an object")
            roles.append(None)
            continue
        role, content = m.get("role"), m.get("content")
        if role is None:
            problems.append(f"message {i} has no role")
        elif role not in ROLES:
            problems.append(f"message {i} has role {brief(role)} (use one of {', '.join(ROLES)})")
        if not isinstance(content, str):
            problems.append(f"message {i} has no text content")
        elif not content.strip():
            problems.append(f"message {i} ({role}) is empty")
        roles.append(role if role in ROLES else None)
    if None in roles:
        return problems
    start = 1 if roles[0] == "system" else 0
    body = roles[start:]
    for k, role in enumerate(body):
        expected = "user" if k % 2 == 0 else "assistant"
        if role != expected:
            problems.append(f"message {start + k + 1} is {role}, expected {expected} (roles alternate from user)")
            return problems
    if not body:
        problems.append("only a system message")
    elif body[-1] != "assistant":
        problems.append("ends on a user message (must end on an assistant message)")
    return problems


@dataclass
class Line:
    """What one line of the file holds: its messages where readable, and what is wrong with it."""

    number: int
    messages: list[dict[str, str]] | None = None  # the messages with string role and content
    problems: list[str] = field(default_factory=list)


def read_line(number: int, raw: bytes) -> Line:
    line = Line(number)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line.problems.append(f"not UTF-8 ({exc.reason} at byte {exc.start})")
        return line
    if not text.strip():
        line.problems.append("blank line")
        return line
    try:
        obj = json_value(text)
    except Unreadable as exc:
        line.problems.append(str(exc))
        return line
    if not isinstance(obj, dict):
        line.problems.append(f"not a JSON object (it is {_JSON_TYPES[type(obj)]})")
        return line
    messages = obj.get("messages")
    if not isinstance(messages, list):
        line.problems.append('no "messages" list' if messages is None else '"messages" is not a list')
        return line
    line.problems.extend(structure_problems(messages))
    line.messages = [
        {"role": m["role"], "content": m["content"]}
        for m in messages
        if isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
    ]
    return line
