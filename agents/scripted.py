"""`scripted:PATH` — a deterministic test double that plays lines from a JSON file.

PATH holds a JSON array of strings. Each conversation (one seat in one game) reads the script
from the beginning; running out of lines is an error, loudly.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .backend import BackendError, ChatRequest, ChatResult, Usage
from .errors import MmsError, SpecError
from .user_files import load_json


def load_script(path: str | Path) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"script file not found: {p} (scripted:PATH needs a JSON array of strings)")
    try:
        lines = load_json(p, "script file")
    except MmsError as exc:
        raise SpecError(str(exc)) from None
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise SpecError(f"script file {p} must hold a JSON array of strings")
    if not lines:
        raise SpecError(f"script file {p} is empty: give at least one line")
    return lines


class ScriptedBackend:
    def __init__(self, spec: str, lines: list[str]):
        self.spec = spec
        self.lines = lines
        self._cursor: dict[str, int] = defaultdict(int)

    @classmethod
    def from_path(cls, spec: str, path: str) -> "ScriptedBackend":
        return cls(spec, load_script(path))

    async def chat(self, request: ChatRequest) -> ChatResult:
        i = self._cursor[request.conversation]
        if i >= len(self.lines):
            raise BackendError(
                f"{self.spec}: script ran out after {len(self.lines)} lines "
                f"(conversation {request.conversation!r} asked for line {i + 1})"
            )
        self._cursor[request.conversation] = i + 1
        text = self.lines[i]
        return ChatResult(text=text, usage=Usage(0, len(text.split())), latency_s=0.0)

    async def aclose(self) -> None:
        self._cursor.clear()
