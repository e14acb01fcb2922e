"""Scores per metric, fine-tuned models against the baseline, from stored interviews.

Each model spec is one unit, a training seed (items of repeated interviews of the same spec are
pooled); the fine-tuned side may hold several specs (seeds), the baseline side usually one. A
model's items are keyed by the prompt they answered, so a model and a baseline are compared
prompt by prompt (`stats.difference`); every interval says what it is over.

A pooled row (`pools`) puts several questions on one scale per seed: the mean of the seed's
per-question means, a metric named with a leading "-" counted as 1 − score (the study's Figure 3
pools its risk questions so, each turned to point towards risk).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from agents.errors import MmsError

from .evals import METRICS, metric_order
from game.intervals import difference, estimate

TOP_OPTIONS = 5


def summarise(interviews: list[dict[str, Any]], items: list[dict[str, Any]],
              pools: Mapping[str, Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """One row per metric present, in battery order, then one pooled row per entry of `pools` (row name: metrics)."""
    role_of = {row["id"]: (row["role"], row["model"]) for row in interviews}
    scores: dict[str, dict[str, dict[str, dict]]] = defaultdict(lambda: {"model": defaultdict(lambda: defaultdict(list)),
                                                                        "baseline": defaultdict(lambda: defaultdict(list))})
    extra: dict[str, dict[str, Any]] = defaultdict(lambda: {"methods": set(), "invalid": 0, "sums": [], "options": defaultdict(list),
                                                      "notes": defaultdict(int)})
    for item in items:
        role, spec = role_of[item["interview_id"]]
        metric = item["metric"]
        info = extra[metric]
        info["methods"].add(item["method"])
        if item.get("note"):
            info["notes"][item["note"]] += 1
        if not item["valid"] or item["score"] is None:
            info["invalid"] += 1
            continue
        scores[metric][role][spec][prompt_key(item)].append(item["score"])
        if item["distribution"] is not None:
            info["sums"].append(round(sum(item["distribution"]), 9))
            if role == "model":
                for option, p in zip(item["options"], item["distribution"]):
                    info["options"][option].append(p)
    known = [m for m in metric_order() if m in extra] + sorted(m for m in extra if m not in METRICS)
    rows = [_row(metric, scores[metric], extra[metric]) for metric in known]
    return rows + [pooled_row(name, terms, scores) for name, terms in (pools or {}).items() if terms]


def pool_terms(pool: Sequence[str]) -> list[tuple[str, bool]]:
    """(metric, reversed) of each pooled metric; '-name' is reversed."""
    terms = [(p[1:], True) if p.startswith("-") else (p, False) for p in (t.strip() for t in pool) if p.strip("-")]
    if len({m for m, _ in terms}) != len(terms):
        raise MmsError("--pool names a metric twice")
    return terms


def pooled_row(name: str, pool: Sequence[str], scores: dict[str, dict[str, dict[str, dict]]]) -> dict[str, Any]:
    """Each seed's mean over the pooled metrics, keyed by metric (so one baseline pairs question by question)."""
    terms = pool_terms(pool)
    missing = [m for m, _ in terms if m not in scores]
    if missing:
        raise MmsError(f"--pool names metric(s) this interview has no valid answer for: {', '.join(missing)}")
    groups: dict[str, dict[str, dict]] = {"model": {}, "baseline": {}}
    for role in groups:
        specs = {spec for metric, _ in terms for spec in scores[metric][role]}
        for spec in sorted(specs):
            means = {}
            for metric, flip in terms:
                answered = scores[metric][role].get(spec)
                if answered:
                    mean = statistics.fmean(by_prompt(answered).values())
                    means[(metric,)] = [1 - mean if flip else mean]
            if len(means) == len(terms):  # a seed without every pooled metric is left out, not half-pooled
                groups[role][spec] = means
    info = {"methods": set(), "invalid": 0, "sums": [], "options": {}, "notes": {}}
    row = _row(name, groups, info)
    row["eval"], row["pooled"] = "pooled", [("-" if flip else "") + m for m, flip in terms]
    return row


def prompt_key(item: dict[str, Any]) -> tuple:
    """What pairs two models' items: the same paraphrase put the same way (prompt text), the same sample."""
    return item["paraphrase"], json.dumps(item["prompt"], sort_keys=True), item["sample"]


def by_prompt(scores: dict[tuple, list[float]]) -> dict[tuple, float]:
    return {key: sum(values) / len(values) for key, values in scores.items()}


def seed_means(groups: dict[str, dict]) -> dict[str, float]:
    """Each spec's (seed's) mean score, the unit the seed intervals are over."""
    return {spec: statistics.fmean(by_prompt(g).values()) for spec, g in groups.items() if g}


def _row(metric: str, groups: dict[str, dict[str, dict]], info: dict[str, Any]) -> dict[str, Any]:
    model = [by_prompt(g) for g in groups["model"].values()]
    baseline = [by_prompt(g) for g in groups["baseline"].values()]
    m, b = estimate(model), estimate(baseline)
    d = difference(model, baseline)
    options = info["options"]
    n_questions = max((len(v) for v in options.values()), default=0)
    top = sorted(((o, sum(ps) / n_questions) for o, ps in options.items()), key=lambda t: -t[1])[:TOP_OPTIONS]
    return {
        "metric": metric, "eval": METRICS.get(metric, metric.partition(".")[0]),
        "model": m.mean, "model_ci": m.ci, "model_ci_over": m.over, "model_items": m.n_items, "models": m.n_models,
        "model_seeds": seed_means(groups["model"]), "baseline_seeds": seed_means(groups["baseline"]),
        "baseline": b.mean, "baseline_ci": b.ci, "baseline_ci_over": b.over, "baseline_items": b.n_items,
        "diff": d.mean, "diff_ci": d.ci, "diff_ci_over": d.over, "diff_p": d.p,
        "methods": sorted(info["methods"]), "invalid": info["invalid"],
        "notes": dict(sorted(info["notes"].items())),  # why items were sampled or failed, with counts
        "distribution_sums": info["sums"],
        "top_options": [[o, round(p, 4)] for o, p in top],
    }


@dataclass(frozen=True)
class MetricRow:
    """One row of `summarise` typed, for a report: `to_json()` is the row without its metric name
    (the key it is listed under), key for key; `pooled` only on a pooled row."""

    metric: str
    eval: str
    model: float | None
    model_ci: list[float] | None
    model_ci_over: str
    model_items: int
    models: int
    model_seeds: dict[str, float]
    baseline_seeds: dict[str, float]
    baseline: float | None
    baseline_ci: list[float] | None
    baseline_ci_over: str
    baseline_items: int
    diff: float | None
    diff_ci: list[float] | None
    diff_ci_over: str
    diff_p: float | None
    methods: list[str]
    invalid: int
    notes: dict[str, int]  # why items were sampled or failed, with counts
    distribution_sums: list[float]
    top_options: list[list]  # [option, mean probability] of the most likely options
    pooled: list[str] | None = None  # the pooled metrics, '-' before one counted as 1 − score

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> MetricRow:
        return cls(**row)

    def to_json(self) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "metric"}
        if self.pooled is None:
            del body["pooled"]
        return body
