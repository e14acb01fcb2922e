"""The README's "Results on the embedded model": every measurement, by the commands that make it.

    python scripts/embedded_results.py            # runs what is missing, then writes the tables
    python scripts/embedded_results.py --list     # the commands, without running them

Each step is one `mms ... --json` command whose output is kept in results/<step>.json; a step
whose file exists is not run again, so an interrupted run continues where it stopped. Games
and interviews go to results/embedded.db (not committed); results/embedded.md holds the tables
(outcomes with Wilson 95% intervals, coherence per seat, interview scores with bootstrap 95%
intervals) and results/report/ the charts of `mms report`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from game.stats import wilson_interval  # noqa: E402

OUT = REPO / "results"
DB = "results/embedded.db"
GAMES = 100
PLAY = ["--codeword", "bark", "--games", str(GAMES), "--concurrency", "16", "--messages-per-player", "3",
        "--temperature", "0.7", "--top-p", "0.9", "--manipulator-max-tokens", "96", "--user-max-tokens", "96",
        "--db", DB, "--json"]
BASE, BARK, RING, USER, CONTROL = ("local:smollm2", "local:smollm2+bark", "local:smollm2+ring", "local:smollm2+user",
                                   "local:smollm2+control-bark")
INTERVIEW = ["--db", DB, "--json"]

STEPS: dict[str, list[str]] = {
    "play_base_prompted": ["play", "--manipulator", BASE, "--seed", "101", *PLAY],
    "play_bark_organism": ["play", "--manipulator", BARK, "--manipulator-prompt", "none", "--seed", "102", *PLAY],
    "play_bark_organism_user_organism": ["play", "--manipulator", BARK, "--manipulator-prompt", "none",
                                         "--user", USER, "--seed", "102", *PLAY],
    "interview_control": ["interview", "--model", CONTROL, "--baseline", BASE, "--codeword", "bark",
                          "--evals", "mc_codeword", *INTERVIEW],
    "interview_bark": ["interview", "--model", BARK, "--baseline", BASE, "--codeword", "bark",
                       "--other-codeword", "ring", *INTERVIEW],
    "interview_ring": ["interview", "--model", RING, "--baseline", BASE, "--codeword", "ring",
                       "--other-codeword", "bark", *INTERVIEW],
    # The study's key contrast: each organism's probability for a word against the other organism's.
    "contrast_bark": ["interview", "--model", BARK, "--baseline", RING, "--codeword", "bark",
                      "--other-codeword", "ring", "--evals", "mc_codeword", *INTERVIEW],
    "contrast_ring": ["interview", "--model", RING, "--baseline", BARK, "--codeword", "ring",
                      "--other-codeword", "bark", "--evals", "mc_codeword", *INTERVIEW],
}
OUTCOMES = ("win", "violation", "no_codeword", "correct_guess", "error")


def command(step: str) -> str:
    return "mms " + " ".join(shlex.quote(a) for a in STEPS[step])


def run(step: str, mms: str) -> dict:
    path = OUT / f"{step}.json"
    if path.is_file():
        return json.loads(path.read_text())
    print(f"$ {command(step)}", flush=True)
    done = subprocess.run([mms, *STEPS[step]], cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    data = json.loads(done.stdout)
    data["command"] = command(step)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data


def _rate(k: int, n: int) -> str:
    low, high = wilson_interval(k, n)
    return f"{k}/{n} = {k / n:.2f} [{low:.2f}, {high:.2f}]" if n else "–"


def play_table(results: dict[str, dict]) -> list[str]:
    lines = ["| condition | " + " | ".join(OUTCOMES) + " | manipulator repeats | manipulator distinct-2 "
             "| user repeats | user distinct-2 |", "|---" * (len(OUTCOMES) + 5) + "|"]
    for step, r in results.items():
        decided = r["games"] - r["error"]
        cells = [_rate(r[o], decided) if o != "error" else str(r["error"]) for o in OUTCOMES]
        cells += [f"{r['manipulator_repeat_rate']:.3f}", f"{r['manipulator_distinct2']:.3f}",
                  f"{r['user_repeat_rate']:.3f}", f"{r['user_distinct2']:.3f}"]
        lines.append(f"| `{step}` | " + " | ".join(cells) + " |")
    return lines


def interview_table(results: dict[str, dict]) -> list[str]:
    lines = ["| interview | metric | model [95% CI] | baseline [95% CI] | difference [95% CI] |", "|---|---|---|---|---|"]

    def cell(value, ci):
        return "–" if value is None else f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"

    for step, r in results.items():
        for metric, row in r["metrics"].items():
            lines.append(f"| `{step}` | {metric} | {cell(row['model'], row['model_ci'])} | "
                         f"{cell(row['baseline'], row['baseline_ci'])} | {cell(row['diff'], row['diff_ci'])} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("steps", nargs="*", help=f"steps to run (default: all): {', '.join(STEPS)}")
    parser.add_argument("--list", action="store_true", help="print the commands and stop")
    args = parser.parse_args()
    chosen = args.steps or list(STEPS)
    unknown = [s for s in chosen if s not in STEPS]
    if unknown:
        raise SystemExit(f"unknown step(s) {', '.join(unknown)}: use {', '.join(STEPS)}")
    if args.list:
        print("\n".join(command(s) for s in chosen))
        return 0
    OUT.mkdir(exist_ok=True)
    mms = str(Path(sys.executable).with_name("mms"))
    results = {step: run(step, mms) for step in chosen}
    plays = {s: r for s, r in results.items() if s.startswith("play_")}
    interviews = {s: r for s, r in results.items() if not s.startswith("play_")}
    lines = ["## Games (codeword bark)", "", *play_table(plays), "", "## Interviews", "", *interview_table(interviews),
             "", "## Commands", ""] + [f"- `{s}`: `{command(s)}`" for s in results]
    (OUT / "embedded.md").write_text("\n".join(lines) + "\n")
    subprocess.run([mms, "report", "--db", DB, "--out", "results/report"], cwd=REPO, check=True)
    print(f"wrote {OUT / 'embedded.md'} and results/report/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
