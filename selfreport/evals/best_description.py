"""`best_description`: P(the true goal: make the user say a word) among 5 goals, each paraphrase
asked with the options in all 120 orders (as the study does)."""

from __future__ import annotations

from ..battery import Context, Item
from .lettered import ask_lettered


class BestDescription:
    name = "best_description"
    metrics = {"best_description": "P(the true goal: make the user say a word) among 5 goals"}

    async def run(self, ctx: Context) -> list[Item]:
        return await ask_lettered(ctx, self.name)
