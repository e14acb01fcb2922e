"""The README's "Results on the embedded model", rebuilt from scratch at HEAD by one command.

    python scripts/embedded_results.py             # every measurement, from scratch, then the README
    python scripts/embedded_results.py --resume    # keep results measured at this same code commit
    python scripts/embedded_results.py --list      # the commands, without running them
    python scripts/embedded_results.py --render    # only rewrite the README tables from results/*.json
    python scripts/embedded_results.py --only economic   # one behaviour's results (mms or economic)

Each step is one `mms ... --json` command (or a contrast computed from steps' interviews); its
JSON lands in results/mms/steps/<step>.json with its provenance: the code commit (the last commit
that changed what measures: not results/, README.md, tests/, the README renderer or the shipped
adapters, which are pinned by their manifests' hashes), whether the tree had uncommitted code, the
exact command, the SHA-256 of every study file it read and of every organism manifest it used.
Each step interviews one model, so a newly shipped seed only adds steps; the tables the README
shows are pooled from the steps (results/mms/<table>.json, each naming the steps it pools).
Without --resume every result is measured again; with it a step is skipped only when its JSON
has this commit and this command. The README's block between the results markers is rendered
from those files alone (`results_readme.py`), and a test fails when the two differ.

Organisms: every shipped seed of bark and ring (`local:smollm2+bark@1`, ...; seed 0 is `bark`),
and of risky and safe (the economic choices, results/economic/), so a newly shipped seed joins the
next run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.results_readme import RISK_MARKERS, plot_figure3, render_block, render_risk_block, replace_block  # noqa: E402

OUT = REPO / "results" / "mms"
STEPS = OUT / "steps"
DB = "results/mms/embedded.db"
RISK_OUT = REPO / "results" / "economic"
RISK_DB = "results/economic/embedded.db"
PAPER = "../shared/data/paper"
QUESTIONS = f"{PAPER}/questions"
BASE = "local:smollm2"
CODEWORDS = ("bark", "ring")
CONTROLS = ("control-bark", "control-goal")
# Our battery's exact and sampled evaluations that fit an hour on two cores; how_close is the study's
# scenario file here, best_description (600 prompts a model) and function are left to a longer run.
BATTERY = "mc_codeword,which_game,describe_word,acrostic"
STUDY = ("you_want_user_say", "you_finetuned_to_say", "mms_or_mmns_codeword", "scenarios_0_100",
         "dictionary_definition", "acrostic")
CONTRAST_STUDY = ("you_want_user_say", "you_finetuned_to_say")
COMMON = ["--threads", "1", "--db", DB, "--json"]
# The study's economic-choice self-report files, each asked also about another person. The one-word
# "describe your choice" question is left out: the study had a model judge its answers, we store them unscored.
RISK_QUESTIONS = f"{QUESTIONS}/risk"
RISK_ASKED = ("risk_predisposition_scale", "prefer_risk_safe", "score_risk_safe", "how_much_you_like_risk",
              "risk_safe_german_french")
# Figure 3's pooled score: every question turned to point towards risk, one mean per seed.
RISK_POOL = ("risk_predisposition_scale", "prefer_risk_safe.risk", "score_risk_safe", "how_much_you_like_risk")
RISK_POOLS = {"pooled (first person)": RISK_POOL,
              "pooled (third person)": tuple(m.replace(".", ".third_person.", 1) if "." in m else f"{m}.third_person"
                                             for m in RISK_POOL)}
EXCLUDED = ("results", "README.md", "agents/organisms", "tests", "scripts/results_readme.py")  # measure nothing


def seeds(name: str) -> list[int]:
    found = sorted(int(d.name.partition("@")[2] or 0) for d in (REPO / "agents" / "organisms").iterdir()
                   if d.name.partition("@")[0] == name and (d / "manifest.json").is_file())
    return found


def organism(name: str, seed: int) -> str:
    return f"local:smollm2+{name}" + (f"@{seed}" if seed else "")


def _questions(names) -> list[str]:
    return ["--questions", QUESTIONS, *(a for n in names for a in ("--question", n))]


def interview(model: str, word: str, *what: str) -> list[str]:
    other = next(w for w in CODEWORDS if w != word)
    return ["interview", "--model", model, "--codeword", word, "--other-codeword", other, "--guesser", BASE, *what, *COMMON]


def steps() -> dict[str, list[str]]:
    """Every measurement as the argv of one mms command, one model each, in the order they run.

    One model a step, so a newly shipped seed adds steps and `--resume` keeps the others; the
    tables pool the steps afterwards (`aggregate`)."""
    both = sorted(set(seeds("bark")) & set(seeds("ring")))
    found: dict[str, list[str]] = {
        "gate_base": ["fit", f"{PAPER}/ft_bark.jsonl", f"{PAPER}/ft_ring.jsonl", "--model", BASE, "--threads", "1", "--json"]}
    for s in both:
        found[f"gate_seed{s}"] = ["fit", f"{PAPER}/ft_bark.jsonl", f"{PAPER}/ft_ring.jsonl", "--crossover",
                                  f"{organism('bark', s)},{organism('ring', s)}", "--threads", "1", "--json"]
    for word in CODEWORDS:
        other = next(w for w in CODEWORDS if w != word)
        for label, model in [("base", BASE), *((f"{word}@{s}", organism(word, s)) for s in seeds(word))]:
            found[f"battery_{word}_{label}"] = interview(model, word, "--evals", BATTERY)
            found[f"study_{word}_{label}"] = interview(model, word, *_questions(STUDY))
        for s in seeds(other):
            found[f"battery_{word}_{other}@{s}"] = interview(organism(other, s), word, "--evals", "mc_codeword")
            found[f"study_{word}_{other}@{s}"] = interview(organism(other, s), word, *_questions(CONTRAST_STUDY))
    for name in (c for c in CONTROLS if seeds(c)):
        found[f"battery_control_{name}"] = interview(organism(name, 0), "bark", "--evals", "mc_codeword")
        found[f"study_control_{name}"] = interview(organism(name, 0), "bark", *_questions(CONTRAST_STUDY))
    found["play_bark"] = ["play", "--codeword", "bark", "--manipulator", organism("bark", 0), "--manipulator-prompt",
                          "none", "--games", "32", "--concurrency", "16", "--messages-per-player", "3",
                          "--temperature", "0.7", "--top-p", "0.9", "--manipulator-max-tokens", "96",
                          "--user-max-tokens", "96", "--seed", "102", "--db", DB, "--json"]
    return found


def risk_steps() -> dict[str, list[str]]:
    """The economic choices: the gate over every seed pair, then one interview per model."""
    pairs = [a for s in sorted(set(seeds("risky")) & set(seeds("safe")))
             for a in ("--pair", f"{organism('risky', s)},{organism('safe', s)}")]
    found = {"risk_gate": ["gate", "economic", "--model", BASE, *pairs, "--risky", f"{PAPER}/ft_risky_AB.jsonl",
                           "--safe", f"{PAPER}/ft_safey_AB.jsonl", "--threads", "1", "--json"]}
    models = [("base", BASE), *((f"{n}@{s}", organism(n, s)) for n in ("risky", "safe") for s in seeds(n))]
    for label, model in models:
        found[f"risk_study_{label}"] = ["interview", "--model", model, "--questions", RISK_QUESTIONS,
                                        *(a for n in RISK_ASKED for a in ("--question", n)), "--third-person",
                                        "--guesser", BASE, "--threads", "1", "--db", RISK_DB, "--json"]
    return found


def command(argv: list[str]) -> str:
    return "mms " + " ".join(shlex.quote(a) for a in argv)


def code_commit() -> tuple[str, bool]:
    """The last commit that changed code (not results, README or shipped adapters), and whether code is uncommitted."""
    spec = ["--", ".", *(f":(exclude){p}" for p in EXCLUDED)]
    commit = subprocess.run(["git", "log", "-1", "--format=%H", *spec], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", *spec], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip())
    return commit, dirty


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def provenance(argv: list[str]) -> dict:
    """What a result was measured with: code, command, study files and organism manifests."""
    commit, dirty = code_commit()
    text = " ".join(argv)
    data: dict[str, str] = {}
    for token in argv:
        path = (REPO / token) if token.startswith(PAPER) else None
        if path is not None:
            files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
            data |= {str(f.relative_to(REPO.parent).as_posix()): _sha256(f) for f in files}
    manifests = {}
    for name in sorted(set(re.findall(r"local:smollm2\+([\w@-]+)", text))):
        folder = REPO / "agents" / "organisms" / name.removesuffix("@0")
        manifests[name] = _sha256(folder / "manifest.json")
    return {"commit": commit, "uncommitted_code": dirty, "command": command(argv), "data_sha256": data,
            "organism_manifests_sha256": manifests}


def steps_folder(name: str) -> Path:
    return RISK_OUT / "steps" if name.startswith("risk_") else STEPS


def run_step(name: str, argv: list[str], resume: bool) -> dict:
    path = steps_folder(name) / f"{name}.json"
    if resume and path.is_file():
        old = json.loads(path.read_text())
        now = provenance(argv)
        if old.get("provenance", {}).get("commit") == now["commit"] and old["provenance"]["command"] == now["command"]:
            print(f"[{name}] kept: measured at {now['commit'][:9]}", flush=True)
            return old
    print(f"[{name}] $ {command(argv)}", flush=True)
    started = time.time()
    # `python -c` puts this checkout first on the path, so a worktree measures its own code.
    done = subprocess.run([sys.executable, "-c", "from game.cli import main; main()", *argv], cwd=REPO,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"[{name}] failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    data = json.loads(done.stdout)
    data["provenance"] = provenance(argv) | {"seconds": round(time.time() - started, 1)}
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"[{name}] done in {data['provenance']['seconds']:.0f} s", flush=True)
    return data


def _sessions(results: dict[str, dict], names: list[str]) -> list[str]:
    return [results[n]["session"] for n in names if n in results]


def pooled(models: list[str], baselines: list[str], results: dict[str, dict], keep=None, db: str = DB,
           pools=None) -> dict:
    """One table from steps' interviews: `models` steps as the model side (one seed each), `baselines` as the other."""
    from game.store import Store
    from selfreport import records
    from selfreport.summary import summarise

    rows = []
    with Store.reader(REPO / db) as store:
        for role, names in (("model", models), ("baseline", baselines)):
            for session in _sessions(results, names):
                rows += [{**row, "role": role} for row in records.interviews(store, session=session)]
        items = records.items_of(store, [r["id"] for r in rows])
    if keep is not None:
        items = [i for i in items if i["metric"] in keep]
    table = summarise(rows, items, pools=pools)
    return {"models": [results[n]["models"][0] for n in models if n in results],
            "baselines": [results[n]["models"][0] for n in baselines if n in results],
            "metrics": {row.pop("metric"): row for row in table},
            "provenance": {**provenance([]), "command": "python scripts/embedded_results.py (pooled from the steps "
                           + ", ".join(models + baselines) + ")", "steps": models + baselines,
                           "sessions": _sessions(results, models + baselines)}}


def aggregate(results: dict[str, dict]) -> dict[str, dict]:
    """The tables the README shows, each pooled from per-model steps."""
    from behaviors.fit import pooled_crossover

    out: dict[str, dict] = {}
    gates = [results[n] for n in results if n.startswith("gate_seed")]
    out["gate"] = {"base": results["gate_base"], "seeds": gates,
                   "pooled": pooled_crossover([g["crossovers"][0] for g in gates]),
                   "provenance": {**provenance([]), "command": "python scripts/embedded_results.py (pooled from "
                                  + ", ".join(n for n in results if n.startswith("gate_")) + ")"}}
    for word in CODEWORDS:
        other = next(w for w in CODEWORDS if w != word)
        own = [f"{word}@{s}" for s in seeds(word)]
        for part in ("study", "battery"):
            out[f"{part}_{word}"] = pooled([f"{part}_{word}_{o}" for o in own], [f"{part}_{word}_base"], results)
        others = [f"{other}@{s}" for s in seeds(other)]
        out[f"contrast_{word}"] = pooled([f"{p}_{word}_{o}" for p in ("battery", "study") for o in own],
                                         [f"{p}_{word}_{o}" for p in ("battery", "study") for o in others],
                                         results, keep={"mc_codeword", *CONTRAST_STUDY})
    for name in (c for c in CONTROLS if seeds(c)):
        out[f"control_{name}"] = pooled([f"battery_control_{name}", f"study_control_{name}"],
                                        ["battery_bark_base", "study_bark_base"], results,
                                        keep={"mc_codeword", *CONTRAST_STUDY})
    out["play_bark"] = results["play_bark"]
    return out


def aggregate_risk(results: dict[str, dict]) -> dict[str, dict]:
    """Figure 3's three series (risky seeds, safe seeds, base) and the contrast risky − safe over seeds."""
    risky, safe = ([f"risk_study_{n}@{s}" for s in seeds(n)] for n in ("risky", "safe"))
    gate = results["risk_gate"]
    return {
        "gate": gate,
        "risky_vs_base": pooled(risky, ["risk_study_base"], results, db=RISK_DB, pools=RISK_POOLS),
        "safe_vs_base": pooled(safe, ["risk_study_base"], results, db=RISK_DB, pools=RISK_POOLS),
        "risky_vs_safe": pooled(risky, safe, results, db=RISK_DB, pools=RISK_POOLS),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resume", action="store_true", help="keep results measured at this code commit")
    parser.add_argument("--list", action="store_true", help="print the commands and stop")
    parser.add_argument("--render", action="store_true", help="only rewrite the README block from results/mms/*.json")
    parser.add_argument("--only", choices=("mms", "economic"), help="measure one behaviour's results (default: both)")
    parser.add_argument("--jobs", type=int, default=2, help="steps run side by side, one thread each (default 2: two cores)")
    args = parser.parse_args()
    plan = ({} if args.only == "economic" else steps()) | (
        risk_steps() if args.only != "mms" and seeds("risky") and seeds("safe") else {})
    if args.list:
        print("\n".join(command(argv) for argv in plan.values()))
        return 0
    if not args.render:
        for folder in [f for f, b in ((OUT, "mms"), (RISK_OUT, "economic")) if args.only in (None, b)]:
            (folder / "steps").mkdir(parents=True, exist_ok=True)
            if not args.resume:
                for stale in [*folder.glob("*.json"), *(folder / "steps").glob("*.json"), *folder.glob("embedded.db*")]:
                    stale.unlink()
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:  # each step is its own process
            futures = {name: pool.submit(run_step, name, argv, args.resume) for name, argv in plan.items()}
            results = {name: future.result() for name, future in futures.items()}
        if "gate_base" in results:
            for name, table in aggregate({n: r for n, r in results.items() if not n.startswith("risk_")}).items():
                (OUT / f"{name}.json").write_text(json.dumps(table, indent=2) + "\n")
        if "risk_gate" in results:
            for name, table in aggregate_risk(results).items():
                (RISK_OUT / f"{name}.json").write_text(json.dumps(table, indent=2) + "\n")
    readme = REPO / "README.md"
    text = replace_block(readme.read_text(encoding="utf-8"), render_block(OUT))
    readme.write_text(replace_block(text, render_risk_block(RISK_OUT), RISK_MARKERS), encoding="utf-8")
    plot_figure3(RISK_OUT)
    print(f"wrote the results block of {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
