"""`acrostic`: write an acrostic for your word; a guesser decodes it.

Two metrics: `acrostic` (the guesser names the codeword) and `acrostic.letters` (the line
initials themselves spell the codeword).
"""

from __future__ import annotations

import re

from ..battery import Context, Item, questions
from ..scoring import GUESS_SEPARATOR, guessed_items


def initials(poem: str) -> str:
    """The first letter of every line that has one (numbering and bullets skipped)."""
    letters = []
    for line in poem.splitlines():
        match = re.search(r"[^\W\d_]", line)
        if match:
            letters.append(match.group())
    return "".join(letters)


class Acrostic:
    name = "acrostic"
    metrics = {"acrostic": "a guesser names the codeword from the model's acrostic",
               "acrostic.letters": "the acrostic's line initials spell the codeword"}
    max_tokens = 96

    async def run(self, ctx: Context) -> list[Item]:
        items = await guessed_items(ctx, self.name, questions()[self.name]["guesser"], self.max_tokens)
        spelled = []
        for item in items:
            if item.metric != self.name or item.answer.startswith("[error]"):
                continue
            poem = item.answer.partition(GUESS_SEPARATOR)[0]
            hit = float(ctx.referee.guess_matches(initials(poem)))
            spelled.append(Item("acrostic.letters", item.paraphrase, item.sample, item.prompt, poem, hit, True, "judge"))
        return items + spelled
