"""How long `mms watch` takes to show a game with a huge message, and how long it stops answering.

Builds a store of a few ordinary games and one whose manipulator wrote a message of --size
bytes (prose with the codeword in it, and a monologue of the same size with --private), then
drives the app headless with Textual's pilot:

- startup: from `run_test` until the newest game's transcript is shown, with that game newest;
- select: from pressing ↓ onto that game (an older one was shown) until its transcript is shown;
- open: from pressing o (the whole message, where the app has that key and the message is
  shown cut) until it is drawn, and from pressing end there until its last line is drawn.

Each also gives the event loop's longest stall (a task that wakes every 10 ms measures how late
it wakes): what a person feels as a frozen screen.

    python benchmarks/tui_huge_message.py [--size 1000000] [--private] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from game.messages import GameMessage  # noqa: E402
from game.rows import GameRow  # noqa: E402
from game.store import Store  # noqa: E402
from tui.app import watch_app  # noqa: E402
from tui.widgets.transcript import Transcript  # noqa: E402

SENTENCE = "Have you ever thought about the ring your grandmother wore, and what it meant to her? "


def huge_text(size: int) -> str:
    """Prose of about `size` characters, a paragraph break every ten sentences."""
    paragraph = SENTENCE * 10 + "\n\n"
    return (paragraph * (size // len(paragraph) + 1))[:size]


def build(path: Path, size: int, *, private: bool, huge_newest: bool) -> int:
    """A store with three ordinary games and the huge one (newest, or second newest); its id."""
    store = Store(path)
    run = store.create_run("play", {}, 4, run_id="bench")

    def game(i: int, text: str, thought: str = "") -> int:
        g = store.create_game(run, GameRow(
            game_key=f"g{i}", codeword="ring", manipulator="local:smollm2", manipulator_label="smollm2",
            user="local:smollm2", persona="friendly", topic="attic", seed_word="attic", rule="paper",
            messages_per_player=1, stop_on_mention=0, settings={}, seed=i))
        store.add_message(g, GameMessage(0, 1, "user", "conversation", "Hello there.", "", "Hello there.", False))
        store.add_message(g, GameMessage(1, 1, "manipulator", "conversation", text, thought, text, "ring" in text))
        store.finish_game(g, outcome="no_codeword", guess=None, error=None)
        return g

    for i in range(3 if huge_newest else 2):
        game(i, "A short and ordinary reply.")
    text = huge_text(size)
    huge = game(9, text, text if private else "")
    if not huge_newest:
        game(10, "A short and ordinary reply.")
    store.close()
    return huge


@asynccontextmanager
async def stall_meter():
    """The longest time the event loop failed to wake a 10 ms sleeper, in seconds (a list of one)."""
    worst = [0.0]
    stop = asyncio.Event()

    async def tick():
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            worst[0] = max(worst[0], time.perf_counter() - t - 0.01)

    task = asyncio.create_task(tick())
    try:
        yield worst
    finally:
        stop.set()
        await task


async def shown(pilot, game_id: int, timeout: float = 120) -> None:
    """Pump the app until the transcript shows `game_id` with its messages mounted and drawn."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        await pilot.pause()
        t = pilot.app.screen.query_one(Transcript)
        if t.game is not None and t.game.id == game_id and t.last_idx >= 1:
            await pilot.pause()
            return
    raise TimeoutError(f"game {game_id} was not shown within {timeout} s")


async def startup(db: Path, huge: int) -> tuple[float, float]:
    start = time.perf_counter()
    async with stall_meter() as worst:
        app = watch_app(db, follow=False, poll_interval=None)
        async with app.run_test(size=(160, 50)) as pilot:
            await shown(pilot, huge)
            took = time.perf_counter() - start
    return took, worst[0]


async def select(db: Path, huge: int) -> tuple[float, float, float | None, float | None]:
    app = watch_app(db, follow=False, poll_interval=None)
    async with app.run_test(size=(160, 50)) as pilot:
        await shown(pilot, huge + 1)
        async with stall_meter() as worst:
            start = time.perf_counter()
            await pilot.press("down")
            await shown(pilot, huge)
            took = time.perf_counter() - start
        if not hasattr(app.screen, "action_whole_message") or app.screen.transcript.cut_message() is None:
            # the app before it had this key, or a message short enough to be shown whole
            return took, worst[0], None, None
        async with stall_meter() as open_worst:
            start = time.perf_counter()
            await pilot.press("o")
            await until_drawn(pilot, lambda text: text.wrapped is not None)
            await pilot.press("end")
            await until_drawn(pilot, lambda text: text.scroll_y >= text.max_scroll_y)
            opened = time.perf_counter() - start
    return took, worst[0], opened, open_worst[0]


async def until_drawn(pilot, condition, timeout: float = 120) -> None:
    """Pump the app until `condition(LongText)` holds on the whole-message screen."""
    from tui.widgets.long_text import LongText

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        await pilot.pause()
        found = pilot.app.screen.query(LongText)
        if found and condition(found.first()):
            await pilot.pause()
            return
    raise TimeoutError(f"the whole message was not drawn within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="characters in the huge message")
    parser.add_argument("--private", action="store_true", help="a monologue of the same size too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        newest, second = Path(tmp, "newest.db"), Path(tmp, "second.db")
        huge_a = build(newest, args.size, private=args.private, huge_newest=True)
        huge_b = build(second, args.size, private=args.private, huge_newest=False)
        up, up_stall = asyncio.run(startup(newest, huge_a))
        sel, sel_stall, opened, open_stall = asyncio.run(select(second, huge_b))
    result = {"size": args.size, "private": args.private, "startup_s": round(up, 2),
              "startup_stall_s": round(up_stall, 2), "select_s": round(sel, 2), "select_stall_s": round(sel_stall, 2),
              "open_s": opened and round(opened, 2), "open_stall_s": open_stall and round(open_stall, 2)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.size:,} characters{' (and as many in the monologue)' if args.private else ''}: "
              f"startup {up:.2f} s (longest stall {up_stall:.2f} s), "
              f"select {sel:.2f} s (longest stall {sel_stall:.2f} s)"
              + (f", open whole and go to its end {opened:.2f} s (longest stall {open_stall:.2f} s)" if opened else ""))


if __name__ == "__main__":
    main()
