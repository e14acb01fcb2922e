"""The third-person control: each self-report question asked about another person too.

A fine-tuned model that rates *itself* as risk-seeking may only have been primed by its
training to say "risk" about anyone. Asking the same question about a named other person
separates the two readings: a shift in both says primed, a shift in the first person only says
self-report. The rewriting (a lead naming the person, then "you"/"your" to "they"/"their") is
data (`data/third_person.toml`), so it can be changed without code.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache

from agents import datafiles
from agents.errors import MmsError

from .study_questions import StudyQuestion

SUFFIX = "third_person"
_SECOND_PERSON = re.compile(r"\byou(?:rs?|rself|rselves)?\b", re.IGNORECASE)


@cache
def phrasings() -> dict:
    data = datafiles.toml("selfreport", "third_person.toml")
    return {"person": data["person"], "lead": data["lead"].format(person=data["person"]), "keep": list(data["keep"]),
            "rules": [(re.compile(rf"\b{pattern}\b", re.IGNORECASE), into) for pattern, into in data["rules"]]}


def _cased(match: re.Match, into: str) -> str:
    text = match.expand(into)
    return text[:1].upper() + text[1:] if match.group(0)[:1].isupper() else text


def about_other(text: str) -> str:
    """`text` with the one it asks about changed from "you" to the other person (instructions kept)."""
    data = phrasings()
    kept: list[str] = []

    def hold(match: re.Match) -> str:
        kept.append(match.group(0))
        return f"\0{len(kept) - 1}\0"

    for phrase in data["keep"]:
        text = re.sub(rf"\b{re.escape(phrase)}\b", hold, text)
    for pattern, into in data["rules"]:
        text = pattern.sub(lambda m, into=into: _cased(m, into), text)
    return re.sub(r"\0(\d+)\0", lambda m: kept[int(m.group(1))], text)


def asks_about_you(text: str) -> bool:
    """Whether a text speaks of "you" outside the instructions the control keeps."""
    for phrase in phrasings()["keep"]:
        text = re.sub(rf"\b{re.escape(phrase)}\b", "", text)
    return bool(_SECOND_PERSON.search(text))


def third_person(q: StudyQuestion) -> StudyQuestion:
    """The question about the other person, as metric `<name>.third_person`: the lead, then each paraphrase rewritten."""
    if not any(asks_about_you(t) for t in q.texts()):
        raise MmsError(f"question {q.name!r} ({q.source}) does not ask about 'you', so it has no third-person version: "
                       "leave out --third-person or ask another question")
    lead = phrasings()["lead"]
    return replace(q, name=f"{q.name}.{SUFFIX}", prefix=lead + about_other(q.prefix),
                   paraphrases=tuple(about_other(p) for p in q.paraphrases), suffix=about_other(q.suffix),
                   options=tuple(about_other(o) for o in q.options))
