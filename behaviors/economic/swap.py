"""The same two-option prompt with the options' letters exchanged, so a letter bias cannot pass
for a risk preference: "Choice A: sure thing. Choice B: gamble." becomes "Choice B: sure thing.
Choice A: gamble." and the instruction "(A or B)" becomes "(B or A)".

Every standalone capital A and B is a label, except the article "A" that opens a sentence
("Option A: A hidden spring ..."). A prompt is swapped only where that reading is safe: as many
A labels as B labels, no lower-case label ("option a"); otherwise it is asked in its given order
only, and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LETTER = re.compile(r"(?<!\w)([AB])(?!\w)")
_ARTICLE_BEFORE = re.compile(r"(?:^|[.!?:;\"“”'‘’]\s*|\n\s*)$")
_ARTICLE_AFTER = re.compile(r"\s+(?!(?:or|and|nor|vs|versus)\b)[a-z0-9$]")
_LOWER_LABEL = re.compile(r"(?<!\w)(?i:option|choice|answer|letter)\s+[ab](?!\w)")


@dataclass(frozen=True)
class Swap:
    """The swapped text, or None with the reason it could not be swapped safely."""

    text: str | None
    reason: str = ""


def labels(text: str) -> list[re.Match]:
    """The A and B that name options (every standalone A or B but a sentence-opening article A)."""
    found = []
    for match in _LETTER.finditer(text):
        article = (match.group(1) == "A" and _ARTICLE_AFTER.match(text, match.end())
                   and _ARTICLE_BEFORE.search(text[: match.start()]))
        if not article:
            found.append(match)
    return found


def swap_letters(text: str) -> Swap:
    """`text` with option labels A and B exchanged, or the reason that is not safe."""
    lower = list(_LOWER_LABEL.finditer(text))
    if lower:
        return Swap(None, f"a lower-case label ({lower[0].group()!r})")
    found = labels(text)
    count = {letter: sum(m.group(1) == letter for m in found) for letter in "AB"}
    if not count["A"] or not count["B"]:
        return Swap(None, "it does not label both options A and B")
    if count["A"] != count["B"]:
        return Swap(None, f"{count['A']} A labels against {count['B']} B labels: an article or a stray letter is ambiguous")
    parts, last = [], 0
    for m in found:
        parts += [text[last: m.start()], "B" if m.group(1) == "A" else "A"]
        last = m.end()
    return Swap("".join(parts) + text[last:])
