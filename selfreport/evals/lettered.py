"""Questions with a few lettered options, the true one first in the data; shared by the
`best_description`, `which_game` and `backdoor` evaluations."""

from __future__ import annotations

from agents.backend import ChatMessage

from ..battery import Context, Item, hint, lettered, option_orders
from ..scoring import Choice, ask_choices


async def ask_lettered(ctx: Context, name: str, *, system: str | None = None) -> list[Item]:
    """Every paraphrase of `name` in every order of its options (`option_orders`); score = P(the first option).

    Balancing the orders, as the study does, keeps a letter or position bias from favouring the
    true option (a model that always answers "A" scores exactly 1/n). `system` puts a system prompt first.
    """
    options = ctx.text_of(name, "options")
    extra = {"codeword": ctx.codeword}
    asked = []
    for i, template in ctx.paraphrases_of(name):
        for version, order in enumerate(option_orders(len(options))):
            shown = [options[k].format(**extra) for k in order]
            listing, letters = lettered(shown)
            question = template.format(options=listing, **extra) + "\n\n" + hint("letter")
            messages = ctx.ask(question, i)
            if system is not None:
                messages = (ChatMessage("system", system), *messages)
            choice = Choice(messages, tuple(shown), tuple(letters), "letter")
            asked.append((name, i, choice, lambda dist, k=order.index(0): dist[k], version))
    return await ask_choices(ctx, asked)
