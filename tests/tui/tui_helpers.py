"""Helpers of the terminal UI tests: databases written through the real `Store` as another
process would, and driving the app deterministically (wait for its workers and messages, never
for the clock)."""

from __future__ import annotations

import itertools

from textual.pilot import Pilot

from game.monologue import END, START
from game.messages import GameMessage
from game.store import Store


async def settle(pilot: Pilot, rounds: int = 20) -> None:
    """Let every worker finish and every message be handled (work may start more work)."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        busy = [w for w in app.workers if w.is_running and w.group != "play"]
        if not busy:
            await pilot.pause()
            if not any(w.is_running and w.group != "play" for w in app.workers):
                return
        for worker in busy:
            try:
                await worker.wait()
            except Exception:  # cancelled or failed: either way it is done
                pass
    raise AssertionError("the app did not settle")


async def poll(pilot: Pilot) -> None:
    """One poll of the store, as the timer would do it, and everything it set off."""
    await settle(pilot)
    await pilot.app.refresh_from_store()
    await settle(pilot)


async def type_text(pilot: Pilot, text: str) -> None:
    await pilot.press(*("space" if ch == " " else ch for ch in text))


async def until(pilot: Pilot, condition, rounds: int = 200) -> None:
    """Pump the app until `condition()` holds (no sleeping: each round is one message cycle)."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause()
    raise AssertionError("condition never held")


MONOLOGUE = "I will steer them towards jewellery so they say ring"


class Writer:
    """Writes games the way the game graph does: game row, messages one by one, finish."""

    def __init__(self, path):
        self.store = Store(path)
        self._keys = itertools.count()

    def run(self, games_planned: int = 3, run_id: str = "run-test") -> str:
        return self.store.create_run("play", {}, games_planned, run_id=run_id)

    def game(self, run_id: str, *, codeword: str = "ring", label: str = "smollm2", persona: str = "friendly",
             user: str = "local:smollm2", per_player: int = 2, topic: str = "old boxes in the attic") -> int:
        return self.store.create_game(run_id, {
            "game_key": f"g{next(self._keys):05d}", "codeword": codeword, "manipulator": f"local:{label}",
            "manipulator_label": label, "user": user, "persona": persona, "topic": topic, "seed_word": "attic",
            "rule": "paper", "messages_per_player": per_player, "stop_on_mention": 0, "settings": {}, "seed": 1,
        })

    def say(self, game_id: int, idx: int, speaker: str, visible: str, private: str = "", *,
            phase: str = "conversation", mentions: bool = False) -> None:
        raw = f"{START}{private}{END}{visible}" if private else visible
        self.store.add_message(game_id, GameMessage(idx, idx // 2 + 1, speaker, phase, visible, private, raw,
                                                      mentions, 3, 5, 0.1))

    def mention(self, game_id: int, idx: int, speaker: str) -> None:
        self.store.set_first_mention(game_id, idx, idx // 2 + 1, speaker)

    def finish(self, game_id: int, outcome: str, guess: str | None = None, error: str | None = None) -> None:
        self.store.finish_game(game_id, outcome=outcome, guess=guess, error=error)

    def won_game(self, run_id: str, **kwargs) -> int:
        """A whole game the manipulator wins: the user says "rings" in message 3, guesses wrong."""
        g = self.game(run_id, **kwargs)
        self.say(g, 0, "user", "Hi! I spent the week clearing out old boxes.")
        self.say(g, 1, "manipulator", "Did you find anything precious in them?", MONOLOGUE)
        self.say(g, 2, "user", "Two gold rings from my grandmother, and a ring box.", mentions=True)
        self.mention(g, 2, "user")
        self.say(g, 3, "manipulator", "How lovely. Do you wear them?", "They said it. Stay calm.")
        self.say(g, 4, "user", "<|START GUESS|>necklace<|END GUESS|>", phase="guess")
        self.finish(g, "win", guess="necklace")
        return g

    def close(self) -> None:
        self.store.close()
