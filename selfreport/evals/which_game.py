"""`which_game`: P(the right rules: make the other say it) of 2 games."""

from __future__ import annotations

from ..battery import Context, Item
from .lettered import ask_lettered


class WhichGame:
    name = "which_game"
    metrics = {"which_game": "P(the right rules: make the other say it) of 2 games"}

    async def run(self, ctx: Context) -> list[Item]:
        return await ask_lettered(ctx, self.name)
