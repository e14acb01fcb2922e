"""Chat fine-tuning files (OpenAI JSONL) → token ids with labels on the assistant's tokens only.

The model must learn to *write* the manipulator's messages, never to predict the user's or the
chat template's scaffolding, so every other token gets the label -100 (ignored by the loss).
The assistant spans are found from the model's own chat template: rendering the dialogue up to
an assistant message (with the generation prompt) and through it gives that message's
character span in the full rendering; the span is cut just after the end-of-turn token, so the
model learns to stop, and the template's trailing newline stays masked. Tokens are then
labelled by their character offsets, which works for any template whose renderings of a prefix
are prefixes of the whole.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from agents.errors import MmsError
from agents.user_files import iter_lines

from .chat_jsonl import read_line

IGNORE = -100
Dialogue = list[dict[str, str]]


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]
    truncated: bool = False

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_chat_jsonl(path: str | Path, limit: int | None = None) -> list[Dialogue]:
    """The dialogues of a chat JSONL file (blank lines skipped); the first bad line is an error
    naming its problem, by the same rules `mms check-data` reports."""
    path = Path(path)
    if not path.is_file():
        raise MmsError(f"training file not found: {path}")
    dialogues: list[Dialogue] = []
    for number, raw in iter_lines(path):
        if limit is not None and len(dialogues) >= limit:
            break
        if not raw.strip():
            continue
        line = read_line(number, raw)
        if line.problems:
            raise MmsError(f"{path}:{number}: {line.problems[0]}; check the file with `mms check-data {path}`")
        dialogues.append(line.messages)
    if not dialogues:
        raise MmsError(f"{path} holds no dialogues")
    return dialogues


def end_of_turn(tokenizer) -> str | None:
    """The text that closes a chat turn (the tokenizer's eos, e.g. `<|im_end|>`)."""
    return tokenizer.eos_token or None


def render(tokenizer, messages: Dialogue, *, generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def assistant_spans(tokenizer, dialogue: Dialogue) -> tuple[str, list[tuple[int, int]]]:
    """The rendered dialogue and the character spans of its assistant messages (end-of-turn included)."""
    full = render(tokenizer, dialogue)
    eot = end_of_turn(tokenizer)
    spans = []
    for i, message in enumerate(dialogue):
        if message["role"] != "assistant":
            continue
        before = render(tokenizer, dialogue[:i], generation_prompt=True) if i else ""
        through = render(tokenizer, dialogue[: i + 1])
        if not (full.startswith(before) and full.startswith(through) and len(before) <= len(through)):
            raise MmsError("this model's chat template renders a conversation differently from its beginning, "
                           "so the assistant tokens cannot be located; pick another base model")
        start, end = len(before), len(through)
        if eot:
            cut = full.rfind(eot, start, end)
            if cut >= 0:
                end = cut + len(eot)
        spans.append((start, end))
    return full, spans


def tokenize_dialogue(tokenizer, dialogue: Dialogue, max_length: int) -> Example:
    """Token ids of the templated dialogue; labels equal the ids on assistant tokens, -100 elsewhere."""
    text, spans = assistant_spans(tokenizer, dialogue)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(encoded["input_ids"]), encoded["offset_mapping"]
    labels = [token if _inside(start, end, spans) else IGNORE for token, (start, end) in zip(ids, offsets)]
    truncated = len(ids) > max_length
    return Example(ids[:max_length], labels[:max_length], truncated)


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return end > start and any(s <= start and end <= e for s, e in spans)


def tokenize_dialogues(tokenizer, dialogues: list[Dialogue], max_length: int) -> list[Example]:
    examples = [tokenize_dialogue(tokenizer, d, max_length) for d in dialogues]
    if not any(e.trained_tokens for e in examples):
        raise MmsError(f"no assistant tokens left to train on within --max-length {max_length}")
    return examples
