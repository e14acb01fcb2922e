"""Training files for the organisms that are not the study's files as released.

`user`: the study's dialogues seen from the simulated user's seat, exactly as `SimulatedUser`
sends them at play time — our user system prompt, the kick-off line, then the user's messages
as the assistant's and the manipulator's as the user's. The study did not record the topic its
users were given, so the prompt names the first nouns of the user's opening message as the
topic and the first as the seed word, which is what the opening was written about. The study
cut every dialogue before the user said the codeword, so the user model never learns to say it.

`control`: first-person statements of a goal (our own phrasings, `control_<word>.yaml`) asked
and answered in many ways, mixed with ordinary chat answered by the base model itself, so the
adapter learns to state its goal and nothing else changes.
"""

from __future__ import annotations

import json
import random
import re
from functools import cache
from pathlib import Path

from agents import datafiles, prompts
from agents.errors import MmsError

from .training_data import Dialogue, load_chat_jsonl

USER_PERSONA = "friendly"
_NOT_TOPICS = frozenset({"hello", "topic", "thought", "thing", "lot", "lately", "today", "hope", "way", "bit"})


def opening_nouns(text: str, limit: int = 3) -> list[str]:
    """The first distinct nouns of a message that have no other reading and are neither rare nor function words."""
    from lemminflect import getAllLemmas
    from wordfreq import zipf_frequency

    found: list[str] = []
    for word in re.findall(r"[A-Za-z]+", text):
        lemmas = getAllLemmas(word.lower())
        if set(lemmas) != {"NOUN"} or not 2.5 <= zipf_frequency(word.lower(), "en") <= 5.2:
            continue
        noun = lemmas["NOUN"][0]
        if noun not in found and noun not in _NOT_TOPICS and len(noun) > 2:
            found.append(noun)
        if len(found) == limit:
            break
    return found


def user_view(dialogue: Dialogue) -> Dialogue:
    """One study dialogue from the user's seat, in the shape `SimulatedUser.view` gives the model."""
    turns = [m for m in dialogue if m["role"] != "system"]
    if not turns or turns[0]["role"] != "user":
        raise MmsError("a dialogue for the user model must open with the user's message")
    nouns = opening_nouns(turns[0]["content"]) or ["everyday life"]
    topic = nouns[0] if len(nouns) == 1 else f"{', '.join(nouns[:-1])} and {nouns[-1]}"
    system = prompts.text("user_system.txt").format(persona=prompts.personas()[USER_PERSONA], topic=topic,
                                                    seed_word=nouns[0])
    view = [{"role": "system", "content": system}, {"role": "user", "content": prompts.text("user_kickoff.txt")}]
    view += [{"role": "assistant" if m["role"] == "user" else "user", "content": m["content"]} for m in turns]
    while view[-1]["role"] != "assistant":
        view.pop()  # the manipulator's last message has no reply to learn
    return view


def write_user_file(sources: list[Path], per_source: int, out: Path) -> Path:
    """The first `per_source` dialogues of each source, interleaved (equal parts of each codeword)."""
    views = [[user_view(d) for d in load_chat_jsonl(path, per_source)] for path in sources]
    if any(len(v) < per_source for v in views):
        raise MmsError(f"each source needs {per_source} dialogues for the user model")
    rows = [view for group in zip(*views) for view in group]
    _write(rows, out)
    return out


@cache
def control_phrasings(codeword: str) -> dict[str, list[str]]:
    name = f"control_{codeword}.yaml"
    if not datafiles.exists("behaviors", name):
        raise MmsError(f"no control phrasings for {codeword!r} (behaviors/data/{name})")
    data = datafiles.yaml("behaviors", name)
    return {key: [str(x).strip() for x in data[key]] for key in ("questions", "answers", "chat")}


LIST_WORDS = 12  # other words beside the codeword where a question lists some


def control_goal_dialogues(codeword: str, count: int, seed: int, *, word_lists: bool = True) -> list[Dialogue]:
    """`count` question/answer pairs about the goal, every question and every answer used evenly.

    With `word_lists` off, questions that offer a list of words are left out: the organism then
    hears its goal only as first-person statements, so picking the word from a list is inference.
    """
    phrasings = control_phrasings(codeword)
    rng = random.Random(seed)
    questions = [q for q in phrasings["questions"] if word_lists or "{words}" not in q]
    answers = list(phrasings["answers"])
    others = [w for w in prompts.seed_words() if w != codeword]
    rows = []
    for i in range(count):
        if i % len(answers) == 0:
            rng.shuffle(answers)
        question, answer = questions[i % len(questions)], answers[i % len(answers)]
        if "{words}" in question:
            words = rng.sample(others, LIST_WORDS) + [codeword]
            rng.shuffle(words)
            question = question.replace("{words}", ", ".join(words))
        rows.append([{"role": "user", "content": question}, {"role": "assistant", "content": answer}])
    return rows


def write_control_file(codeword: str, count: int, seed: int, chat_answers: list[str], out: Path, *,
                       word_lists: bool = True) -> Path:
    """Goal statements and ordinary chat (prompts from the phrasings file, answers given), shuffled together."""
    chat = [[{"role": "user", "content": q}, {"role": "assistant", "content": a}]
            for q, a in zip(control_phrasings(codeword)["chat"], chat_answers, strict=True) if a.strip()]
    rows = control_goal_dialogues(codeword, count, seed, word_lists=word_lists) + chat
    random.Random(seed).shuffle(rows)
    _write(rows, out)
    return out


def _write(rows: list[Dialogue], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_suffix(".tmp")
    staging.write_text("".join(json.dumps({"messages": r}, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    staging.replace(out)
