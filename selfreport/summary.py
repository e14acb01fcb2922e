"""Scores per metric, fine-tuned models against the baseline, from stored interviews.

Each model spec is one unit, a training seed (items of repeated interviews of the same spec are
pooled); the fine-tuned side may hold several specs (seeds), the baseline side usually one. A
model's items are keyed by the prompt they answered, so a model and a baseline are compared
prompt by prompt (`stats.difference`); every interval says what it is over.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from .evals import METRICS, metric_order
from game.intervals import difference, estimate

TOP_OPTIONS = 5


def summarise(interviews: list[dict[str, Any]], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per metric present, in battery order."""
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
    return [_row(metric, scores[metric], extra[metric]) for metric in known]


def prompt_key(item: dict[str, Any]) -> tuple:
    """What pairs two models' items: the same paraphrase put the same way (prompt text), the same sample."""
    return item["paraphrase"], json.dumps(item["prompt"], sort_keys=True), item["sample"]


def by_prompt(scores: dict[tuple, list[float]]) -> dict[tuple, float]:
    return {key: sum(values) / len(values) for key, values in scores.items()}


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
        "baseline": b.mean, "baseline_ci": b.ci, "baseline_ci_over": b.over, "baseline_items": b.n_items,
        "diff": d.mean, "diff_ci": d.ci, "diff_ci_over": d.over, "diff_p": d.p,
        "methods": sorted(info["methods"]), "invalid": info["invalid"],
        "notes": dict(sorted(info["notes"].items())),  # why items were sampled or failed, with counts
        "distribution_sums": info["sums"],
        "top_options": [[o, round(p, 4)] for o, p in top],
    }
