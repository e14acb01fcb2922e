"""The environment settings (`MMS_*`) the backends read, each with the values it allows.

Every command checks them all when it starts (`check_environment`, through `cli_errors`), so a
bad value is one line naming the variable and what it takes, before anything runs: not a batch
of size 0 that never decodes, nor a value that fails every game one by one. Each model provider
(agents/providers.py) names the settings its backends read; they are read once, through the
same checks, when a spec of it is checked or its backend made (agents/registry.py), so code
that makes backends outside a command fails as early. An empty value counts as unset.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from .errors import MmsError

SHOWN_CHARS = 40


def _shown(raw: str) -> str:
    text = repr(raw)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


@dataclass(frozen=True)
class WholeNumber:
    """A whole number from `low` to `high`; `aliases` are older names still read when `name` is unset."""

    name: str
    default: int
    low: int
    high: int
    meaning: str
    aliases: tuple[str, ...] = ()

    def read(self) -> int:
        for name in (self.name, *self.aliases):
            raw = os.environ.get(name, "").strip()
            if raw:
                break
        else:
            return self.default
        if not re.fullmatch(r"[0-9]{1,13}", raw) or not self.low <= int(raw) <= self.high:
            raise MmsError(f"environment variable {name} must be a whole number from {self.low} to {self.high} "
                           f"({self.meaning}; default {self.default}), not {_shown(raw)}: fix it or unset it")
        return int(raw)


@dataclass(frozen=True)
class Choice:
    """One of a few names."""

    name: str
    default: str
    choices: tuple[str, ...]
    meaning: str

    def read(self) -> str:
        raw = os.environ.get(self.name, "").strip()
        if not raw:
            return self.default
        if raw not in self.choices:
            raise MmsError(f"environment variable {self.name} must be one of {', '.join(self.choices)} "
                           f"({self.meaning}; default {self.default}), not {_shown(raw)}: fix it or unset it")
        return raw


MAX_BATCH = WholeNumber("MMS_MAX_BATCH", 32, 1, 1024, "the most requests an in-process model decodes at once")
DTYPE = Choice("MMS_DTYPE", "float32", ("float32", "bfloat16", "float16"), "the weights' type of in-process models")
# vLLM's default max_num_seqs is 256: one server fills its batch
MAX_REQUESTS = WholeNumber("MMS_MAX_REQUESTS", 256, 1, 4096, "the most requests in flight to one server URL",
                           aliases=("MMS_OPENAI_CONCURRENCY",))

MiB = 1 << 20
# check-data peaks at 0.7 GB on a line this long; the study's longest line is 7.3 KB
MAX_LINE_BYTES = WholeNumber("MMS_MAX_LINE_BYTES", 4 * MiB, 1, 1 << 40, "bytes of one line of a JSONL file read")
# the study's largest question file is 17 KB
MAX_FILE_BYTES = WholeNumber("MMS_MAX_FILE_BYTES", 16 * MiB, 1, 1 << 40, "bytes of one TOML, YAML or JSON file read")
# a chat completion with the prompt's logprobs of a long prompt is well under 1 MB
MAX_REPLY_BYTES = WholeNumber("MMS_MAX_REPLY_BYTES", 32 * MiB, 1, 1 << 40, "bytes of one server reply read")

SETTINGS = (MAX_BATCH, DTYPE, MAX_REQUESTS, MAX_LINE_BYTES, MAX_FILE_BYTES, MAX_REPLY_BYTES)


Setting = WholeNumber | Choice


@dataclass(frozen=True)
class Values:
    """Settings read and checked once, by the setting: `values[MAX_BATCH]`."""

    by_name: dict[str, int | str]

    def __getitem__(self, setting: Setting) -> int | str:
        return self.by_name[setting.name]


def read_settings(settings: tuple[Setting, ...]) -> Values:
    """The values of `settings` (a provider's), the first bad one a one-line MmsError."""
    return Values({setting.name: setting.read() for setting in settings})


def check_environment() -> None:
    """Read every setting once: the first bad one raises a one-line MmsError."""
    read_settings(SETTINGS)
