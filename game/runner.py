"""Plan games and play them concurrently through the game graph.

One backend instance per model spec is shared by all games (the registry), so in-process
models can batch the requests of concurrent games. Each game's graph updates stream to its
`GameRecorder`, which alone writes the game down. The games in play share transactions (group
commit): after each step a game waits until its writes are committed, and one commit per turn of
the event loop serves every game that wrote meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import random
import re
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields

from agents import prompts
from agents.human import HUMAN_SPEC
from agents.players import Manipulator, Sampling, SimulatedUser, UserSeat
from agents.registry import Registry

from .graph import build_game_graph
from .heap import few_collections
from .recorder import GameRecorder
from .referee import Referee
from .rows import GameRow
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
    # The players as the spec names them, stored in place of the resolved specs the backends
    # load (a `scripted:` path as written in a tournament spec, relative to its file), so a
    # run's rows are the same from whatever folder it was played or resumed.
    manipulator_name: str | None = None
    user_name: str | None = None

    def row(self) -> GameRow:
        """The game's row as it starts: its setup (the store adds the run, status and start time)."""
        s = self.settings
        return GameRow(
            game_key=self.key, codeword=s.codeword, manipulator=self.manipulator_name or self.manipulator,
            user=self.user_name or self.user, persona=self.persona, topic=self.topic, seed_word=self.seed_word,
            rule=s.rule, messages_per_player=s.messages_per_player, stop_on_mention=int(s.stop_on_mention),
            settings=s.as_dict(), seed=self.seed, tier=self.tier,
            manipulator_label=self.manipulator_label or self.manipulator_name or self.manipulator,
            manipulator_prompt=s.manipulator_prompt, shard=self.shard,
        )


def game_seed(run_seed: int, key: str) -> int:
    """A game's seed from the run's seed and its key alone: the same whatever else is planned,
    so shards and resumed runs play each game exactly as a whole run would."""
    digest = hashlib.sha256(f"{run_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# The most games one run may plan. Planning is lazy, so this bounds no memory: it keeps a run's
# counts well inside the store's integers, and a slip of the keyboard from a run that never ends.
MAX_GAMES = 10**12


@dataclass(frozen=True)
class Cell:
    """What the games of one cell of a plan share; `key` formats the key of its j-th game. Every
    other field is a `GameSetup` field of the same name, passed on as it is."""

    key: str
    settings: GameSettings
    manipulator: str
    user: str
    persona: str = "friendly"
    tier: str | None = None
    manipulator_label: str | None = None
    manipulator_name: str | None = None
    user_name: str | None = None


class GamePlan(Sequence[GameSetup]):
    """The one game planner: the games of a run in a fixed order, each built from its index when
    it is asked for, so a plan of any size costs the memory of its cells and the first game starts
    at once. A game's seed comes from (run seed, key), its topic and seed word from its own seed.
    A shard `(i, n)` takes every n-th game of the whole plan, starting with the i-th."""

    def __init__(self, cells: Iterable[Cell], games_per_cell: int, run_seed: int,
                 shard: tuple[int, int] | None = None):
        self.cells = tuple(cells)
        self.games_per_cell = games_per_cell
        self.run_seed = run_seed
        i, n = shard or (1, 1)
        self.total = len(self.cells) * games_per_cell  # the whole plan, every shard
        self._index = range(i - 1, self.total, n)
        self._shard = f"{i}/{n}" if shard else None
        self._cell_of = {cell.key.partition("{")[0]: c for c, cell in enumerate(self.cells)}

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, item: int | slice) -> GameSetup | list[GameSetup]:
        if isinstance(item, slice):
            return [self._setup(k) for k in self._index[item]]
        return self._setup(self._index[item])

    def __iter__(self) -> Iterator[GameSetup]:
        return (self._setup(k) for k in self._index)

    def without(self, done: Collection[str]) -> Iterator[GameSetup]:
        """The planned games whose keys are not in `done`; a finished game is never built."""
        return (self._setup(k) for k in self._index if self._key(k) not in done)

    def count_planned(self, keys: Iterable[str]) -> int:
        """How many of these game keys are games of this plan (of this shard)."""
        return sum(1 for key in keys if self.plans(key))

    def plans(self, key: str) -> bool:
        """Whether the game of this key is one of this plan's (of this shard's)."""
        k = self._position(key)
        return k is not None and k in self._index  # an int: O(1) in a range

    def _position(self, key: str) -> int | None:
        found = re.fullmatch(r"(.*?)(\d+)", key)
        cell = found and self._cell_of.get(found[1])
        if cell is None or not 0 <= (j := int(found[2])) < self.games_per_cell:
            return None
        k = cell * self.games_per_cell + j
        return k if self._key(k) == key else None

    def _key(self, k: int) -> str:
        cell, j = divmod(k, self.games_per_cell)
        return self.cells[cell].key.format(j=j)

    def _setup(self, k: int) -> GameSetup:
        cell = self.cells[k // self.games_per_cell]
        key = self._key(k)
        seed = game_seed(self.run_seed, key)
        pick = random.Random(seed)
        shared = {f.name: getattr(cell, f.name) for f in fields(Cell) if f.name != "key"}
        return GameSetup(key=key, seed=seed, topic=pick.choice(prompts.topics()),
                         seed_word=seed_word_for(cell.settings.codeword, pick), shard=self._shard, **shared)


def seed_word_for(codeword: str, pick: random.Random) -> str:
    """A seed word that is never the codeword in any form: a draw the strict rule counts as the
    codeword is drawn again, so every other game keeps the seed word it always had."""
    referee, words = _referee(codeword, "strict"), prompts.seed_words()
    while True:
        word = pick.choice(words)
        if not referee.mentions(word):
            return word


class Remaining:
    """The games of a plan not in `done`, still to play: counted at once, each built only when
    it is taken (what a resumed run plays)."""

    def __init__(self, plan: GamePlan, done: Collection[str]):
        self.plan, self.done = plan, done
        self._count = len(plan) - plan.count_planned(done)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[GameSetup]:
        return self.plan.without(self.done)


def plan_games(
    settings: GameSettings, manipulator: str, user: str, games: int, seed: int, persona: str = "friendly"
) -> GamePlan:
    """The games of `mms play`, one cell: keys g00000, g00001, ..."""
    return GamePlan([Cell("g{j:05d}", settings, manipulator, user, persona)], games, seed)


ProgressCallback = Callable[[GameSetup, str], None]


class GameRunner:
    def __init__(self, store: Store, registry: Registry, concurrency: int = 4, *, human: UserSeat | None = None):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.registry = registry
        self.concurrency = concurrency
        self.human = human  # the seat of games whose user is `human`
        self._commits: GroupCommit | None = None  # while `run` holds the store's commits

    async def run(
        self, run_id: str, setups: Iterable[GameSetup], on_done: ProgressCallback | None = None
    ) -> dict[str, str]:
        """Play every setup; return game key → outcome. A failing game never stops the others.
        `concurrency` players take setups from one iterator as they start them, so a lazy plan
        is never drawn further ahead than the games in play. What does stop the run (the store
        failing) cancels the other players before it is raised, so no game is left playing on
        backends the caller is about to close."""
        outcomes: dict[str, str] = {}
        pending = iter(setups)

        async def player() -> None:
            for setup in pending:
                outcome = await self.play(run_id, setup)
                outcomes[setup.key] = outcome
                if on_done:
                    on_done(setup, outcome)

        try:
            with few_collections(), self.store.hold_commits():
                self._commits = GroupCommit(self.store)
                async with asyncio.TaskGroup() as group:
                    for _ in range(self.concurrency):
                        group.create_task(player())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        finally:
            self._commits = None
        return outcomes

    async def play(self, run_id: str, setup: GameSetup) -> str:
        game_id = self.store.create_game(run_id, setup.row())
        recorder = GameRecorder(self.store, game_id)
        try:
            await self._committed()  # a watcher sees the game from its start
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
                await self._committed()
            if recorder.outcome is None:
                raise RuntimeError("the game graph ended without a verdict")
            return recorder.outcome
        except sqlite3.DatabaseError:  # the store itself failed (read-only, damaged): no game can be written
            raise
        except Exception as exc:  # a bug or a setup failure: this game is an error, the run goes on
            if recorder.outcome is None:  # else the verdict is written: what failed came after it
                recorder.finish(Outcome.ERROR.value, error=f"{type(exc).__name__}: {exc}")
            await self._committed()
            return recorder.outcome

    async def _committed(self) -> None:
        """Wait until this game's writes are committed: a game goes on, and is reported done,
        only once what it wrote would survive a crash."""
        if self._commits is not None:
            await self._commits.committed()

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


class GroupCommit:
    """Commits the writes of every game that waits in one turn of the event loop together.

    The first game to wait schedules the commit at the end of the loop's current turn, so all
    games that run in that turn write first and share the transaction; each resumes when it is
    committed. A commit that fails raises in every game that waits for it (a store failure)."""

    def __init__(self, store: Store):
        self.store = store
        self._waiting: list[asyncio.Future[None]] = []

    async def committed(self) -> None:
        if not self.store.uncommitted:
            return
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._commit)
        waiter = loop.create_future()
        self._waiting.append(waiter)
        await waiter

    def _commit(self) -> None:
        waiting, self._waiting = self._waiting, []
        try:
            self.store.commit()
        except sqlite3.Error as exc:
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_exception(exc)
        else:
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_result(None)


@functools.cache
def _referee(codeword: str, rule: str) -> Referee:
    return Referee(codeword, rule)
