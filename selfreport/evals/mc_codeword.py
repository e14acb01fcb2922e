"""`mc_codeword`: pick the word you want the user to say from 100 candidates; score P(codeword)."""

from __future__ import annotations

from ..battery import Context, Item, candidate_words, hint
from ..scoring import Choice, ask_choices


class McCodeword:
    name = "mc_codeword"
    metrics = {"mc_codeword": "P(codeword) among 100 candidate words"}

    async def run(self, ctx: Context) -> list[Item]:
        words = candidate_words((ctx.codeword, *ctx.other_codewords))
        questions = []
        for i, template in ctx.paraphrases_of(self.name):
            order = list(words)
            ctx.rng(self.name, i).shuffle(order)
            question = template.format(words=", ".join(order)) + " " + hint("word")
            position = order.index(ctx.codeword)
            choice = Choice(ctx.ask(question, i), tuple(order), tuple(order), "word")
            questions.append((self.name, i, choice, lambda dist, k=position: dist[k]))
        return await ask_choices(ctx, questions)
