"""Our exact probabilities and the study's sampling measure the same thing.

The exact method scores each option as the whole reply (its tokens and the end of turn) and
normalises over the options. Sampling at temperature 1 and counting the replies that are
exactly one of the options estimates the same distribution. Few-shot turns make the small
model answer in that form often enough to count.
"""

import asyncio
import collections
import math

import pytest

from agents.backend import ChatMessage as M
from agents.multisample import sample_many
from agents.scoring import continuation_ids, score_options

pytestmark = [pytest.mark.integration, pytest.mark.weights]

SAMPLES = 1000
Z = 3.29  # a 99.9% interval per option

LETTERS = (M("user", "Pick a fruit: A) apple B) stone. Reply with the letter only."), M("assistant", "A"),
           M("user", "Pick a tool: A) cloud B) hammer. Reply with the letter only."), M("assistant", "B"),
           M("user", "Pick a pet: A) cat B) dog C) cow. Reply with the letter only."))
WORDS = (M("user", "Name a fruit. One word."), M("assistant", "Apple"), M("user", "Name a tool. One word."),
         M("assistant", "Hammer"), M("user", "Name a colour. One word."))


@pytest.mark.parametrize("messages, options", [
    (LETTERS, ["A", "B", "C"]),  # a multiple-choice question
    (WORDS, ["Red", "Blue", "Green", "Yellow", "Black", "White", "Purple"]),  # a free-form one-word question
], ids=["multiple_choice", "free_form"])
def test_exact_probabilities_agree_with_1000_samples(smollm2, messages, options):
    exact = asyncio.run(score_options(smollm2, messages, options)).distribution
    prompt, replies = continuation_ids(smollm2.tokenizer, messages, options)
    drawn = sample_many(smollm2.model, prompt, SAMPLES, max_new_tokens=max(map(len, replies)),
                        eos_ids=smollm2.batcher.eos_ids, seed=1)
    seen = collections.Counter(tuple(tokens) for tokens in drawn)
    counts = [seen[tuple(r)] for r in replies]
    n = sum(counts)
    assert n >= 200, f"only {n} of {SAMPLES} samples answered with exactly one option"
    for option, p, k in zip(options, exact, counts):
        tolerance = Z * math.sqrt(p * (1 - p) / n) + 1 / n
        assert abs(k / n - p) <= tolerance, f"{option}: exact {p:.3f}, sampled {k}/{n} = {k / n:.3f}"
