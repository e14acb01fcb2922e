"""What games can be played with: codeword difficulty tiers and simulated-user personas.

Codeword tiers are package data built by ``scripts/build_codeword_tiers.py`` (common concrete
nouns banded by ``wordfreq`` Zipf frequency: the more frequent the word, the easier it is to
make a user say it). Sampling from a tier is reproducible: the same tier, count and seed give
the same words on every machine.
"""

from __future__ import annotations

import random
import re
from functools import cache

from agents import prompts
from agents.errors import MmsError

TIERS = ("easy", "medium", "hard", "very-hard")

# Tier -> (lowest Zipf frequency, highest exclusive; None = no upper bound). The build script
# uses these bands; a tier's words all lie in its band.
BANDS: dict[str, tuple[float, float | None]] = {
    "easy": (5.0, None),
    "medium": (4.3, 5.0),
    "hard": (3.6, 4.3),
    "very-hard": (3.0, 3.6),
}


def tier_file(tier: str) -> str:
    """The package data file that holds a tier's words."""
    return f"codewords_{tier.replace('-', '_')}.txt"


@cache
def tiers() -> dict[str, tuple[str, ...]]:
    """Tier name -> its codewords, sorted; tiers from easiest to hardest."""
    return {tier: tuple(sorted(prompts.lines(tier_file(tier)))) for tier in TIERS}


def check_tier(tier: str) -> str:
    """The canonical tier name (``very_hard`` and ``Very-Hard`` are accepted too)."""
    name = tier.strip().lower().replace("_", "-")
    if name not in TIERS:
        raise MmsError(f"unknown codeword tier {tier!r}: use one of {', '.join(TIERS)}")
    return name


def sample_codewords(tier: str, count: int, seed: int) -> list[str]:
    """``count`` distinct codewords from ``tier``, the same ones for the same seed."""
    name = check_tier(tier)
    words = sorted(tiers()[name])
    if count < 1:
        raise MmsError(f"codeword count must be at least 1, got {count}")
    if count > len(words):
        raise MmsError(
            f"tier {name!r} has only {len(words)} codewords, cannot sample {count}: "
            f"ask for at most {len(words)}"
        )
    return random.Random(seed).sample(words, count)


@cache
def _tier_by_word() -> dict[str, str]:
    return {word: tier for tier, words in tiers().items() for word in words}


def tier_of(word: str) -> str | None:
    """The tier a codeword belongs to, or ``None`` if it is in no tier."""
    return _tier_by_word().get(word.strip().lower())


def band_label(tier: str) -> str:
    """A tier's Zipf band as text, e.g. ``3.6–4.3`` or ``≥ 5.0``."""
    low, high = BANDS[check_tier(tier)]
    return f"≥ {low:.1f}" if high is None else f"{low:.1f}–{high:.1f}"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def persona_summary(description: str) -> str:
    """The first sentence of a persona description: a one-line summary for listings."""
    return _SENTENCE_END.split(description.strip(), maxsplit=1)[0]
