"""What every use of the OpenAI SDK here shares — the chat backend and the fine-tuning jobs:
the API key (from the environment, never kept), the client on a plain `httpx` client (explicit
limits; `respx` can fake it), the server's own words from an error, and scrubbing the key
out of any text we show.
"""

from __future__ import annotations

import json
import os
import re

import httpx

from .errors import MmsError

KEY_ENV = "OPENAI_API_KEY"

# game/safe_text.py's unsafe characters (C0, DEL, C1, bidi controls) with tab and the line breaks
# (LF, U+2028, U+2029) too: agents imports nothing of ours, so the class is restated here.
LINE_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def require_key(who: str) -> None:
    if not os.environ.get(KEY_ENV):
        raise MmsError(f"{who} needs an OpenAI API key: set the {KEY_ENV} environment variable")


def make_client(*, base_url: str | None = None, timeout: float = 120.0, max_connections: int | None = None,
                max_retries: int = 0):
    """An `openai.AsyncOpenAI`, by default with the SDK's retries off (the chat backend owns its retries).

    The base URL defaults to the SDK's (OPENAI_BASE_URL, else the official API). A local server
    needs no key; the SDK is then given a placeholder.
    """
    import openai

    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections) \
        if max_connections else httpx.Limits()
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), limits=limits)
    return openai.AsyncOpenAI(api_key=os.environ.get(KEY_ENV) or "not-needed", base_url=base_url,
                              max_retries=max_retries, http_client=http)


def scrub(text: str) -> str:
    """The text with the API key (if the server echoed it) replaced by ***."""
    key = os.environ.get(KEY_ENV)
    return text.replace(key, "***") if key else text


def one_line(text: str) -> str:
    """The text with every control character and line break written as an escape (`\\r`, `\\n`,
    `\\x1b`): a server's words inside a one-line reason can then neither forge a line of their
    own on a terminal nor send it an escape sequence, and a reader still sees what was there."""
    return LINE_UNSAFE.sub(lambda m: ascii(m.group())[1:-1], text)


def detail(exc) -> str:
    """The server's own words from an `APIStatusError`: OpenAI's error message, or FastAPI's `detail`."""
    body = exc.body
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict):
            body = body.get("message") or body.get("detail") or body
    text = str(body if body is not None else exc.message)
    return one_line(text if len(text) <= 300 else text[:297] + "...")


def body_detail(status: int, body: bytes) -> str:
    """The server's own words from an error reply's body, as `detail` reads them from the SDK's error
    (which parses the body as JSON where it can and keeps its `error` object)."""
    text = body.decode("utf-8", errors="replace").strip()
    said: object = text
    try:
        said = json.loads(text)
    except ValueError:
        pass
    if isinstance(said, dict):
        said = said.get("error", said)
        if isinstance(said, dict):
            said = said.get("error", said)
            if isinstance(said, dict):
                said = said.get("message") or said.get("detail") or said
    text = str(said if said is not None else f"Error code: {status}")
    return one_line(text if len(text) <= 300 else text[:297] + "...")


def auth_hint(status: int) -> str:
    return f" (check {KEY_ENV})" if status in (401, 403) else ""
