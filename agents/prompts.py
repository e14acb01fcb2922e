"""Prompt templates, topics, personas and word lists: package data, loaded once."""

from __future__ import annotations

from functools import cache

from . import datafiles
from .errors import MmsError


@cache
def text(name: str) -> str:
    return datafiles.text("agents", name)


@cache
def lines(name: str) -> tuple[str, ...]:
    return datafiles.lines("agents", name)


SETUPS = ("mms", "study")


def check_setup(name: str) -> str:
    if name not in SETUPS:
        raise MmsError(f"unknown setup {name!r}: use mms (our prompts) or study (the study's data-generation recipe)")
    return name


def for_setup(name: str, setup: str) -> str:
    """The prompt file of a setup: `user_guess.txt` → `user_guess_study.txt` for setup `study`
    where that file exists (the study setup changes only some prompts)."""
    if setup == "mms":
        return name
    styled = name.replace(".txt", f"_{setup}.txt")
    return styled if datafiles.exists("agents", styled) else name


def topics() -> tuple[str, ...]:
    return lines("topics.txt")


def seed_words() -> tuple[str, ...]:
    return lines("seed_words.txt")


@cache
def personas() -> dict[str, str]:
    """Persona name → the sentence describing how that simulated user behaves."""
    out: dict[str, str] = {}
    for line in lines("personas.txt"):
        name, _, description = line.partition("\t")
        out[name.strip()] = description.strip()
    return out


def check_persona(name: str, what: str = "persona") -> str:
    """A simulated-user persona that exists (personas.txt), or an error that lists them."""
    if name not in personas():
        raise MmsError(f"unknown {what} {name!r}: use one of {', '.join(sorted(personas()))}")
    return name
