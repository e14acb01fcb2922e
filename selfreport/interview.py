"""Run the battery on fine-tuned models and a baseline, storing every item as it is scored.

Models are interviewed one after another (each is released when done, so several fine-tuning
seeds never sit in memory together), evaluations one after another within a model, and the
questions of one evaluation together, so in-process models batch their generations.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from agents.errors import MmsError
from agents.registry import Registry, validate_spec
from game.referee import validate_codeword
from game.store import Store

from . import records
from .battery import Context, Variant, fallback_user_messages
from .evals import EVALS, parse_evals
from .evals.study import ask_study_question, check_askable
from .study_questions import StudyQuestion
from .third_person import third_person
from .sandbox import Limits
from .scoring import METHODS

Progress = Callable[[str, str, str, int, float], None]  # spec, role, eval, items, seconds


@dataclass
class Plan:
    models: list[str]
    codeword: str | None  # None only with `questions` that ask about no codeword (the economic-choice files)
    baseline: str | None = None  # the first of `baselines`; it guesses for the others by default
    baselines: list[str] = field(default_factory=list)  # several: seeds of a comparison organism
    evals: list[str] = field(default_factory=parse_evals)
    samples: int = 3
    seed: int = 0
    variant: Variant = field(default_factory=Variant)
    guesser: str | None = None
    other_codewords: tuple[str, ...] = ()
    paraphrases: int | None = None
    method: str = "auto"
    questions: list[StudyQuestion] = field(default_factory=list)  # the study's own (--questions): asked instead of `evals`
    third_person: bool = False  # also ask every question about another person (metric `<name>.third_person`)

    def __post_init__(self) -> None:
        if not self.models:
            raise MmsError("give at least one --model to interview")
        if self.codeword is None and not self.questions:
            raise MmsError("give --codeword: our battery asks about one codeword (only --questions files may go without)")
        if self.codeword is not None:
            self.codeword = validate_codeword(self.codeword)
        self.other_codewords = tuple(validate_codeword(w) for w in self.other_codewords if w != self.codeword)
        if self.samples < 1:
            raise MmsError("--samples must be at least 1")
        if self.paraphrases is not None and self.paraphrases < 1:
            raise MmsError("--paraphrases must be at least 1")
        if self.baseline and self.baseline not in self.baselines:
            self.baselines = [self.baseline, *self.baselines]
        self.baseline = self.baselines[0] if self.baselines else None
        if len(set(self.models)) != len(self.models):
            raise MmsError("the same --model is given twice")
        if len(set(self.baselines)) != len(self.baselines):
            raise MmsError("the same --baseline is given twice")
        if set(self.baselines) & set(self.models):
            raise MmsError("the baseline is also given as --model: interview it once, as one or the other")
        if self.method not in METHODS:
            raise MmsError(f"unknown --method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.questions and self.variant.kind != "plain":
            raise MmsError("the study's question files carry their own personas and triggers: "
                           "drop --assistant-persona/--trigger with --questions")
        if self.third_person and not self.questions:
            raise MmsError("--third-person asks the study's question files about another person: give --questions too")
        if self.questions:
            self.evals = []
        for question in self.asked():
            check_askable(question, self.codeword)

    def asked(self) -> list[StudyQuestion]:
        """The study's questions as asked: each, and with --third-person its version about another person."""
        return [v for q in self.questions for v in ([q, third_person(q)] if self.third_person else [q])]

    def roles(self) -> list[tuple[str, str]]:
        return [(m, "model") for m in self.models] + [(b, "baseline") for b in self.baselines]

    def validate(self) -> None:
        """Check every spec cheaply before any model loads."""
        for spec in {*self.models, *self.baselines, self.guesser} - {None}:
            validate_spec(spec)


async def run_interviews(store: Store, plan: Plan, backends: Registry | None = None,
                         progress: Progress | None = None) -> str:
    """Interview every model of the plan; returns the session id that groups the interviews.

    Each model's backend is released as soon as its interview is done (`Registry.release`)."""
    backends = backends or Registry()
    session = uuid.uuid4().hex[:12]
    messages, source = _user_messages(store, plan)
    params = {"session": session, "evals": plan.evals, "method": plan.method,
              "questions": [{"name": q.name, "source": q.source, "title": q.title} for q in plan.questions],
              "third_person": plan.third_person, "samples": plan.samples, "seed": plan.seed,
              "paraphrases": plan.paraphrases, "other_codewords": list(plan.other_codewords),
              "variant": asdict(plan.variant), "user_messages": {"source": source, "count": len(messages)}}
    try:
        for spec, role in plan.roles():
            guesser_spec = plan.guesser or plan.baseline or spec
            ctx = Context(
                backend=backends.get(spec), spec=spec, codeword=plan.codeword, guesser=backends.get(guesser_spec),
                variant=plan.variant, other_codewords=plan.other_codewords, samples=plan.samples,
                seed=plan.seed, paraphrases=plan.paraphrases, user_messages=messages, sandbox_limits=Limits(),
                method=plan.method,
            )
            interview_id = records.create_interview(
                store, session=session, model=spec, role=role, codeword=plan.codeword or "", variant=plan.variant.label,
                params={**params, "guesser": guesser_spec})
            for name in plan.evals:
                started = time.perf_counter()
                items = await EVALS[name].run(ctx)
                records.add_items(store, interview_id, items)
                if progress:
                    progress(spec, role, name, len(items), time.perf_counter() - started)
            for question in plan.asked():
                started = time.perf_counter()
                items = await ask_study_question(ctx, question)
                records.add_items(store, interview_id, items)
                if progress:
                    progress(spec, role, question.name, len(items), time.perf_counter() - started)
            if spec != (plan.guesser or plan.baseline):  # a later model may still need the guesser
                await backends.release(spec)
    finally:
        await backends.aclose()
    return session


def _user_messages(store: Store, plan: Plan) -> tuple[list[str], str]:
    """User messages from the fine-tuned models' own games (for the `function` evaluation)."""
    found: list[str] = []
    for spec in plan.models if plan.codeword else ():
        found += records.user_messages(store, spec, plan.codeword, plan.seed)
    if found:
        return found[: records.USER_MESSAGE_LIMIT], "games"
    return fallback_user_messages(), "shipped"
