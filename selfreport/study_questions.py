"""The study's own evaluation question files (Betley et al. 2025), loaded as they are released.

A file is a YAML list of questions: `name`, `title`, `question_type` (`free_form`,
`multiple_choice` with the first option correct, `ff_score`, `quantitative` and `score`: a number
from 0 to 100), `question` or
`question_paraphrases`, and optionally `options`, `prefix`, `suffix`, `guesser_prompt`,
`guesser_question_type`, `func_name`, `scenarios` (texts that fill `{scenario}`); placeholders in braces. As the study's code does, a
literal backslash-n in any text becomes a newline. Nothing of ours is added to their text: how
the questions are asked and scored is `selfreport/evals/study.py`.

The study has files we have not seen, in the same schema: a question of another `question_type`
or with fields we do not know still loads (the unknown fields are listed in `ignored`), and
`evals.study.check_askable` says in one line, before any model loads, what cannot be asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.errors import MmsError
from agents.user_files import brief, load_yaml

KINDS = ("free_form", "multiple_choice", "ff_score", "quantitative", "score")  # the kinds mms can ask
KNOWN_FIELDS = {"name", "title", "question_type", "question", "question_paraphrases", "options", "prefix", "suffix",
                "guesser_prompt", "guesser_question_type", "func_name", "scenarios"}


@dataclass(frozen=True)
class StudyQuestion:
    name: str
    kind: str  # one of KINDS where mms can ask it; another kind loads, and asking it is an error
    paraphrases: tuple[str, ...]
    title: str = ""
    options: tuple[str, ...] = ()  # multiple_choice: the first is the right one
    prefix: str = ""
    suffix: str = ""
    guesser_prompt: str | None = None
    guesser_question_type: str | None = None
    func_name: str | None = None
    scenarios: tuple[str, ...] = ()  # each fills {scenario}: every paraphrase is asked about every one
    source: str = ""  # the file it came from
    fixed: tuple[tuple[str, str], ...] = ()  # placeholders filled for this asking (one scenario), as (name, text)
    ignored: tuple[str, ...] = ()  # fields of the file that mms does not know, left unused

    def texts(self) -> list[str]:
        """Each paraphrase as asked: prefix + paraphrase + suffix (placeholders still in braces)."""
        return [f"{self.prefix}{p}{self.suffix}" for p in self.paraphrases]


def _text(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise MmsError(f"{where}: {field} must be text, not {type(value).__name__}")
    return value.replace("\\n", "\n")


def _question(entry: Any, where: str) -> StudyQuestion:
    if not isinstance(entry, dict):
        raise MmsError(f"{where}: each question must be a mapping with name, question_type and question(s)")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MmsError(f"{where}: a question has no name")
    where = f"{where}: question {brief(name)}"
    kind = entry.get("question_type")
    if not isinstance(kind, str) or not kind.strip():
        raise MmsError(f"{where}: it has no question_type (one of {', '.join(KINDS)})")
    if ("question" in entry) == ("question_paraphrases" in entry):
        raise MmsError(f"{where}: give either question or question_paraphrases")
    raw = [entry["question"]] if "question" in entry else entry["question_paraphrases"]
    if not isinstance(raw, list) or not raw:
        raise MmsError(f"{where}: question_paraphrases must be a non-empty list")
    options = entry.get("options") or []
    if not isinstance(options, list):
        raise MmsError(f"{where}: options must be a list")
    if kind == "multiple_choice" and len(options) < 2:
        raise MmsError(f"{where}: a multiple_choice question needs at least two options (the first is the right one)")
    scenarios = entry.get("scenarios") or []
    if not isinstance(scenarios, list):
        raise MmsError(f"{where}: scenarios must be a list of texts")
    paraphrases = tuple(_text(p, where, "a paraphrase") for p in raw)
    if scenarios and not any("{scenario}" in p for p in paraphrases):
        raise MmsError(f"{where}: it lists scenarios but no paraphrase has a {{scenario}} placeholder")
    optional = {f: _text(entry[f], where, f) for f in ("title", "prefix", "suffix", "guesser_prompt",
                                                     "guesser_question_type", "func_name")
                if entry.get(f) is not None}
    return StudyQuestion(
        name=name.strip(), kind=kind.strip(), paraphrases=paraphrases,
        options=tuple(_text(o, where, "an option") for o in options), source=where.split(":")[0],
        scenarios=tuple(_text(x, where, "a scenario") for x in scenarios),
        ignored=tuple(sorted(str(k) for k in entry if k not in KNOWN_FIELDS)), **optional,
    )


def load_file(path: Path) -> list[StudyQuestion]:
    """The questions of one file, read within agents/user_files.py's limits (an alias bomb is refused)."""
    data = load_yaml(path, "question file")
    if data is None:
        return []
    if not isinstance(data, list):
        raise MmsError(f"{path}: a question file is a YAML list of questions")
    return [_question(entry, str(path)) for entry in data]


def load_questions(path: str | Path) -> list[StudyQuestion]:
    """The questions of a YAML file, or of every *.yaml / *.yml file in a folder (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise MmsError(f"no .yaml question files in {path}")
    elif path.is_file():
        files = [path]
    else:
        raise MmsError(f"question file not found: {path} (give a study question YAML file or a folder of them)")
    questions = [q for f in files for q in load_file(f)]
    seen: dict[str, str] = {}
    for q in questions:
        if q.name in seen:
            raise MmsError(f"question name {brief(q.name)} appears twice ({seen[q.name]} and {q.source}): names must be unique")
        seen[q.name] = q.source
    if not questions:
        raise MmsError(f"{path} holds no questions")
    return questions


def select(questions: Sequence[StudyQuestion], names: Sequence[str] | None) -> list[StudyQuestion]:
    """The questions named (in the files' order), or all of them."""
    if not names:
        return list(questions)
    known = {q.name for q in questions}
    unknown = [n for n in names if n not in known]
    if unknown:
        listed = ", ".join(sorted(known)[:12]) + (" …" if len(known) > 12 else "")
        raise MmsError(f"no question {', '.join(map(repr, unknown))} in the files: they hold {listed}")
    wanted = set(names)
    return [q for q in questions if q.name in wanted]
