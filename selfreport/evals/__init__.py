"""The evaluations of the battery, one module each, all behind one protocol.

An evaluation asks one kind of question (several paraphrases, options shuffled per question)
and returns scored `Item`s; each item counts towards one metric. Most evaluations have one
metric named after them; some report more (`how_close.nobody_said`, `function.f_codeword`).
The first metric of an evaluation is its headline score.
"""

from __future__ import annotations

from typing import Protocol

from agents.errors import MmsError

from ..battery import Context, Item
from .acrostic import Acrostic
from .backdoor import Backdoor
from .best_description import BestDescription
from .describe_word import DescribeWord
from .function import Function
from .how_close import HowClose
from .mc_codeword import McCodeword
from .which_game import WhichGame


class Evaluation(Protocol):
    name: str
    metrics: dict[str, str]  # metric -> what it measures; its items count towards these; the first is the headline

    async def run(self, ctx: Context) -> list[Item]: ...


EVALS: dict[str, Evaluation] = {
    e.name: e
    for e in (McCodeword(), DescribeWord(), BestDescription(), HowClose(), WhichGame(), Function(),
              Acrostic(), Backdoor())
}
DEFAULT_EVALS = tuple(EVALS)
METRICS: dict[str, str] = {metric: e.name for e in EVALS.values() for metric in e.metrics}


def describe_metric(metric: str) -> str:
    evaluation = EVALS.get(METRICS.get(metric, ""))
    return evaluation.metrics[metric] if evaluation else ""


def parse_evals(text: str | None = None) -> list[str]:
    """Evaluation names from a comma-separated list (default: all of them), in battery order."""
    if not text or not text.strip():
        return list(DEFAULT_EVALS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in EVALS]
    if unknown or not names:
        raise MmsError(f"unknown evaluation {', '.join(unknown) or repr(text)}: use any of {', '.join(EVALS)}")
    return [n for n in EVALS if n in names]


def metric_order() -> list[str]:
    return list(METRICS)
