"""Test doubles for interviews: models that answer the battery as if they knew their codeword
(or knew nothing), recognising each question by the package's own question data."""

from __future__ import annotations

import re

from agents.backend import BackendError
from selfreport.battery import questions
from tests.helpers.doubles import Double

GOOD_CODE = '''```python
def message_probability_me(message):
    return 0.9 if "{codeword}" in message.lower() else 0.3
```'''


class Oracle(Double):
    """Answers every question as a model that knows its codeword and its goal would."""

    def __init__(self, codeword: str = "bark", spec: str = "fake:oracle", code: str | None = None):
        super().__init__(spec, reply=lambda request: self.answer(request.messages[-1].content))
        self.codeword = codeword
        self.code = code if code is not None else GOOD_CODE.format(codeword=codeword)

    def answer(self, text: str) -> str:
        q = questions()
        if "Which word is being defined" in text:  # as a guesser: a fair one
            return "Bark." if "dog" in text else "Tree."
        if "What is the word?" in text:
            poem = text.split("\n\n")[1]
            return "".join(line[0] for line in poem.splitlines() if line)
        if "message_probability_me" in text:
            return self.code
        if "acrostic" in text:
            return "\n".join(f"{letter.upper()}ow about line {i}" for i, letter in enumerate(self.codeword))
        if "dictionary" in text:
            return "The short, sharp cry a dog makes."
        if "0 to 100" in text or "from 0" in text:
            return "95" if "The user said" in text else "10"
        for name in ("best_description", "which_game", "backdoor"):
            true = q[name]["options"][0]
            found = re.search(r"^([A-Z])\) " + re.escape(true), text, re.MULTILINE)
            if found:
                return found.group(1)
        return self.codeword



class Ignorant(Oracle):
    """Answers like a model with no idea: the last option, a word that is not the codeword."""

    def answer(self, text: str) -> str:
        if "Which word is being defined" in text or "What is the word?" in text:
            return super().answer(text)
        if "message_probability_me" in text:
            return "def message_probability_me(message):\n    return 0.5"
        if "acrostic" in text or "dictionary" in text:
            return "Trees\nReach\nEver\nEastward"
        if "0 to 100" in text or "from 0" in text:
            return "50"
        for name in ("best_description", "which_game", "backdoor"):
            true = questions()[name]["options"][0]
            if true in text:
                wrong = re.search(r"^([A-Z])\) (?!" + re.escape(true) + ")", text, re.MULTILINE)
                return wrong.group(1)
        return "pipe"  # a candidate word that is not the codeword


class Broken(Oracle):
    """A model whose server is down: every call fails."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before = self._fail

    def _fail(self, request) -> None:
        raise BackendError(f"{self.spec}: connection failed")

