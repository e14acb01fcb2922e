"""`describe_word`: define your word, dictionary style, without naming it; a guesser names it.

Any mention of the codeword that slips into the definition is blanked out before the guesser
reads it. Score: the guesser's word has the codeword's lemma (the referee's guess rule).
"""

from __future__ import annotations

from ..battery import Context, Item, questions
from ..scoring import guessed_items


class DescribeWord:
    name = "describe_word"
    metrics = {"describe_word": "a guesser names the codeword from the model's definition"}
    max_tokens = 96

    async def run(self, ctx: Context) -> list[Item]:
        return await guessed_items(ctx, self.name, questions()[self.name]["guesser"], self.max_tokens)
