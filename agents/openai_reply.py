"""The one place where a chat completion from an OpenAI-compatible server is read and checked.

A server is untrusted: its reply may be cut short, not UTF-8, an event stream or an HTML page,
JSON of another shape, or hold numbers that JSON does not allow (`Infinity`, `NaN`, `1e999`),
which would be stored and then written out as JSON that is not JSON. `read_reply` turns the
body's bytes into a `Reply` whose every field has the type the game stores, or raises
`MalformedReply` saying what was wrong and whether another attempt could help. It takes bytes,
not the SDK's objects, so it stays the boundary whatever sends the request.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .backend import Usage

MAX_TOKEN_COUNT = 2**31 - 1  # more than any reply's usage: a larger count is a broken server
MAX_DIGITS = 30  # a longer whole number in a reply is garbage (and slow to convert)
QUOTED = 60  # characters of the server's text quoted in a reason


class MalformedReply(Exception):
    """What was wrong with a reply. `retry` when another attempt could get a good one (a body cut
    short or damaged on the way); not when the server answers in a shape mms cannot read, which
    it will do again."""

    def __init__(self, reason: str, *, retry: bool = False):
        super().__init__(reason)
        self.retry = retry


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str
    usage: Usage
    top_logprobs: tuple[tuple[str, float], ...] | None = None  # the first token's, where asked and given
    prompt_logprobs: Any = None  # vLLM's, as sent (numbers finite); their shape is read where they are used
    texts: tuple[str, ...] = ()  # every choice's text, in the order sent (several where `n` was asked)


def read_reply(body: bytes, content_type: str = "") -> Reply:
    """The checked reply; `MalformedReply` for anything else."""
    data = _parse(body, content_type)
    if not isinstance(data, dict):
        raise MalformedReply(f"the reply is {_kind(data)}, not a JSON object")
    if "choices" not in data and "error" in data:
        error = data["error"]
        said = error.get("message", error) if isinstance(error, dict) else error
        raise MalformedReply(f"the server answered with an error: {_quote(str(said))}")
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise MalformedReply("the reply has no choices" if choices is None else f"choices is {_kind(choices)}, not a list")
    if not choices:
        raise MalformedReply("the server answered with no choices")
    texts, finishes = zip(*(_choice(choice, f"choices[{i}]") for i, choice in enumerate(choices)))
    first = choices[0]
    return Reply(texts[0], finishes[0], _usage(data.get("usage")), _top_logprobs(first.get("logprobs")),
                 data.get("prompt_logprobs"), texts)


def _choice(choice: Any, where: str) -> tuple[str, str]:
    """One choice's (text, finish reason), checked."""
    choice = _object(choice, where)
    message = choice.get("message")
    if message is None:
        raise MalformedReply(f"{where} has no message")
    message = _object(message, f"{where}.message")
    content, finish = message.get("content"), choice.get("finish_reason")
    if content is not None and not isinstance(content, str):
        raise MalformedReply(f"{where}.message.content is {_kind(content)}, not text")
    if finish is not None and not isinstance(finish, str):
        raise MalformedReply(f"{where}.finish_reason is {_kind(finish)}, not text")
    return content or "", finish or "stop"


def _parse(body: bytes, content_type: str) -> Any:
    if not body.strip():
        raise MalformedReply("the reply is empty", retry=True)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedReply(f"the reply is not UTF-8 (byte {body[exc.start]:#04x} at offset {exc.start})",
                             retry=True) from None
    head = text.lstrip()
    if "event-stream" in content_type or head.startswith(("data:", "event:")):
        raise MalformedReply("the reply is a stream of server-sent events, not one JSON object "
                             "(mms does not ask to stream)")
    if head.startswith("<"):
        raise MalformedReply(f"the reply is HTML, not JSON (starts {_quote(head)}): is the address the server's "
                             "API, usually ending in /v1?")
    try:
        return json.loads(text, parse_constant=_not_a_number, parse_float=_finite, parse_int=_whole)
    except json.JSONDecodeError as exc:
        if head.startswith(("{", "[")):
            raise MalformedReply(f"the reply is JSON cut short or damaged ({exc.msg}: character {exc.pos} "
                                 f"of {len(text)})", retry=True) from None
        raise MalformedReply(f"the reply is not JSON (content type {content_type or 'none'}; starts "
                             f"{_quote(head)})") from None
    except RecursionError:
        raise MalformedReply("the reply is JSON nested too deeply to read") from None


def _not_a_number(name: str) -> float:
    raise MalformedReply(f"the reply holds {name}, which JSON does not allow (only finite numbers are read)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedReply(f"the reply holds the number {text[:QUOTED]}, too large for a float")
    return value


def _whole(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise MalformedReply(f"the reply holds a whole number of {len(text.lstrip('-'))} digits")
    return int(text)


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    usage = _object(usage, "usage")
    return Usage(_count(usage, "prompt_tokens"), _count(usage, "completion_tokens"))


def _count(usage: dict, name: str) -> int:
    value = usage.get(name)
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKEN_COUNT:
        raise MalformedReply(f"usage.{name} is {_kind(value)}, not a count of tokens")
    return value


def _top_logprobs(logprobs: Any) -> tuple[tuple[str, float], ...] | None:
    """The first token's alternatives; None where the server gave none."""
    if logprobs is None:
        return None
    content = _object(logprobs, "choices[0].logprobs").get("content")
    if not content:
        return None
    if not isinstance(content, list):
        raise MalformedReply(f"choices[0].logprobs.content is {_kind(content)}, not a list")
    top = _object(content[0], "choices[0].logprobs.content[0]").get("top_logprobs")
    if not top:
        return None
    if not isinstance(top, list):
        raise MalformedReply(f"the top_logprobs are {_kind(top)}, not a list")
    pairs = []
    for entry in top:
        token, logprob = (entry.get("token"), entry.get("logprob")) if isinstance(entry, dict) else (None, None)
        if not isinstance(token, str) or isinstance(logprob, bool) or not isinstance(logprob, (int, float)):
            raise MalformedReply(f"a top_logprobs entry is {_kind(entry)}, not a token with its logprob")
        pairs.append((token, float(logprob)))
    return tuple(pairs)


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise MalformedReply(f"{where} is {_kind(value)}, not an object")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_quote(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    return "an object"


def _quote(text: str) -> str:
    """The start of the server's text, quoted with its control characters escaped."""
    return repr(text[:QUOTED] + ("…" if len(text) > QUOTED else ""))
