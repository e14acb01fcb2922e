"""Plan games and play them concurrently through the game graph.

One backend instance per model spec is shared by all games (the registry), so in-process
models can batch the requests of concurrent games.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

from agents import prompts
from agents.players import Manipulator, Sampling, SimulatedUser
from agents.registry import Registry

from .graph import build_game_graph
from .referee import Referee
from .rules import GameSettings, Outcome
from .state import GameContext
from .store import Store


@dataclass(frozen=True)
class GameSetup:
    """Everything that defines one game; the same setup and seed replay the same game."""

    key: str
    settings: GameSettings
    manipulator: str
    user: str
    seed: int
    topic: str
    seed_word: str
    persona: str = "friendly"
    tier: str | None = None
    manipulator_label: str | None = None
    shard: str | None = None

    def row(self) -> dict:
        s = self.settings
        return {
            "game_key": self.key,
            "codeword": s.codeword,
            "manipulator": self.manipulator,
            "user": self.user,
            "persona": self.persona,
            "topic": self.topic,
            "seed_word": self.seed_word,
            "rule": s.rule,
            "messages_per_player": s.messages_per_player,
            "stop_on_mention": int(s.stop_on_mention),
            "settings": s.as_dict(),
            "seed": self.seed,
            "tier": self.tier,
            "manipulator_label": self.manipulator_label or self.manipulator,
            "manipulator_prompt": s.manipulator_prompt,
            "shard": self.shard,
        }


def plan_games(
    settings: GameSettings, manipulator: str, user: str, games: int, seed: int, persona: str = "friendly"
) -> list[GameSetup]:
    """Draw each game's seed, topic and seed word from the run seed, reproducibly."""
    rng = random.Random(seed)
    topics, words = prompts.topics(), prompts.seed_words()
    setups = []
    for i in range(games):
        game_seed = rng.randrange(2**31)
        pick = random.Random(game_seed)
        setups.append(
            GameSetup(
                key=f"g{i:05d}",
                settings=settings,
                manipulator=manipulator,
                user=user,
                seed=game_seed,
                topic=pick.choice(topics),
                seed_word=pick.choice(words),
                persona=persona,
            )
        )
    return setups


ProgressCallback = Callable[[GameSetup, str], None]


class GameRunner:
    def __init__(self, store: Store, registry: Registry, concurrency: int = 4):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.registry = registry
        self.concurrency = concurrency

    async def run(
        self, run_id: str, setups: list[GameSetup], on_done: ProgressCallback | None = None
    ) -> dict[str, str]:
        """Play every setup; return game key → outcome. A failing game never stops the others."""
        gate = asyncio.Semaphore(self.concurrency)
        outcomes: dict[str, str] = {}

        async def one(setup: GameSetup) -> None:
            async with gate:
                outcome = await self.play(run_id, setup)
            outcomes[setup.key] = outcome
            if on_done:
                on_done(setup, outcome)

        await asyncio.gather(*(one(s) for s in setups))
        return outcomes

    async def play(self, run_id: str, setup: GameSetup) -> str:
        game_id = self.store.create_game(run_id, setup.row())
        try:
            context = self._context(game_id, setup)
            s = setup.settings
            final = await build_game_graph().ainvoke(
                {
                    "messages": [],
                    "messages_per_player": s.messages_per_player,
                    "stop_on_mention": s.stop_on_mention,
                },
                context=context,
                config={"recursion_limit": 8 * s.messages_per_player + 16},
            )
            return final["outcome"]
        except Exception as exc:  # a bug or a setup failure: this game is an error, the run goes on
            reason = f"{type(exc).__name__}: {exc}"
            self.store.finish_game(game_id, outcome=Outcome.ERROR.value, guess=None, error=reason)
            return Outcome.ERROR.value

    def _context(self, game_id: int, setup: GameSetup) -> GameContext:
        s = setup.settings
        conversation = f"game-{game_id}"
        manipulator = Manipulator(
            self.registry.get(setup.manipulator),
            s.codeword,
            Sampling(s.manipulator_max_tokens, s.temperature, s.top_p, setup.seed),
            prompt=s.manipulator_prompt,
            conversation=conversation,
        )
        user = SimulatedUser(
            self.registry.get(setup.user),
            Sampling(s.user_max_tokens, s.temperature, s.top_p, setup.seed + 1),
            topic=setup.topic,
            seed_word=setup.seed_word,
            persona=setup.persona,
            conversation=conversation,
            guess_max_tokens=s.guess_max_tokens,
        )
        return GameContext(game_id, manipulator, user, _referee(s.codeword, s.rule), self.store)


@functools.cache
def _referee(codeword: str, rule: str) -> Referee:
    return Referee(codeword, rule)
