"""What the packages declare to the `mms` root, found through entry points (pyproject.toml).

Each package names its commands (`mms.commands`: an ordered mapping of command name to a
command function or a Typer group), its migration set (`mms.schemas`: a `migrations.Schema`)
and any hooks (`mms.play_ui`). The root reads them from the installed metadata, so `game`
never imports the packages built on it; an install older than pyproject.toml lacks them, and
`StaleInstall` says how to refresh it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import typer

from agents.errors import MmsError

COMMANDS = "mms.commands"
SCHEMAS = "mms.schemas"
PLAY_UI = "mms.play_ui"

OWN = __package__  # the root's own package: mounted first, the others by name
REINSTALL = "run `make setup` (or `pip install -e . --no-deps`) in the make-me-say checkout"


class StaleInstall(MmsError):
    """The installed metadata does not declare what this code needs."""


def declared(group: str) -> list[tuple[str, Any]]:
    """The loaded entry points of `group` as (name, object), the root's own package first."""
    found = sorted(entry_points(group=group), key=lambda ep: (ep.name != OWN, ep.name))
    return [(ep.name, _load(ep)) for ep in found]


def _load(ep: EntryPoint) -> Any:
    try:
        return ep.load()
    except (ImportError, AttributeError) as exc:
        raise StaleInstall(f"the {ep.group} entry point {ep.name} = {ep.value} cannot be loaded ({exc}): "
                           f"the install is stale; {REINSTALL}") from None


def mount(app: typer.Typer, commands: Mapping[str, Callable | typer.Typer]) -> None:
    """Add commands (functions) and command groups (Typer apps) to `app` under their names."""
    for name, command in commands.items():
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        else:
            app.command(name)(command)


def mount_declared(app: typer.Typer) -> None:
    """Mount every package's declared commands; none at all means the install predates them."""
    packages = declared(COMMANDS)
    if not packages:
        raise StaleInstall(f"no mms commands are declared in the installed metadata (a stale install): {REINSTALL}")
    for _, commands in packages:
        mount(app, commands)


def hook(group: str, what: str) -> Callable:
    """The one function declared for `group`; `what` says, in an error, what needs it."""
    found = declared(group)
    if not found:
        raise StaleInstall(f"{what} needs a package that declares {group} (the terminal UI): "
                           f"none is installed; {REINSTALL}")
    return found[0][1]
