"""Helpers of the terminal UI tests: driving the app deterministically (wait for its workers and
messages, never for the clock). Their databases are written by `tests.helpers.factories.Writer`."""

from __future__ import annotations

from textual.pilot import Pilot


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
