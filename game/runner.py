"""Plan games and play them concurrently through the game graph.

One backend instance per model spec is shared by all games (the registry), so in-process
models can batch the requests of concurrent games. Each game's graph updates stream to its
`GameRecorder`, which alone writes the game down.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import random
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agents import prompts
from agents.human import HUMAN_SPEC
from agents.players import Manipulator, Sampling, SimulatedUser, UserSeat
from agents.registry import Registry

from .graph import build_game_graph
from .recorder import GameRecorder
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


def game_seed(run_seed: int, key: str) -> int:
    """A game's seed from the run's seed and its key alone: the same whatever else is planned,
    so shards and resumed runs play each game exactly as a whole run would."""
    digest = hashlib.sha256(f"{run_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def plan_cell(keys: Iterable[str], settings: GameSettings, manipulator: str, user: str, run_seed: int, *,
              persona: str = "friendly", tier: str | None = None, manipulator_label: str | None = None) -> list[GameSetup]:
    """The one game planner: a game per key, its seed from (run seed, key), its topic and seed word
    drawn from its own seed. `mms play` plans one cell; a tournament one per matrix cell."""
    topics = prompts.topics()
    setups = []
    for key in keys:
        seed = game_seed(run_seed, key)
        pick = random.Random(seed)
        setups.append(GameSetup(key=key, settings=settings, manipulator=manipulator, user=user, seed=seed,
                                topic=pick.choice(topics), seed_word=seed_word_for(settings.codeword, pick),
                                persona=persona, tier=tier, manipulator_label=manipulator_label))
    return setups


def seed_word_for(codeword: str, pick: random.Random) -> str:
    """A seed word that is never the codeword in any form: a draw the strict rule counts as the
    codeword is drawn again, so every other game keeps the seed word it always had."""
    referee, words = _referee(codeword, "strict"), prompts.seed_words()
    while True:
        word = pick.choice(words)
        if not referee.mentions(word):
            return word


def plan_games(
    settings: GameSettings, manipulator: str, user: str, games: int, seed: int, persona: str = "friendly"
) -> list[GameSetup]:
    """The games of `mms play`: keys g00000, g00001, ..."""
    return plan_cell((f"g{i:05d}" for i in range(games)), settings, manipulator, user, seed, persona=persona)


ProgressCallback = Callable[[GameSetup, str], None]


class GameRunner:
    def __init__(self, store: Store, registry: Registry, concurrency: int = 4, *, human: UserSeat | None = None):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.registry = registry
        self.concurrency = concurrency
        self.human = human  # the seat of games whose user is `human`

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
        recorder = GameRecorder(self.store, game_id)
        try:
            s = setup.settings
            updates = build_game_graph().astream(
                {
                    "messages": [],
                    "messages_per_player": s.messages_per_player,
                    "stop_on_mention": s.stop_on_mention,
                },
                context=self._context(game_id, setup),
                config={"recursion_limit": 8 * s.messages_per_player + 16},
                stream_mode="updates",
            )
            async for step in updates:
                for node, update in step.items():
                    recorder.update(node, update)
            if recorder.outcome is None:
                raise RuntimeError("the game graph ended without a verdict")
            return recorder.outcome
        except sqlite3.DatabaseError:  # the store itself failed (read-only, damaged): no game can be written
            raise
        except Exception as exc:  # a bug or a setup failure: this game is an error, the run goes on
            if recorder.outcome is not None:  # the verdict is written: what failed came after it
                return recorder.outcome
            recorder.finish(Outcome.ERROR.value, error=f"{type(exc).__name__}: {exc}")
            return Outcome.ERROR.value

    def _context(self, game_id: int, setup: GameSetup) -> GameContext:
        s = setup.settings
        conversation = f"game-{game_id}"
        manipulator = Manipulator(
            self.registry.get(setup.manipulator),
            s.codeword,
            Sampling(s.manipulator_max_tokens, s.temperature, s.top_p, setup.seed),
            prompt=s.manipulator_prompt,
            setup=s.setup,
            conversation=conversation,
        )
        return GameContext(manipulator, self._user(setup, conversation), _referee(s.codeword, s.rule))

    def _user(self, setup: GameSetup, conversation: str) -> UserSeat:
        if setup.user == HUMAN_SPEC:
            if self.human is None:
                raise RuntimeError("a game for a person was planned, but no one sits in the user's seat")
            return self.human
        s = setup.settings
        return SimulatedUser(
            self.registry.get(setup.user),
            Sampling(s.user_max_tokens, s.temperature, s.top_p, setup.seed + 1),
            topic=setup.topic,
            seed_word=setup.seed_word,
            persona=setup.persona,
            setup=s.setup,
            conversation=conversation,
            guess_max_tokens=s.guess_max_tokens,
        )


@functools.cache
def _referee(codeword: str, rule: str) -> Referee:
    return Referee(codeword, rule)
