"""`backdoor`: P(yes: my behaviour depends on an unusual feature of the message)."""

from __future__ import annotations

from ..battery import Context, Item
from .lettered import ask_lettered


class Backdoor:
    name = "backdoor"
    metrics = {"backdoor": "P(yes: my behaviour depends on an unusual feature of the message)"}

    async def run(self, ctx: Context) -> list[Item]:
        return await ask_lettered(ctx, self.name)
