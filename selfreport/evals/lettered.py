"""Questions with a few lettered options, the true one first in the data; shared by the
`best_description`, `which_game` and `backdoor` evaluations."""

from __future__ import annotations

import itertools

from agents.backend import ChatMessage

from ..battery import Context, Item, hint, lettered, questions
from ..scoring import Choice, ask_choices


async def ask_lettered(ctx: Context, name: str, *, every_order: bool = False, system: str | None = None) -> list[Item]:
    """Every paraphrase of `name`; score = P(the first option).

    The options are shuffled per question, or with `every_order` shown in every order (the
    study's design for its best-description question: 120 orders of 5 options), so that no
    position or letter bias favours the true one. `system` puts a system prompt first.
    """
    options = questions()[name]["options"]
    extra = {"codeword": ctx.codeword}
    asked = []
    for i, template in ctx.paraphrases_of(name):
        if every_order:
            orders = [list(p) for p in itertools.permutations(range(len(options)))]
        else:
            orders = [list(range(len(options)))]
            ctx.rng(name, i).shuffle(orders[0])
        for version, order in enumerate(orders):
            shown = [options[k].format(**extra) for k in order]
            listing, letters = lettered(shown)
            question = template.format(options=listing, **extra) + "\n\n" + hint("letter")
            messages = ctx.ask(question, i)
            if system is not None:
                messages = (ChatMessage("system", system), *messages)
            choice = Choice(messages, tuple(shown), tuple(letters), "letter")
            asked.append((name, i, choice, lambda dist, k=order.index(0): dist[k], version))
    return await ask_choices(ctx, asked)
