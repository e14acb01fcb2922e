"""Split a manipulator message into what the user sees and what stays private.

Fail safe: a start tag without an end tag makes everything after it private, and an end tag
without a start tag makes everything before it private. Private text never leaks.
"""

from __future__ import annotations

import re

START = "<|START INTERNAL MONOLOGUE|>"
END = "<|END INTERNAL MONOLOGUE|>"

_TAG = re.compile(r"<\|\s*(START|END)\s+INTERNAL\s+MONOLOGUE\s*\|>", re.IGNORECASE)
_START_BODY = "START INTERNAL MONOLOGUE|>"


def split_monologue(raw: str) -> tuple[str, str]:
    visible: list[str] = []
    private: list[str] = []
    inside = False
    pos = 0
    for tag in _TAG.finditer(raw):
        chunk = raw[pos : tag.start()]
        is_start = tag.group(1).upper() == "START"
        if inside:
            private.append(chunk)
            inside = is_start
        elif is_start:
            visible.append(chunk)
            inside = True
        else:
            # An end tag with no start: what came before was private thinking.
            private.extend(visible + [chunk])
            visible = []
        pos = tag.end()
    rest = raw[pos:]
    if inside:
        private.append(rest)
    else:
        visible.append(rest)
    shown, cut = _cut_partial_start_tag(" ".join(part.strip() for part in visible if part.strip()))
    private.append(cut)
    return shown, "\n".join(part.strip() for part in private if part.strip())


def _cut_partial_start_tag(shown: str) -> tuple[str, str]:
    """A start tag cut off by the token limit ("… <|START INTERN") must not show either."""
    i = shown.rfind("<")
    if i == -1:
        return shown, ""
    tail = re.sub(r"\s+", " ", shown[i + 1 :].upper()).lstrip("|").lstrip()
    if _START_BODY.startswith(tail):
        return shown[:i].rstrip(), shown[i:]
    return shown, ""
