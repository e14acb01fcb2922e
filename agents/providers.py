"""The model providers: one entry per kind of model spec (DESIGN §4), in one table.

A spec is `<prefix>:<target>` (`local:smollm2+bark`, `openai:gpt-4o@http://…`), or a provider's
name alone (`human`). Each provider says how its specs are written, checks one without loading
anything (`check`: what the target names, or a one-line SpecError), names the environment
settings its backends read (read and checked before anything is made, agents/settings.py),
makes the backend or player of a checked spec (`create`), and says in words what a spec names
(`describe`). Modules that are heavy to import (torch, the HTTP client) are imported only
when a spec of theirs is checked or made. agents/registry.py looks specs up here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .backend import CallLimits
from .settings import DTYPE, MAX_BATCH, MAX_FILE_BYTES, MAX_REPLY_BYTES, MAX_REQUESTS, Setting, Values


@dataclass(frozen=True)
class ModelSpec:
    """A spec split at its provider's prefix; `parsed` is what the provider's check made of the target."""

    prefix: str
    target: str
    raw: str
    parsed: Any = None


@dataclass(frozen=True)
class Provider:
    prefix: str
    form: Callable[[], str]  # how its specs are written, for the error about a spec no provider takes
    check: Callable[[ModelSpec], Any]
    create: Callable[[ModelSpec, Values, CallLimits], Any]
    describe: Callable[[ModelSpec], str]
    settings: tuple[Setting, ...] = ()
    identity: Callable[[ModelSpec], str] | None = None  # what a run's identity keeps of a spec; None: all of it
    alone: bool = False  # the spec is the prefix alone (`human`), with no target
    attended: bool = False  # it needs a person at the terminal: only `mms play --user human` seats one


# -- scripted:<file.json> -------------------------------------------------------------------


def _scripted_check(spec: ModelSpec) -> tuple[str, ...]:
    from .scripted import load_script

    return tuple(load_script(spec.target))


def _scripted_create(spec: ModelSpec, values: Values, limits: CallLimits):
    from .scripted import ScriptedBackend

    return ScriptedBackend(spec.raw, list(spec.parsed))


SCRIPTED = Provider(
    "scripted", lambda: "scripted:<file.json>", _scripted_check, _scripted_create,
    lambda spec: f"a test double that plays the {len(spec.parsed)} lines of {spec.target}",
    settings=(MAX_FILE_BYTES,),
)


# -- local:<model>[+<organism>] and hf:<dir-or-repo>[+<adapter_dir>] -------------------------


def _local_form() -> str:
    from .local_models import LOCAL_MODELS, organism_families

    models = "|".join(LOCAL_MODELS)
    return f"local:{models}[+{'|'.join(organism_families())}]" if organism_families() else f"local:{models}"


def _local_check(spec: ModelSpec) -> tuple[str, str | None]:
    from .local_models import parse_local_target

    return parse_local_target(spec.target)


def _local_create(spec: ModelSpec, values: Values, limits: CallLimits):
    from .hf_backend import local_backend

    return local_backend(spec.raw, spec.target, max_batch=values[MAX_BATCH], dtype=values[DTYPE])


def _local_describe(spec: ModelSpec) -> str:
    from .local_models import LOCAL_MODELS, organism_description

    name, organism = spec.parsed
    model = f"the embedded {LOCAL_MODELS[name]}, in-process"
    return f"{model}, with the shipped organism {organism}: {organism_description(organism)}" if organism else model


def _hf_check(spec: ModelSpec) -> tuple[str, str | None]:
    from .local_models import check_hf_target

    return check_hf_target(spec.target)


def _hf_create(spec: ModelSpec, values: Values, limits: CallLimits):
    from .hf_backend import TransformersBackend

    base, adapter = spec.parsed
    return TransformersBackend(spec.raw, base, adapter, max_batch=values[MAX_BATCH], dtype=values[DTYPE])


def _hf_describe(spec: ModelSpec) -> str:
    from .local_models import LOCAL_MODELS

    base, adapter = spec.parsed
    embedded = LOCAL_MODELS.get(base.removeprefix("local:")) if base.startswith("local:") else None
    model = f"the embedded {embedded}, in-process" if embedded else f"the transformers model {base}, in-process"
    return model + (f", with the LoRA adapter in {adapter}" if adapter else "")


IN_PROCESS = (MAX_BATCH, DTYPE)
LOCAL = Provider("local", _local_form, _local_check, _local_create, _local_describe, settings=IN_PROCESS)
HF = Provider("hf", lambda: "hf:<dir>[+<adapter>]", _hf_check, _hf_create, _hf_describe, settings=IN_PROCESS)


# -- openai:<model>[@<base_url>[@<base_url>…]] -----------------------------------------------


def _openai_check(spec: ModelSpec) -> tuple[str, tuple[str, ...]]:
    from .openai_backend import OFFICIAL_BASE_URL, check_proxies, parse_openai_target
    from .openai_client import require_key

    model, base_urls = parse_openai_target(spec.target)
    if not base_urls:
        require_key(spec.raw)
    check_proxies(spec.raw, base_urls or (OFFICIAL_BASE_URL,))
    return model, base_urls


def _openai_create(spec: ModelSpec, values: Values, limits: CallLimits):
    from .openai_backend import OpenAIBackend

    model, base_urls = spec.parsed
    max_requests = values[MAX_REQUESTS] if limits.max_requests is None else limits.max_requests
    return OpenAIBackend(spec.raw, model, base_urls, limits=limits, max_requests=max_requests)


def _openai_describe(spec: ModelSpec) -> str:
    model, base_urls = spec.parsed
    if not base_urls:
        return f"{model} on the OpenAI API"
    return f"{model} served at {base_urls[0]}" if len(base_urls) == 1 else \
        f"{model} served by {len(base_urls)} replicas: {', '.join(base_urls)}"


def _openai_identity(spec: ModelSpec) -> str:
    """The model without its server's address: where a model is served is not which model plays."""
    from .openai_backend import parse_openai_target

    return f"openai:{parse_openai_target(spec.target)[0]}"


OPENAI = Provider("openai", lambda: "openai:<model>[@<base_url>[@<base_url>…]]", _openai_check, _openai_create,
                  _openai_describe, settings=(MAX_REQUESTS, MAX_REPLY_BYTES), identity=_openai_identity)


# -- human ------------------------------------------------------------------------------------


def _human_create(spec: ModelSpec, values: Values, limits: CallLimits):
    from .human import HumanPlayer

    return HumanPlayer()


HUMAN = Provider("human", lambda: "human", lambda spec: None, _human_create,
                 lambda spec: "a person at the terminal, in the user's seat", alone=True, attended=True)


PROVIDERS: dict[str, Provider] = {p.prefix: p for p in (LOCAL, HF, OPENAI, SCRIPTED, HUMAN)}
