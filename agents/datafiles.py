"""Package data files (prompts, word lists, tables, TOML and YAML), read by one set of rules.

Every package keeps its prompts and word lists as data files beside its code (DESIGN §2); they
are all read here, so a comment or an escape means the same in each:

- `text`: the whole file, surrounding whitespace removed (a prompt template);
- `lines`: one entry a line, surrounding whitespace removed; blank lines and lines whose first
  non-blank character is `#` are skipped; the two characters `\\n` in an entry are a line break;
- `table`: `lines` whose first two space-separated fields are a key and its value (the rest
  of the line is a note);
- `toml`, `yaml`: a document, with the nesting, alias and Unicode limits of a user's file
  (agents/user_files.py), so a data file can never be what a user's file may not.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from .user_files import toml_document, yaml_document

COMMENT = "#"
LINE_BREAK = "\\n"


def _read(package: str, name: str) -> str:
    return resources.files(package).joinpath("data", name).read_text(encoding="utf-8")


def exists(package: str, name: str) -> bool:
    return resources.files(package).joinpath("data", name).is_file()


def text(package: str, name: str) -> str:
    """`<package>/data/<name>` as one text, stripped."""
    return _read(package, name).strip()


def lines(package: str, name: str) -> tuple[str, ...]:
    """The entries of a list file: blank lines and `#` comments skipped, `\\n` a line break."""
    entries = (line.strip() for line in _read(package, name).splitlines())
    return tuple(entry.replace(LINE_BREAK, "\n") for entry in entries if entry and not entry.startswith(COMMENT))


def table(package: str, name: str) -> dict[str, str]:
    """Key → value of a file of `key value [note]` lines."""
    return dict(line.split(" ", 2)[:2] for line in lines(package, name))


def toml(package: str, name: str) -> dict[str, Any]:
    return toml_document(_read(package, name), f"{package}/data/{name}", "data file")


def yaml(package: str, name: str) -> Any:
    return yaml_document(_read(package, name), f"{package}/data/{name}", "data file")
