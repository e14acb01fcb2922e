"""What the game engine costs per message, as behaviour: one graph step and no thread hop per
message, many games' writes in one transaction, and crash safety kept through it all."""

import asyncio
import concurrent.futures

import pytest
from tests.helpers.doubles import Double

from agents.registry import Registry
from game.rules import GameSettings
from game.runner import GameRunner, Remaining, plan_games
from game.store import Store

LINES = {"m": ("Do you travel much?", "Lovely."), "u": ("Hi there!", "Yes, a gold ring.", "<|START GUESS|>bell<|END GUESS|>")}
MESSAGES_PER_GAME = 5  # two each, and the guess


class NoThreads(concurrent.futures.ThreadPoolExecutor):
    """A default executor that counts what is sent to a thread pool, and runs it here."""

    def __init__(self):
        super().__init__(max_workers=1)
        self.calls = 0

    def submit(self, fn, /, *args, **kwargs):
        self.calls += 1
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _setups(script, games):
    m, u = script(*LINES["m"]), script(*LINES["u"])
    return plan_games(GameSettings(codeword="ring", messages_per_player=2), m, u, games, seed=3)


def _commits(store):
    """Count the transactions committed on the store's connection."""
    seen = []
    store.db.conn.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None)
    return seen


def test_routing_sends_nothing_to_a_thread_pool(tmp_path, script):
    pool = NoThreads()

    async def main(store, run_id, setups):
        asyncio.get_running_loop().set_default_executor(pool)
        return await GameRunner(store, Registry(), 4).run(run_id, setups)

    store = Store(tmp_path / "t.db")
    run_id = store.create_run("test", {}, 4)
    outcomes = asyncio.run(main(store, run_id, _setups(script, 4)))
    assert set(outcomes.values()) == {"win"}
    assert pool.calls == 0


def test_each_message_is_one_step_of_the_graph(script):
    """The judged message, its first mention and the next node come from the step that produced it."""
    from agents.players import Manipulator, Sampling, SimulatedUser
    from game.graph import build_game_graph
    from game.referee import Referee
    from game.state import GameContext

    registry = Registry()
    ctx = GameContext(Manipulator(registry.get(script(*LINES["m"])), "ring", Sampling(32), conversation="g"),
                      SimulatedUser(registry.get(script(*LINES["u"])), Sampling(32), topic="travel", seed_word="map",
                                    conversation="g"),
                      Referee("ring"))

    async def steps():
        return [node async for step in build_game_graph().astream(
            {"messages": [], "messages_per_player": 2, "stop_on_mention": False}, context=ctx,
            stream_mode="updates") for node in step]

    assert asyncio.run(steps()) == ["user", "manipulator", "user", "manipulator", "guess", "verdict"]


def test_many_games_share_each_transaction(tmp_path, script):
    games = 40
    store = Store(tmp_path / "t.db")
    run_id = store.create_run("test", {}, games)
    commits = _commits(store)
    outcomes = asyncio.run(GameRunner(store, Registry(), games).run(run_id, _setups(script, games)))
    assert len(outcomes) == games and set(outcomes.values()) == {"win"}
    assert len(store.read.messages(store.read.games()[0]["id"])) == MESSAGES_PER_GAME
    # One game alone writes its row, five messages, a mention and its verdict: eight transactions.
    assert 0 < len(commits) <= 2 * (MESSAGES_PER_GAME + 3), len(commits)


def test_a_game_goes_on_only_once_its_messages_are_committed(tmp_path, script):
    """Whenever a player is asked for a message, another connection already sees every message
    said before in that game, and each finished game with all of its messages."""
    games = 6
    m, u = script(*LINES["m"]), script(*LINES["u"])
    registry = Registry()
    path = tmp_path / "t.db"
    asked: dict[str, int] = {}
    checked = []

    def peek(request):
        reader = Store.reader(path)
        said = dict(reader.db.execute(
            "select 'game-' || g.id, count(m.id) from games g left join messages m on m.game_id = g.id group by g.id"
        ).fetchall())
        finished = reader.db.execute(
            "select count(m.id) from games g join messages m on m.game_id = g.id "
            "where g.status = 'finished' group by g.id").fetchall()
        reader.close()
        game = request.conversation.partition("/")[0]  # game-ID/seat
        before = asked.get(game, 0)
        asked[game] = before + 1
        checked.append((said.get(game) == before, all(n == MESSAGES_PER_GAME for n, in finished)))

    for spec in (m, u):
        registry.register(spec, Double(spec, inner=registry.get(spec), before=peek))
    store = Store(path)
    run_id = store.create_run("test", {}, games)
    setups = plan_games(GameSettings(codeword="ring", messages_per_player=2), m, u, games, seed=3)
    outcomes = asyncio.run(GameRunner(store, registry, 3).run(run_id, setups))
    assert set(outcomes.values()) == {"win"}
    assert len(checked) == games * MESSAGES_PER_GAME and all(all(c) for c in checked), [
        (i, c) for i, c in enumerate(checked) if not all(c)]


class Crash(BaseException):
    """The process dies here: nothing after it runs, nothing not yet committed survives."""


def test_a_run_killed_mid_way_resumes_exactly_the_unfinished_games(tmp_path, script):
    games, calls = 12, 0
    m, u = script(*LINES["m"]), script(*LINES["u"])
    registry = Registry()

    def crash_on_the_13th_manipulator_message(_request):
        nonlocal calls
        calls += 1
        if calls == 13:
            raise Crash

    registry.register(m, Double(m, inner=registry.get(m), before=crash_on_the_13th_manipulator_message))
    path = tmp_path / "t.db"
    store = Store(path)
    run_id = store.create_run("test", {}, games)
    plan = plan_games(GameSettings(codeword="ring", messages_per_player=2), m, u, games, seed=3)
    reported = []
    with pytest.raises(Crash):
        asyncio.run(GameRunner(store, registry, 4).run(run_id, plan, on_done=lambda s, _o: reported.append(s.key)))
    store.db.conn.close()  # as a killed process: the open transaction is gone

    store = Store(path)
    finished = store.read.finished_keys(run_id)
    assert finished and len(finished) < games
    assert set(reported) <= finished  # every game reported done had been committed
    for game in store.read.games(run_id):
        if game["status"] == "finished":
            assert len(store.read.messages(game["id"])) == MESSAGES_PER_GAME
    store.supersede_unfinished(run_id)
    todo = Remaining(plan, store.read.finished_keys(run_id))
    replayed = asyncio.run(GameRunner(store, Registry(), 4).run(run_id, todo))
    assert set(replayed) == {s.key for s in plan} - finished
    counted = store.read.games(run_id)
    assert sorted(g["game_key"] for g in counted) == sorted(s.key for s in plan)  # each game once
    assert all(g["status"] == "finished" and len(store.read.messages(g["id"])) == MESSAGES_PER_GAME for g in counted)


def test_writes_outside_a_run_commit_at_once(tmp_path):
    """Tests, merges and other callers of the store keep one transaction per write."""
    from tests.helpers.factories import Writer

    writer = Writer(tmp_path / "w.db")
    run = writer.run()
    g = writer.game(run)
    writer.say(g, 0, "user", "Hi")
    reader = Store.reader(tmp_path / "w.db")
    assert len(reader.read.messages(g)) == 1
    reader.close()
    writer.close()


def test_games_are_played_with_rare_young_collections_and_the_collector_restored_after(tmp_path, script):
    import gc

    from game.heap import YOUNG_THRESHOLD
    seen = []
    before = gc.get_threshold()
    store = Store(tmp_path / "t.db")
    run_id = store.create_run("test", {}, 2)
    runner = GameRunner(store, Registry(), 2)
    done = lambda setup, outcome: seen.append(gc.get_threshold()[0])  # noqa: E731
    outcomes = asyncio.run(runner.run(run_id, _setups(script, 2), on_done=done))
    assert set(outcomes.values()) == {"win"}
    assert seen == [YOUNG_THRESHOLD, YOUNG_THRESHOLD]
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_few_collections_freezes_what_exists_and_restores_the_collector_even_when_nested():
    import gc

    from game.heap import YOUNG_THRESHOLD, few_collections
    before = gc.get_threshold()
    with few_collections():
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD and gc.get_freeze_count() > 0
        with few_collections():
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD and gc.get_freeze_count() > 0
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cyclic garbage made within is still collected
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError):
        with few_collections():
            raise RuntimeError("a failing run")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
