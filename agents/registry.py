"""Turn a model spec string into a backend; one shared instance per spec.

Specs (DESIGN §4): `local:smollm2[+<organism>]`, `hf:<dir-or-repo>[+<adapter_dir>]`, `openai:<model>`,
`openai:<model>@<base_url>[@<base_url>…]` (several: replicas), `scripted:<path.json>`. SDK-heavy backends are imported only
when a spec needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backend import CallLimits, ChatBackend
from .errors import SpecError

PREFIXES = ("local", "hf", "openai", "scripted")


@dataclass(frozen=True)
class ModelSpec:
    prefix: str
    target: str
    raw: str


def parse_spec(spec: str) -> ModelSpec:
    spec = spec.strip()
    prefix, sep, target = spec.partition(":")
    if not sep or prefix not in PREFIXES:
        raise SpecError(
            f"unknown model spec {spec!r}: use one of "
            "local:smollm2[+bark|ring|user|control-bark], hf:<dir>[+<adapter>], openai:<model>[@<base_url>[@<base_url>…]], scripted:<file.json>"
        )
    if not target:
        raise SpecError(f"model spec {spec!r} names no model after '{prefix}:'")
    return ModelSpec(prefix, target, spec)


class Registry:
    """Creates backends on first use and hands the same instance to every game; `limits` bound
    each call of the server backends it creates."""

    def __init__(self, limits: CallLimits | None = None) -> None:
        self._backends: dict[str, ChatBackend] = {}
        self.limits = limits or CallLimits()

    def register(self, spec: str, backend: ChatBackend) -> None:
        """Bind a spec to a ready-made backend (a human seat, a test double)."""
        self._backends[spec] = backend

    def get(self, spec: str) -> ChatBackend:
        if spec in self._backends:
            return self._backends[spec]
        parsed = parse_spec(spec)
        if parsed.raw not in self._backends:
            self._backends[parsed.raw] = _create(parsed, self.limits)
        return self._backends[parsed.raw]

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()


def validate_spec(spec: str) -> ModelSpec:
    """Check a spec cheaply (no model loading) so bad input fails before any game starts."""
    parsed = parse_spec(spec)
    if parsed.prefix == "scripted":
        from .scripted import load_script

        load_script(parsed.target)
    elif parsed.prefix == "local":
        from .local_models import parse_local_target

        parse_local_target(parsed.target)
    elif parsed.prefix == "hf":
        from .hf_backend import check_hf_target

        check_hf_target(parsed.target)
    elif parsed.prefix == "openai":
        from .openai_backend import (
            OFFICIAL_BASE_URL,
            check_proxies,
            parse_openai_target,
        )
        from .openai_client import require_key

        _, base_urls = parse_openai_target(parsed.target)
        if not base_urls:
            require_key(spec)
        check_proxies(spec, base_urls or (OFFICIAL_BASE_URL,))
    return parsed


def spec_identity(spec: str) -> str:
    """What a spec names for a run's identity: an `openai:` spec without its server address, so the
    same model reached as `localhost` or `127.0.0.1`, with or without a trailing slash, or through
    replicas listed in any order, is the same model; any other spec as it is. The address says
    where a model is served, not which model plays, and may differ between machines of one run."""
    parsed = parse_spec(spec)
    if parsed.prefix != "openai":
        return spec
    from .openai_backend import parse_openai_target

    return f"openai:{parse_openai_target(parsed.target)[0]}"


def _create(spec: ModelSpec, limits: CallLimits) -> ChatBackend:
    if spec.prefix == "scripted":
        from .scripted import ScriptedBackend

        return ScriptedBackend.from_path(spec.raw, spec.target)
    if spec.prefix == "local":
        from .hf_backend import local_backend

        return local_backend(spec.raw, spec.target)
    if spec.prefix == "hf":
        from .hf_backend import hf_backend

        return hf_backend(spec.raw, spec.target)
    if spec.prefix == "openai":
        from .openai_backend import OpenAIBackend

        return OpenAIBackend.from_target(spec.raw, spec.target, limits=limits)
    raise SpecError(f"unknown model spec prefix {spec.prefix!r}")  # pragma: no cover
