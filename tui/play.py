"""Games played inside the terminal UI: the run the UI's worker drives, and its outcome so far."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agents.human import HumanPlayer
from agents.registry import Registry
from game.runner import GameRunner, GameSetup
from game.store import Store


@dataclass
class PlaySession:
    """A run of games already planned and recorded in the store, waiting to be played."""

    store: Store
    run_id: str
    setups: Sequence[GameSetup]
    concurrency: int = 4
    registry: Registry = field(default_factory=Registry)
    human: HumanPlayer | None = None  # the person's seat, when the user is `human`
    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return len(self.outcomes) == len(self.setups)

    async def run(self, on_done: Callable[[GameSetup, str], None] | None = None) -> dict[str, str]:
        """Play every game; outcomes are kept as they come, so a stopped run keeps what it played."""

        def done(setup: GameSetup, outcome: str) -> None:
            self.outcomes[setup.key] = outcome
            if on_done is not None:
                on_done(setup, outcome)

        try:
            await GameRunner(self.store, self.registry, self.concurrency, human=self.human).run(self.run_id, self.setups, on_done=done)
        finally:
            await self.registry.aclose()
        return self.outcomes


def human_session(store: Store, run_id: str, setup: GameSetup, registry: Registry | None = None) -> PlaySession:
    """A one-game session with a person in the user's seat."""
    return PlaySession(store, run_id, [setup], 1, registry or Registry(), human=HumanPlayer())
