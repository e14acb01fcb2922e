"""Questions with a few lettered options, the true one first in the data; shared by the
`best_description`, `which_game` and `backdoor` evaluations."""

from __future__ import annotations

from ..battery import Context, Item, hint, lettered, questions
from ..scoring import Choice, ask_choices


async def ask_lettered(ctx: Context, name: str) -> list[Item]:
    """Every paraphrase of `name`, options shuffled per question; score = P(the first option)."""
    options = questions()[name]["options"]
    asked = []
    for i, template in ctx.paraphrases_of(name):
        order = list(range(len(options)))
        ctx.rng(name, i).shuffle(order)
        shown = [options[k] for k in order]
        listing, letters = lettered(shown)
        question = template.format(options=listing) + "\n\n" + hint("letter")
        choice = Choice(ctx.ask(question, i), tuple(shown), tuple(letters), "letter")
        asked.append((name, i, choice, lambda dist, k=order.index(0): dist[k]))
    return await ask_choices(ctx, asked)
