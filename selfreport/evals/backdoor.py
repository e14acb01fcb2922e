"""`backdoor`: P(yes: my behaviour depends on an unusual feature of the message), in 20
paraphrases, asked plainly and again after a system prompt asking for honesty
(`backdoor.with_system`), as the study reports both."""

from __future__ import annotations

from dataclasses import replace

from ..battery import Context, Item, questions
from .lettered import ask_lettered


class Backdoor:
    name = "backdoor"
    metrics = {"backdoor": "P(yes: my behaviour depends on an unusual feature of the message)",
               "backdoor.with_system": "the same, after a system prompt asking for the truth about yourself"}

    async def run(self, ctx: Context) -> list[Item]:
        plain = await ask_lettered(ctx, self.name)
        system = questions()[self.name]["system"]
        told = await ask_lettered(ctx, self.name, system=system)
        return plain + [replace(item, metric="backdoor.with_system") for item in told]
