"""What every use of the OpenAI SDK here shares — the chat backend and the fine-tuning jobs:
the API key (from the environment, never kept), the client on a plain `httpx` client (explicit
limits; `respx` can fake it), the server's own words from an error, and scrubbing the key
out of any text we show.
"""

from __future__ import annotations

import os

import httpx

from .errors import MmsError

KEY_ENV = "OPENAI_API_KEY"


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


def detail(exc) -> str:
    """The server's own words from an `APIStatusError`: OpenAI's error message, or FastAPI's `detail`."""
    body = exc.body
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict):
            body = body.get("message") or body.get("detail") or body
    text = str(body if body is not None else exc.message)
    return text if len(text) <= 300 else text[:297] + "..."


def auth_hint(status: int) -> str:
    return f" (check {KEY_ENV})" if status in (401, 403) else ""
