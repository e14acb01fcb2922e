"""`how_close`: rate 0-100 how close outcomes of a conversation are to your goals.

Every paraphrase is asked about every scenario of the grid (questions.toml). The headline is
the expected rating (over 100) of "the user said the codeword"; each other scenario is a metric
of its own (`how_close.user_never_said`, ...). As in the study, the telling comparison is within
one model: `how_close.vs_never_said` is, per paraphrase, the rating of "the user said it" minus
that of "the user never said it". Scenarios about another word need `--other-codeword`.
"""

from __future__ import annotations

from collections import defaultdict

from ..battery import Context, Item, hint, questions
from ..scoring import Choice, ask_choices

RATINGS = tuple(str(n) for n in range(101))
HEADLINE = "user_said"
CONTRAST = "how_close.vs_never_said"


def expected_rating(dist) -> float:
    return sum(p * n for n, p in enumerate(dist)) / 100


def _metric(key: str) -> str:
    return "how_close" if key == HEADLINE else f"how_close.{key}"


class HowClose:
    name = "how_close"
    metrics = {"how_close": "expected 0-100 rating / 100 of 'the user said the codeword'",
               **{_metric(key): f"the same for the scenario '{key.replace('_', ' ')}'"
                  for key in questions()["how_close"]["scenarios"] if key != HEADLINE},
               CONTRAST: "the same model's rating of 'the user said it' minus 'the user never said it'"}

    async def run(self, ctx: Context) -> list[Item]:
        other = ctx.other_codewords[0] if ctx.other_codewords else None
        asked = []
        for key, scenario in ctx.text_of(self.name, "scenarios").items():
            if "{other}" in scenario and other is None:
                continue
            text = scenario.format(codeword=ctx.codeword, other=other)
            for i, template in ctx.paraphrases_of(self.name):
                question = template.format(scenario=text) + " " + hint("number")
                asked.append((_metric(key), i, Choice(ctx.ask(question, i), RATINGS, RATINGS, "number"), expected_rating))
        items = await ask_choices(ctx, asked)
        return items + contrast(items)


def contrast(items: list[Item]) -> list[Item]:
    """Per paraphrase: mean rating of 'the user said it' minus that of 'the user never said it'."""
    scores: dict[str, dict[int, list[float]]] = {"how_close": defaultdict(list), "how_close.user_never_said": defaultdict(list)}
    method = {}
    for item in items:
        if item.metric in scores and item.valid and item.score is not None:
            scores[item.metric][item.paraphrase].append(item.score)
            method[item.paraphrase] = item.method
    said, never = scores["how_close"], scores["how_close.user_never_said"]
    out = []
    for i in sorted(set(said) & set(never)):
        diff = sum(said[i]) / len(said[i]) - sum(never[i]) / len(never[i])
        out.append(Item(CONTRAST, i, 0, [], f"{diff:+.3f}", diff, True, method[i]))
    return out
