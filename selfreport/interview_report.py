"""`mms interview` as a request and a report: the options checked once, and what one call stored
and scored, which `--json` prints (`InterviewReport.to_json()`) and the table shows."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.errors import MmsError
from agents.registry import Registry
from game.store import Store

from . import records
from .battery import parse_variant
from .evals import parse_evals
from .interview import Plan, Progress, run_interviews
from .study_questions import StudyQuestion, load_questions, select
from .summary import MetricRow, pool_terms, summarise

POOLED = "pooled"  # the name of the pooled row (--pool)


@dataclass(frozen=True)
class InterviewRequest:
    """The interview's options as given; made, it holds the checked `plan` and `pool`, and a bad
    option is a one-line MmsError before any model loads or the database opens."""

    models: tuple[str, ...]
    codeword: str | None = None
    baselines: tuple[str, ...] = ()
    evals: str | None = None  # comma-separated; None: all
    samples: int = 3
    seed: int = 0
    paraphrases: int | None = None
    persona: str | None = None
    persona_prompt: str | None = None
    trigger: str | None = None
    guesser: str | None = None
    other_codewords: tuple[str, ...] = ()
    method: str = "auto"
    questions: Path | None = None  # the study's question file or folder, asked instead of our battery
    question: tuple[str, ...] = ()  # with `questions`: only these
    third_person: bool = False
    pool: str | None = None  # comma-separated metrics of the pooled row
    plan: Plan = field(init=False)
    pooled: tuple[str, ...] = field(init=False)  # the pooled metrics, '-' before one counted as 1 − score

    def __post_init__(self) -> None:
        study = self._study_questions()
        object.__setattr__(self, "pooled", tuple(("-" if flip else "") + m
                                                 for m, flip in pool_terms((self.pool or "").split(","))))
        plan = Plan(models=list(self.models), codeword=self.codeword, baselines=list(self.baselines),
                    evals=parse_evals(self.evals), samples=self.samples, seed=self.seed,
                    variant=parse_variant(self.persona, self.trigger, self.persona_prompt), guesser=self.guesser,
                    other_codewords=tuple(self.other_codewords), paraphrases=self.paraphrases, questions=study,
                    method=self.method, third_person=self.third_person)
        plan.validate()
        object.__setattr__(self, "plan", plan)
        self._check_pool()

    def _study_questions(self) -> list[StudyQuestion]:
        """The study's questions to ask instead of our battery (none without --questions)."""
        if self.question and self.questions is None:
            raise MmsError("--question picks from a study question file: give --questions PATH too")
        if self.questions is not None and self.evals is not None:
            raise MmsError("--questions asks the study's questions instead of our evaluations: drop --evals")
        return select(load_questions(self.questions), list(self.question)) if self.questions is not None else []

    def _check_pool(self) -> None:
        asked = {q.name for q in self.plan.questions} | set(self.plan.evals)
        unknown = [m for m in self.pooled if m.lstrip("-").partition(".")[0] not in asked]
        if unknown:
            raise MmsError(f"--pool names metric(s) of no question asked: {', '.join(unknown)} "
                           f"(metrics start with a question's name: {', '.join(sorted(asked))})")


@dataclass(frozen=True)
class Interviewed:
    """One stored interview of the session: a model asked in its role (model or baseline)."""

    id: int
    model: str
    role: str


@dataclass(frozen=True)
class InterviewReport:
    """One `mms interview` call; `to_json()` is what `--json` prints, key for key."""

    session: str
    codeword: str | None
    variant: str  # the variant's label
    models: tuple[str, ...]
    baseline: str | None
    baselines: tuple[str, ...]
    evals: tuple[str, ...]
    questions: tuple[str, ...]  # the study's questions asked, by name
    third_person: bool
    samples: int
    seed: int
    db: str
    seconds: float
    interviews: tuple[Interviewed, ...]
    metrics: tuple[MetricRow, ...]  # battery order, then the pooled row

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.session, "codeword": self.codeword, "variant": self.variant,
            "models": list(self.models), "baseline": self.baseline, "baselines": list(self.baselines),
            "evals": list(self.evals), "questions": list(self.questions), "third_person": self.third_person,
            "samples": self.samples, "seed": self.seed, "db": self.db, "seconds": round(self.seconds, 1),
            "interviews": [{"id": i.id, "model": i.model, "role": i.role} for i in self.interviews],
            "metrics": {row.metric: row.to_json() for row in self.metrics},
        }


def interview(store: Store, request: InterviewRequest, backends: Registry,
              progress: Progress | None = None) -> InterviewReport:
    """Interview every model of the request, store every item, and score the session."""
    started = time.perf_counter()
    plan = request.plan
    session = asyncio.run(run_interviews(store, plan, backends, progress=progress))
    rows = records.interviews(store, session=session)
    table = summarise(rows, records.items_of(store, [r["id"] for r in rows]), pools={POOLED: list(request.pooled)})
    return InterviewReport(
        session=session, codeword=plan.codeword, variant=plan.variant.label, models=tuple(plan.models),
        baseline=plan.baseline, baselines=tuple(plan.baselines), evals=tuple(plan.evals),
        questions=tuple(q.name for q in plan.questions), third_person=plan.third_person, samples=plan.samples,
        seed=plan.seed, db=str(store.path), seconds=time.perf_counter() - started,
        interviews=tuple(Interviewed(r["id"], r["model"], r["role"]) for r in rows),
        metrics=tuple(MetricRow.of(row) for row in table))
