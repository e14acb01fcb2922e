"""Files a user gives (chat JSONL, question YAML, spec TOML, script JSON), read within limits.

A broken or hostile file must cost one clear line naming the file and the line, never a
traceback, a hang or the machine's memory. So a file is read with a byte limit before anything
is parsed (a JSONL line with a bounded readline: a 100 MB line is measured, never held), lists
and objects may nest only so deep, a YAML document's aliases may expand to only so many values,
and strings must be Unicode text (a JSON or YAML escape can spell a lone surrogate, which
nothing downstream can encode). The byte limits are settings a researcher can raise; the
others are far beyond any file of ours or the study's. `agents` holds this because every
package may import it (DESIGN §2).
"""

from __future__ import annotations

import json
import os
import re
import reprlib
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import MmsError
from .settings import MAX_FILE_BYTES, MAX_LINE_BYTES, MiB

LINE_LIMIT_ENV = MAX_LINE_BYTES.name
FILE_LIMIT_ENV = MAX_FILE_BYTES.name
MAX_NESTING = 64  # lists and objects inside one another; our files use at most 4
MAX_ALIAS_VALUES = 100_000  # values the aliases of one YAML file may add when expanded (the study's: under 100)
BRIEF_CHARS = 60  # the most of an untrusted value an error quotes
_CHUNK = 64 * 1024  # how much of an over-long line is held at once while it is measured

_SURROGATE = re.compile("[\ud800-\udfff]")
_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = BRIEF_CHARS
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxtuple, _BRIEF.maxdict, _BRIEF.maxset = 2, 4, 4, 4, 4


class Unreadable(ValueError):
    """What is wrong with a piece of text as data; the caller adds where it is."""


class _TooDeep(Unreadable):
    def __init__(self):
        super().__init__(f"lists or objects nested deeper than {MAX_NESTING} levels")


class _LoneSurrogate(Unreadable):
    def __init__(self, char: str):
        super().__init__(f"a lone surrogate \\u{ord(char):04x} is not Unicode text (half of a UTF-16 pair, spelled "
                         "as an escape): remove it or write the whole character")


class _LongNumber(Unreadable):
    """Python's int() refuses more than sys.get_int_max_str_digits() digits (a ValueError from any parser)."""

    def __init__(self):
        super().__init__(f"a number of more than {sys.get_int_max_str_digits():,} digits")


def brief(value: Any) -> str:
    """A repr of an untrusted value cut to a short prefix: never the whole of a huge or self-expanding value."""
    text = _BRIEF.repr(value)
    return text if len(text) <= BRIEF_CHARS else text[: BRIEF_CHARS - 3] + "..."


# -- limits ---------------------------------------------------------------------------------


def max_line_bytes() -> int:
    return MAX_LINE_BYTES.read()


def max_file_bytes() -> int:
    return MAX_FILE_BYTES.read()


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n % MiB == 0 else f"{n:,}-byte"


# -- reading --------------------------------------------------------------------------------


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(number, bytes) of each line of a file, without its line break; a line over the limit is an error."""
    limit = max_line_bytes()
    try:
        with path.open("rb") as fh:
            number = 0
            while raw := fh.readline(limit + 1):
                number += 1
                if len(raw) > limit and not raw.endswith(b"\n"):
                    raise MmsError(f"line {number} of {path} is {_measure(fh, len(raw)):,} bytes, over the "
                                   f"{_size(limit)} limit for one line: shorten or split it, or raise the limit "
                                   f"with {LINE_LIMIT_ENV}=<bytes>")
                yield number, raw.removesuffix(b"\n").removesuffix(b"\r")
    except OSError as exc:
        raise MmsError(f"cannot read {path}: {exc.strerror or exc}") from None


def _measure(fh, start: int) -> int:
    """The length of the rest of a line (its break excluded), read a chunk at a time."""
    size = start
    while chunk := fh.readline(_CHUNK):
        if chunk.endswith(b"\n"):
            return size + len(chunk) - 1 - chunk.endswith(b"\r\n")
        size += len(chunk)
    return size


def read_text(path: Path, what: str) -> str:
    """The whole of a small UTF-8 text file (`what` names it in errors: "spec file"), within the file limit."""
    limit = max_file_bytes()
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise MmsError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        told = f"{size:,} bytes" if size > limit else f"more than {limit:,} bytes"
        raise MmsError(f"{what} {path} is {told}, over the {_size(limit)} limit for one file: "
                       f"raise the limit with {FILE_LIMIT_ENV}=<bytes> if it is meant to be this big")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise MmsError(f"{what} {path} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}, "
                       f"line {line}): save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as text mode reads it


# -- values ---------------------------------------------------------------------------------


def check_value(value: Any) -> None:
    """Refuse nesting deeper than MAX_NESTING and strings that are not Unicode text (lone surrogates)."""
    stack, seen = [(value, 1)], set()
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if found := _SURROGATE.search(item):
                raise _LoneSurrogate(found.group())
        elif isinstance(item, (list, dict)):
            if depth > MAX_NESTING:
                raise _TooDeep()
            if id(item) not in seen:  # a value shared by YAML aliases is checked once
                seen.add(id(item))
                children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
                stack.extend((child, depth + 1) for child in children)


def json_value(text: str) -> Any:
    """A JSON text as a checked value; Unreadable says what is wrong."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if exc.lineno == 1 else f"line {exc.lineno}, column {exc.colno}"
        raise Unreadable(f"not valid JSON: {exc.msg} at {at}") from None
    except RecursionError:
        raise _TooDeep() from None
    except ValueError:
        raise _LongNumber() from None
    check_value(value)
    return value


# -- whole documents ------------------------------------------------------------------------


def load_json(path: Path, what: str) -> Any:
    text = read_text(path, what)
    try:
        return json_value(text)
    except Unreadable as exc:
        raise MmsError(f"{what} {_where(path, text, exc)}: {exc}") from None


def load_toml(path: Path, what: str) -> dict[str, Any]:
    return toml_document(read_text(path, what), path, what)


def toml_document(text: str, path: Path | str, what: str) -> dict[str, Any]:
    """A TOML text checked with the nesting and Unicode limits; `path` and `what` name it in errors."""
    try:
        data = tomllib.loads(text)
        check_value(data)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise MmsError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:
        problem = _TooDeep()
    except Unreadable as exc:
        problem = exc
    except ValueError:
        problem = _LongNumber()
    raise MmsError(f"{what} {_where(path, text, problem, toml=True)}: {problem}")


def load_yaml(path: Path, what: str) -> Any:
    """A YAML document (None when empty), composed with the nesting and alias limits."""
    return yaml_document(read_text(path, what), path, what)


def yaml_document(text: str, path: Path | str, what: str) -> Any:
    """A YAML text composed with the nesting and alias limits; `path` and `what` name it in errors."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else loader.construct_document(node)
    except _Refused as exc:
        raise MmsError(f"{what} {path}:{exc.line}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise MmsError(f"{path} is not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    finally:
        loader.dispose()


def _where(path: Path | str, text: str, problem: Unreadable, toml: bool = False) -> str:
    """`path:line` where the problem is first found in the text, or the path alone."""
    if isinstance(problem, _TooDeep):
        line = _deep_line(text, toml)
    elif isinstance(problem, _LongNumber):
        line = _first_line(text, re.compile(rf"[0-9][0-9_]{{{sys.get_int_max_str_digits()},}}"))
    else:
        line = _first_line(text, _LONE_ESCAPE)
    return f"{path}:{line}" if line else str(path)


_LONE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*(?:\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2})",
                          re.IGNORECASE)  # a \uD800-\uDFFF escape not in a pair (and not itself escaped)
_TOKEN = re.compile(r"[\[\]{}\"'#]")
_STRING_END = {'"': re.compile(r'(?:[^"\\\n]|\\.)*"'), "'": re.compile(r"[^'\n]*'"),
               '"""': re.compile(r'(?:[^\\]|\\.)*?"""', re.DOTALL), "'''": re.compile(r".*?'''", re.DOTALL)}


def _first_line(text: str, pattern: re.Pattern) -> int | None:
    found = pattern.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _deep_line(text: str, toml: bool) -> int | None:
    """The line where brackets first nest deeper than MAX_NESTING, strings (and TOML comments) skipped."""
    depth, pos = int(toml), 0  # a TOML document is a table without brackets
    while found := _TOKEN.search(text, pos):
        char, pos = found.group(), found.end()
        if char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return text.count("\n", 0, found.start()) + 1
        elif char in "]}":
            depth = max(depth - 1, 0)
        elif char == "#" and toml:
            pos = text.find("\n", pos) + 1 or len(text)
        elif char == '"' or (char == "'" and toml):
            quote = char * 3 if toml and text.startswith(char * 3, found.start()) else char
            end = _STRING_END[quote].match(text, found.start() + len(quote))
            if end is None:
                return None
            pos = end.end()
    return None


class _Refused(Exception):
    def __init__(self, mark, problem: str):
        super().__init__(problem)
        self.line, self.problem = mark.line + 1, problem


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, composing with a nesting limit and counting what aliases expand to.

    Aliases share one node, so a "billion laughs" file is small to compose but expands to
    billions of values in anything that walks it (a repr, a str, a copy): each node's expanded
    size is known when it is composed, and an alias that takes the values aliases add past
    MAX_ALIAS_VALUES is refused there. A large file without aliases is bounded by its bytes.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._aliased = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) → (values once expanded, nesting)

    def compose_node(self, parent, index):
        mark = self.peek_event().start_mark
        alias = self.check_event(yaml.AliasEvent)
        self._depth += 1
        try:
            if self._depth > MAX_NESTING and not self.check_event(yaml.ScalarEvent, yaml.AliasEvent):
                raise _Refused(mark, str(_TooDeep()))
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if alias:
            if id(node) not in self._sizes:
                raise _Refused(mark, "an alias inside the value it names (a value that contains itself)")
            size, nesting = self._sizes[id(node)]
            if self._depth + nesting > MAX_NESTING:
                raise _Refused(mark, str(_TooDeep()))
            self._aliased += size
            if self._aliased > MAX_ALIAS_VALUES:
                raise _Refused(mark, f"its aliases expand to more than {MAX_ALIAS_VALUES:,} values (aliases of "
                                     "aliases, as in a 'billion laughs' file): write the values out")
            return node
        if isinstance(node, yaml.ScalarNode):
            if found := _SURROGATE.search(node.value):
                raise _Refused(mark, str(_LoneSurrogate(found.group())))
            self._sizes[id(node)] = (1, 0)
            return node
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
        sizes = [self._sizes[id(c)] for c in children]
        self._sizes[id(node)] = (1 + sum(s for s, _ in sizes), 1 + max((n for _, n in sizes), default=0))
        return node

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except ValueError as exc:  # a date that is no date, an integer too long for int()
            value = brief(node.value) if isinstance(node, yaml.ScalarNode) else "a value"
            raise _Refused(node.start_mark, f"{value} cannot be read: {str(exc).split(';')[0]}") from None
