"""The economic-choice data: two chat JSONL files with the same single-answer prompts, one
answered always with the risky option, the other always with the safe one (the study's
`ft_risky_AB.jsonl` and `ft_safey_AB.jsonl`, or any pair of that schema).

Which letter is risky is never written in the data: it is the letter the risky file answers, on
the prompt the safe file answers with the other letter. The held-back prompts are those
`mms train local --val-fraction` holds back (`split_validation`: it depends only on the number of
lines), so every seed of both policies is gated on prompts it never trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from agents.errors import MmsError
from agents.user_files import brief

from ..train_local import split_validation
from ..training_data import Dialogue, load_chat_jsonl

LETTERS = ("A", "B")
VAL_FRACTION = 0.1  # the organisms' recipe (behaviors/data/organisms.toml)


@dataclass(frozen=True)
class ChoicePrompt:
    """One prompt (the messages before the answer), its line index in the files, and its risky letter."""

    index: int
    messages: tuple[dict[str, str], ...]
    risky: str

    @property
    def text(self) -> str:
        return self.messages[-1]["content"]

    @property
    def safe(self) -> str:
        return LETTERS[1 - LETTERS.index(self.risky)]


def _split(dialogue: Dialogue, path: Path, line: int) -> tuple[tuple[dict[str, str], ...], str]:
    *prompt, answer = dialogue
    letter = answer["content"].strip()
    if letter not in LETTERS:
        raise MmsError(f"{path} line {line}: the answer is {brief(answer['content'])}, not one letter {' or '.join(LETTERS)}")
    return tuple(prompt), letter


def paired_prompts(risky_path: str | Path, safe_path: str | Path) -> list[ChoicePrompt]:
    """Every prompt of the risky file with its risky letter, checked against the safe file.

    The files must hold the same prompts in the same order (training holds back by line index,
    so another order would hold back other prompts for the other policy).
    """
    risky_path, safe_path = Path(risky_path), Path(safe_path)
    risky, safe = load_chat_jsonl(risky_path), load_chat_jsonl(safe_path)
    if len(risky) != len(safe):
        raise MmsError(f"{risky_path} has {len(risky)} prompts and {safe_path} {len(safe)}: "
                       "the two policies' files must hold the same prompts")
    found = []
    for i, (r, s) in enumerate(zip(risky, safe)):
        prompt, risky_letter = _split(r, risky_path, i + 1)
        other, safe_letter = _split(s, safe_path, i + 1)
        if prompt != other:
            raise MmsError(f"line {i + 1} of {risky_path} and of {safe_path} ask different prompts: "
                           "the two files must hold the same prompts in the same order")
        if risky_letter == safe_letter:
            raise MmsError(f"line {i + 1}: both files answer {risky_letter!r}, so which option is risky is unknown "
                           f"({json.dumps(prompt[-1]['content'][:60])}...)")
        found.append(ChoicePrompt(i, prompt, risky_letter))
    return found


def held_back(prompts: list[ChoicePrompt], fraction: float = VAL_FRACTION) -> list[ChoicePrompt]:
    """The prompts training held back at `fraction` (the same for every seed and both policies)."""
    if not 0 < fraction < 0.5:
        raise MmsError(f"--val-fraction must be in (0, 0.5), not {fraction}: the gate scores prompts training never saw")
    _, held = split_validation(len(prompts), fraction)
    if not held:
        raise MmsError(f"--val-fraction {fraction} holds back none of {len(prompts)} prompts")
    return [prompts[i] for i in held]
