"""`mms report`: every evaluation, fine-tuned vs baseline with 95% intervals, as a Markdown
table and a bar chart (PNG) per codeword and variant — in the spirit of Figure 6 of the study —
plus the in-distribution play results of manipulators that played with no system prompt."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from agents.errors import MmsError
from game.queries import Games
from game.stats import outcome_rate
from game.stats import summarise as summarise_outcomes
from game.store import Store

from . import records
from .evals import describe_metric
from .summary import summarise


def build_report(store: Store, out: Path, codeword: str | None = None,
                 sessions: list[str] | None = None) -> dict[str, Any]:
    """Write report.md, report.json and one chart per interview session (codeword, variant) into `out`.

    Interviews of different `mms interview` calls are never pooled: each session is its own
    group (several fine-tuning seeds asked in one call are pooled within it). `sessions` keeps
    only those.
    """
    rows = [r for r in records.interviews(store, codeword=codeword) if not sessions or r["session"] in sessions]
    if sessions and not rows:
        raise MmsError(f"no interviews of session(s) {', '.join(sessions)} in {store.path}")
    play = play_results(store, codeword)
    if not rows and not play:
        raise MmsError(f"nothing to report in {store.path}: no interviews"
                       f"{' for ' + codeword if codeword else ''} and no games played with --manipulator-prompt none "
                       "(run: mms interview --model SPEC --baseline SPEC --codeword W)")
    out.mkdir(parents=True, exist_ok=True)
    by_group: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for row in rows:
        by_group[(row["codeword"], row["variant"], row["session"] or "")].append(row)
    groups = []
    for (word, variant, session), group_rows in sorted(by_group.items(), key=lambda kv: min(r["id"] for r in kv[1])):
        table = summarise(group_rows, records.items_of(store, [r["id"] for r in group_rows]))
        figure = out / f"selfreport_{word}_{variant.replace(':', '-')}_{session}.png"
        plot(table, figure, f"Self-report: codeword {word!r}, {variant} (session {session})")
        groups.append({
            "codeword": word, "variant": variant, "session": session, "figure": figure.name,
            "models": sorted({r["model"] for r in group_rows if r["role"] == "model"}),
            "baselines": sorted({r["model"] for r in group_rows if r["role"] == "baseline"}),
            "interviews": len(group_rows), "metrics": table,
        })
    result = {"out": str(out), "markdown": str(out / "report.md"), "json": str(out / "report.json"),
              "figures": [str(out / g["figure"]) for g in groups], "groups": groups, "play": play}
    (out / "report.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "report.md").write_text(markdown(groups, play, store.path), encoding="utf-8")
    return result


def play_results(store: Store, codeword: str | None = None) -> list[dict[str, Any]]:
    """Win and violation rates of games played with no manipulator system prompt, per manipulator."""
    counts = store.outcome_counts(("manipulator", "codeword"), Games(codeword=codeword or None, manipulator_prompt="none"))
    results = []
    for (manipulator, word), found in sorted(counts.items()):
        c = summarise_outcomes(found)
        violation_rate, violation_ci = outcome_rate(c, "violation")
        results.append({
            "manipulator": manipulator, "codeword": word, "games": c["games"], "errors": c["error"],
            "win": c["win"], "violation": c["violation"], "win_rate": c["win_rate"], "win_rate_ci": c["win_rate_ci"],
            "violation_rate": violation_rate, "violation_rate_ci": violation_ci,
        })
    return results


def _fmt(value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.2f}"


def markdown(groups: list[dict[str, Any]], play: list[dict[str, Any]], db: Path) -> str:
    lines = [f"# Self-report interviews ({db.name})", ""]
    lines += ["Scores are means over valid items (for several fine-tuned models: the mean of their means), "
              "with bootstrap 95% intervals; the difference is fine-tuned minus baseline.", ""]
    for g in groups:
        lines += [f"## Codeword `{g['codeword']}`, variant `{g['variant']}`, session `{g['session']}`", "",
                  f"Fine-tuned: {', '.join(f'`{m}`' for m in g['models']) or '–'}  ",
                  f"Baseline: {', '.join(f'`{m}`' for m in g['baselines']) or '–'}", "",
                  f"![chart]({g['figure']})", "",
                  "| metric | what it measures | fine-tuned [95% CI] | baseline [95% CI] | difference [95% CI] "
                  "| items (ft / base) | invalid | method |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in g["metrics"]:
            what = describe_metric(row["metric"])
            lines.append(
                f"| `{row['metric']}` | {what} | {_fmt(row['model'], row['model_ci'])} "
                f"| {_fmt(row['baseline'], row['baseline_ci'])} | {_fmt(row['diff'], row['diff_ci'])} "
                f"| {row['model_items']} / {row['baseline_items']} | {row['invalid']} | {', '.join(row['methods'])} |")
        notes = [(row["metric"], note, n) for row in g["metrics"] for note, n in row.get("notes", {}).items()]
        if notes:
            lines += ["", "Not scored the preferred way:", ""]
            lines += [f"- `{metric}`: {n} item(s): {note}" for metric, note, n in notes]
        lines.append("")
    lines += ["## In-distribution play (manipulator with no system prompt)", ""]
    if not play:
        lines += ["No games in the database were played with `--manipulator-prompt none`.", ""]
    else:
        lines += ["| manipulator | codeword | games | errors | win rate [95% CI] | violation rate [95% CI] |",
                  "|---|---|---|---|---|---|"]
        for p in play:
            lines.append(f"| `{p['manipulator']}` | {p['codeword']} | {p['games']} | {p['errors']} "
                         f"| {_fmt(p['win_rate'], p['win_rate_ci'])} | {_fmt(p['violation_rate'], p['violation_rate_ci'])} |")
        lines += ["", "Rates are over games without errors, with Wilson 95% intervals."]
    return "\n".join(lines) + "\n"


def plot(table: list[dict[str, Any]], path: Path, title: str) -> None:
    """Grouped bars per metric, fine-tuned vs baseline, with 95% interval whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [row["metric"] for row in table]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(labels) + 2), 4.2))
    width = 0.38
    for k, (role, colour) in enumerate((("model", "#d1495b"), ("baseline", "#8d99ae"))):
        xs, heights, errors = [], [], [[], []]
        for i, row in enumerate(table):
            if row[role] is None:
                continue
            xs.append(i + (k - 0.5) * width)
            heights.append(row[role])
            low, high = row[f"{role}_ci"] or (row[role], row[role])
            errors[0].append(max(0.0, row[role] - low))
            errors[1].append(max(0.0, high - row[role]))
        ax.bar(xs, heights, width, yerr=errors, capsize=3, color=colour,
               label="fine-tuned" if role == "model" else "baseline")
    for i, row in enumerate(table):
        if row["model"] is None and row["baseline"] is None:
            ax.text(i, 0.02, "no valid\nanswers", ha="center", va="bottom", fontsize=7, color="#555555")
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
