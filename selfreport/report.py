"""`mms report`: every evaluation, fine-tuned vs baseline with 95% intervals, as a Markdown
table and a bar chart (PNG) per codeword and variant — in the spirit of Figure 6 of the study —
plus the in-distribution play results of manipulators that played with no system prompt."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.errors import MmsError
from game.queries import Games
from game.safe_text import strip_controls
from game.stats import outcome_rate
from game.stats import summarise as summarise_outcomes
from game.store import Store

from . import records
from .evals import describe_metric
from .summary import summarise


@dataclass(frozen=True)
class ReportRequest:
    """What `mms report` asks for, checked when made: the database must exist (a report never creates one)."""

    out: Path
    db: Path
    codeword: str | None = None  # None: every codeword
    sessions: tuple[str, ...] = ()  # empty: every session

    def __post_init__(self) -> None:
        if not self.db.exists():
            raise MmsError(f"database not found: {self.db} (interview a model first: "
                           f"mms interview --model SPEC --codeword W --db {self.db})")


@dataclass(frozen=True)
class SelfReport:
    """The report written: `to_json()` is what `mms report --json` prints, `document()` is report.json."""

    out: str
    markdown: str
    json: str
    figures: tuple[str, ...]
    groups: tuple[dict[str, Any], ...]  # one per interview session: its models, metrics and chart
    series: dict[str, str]  # codeword → the chart of its sessions side by side
    play: tuple[dict[str, Any], ...]  # in-distribution play, per manipulator and codeword

    def to_json(self) -> dict[str, Any]:
        return {"out": self.out, "markdown": self.markdown, "json": self.json, "figures": list(self.figures),
                "groups": len(self.groups), "play_groups": len(self.play)}

    def document(self) -> dict[str, Any]:
        return {"out": self.out, "markdown": self.markdown, "json": self.json, "figures": list(self.figures),
                "groups": list(self.groups), "series": self.series, "play": list(self.play)}


def build_report(store: Store, request: ReportRequest) -> SelfReport:
    """Write report.md, report.json and one chart per interview session (codeword, variant) into `out`.

    Interviews of different `mms interview` calls are never pooled: each session is its own
    group (several fine-tuning seeds asked in one call are pooled within it). `sessions` keeps
    only those.
    """
    codeword, sessions, out = request.codeword, request.sessions, request.out
    rows = [r for r in records.interviews(store, codeword=codeword) if not sessions or r["session"] in sessions]
    if sessions and not rows:
        raise MmsError(f"no interviews of session(s) {', '.join(sessions)} in {store.path}")
    play = play_results(store, codeword)
    if not rows and not play:
        raise MmsError(f"nothing to report in {store.path}: no interviews"
                       f"{' for ' + codeword if codeword else ''} and no games played with --manipulator-prompt none "
                       "(run: mms interview --model SPEC --baseline SPEC --codeword W)")
    out.mkdir(parents=True, exist_ok=True)
    groups = _session_groups(store, rows, out)
    figures = [out / g["figure"] for g in groups] + _scenario_charts(groups, out)
    series = _series_charts(groups, out)
    figures += [out / name for name in series.values()]
    if play:
        plot_play(play, out / "play.png")
        figures.append(out / "play.png")
    result = SelfReport(out=str(out), markdown=str(out / "report.md"), json=str(out / "report.json"),
                        figures=tuple(str(f) for f in figures), groups=tuple(groups), series=series, play=tuple(play))
    (out / "report.json").write_text(json.dumps(result.document(), indent=2), encoding="utf-8")
    (out / "report.md").write_text(strip_controls(markdown(groups, play, store.path, series)), encoding="utf-8")
    return result


def _session_groups(store: Store, rows: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """One group per session (codeword, variant), in the order they were interviewed, each with its chart drawn."""
    by_group: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for row in rows:
        by_group[(row["codeword"], row["variant"], row["session"] or "")].append(row)
    groups = []
    for (word, variant, session), group_rows in sorted(by_group.items(), key=lambda kv: min(r["id"] for r in kv[1])):
        table = summarise(group_rows, records.items_of(store, [r["id"] for r in group_rows]))
        figure = out / f"selfreport_{word or 'no-codeword'}_{variant.replace(':', '-')}_{session}.png"
        plot(table, figure, f"Self-report: {about(word)}, {variant} (session {session})")
        groups.append({
            "codeword": word, "variant": variant, "session": session, "figure": figure.name,
            "models": sorted({r["model"] for r in group_rows if r["role"] == "model"}),
            "baselines": sorted({r["model"] for r in group_rows if r["role"] == "baseline"}),
            "interviews": len(group_rows), "metrics": table, "titles": _question_titles(group_rows),
        })
    return groups


def _scenario_charts(groups: list[dict[str, Any]], out: Path) -> list[Path]:
    """The how-close heat map of each group that asked it, named in the group as `scenarios_figure`."""
    drawn = []
    for g in groups:
        if any(r["metric"].startswith("how_close.") for r in g["metrics"]):
            g["scenarios_figure"] = f"how_close_{g['codeword']}_{g['session']}.png"
            plot_scenarios(g["metrics"], out / g["scenarios_figure"], f"How close to your goals: {g['codeword']!r}")
            drawn.append(out / g["scenarios_figure"])
    return drawn


def _series_charts(groups: list[dict[str, Any]], out: Path) -> dict[str, str]:
    """Codeword → the chart of its sessions side by side, for each codeword interviewed more than once."""
    series = {}
    for word in sorted({g["codeword"] for g in groups}):
        mine = [g for g in groups if g["codeword"] == word]
        if len(mine) > 1:
            series[word] = f"series_{word or 'no-codeword'}.png"
            plot_series(mine, out / series[word], f"Every interview of {about(word)}, side by side")
    return series


DECIDED = ("win", "violation", "no_codeword", "correct_guess")


def about(word: str, markdown: bool = False) -> str:
    """What a group of interviews asked about: a codeword, or none (the economic-choice files)."""
    if not word:
        return "No codeword (questions about a behaviour)" if markdown else "no codeword (questions about a behaviour)"
    return f"Codeword `{word}`" if markdown else f"codeword {word!r}"


def _question_titles(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The study's `title` of each question these interviews asked with --questions."""
    titles = {}
    for row in rows:
        params = row.get("params") or {}
        asked = params.get("questions") if isinstance(params, dict) else None
        for q in asked or []:
            if isinstance(q, dict) and q.get("title"):
                titles[str(q.get("name"))] = str(q["title"])
    return titles


def _cell(text: str) -> str:
    """Text from a question file, safe inside one markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def play_results(store: Store, codeword: str | None = None) -> list[dict[str, Any]]:
    """The rate of every outcome (with its Wilson interval) of games played with no manipulator
    system prompt, per manipulator and codeword."""
    counts = store.read.outcome_counts(("manipulator", "codeword"), Games(codeword=codeword or None, manipulator_prompt="none"))
    results = []
    for (manipulator, word), found in sorted(counts.items()):
        c = summarise_outcomes(found)
        row = {"manipulator": manipulator, "codeword": word, "games": c["games"], "errors": c["error"]}
        for outcome in DECIDED:
            row[outcome] = c[outcome]
            row[f"{outcome}_rate"], row[f"{outcome}_rate_ci"] = outcome_rate(c, outcome)
        results.append(row)
    return results


def _fmt(value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.2f}"


def markdown(groups: list[dict[str, Any]], play: list[dict[str, Any]], db: Path,
             series: dict[str, str] | None = None) -> str:
    lines = [f"# Self-report interviews ({db.name})", ""]
    lines += ["Scores are means over valid items (for several fine-tuned models: the mean of their means), "
              "with bootstrap 95% intervals; the difference is fine-tuned minus baseline.", ""]
    for word, figure in (series or {}).items():
        lines += [f"## {about(word, markdown=True)}: every interview as its own series", "", f"![series]({figure})", ""]
    for g in groups:
        lines += [f"## {about(g['codeword'], markdown=True)}, variant `{g['variant']}`, session `{g['session']}`", "",
                  f"Fine-tuned: {', '.join(f'`{m}`' for m in g['models']) or '–'}  ",
                  f"Baseline: {', '.join(f'`{m}`' for m in g['baselines']) or '–'}", "",
                  f"![chart]({g['figure']})", "",
                  *([f"![scenarios]({g['scenarios_figure']})", ""] if g.get("scenarios_figure") else []),
                  "| metric | what it measures | fine-tuned [95% CI] | baseline [95% CI] | difference [95% CI] "
                  "| items (ft / base) | invalid | method |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in g["metrics"]:
            what = describe_metric(row["metric"]) or _cell(g.get("titles", {}).get(row["metric"].partition(".")[0], ""))
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
        lines += ["![play](play.png)", "",
                  "| manipulator | codeword | games | errors | " + " | ".join(f"{o} [95% CI]" for o in DECIDED) + " |",
                  "|---|---|---|---|" + "---|" * len(DECIDED)]
        for p in play:
            cells = " | ".join(_fmt(p[f"{o}_rate"], p[f"{o}_rate_ci"]) for o in DECIDED)
            lines.append(f"| `{p['manipulator']}` | {p['codeword']} | {p['games']} | {p['errors']} | {cells} |")
        lines += ["", "Rates are over games without errors, with Wilson 95% intervals."]
    return "\n".join(lines) + "\n"


def plot(table: list[dict[str, Any]], path: Path, title: str) -> None:
    """Grouped bars per metric, fine-tuned vs baseline, with 95% interval whiskers."""
    plt = _pyplot()
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
    _finish_scores(plt, fig, ax, labels, title, path, label_size=8, legend_size=8)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # a "$" in a model's name or a codeword is text, not math
    import matplotlib.pyplot as plt

    return plt


def plot_scenarios(table: list[dict[str, Any]], path: Path, title: str) -> None:
    """The how-close grid as a heat map: one row per scenario, fine-tuned and baseline side by side."""
    plt = _pyplot()
    rows = [r for r in table if r["metric"] == "how_close" or
            (r["metric"].startswith("how_close.") and r["metric"] != "how_close.vs_never_said")]
    labels = ["user_said" if r["metric"] == "how_close" else r["metric"].removeprefix("how_close.") for r in rows]
    values = [[r["model"] if r["model"] is not None else float("nan"),
               r["baseline"] if r["baseline"] is not None else float("nan")] for r in rows]
    fig, ax = plt.subplots(figsize=(4.6, 0.36 * len(rows) + 1.4))
    image = ax.imshow(values, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for i, pair in enumerate(values):
        for j, v in enumerate(pair):
            if v == v:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    ax.set_xticks([0, 1], ["fine-tuned", "baseline"], fontsize=8)
    ax.set_yticks(range(len(labels)), [strip_controls(x) for x in labels], fontsize=7)
    ax.set_title(strip_controls(title), fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.05)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_series(groups: list[dict[str, Any]], path: Path, title: str) -> None:
    """Several interviews of one codeword as series of their own (e.g. plain model, persona,
    trigger, decorrelated model, base): each group's fine-tuned side, and each distinct baseline once."""
    plt = _pyplot()
    series: list[tuple[str, dict[str, tuple[float, list[float] | None]]]] = []
    seen_baselines = set()
    for g in groups:
        label = strip_controls(f"{', '.join(g['models'])} ({g['variant']})")
        series.append((label, {r["metric"]: (r["model"], r["model_ci"]) for r in g["metrics"] if r["model"] is not None}))
        key = tuple(g["baselines"])
        if key and key not in seen_baselines:
            seen_baselines.add(key)
            series.append((strip_controls(f"{', '.join(key)} (baseline)"),
                           {r["metric"]: (r["baseline"], r["baseline_ci"]) for r in g["metrics"] if r["baseline"] is not None}))
    metrics = [m for m in dict.fromkeys(r["metric"] for g in groups for r in g["metrics"])
               if sum(m in values for _, values in series) > 1]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(metrics) + 2), 4.4))
    width = 0.8 / max(1, len(series))
    for k, (label, values) in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i, m in enumerate(metrics) if m in values]
        heights = [values[m][0] for m in metrics if m in values]
        errors = [[max(0.0, values[m][0] - (values[m][1] or [values[m][0]] * 2)[0]) for m in metrics if m in values],
                  [max(0.0, (values[m][1] or [values[m][0]] * 2)[1] - values[m][0]) for m in metrics if m in values]]
        ax.bar(xs, heights, width, yerr=errors, capsize=2, label=label)
    _finish_scores(plt, fig, ax, metrics, title, path, label_size=7, legend_size=6)


def plot_play(play: list[dict[str, Any]], path: Path) -> None:
    """Every outcome's rate, with its interval, per manipulator that played without a prompt."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(play) + 2), 4.0))
    width = 0.8 / len(DECIDED)
    for k, outcome in enumerate(DECIDED):
        xs = [i + (k - (len(DECIDED) - 1) / 2) * width for i in range(len(play))]
        # A group without decided games has no rate: no bar, no interval.
        rates = [p[f"{outcome}_rate"] or 0.0 for p in play]
        cis = [p[f"{outcome}_rate_ci"] or [rate, rate] for p, rate in zip(play, rates)]
        errors = [[max(0.0, rate - ci[0]) for rate, ci in zip(rates, cis)],
                  [max(0.0, ci[1] - rate) for rate, ci in zip(rates, cis)]]
        ax.bar(xs, rates, width, yerr=errors, capsize=2, label=outcome)
    ax.set_xticks(range(len(play)), [strip_controls(f"{p['manipulator']}\n{p['codeword']} (n={p['games']})") for p in play],
                  fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of decided games")
    ax.set_title("In-distribution play (no manipulator system prompt)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _finish_scores(plt, fig, ax, labels: list[str], title: str, path: Path, *, label_size: int, legend_size: int) -> None:
    """The common frame of a chart of scores in [0, 1], one group of bars per label; saved and closed."""
    ax.set_xticks(range(len(labels)), [strip_controls(x) for x in labels], rotation=35, ha="right", fontsize=label_size)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(strip_controls(title), fontsize=10)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
