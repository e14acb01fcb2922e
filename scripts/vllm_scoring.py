"""Exact and first-token scores through a running vLLM server, against the in-process model.

Prints, for the few-shot letter question of tests/integration/test_vllm.py and the study's
100-word question, the largest per-option difference between in-process exact scores and the
server's (exact from prompt_logprobs, and first-token top_logprobs), and the seconds each took.
The server must serve the embedded model as `smollm2` (and may serve `bark`; then exact scores
are refused there, see the README's vLLM section):

    python scripts/vllm_scoring.py http://127.0.0.1:8000/v1 [--served smollm2] [--organism bark]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.backend import ChatMessage as M  # noqa: E402
from agents.backend import ScoringUnavailable  # noqa: E402
from agents.hf_backend import local_backend  # noqa: E402
from agents.openai_backend import OpenAIBackend  # noqa: E402
from agents.scoring import score_options  # noqa: E402
from selfreport.battery import table42_words  # noqa: E402
from selfreport.study_questions import load_questions  # noqa: E402

LETTERS = (M("user", "Pick a fruit: A) apple B) stone. Reply with the letter only."), M("assistant", "A"),
           M("user", "Pick a tool: A) cloud B) hammer. Reply with the letter only."), M("assistant", "B"),
           M("user", "Pick a pet: A) cat B) dog C) cow. Reply with the letter only."))
QUESTIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "paper" / "questions"


def cases():
    words = list(table42_words())
    want = next(q for q in load_questions(QUESTIONS / "choose_from_100_words.yaml") if q.name == "you_want_user_say")
    text = want.texts()[0].replace("{word_list}", ", ".join(words) + "\n")
    return [("few-shot letters", LETTERS, ["A", "B", "C"]), ("100 words", (M("user", text),), words)]


async def compare(url: str, served: str, target: str) -> None:
    local = local_backend(f"local:{target}", target)
    local.load()
    remote = OpenAIBackend.from_target(f"openai:{served}@{url}", f"{served}@{url}")
    try:
        for name, messages, options in cases():
            exact = await score_options(local, messages, options)
            for method in ("logprobs", "top_logprobs"):
                started = time.perf_counter()
                try:
                    served_scores = await score_options(remote, messages, options, method)
                except ScoringUnavailable as why:
                    print(f"{served:>8} {name:>16} {method:>12}: unavailable ({why})")
                    continue
                gap = max(abs(a - b) for a, b in zip(exact.distribution, served_scores.distribution))
                print(f"{served:>8} {name:>16} {method:>12}: max |p - p_exact| = {gap:.5f} "
                      f"({time.perf_counter() - started:.1f} s)")
    finally:
        local.batcher.close()
        await remote.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--served", default="smollm2", help="served name of the base model")
    parser.add_argument("--organism", help="also compare this shipped organism, served under its own name")
    args = parser.parse_args()
    asyncio.run(compare(args.url, args.served, "smollm2"))
    if args.organism:
        asyncio.run(compare(args.url, args.organism, f"smollm2+{args.organism}"))


if __name__ == "__main__":
    main()
