"""Turn a model spec string into a backend; one shared instance per spec.

Specs (DESIGN §4) are looked up in the provider table (agents/providers.py): `local:smollm2[+<organism>]`,
`hf:<dir-or-repo>[+<adapter_dir>]`, `openai:<model>`, `openai:<model>@<base_url>[@<base_url>…]`
(several: replicas), `scripted:<path.json>`, and `human` (a person in the user's seat). A spec is
checked, and its provider's environment settings read, before its backend is made.
"""

from __future__ import annotations

from collections.abc import Mapping

from .backend import CallLimits, ChatBackend
from .errors import SpecError
from .providers import PROVIDERS, ModelSpec, Provider
from .settings import Values, read_settings

__all__ = ["ModelSpec", "Registry", "describe_spec", "parse_spec", "spec_identity", "validate_spec"]


def _provider(spec: str) -> tuple[Provider, ModelSpec]:
    prefix, sep, target = spec.partition(":")
    provider = PROVIDERS.get(prefix)
    if provider is None or (not sep and not provider.alone):
        forms = ", ".join(p.form() for p in PROVIDERS.values() if not p.attended)
        raise SpecError(f"unknown model spec {spec!r}: use one of {forms}")
    if provider.alone and sep:
        raise SpecError(f"model spec {spec!r}: {prefix} is written alone, with nothing after it")
    if not target and not provider.alone:
        raise SpecError(f"model spec {spec!r} names no model after '{prefix}:'")
    return provider, ModelSpec(prefix, target, spec)


def parse_spec(spec: str) -> ModelSpec:
    """A spec split at its provider's prefix (not yet checked)."""
    return _provider(spec.strip())[1]


def _checked(spec: str) -> tuple[Provider, ModelSpec, Values]:
    """The spec checked by its provider, and the provider's settings read: one-line errors, nothing loaded."""
    provider, parsed = _provider(spec.strip())
    parsed = ModelSpec(parsed.prefix, parsed.target, parsed.raw, provider.check(parsed))
    return provider, parsed, read_settings(provider.settings)


def validate_spec(spec: str) -> ModelSpec:
    """Check a spec cheaply (no model loading) so bad input fails before any game starts: the spec,
    and the environment settings its backend will read."""
    provider, parsed, _ = _checked(spec)
    if provider.attended:
        raise SpecError(f"{spec!r} seats a person at the terminal: only `mms play --user {spec}` plays one")
    return parsed


def describe_spec(spec: str) -> str:
    """What a spec names, in words (checked first)."""
    provider, parsed, _ = _checked(spec)
    return provider.describe(parsed)


def spec_identity(spec: str) -> str:
    """What a spec names for a run's identity: an `openai:` spec without its server address, so the
    same model reached as `localhost` or `127.0.0.1`, with or without a trailing slash, or through
    replicas listed in any order, is the same model; any other spec as it is. The address says
    where a model is served, not which model plays, and may differ between machines of one run."""
    provider, parsed = _provider(spec.strip())
    return provider.identity(parsed) if provider.identity is not None else spec


class Registry:
    """Creates backends on first use and hands the same instance to every game; `limits` bound
    each call of the server backends it creates, `backends` are ready-made ones by spec."""

    def __init__(self, limits: CallLimits | None = None, backends: Mapping[str, ChatBackend] | None = None) -> None:
        self._backends: dict[str, ChatBackend] = dict(backends or {})
        self.limits = limits or CallLimits()

    def register(self, spec: str, backend: ChatBackend) -> None:
        """Bind a spec to a ready-made backend (a human seat, a test double)."""
        self._backends[spec] = backend

    def get(self, spec: str) -> ChatBackend:
        for key in (spec, spec.strip()):
            if key in self._backends:
                return self._backends[key]
        provider, parsed, values = _checked(spec)
        self._backends[parsed.raw] = provider.create(parsed, values, self.limits)
        return self._backends[parsed.raw]

    async def release(self, spec: str) -> None:
        """Close one spec's backend now (a model done with, so the next does not load beside it)."""
        backend = self._backends.pop(spec, None)
        if backend is not None:
            await backend.aclose()

    async def aclose(self) -> None:
        for spec in list(self._backends):
            await self.release(spec)
