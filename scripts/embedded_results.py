"""The README's "Results on the embedded model", rebuilt from scratch at HEAD by one command.

    python scripts/embedded_results.py             # every measurement, from scratch, then the README
    python scripts/embedded_results.py --resume    # keep results measured at this same code commit
    python scripts/embedded_results.py --list      # the commands, without running them
    python scripts/embedded_results.py --render    # only rewrite the README tables from results/*.json

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
so a newly shipped seed joins the next run.
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

from scripts.results_readme import render_block, replace_block  # noqa: E402

OUT = REPO / "results" / "mms"
STEPS = OUT / "steps"
DB = "results/mms/embedded.db"
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


def run_step(name: str, argv: list[str], resume: bool) -> dict:
    path = STEPS / f"{name}.json"
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


def pooled(models: list[str], baselines: list[str], results: dict[str, dict], keep=None) -> dict:
    """One table from steps' interviews: `models` steps as the model side (one seed each), `baselines` as the other."""
    from game.store import Store
    from selfreport import records
    from selfreport.summary import summarise

    rows = []
    with Store.reader(REPO / DB) as store:
        for role, names in (("model", models), ("baseline", baselines)):
            for session in _sessions(results, names):
                rows += [{**row, "role": role} for row in records.interviews(store, session=session)]
        items = records.items_of(store, [r["id"] for r in rows])
    if keep is not None:
        items = [i for i in items if i["metric"] in keep]
    table = summarise(rows, items)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resume", action="store_true", help="keep results measured at this code commit")
    parser.add_argument("--list", action="store_true", help="print the commands and stop")
    parser.add_argument("--render", action="store_true", help="only rewrite the README block from results/mms/*.json")
    parser.add_argument("--jobs", type=int, default=2, help="steps run side by side, one thread each (default 2: two cores)")
    args = parser.parse_args()
    plan = steps()
    if args.list:
        print("\n".join(command(argv) for argv in plan.values()))
        return 0
    if not args.render:
        STEPS.mkdir(parents=True, exist_ok=True)
        if not args.resume:
            for stale in [*OUT.glob("*.json"), *STEPS.glob("*.json"), *OUT.glob("embedded.db*")]:
                stale.unlink()
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:  # each step is its own process
            futures = {name: pool.submit(run_step, name, argv, args.resume) for name, argv in plan.items()}
            results = {name: future.result() for name, future in futures.items()}
        for name, table in aggregate(results).items():
            (OUT / f"{name}.json").write_text(json.dumps(table, indent=2) + "\n")
    readme = REPO / "README.md"
    readme.write_text(replace_block(readme.read_text(encoding="utf-8"), render_block(OUT)), encoding="utf-8")
    print(f"wrote the results block of {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
