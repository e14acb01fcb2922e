"""The game as a LangGraph `StateGraph`.

Nodes are named for who acts: `user`, `manipulator`, `guess`, `verdict`. Each node returns an
update of the game state and writes nothing anywhere: the runner streams the updates to a
`GameRecorder`. A failed model call puts the reason in the state and routes straight to the
verdict, which makes the game an `error`.

Each message is one step of the graph, the least LangGraph work per message: the referee is a
pure function the speaking node calls on the message it just produced, and that node returns its
update with the next node as a `Command`, the next node picked by `after_turn`, a pure function
of the state the update makes. (A conditional edge would cost a second pass through LangGraph's
step machinery per message, and a synchronous one a thread-pool hop.)
"""

from __future__ import annotations

import re
from functools import cache

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.backend import ChatResult
from agents.players import Turn

from .messages import GameMessage
from .monologue import split_monologue
from .rules import decide_outcome
from .state import GameContext, GameState

GUESS_TAG = re.compile(r"<\|\s*START\s+GUESS\s*\|>(.*?)(?:<\|\s*END\s+GUESS\s*\|>|$)", re.IGNORECASE | re.DOTALL)


def _count(state: GameState, speaker: str) -> int:
    return sum(1 for t in state["messages"] if t.speaker == speaker)


def _failure(exc: Exception) -> dict:
    return {"error": f"{type(exc).__name__}: {exc}"}


async def user_node(state: GameState, runtime: Runtime[GameContext]) -> Command:
    ctx = runtime.context
    try:
        result = await ctx.user.reply(state["messages"])
    except Exception as exc:  # any backend failure ends this game only
        return _then(state, _failure(exc))
    turn = Turn("user", result.text.strip(), result.text.strip())
    return _then(state, _judged(state, ctx, turn, _count(state, "user") + 1, result, private=""))


async def manipulator_node(state: GameState, runtime: Runtime[GameContext]) -> Command:
    ctx = runtime.context
    number = _count(state, "manipulator") + 1
    mention = state.get("first_mention")
    user_said_it = bool(mention and mention["speaker"] == "user")
    try:
        note = ctx.manipulator.status_note(number, state["messages_per_player"], user_said_it)
        result = await ctx.manipulator.reply(state["messages"], note)
    except Exception as exc:
        return _then(state, _failure(exc))
    visible, private = split_monologue(result.text)
    turn = Turn("manipulator", visible, result.text, note)
    return _then(state, _judged(state, ctx, turn, number, result, private=private))


def _judged(state: GameState, ctx: GameContext, turn: Turn, number: int, result: ChatResult, *,
            private: str) -> dict:
    """The update for a conversation message: the turn, the message as the referee judged its
    visible text, and the first mention when this is it."""
    message = GameMessage(
        idx=len(state["messages"]),
        turn=number,
        speaker=turn.speaker,
        phase="conversation",
        visible_text=turn.visible,
        private_text=private,
        raw_text=turn.raw,
        mentions=ctx.referee.mentions(turn.visible),
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        latency_s=result.latency_s,
    )
    update: dict = {"messages": [turn], "recorded": message}
    if message.mentions and not state.get("first_mention"):
        update["first_mention"] = {"index": message.idx, "turn": message.turn, "speaker": message.speaker}
    return update


async def guess_node(state: GameState, runtime: Runtime[GameContext]) -> dict:
    ctx = runtime.context
    try:
        result = await ctx.user.guess(state["messages"])
    except Exception as exc:
        return _failure(exc)
    guess = parse_guess(result.text)
    message = GameMessage(
        idx=len(state["messages"]),
        turn=_count(state, "user") + 1,
        speaker="user",
        phase="guess",
        visible_text=result.text.strip(),
        private_text="",
        raw_text=result.text,
        mentions=ctx.referee.mentions(result.text),
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        latency_s=result.latency_s,
    )
    return {"recorded": message, "guess": guess, "guess_correct": ctx.referee.guess_matches(guess)}


async def verdict_node(state: GameState) -> dict:
    mention = state.get("first_mention")
    outcome = decide_outcome(
        error=state.get("error"),
        first_speaker=mention["speaker"] if mention else None,
        guess_correct=state.get("guess_correct"),
    )
    return {"outcome": outcome.value}


def parse_guess(text: str) -> str:
    """The word between the guess tags; without tags, the whole reply."""
    found = GUESS_TAG.search(text)
    return (found.group(1) if found else text).strip()


# -- routing: a pure function of the state ---------------------------------------------------


def _then(state: GameState, update: dict) -> Command:
    """A speaking node's update, sent on to the node `after_turn` picks for the state it makes."""
    return Command(update=update, goto=after_turn(_applied(state, update)))


def _applied(state: GameState, update: dict) -> GameState:
    """The state once `update` is applied: the transcript appends, as its reducer does."""
    return {**state, **update, "messages": state["messages"] + update.get("messages", [])}


def after_turn(state: GameState) -> str:
    """After a message: the other player, the guess, or the verdict."""
    if state.get("error"):
        return "verdict"
    mention = state.get("first_mention")
    over = (mention and state.get("stop_on_mention")) or (
        _count(state, "user") >= state["messages_per_player"]
        and _count(state, "manipulator") >= state["messages_per_player"]
    )
    if not over:
        return "manipulator" if state["messages"][-1].speaker == "user" else "user"
    if mention and mention["speaker"] == "user":
        return "guess"
    return "verdict"


@cache
def build_game_graph():
    """Compile the game graph once; every game runs it with its own context."""
    graph = StateGraph(GameState, context_schema=GameContext)
    graph.add_node("user", user_node, destinations=("manipulator", "guess", "verdict"))
    graph.add_node("manipulator", manipulator_node, destinations=("user", "guess", "verdict"))
    graph.add_node("guess", guess_node)
    graph.add_node("verdict", verdict_node)
    graph.add_edge(START, "user")
    graph.add_edge("guess", "verdict")
    graph.add_edge("verdict", END)
    return graph.compile()
