"""`mms`: the composition root. It mounts the commands every package declares (game/plugins.py)
and owns nothing else: the commands live in their packages' modules."""

from __future__ import annotations

import sys

import typer

from .cli_support import err
from .plugins import StaleInstall, mount_declared
from .safe_text import markup_safe

app = typer.Typer(
    help="Make Me Say: play, log and analyse manipulation games between language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Click's plain help, not Rich's panels: those cut option names to fit 80 or 100 columns
    # (`--messages-per-…`), click's puts a long name on its own line and wraps only the help text.
    rich_markup_mode=None,
)

try:
    mount_declared(app)
    _stale: StaleInstall | None = None
except StaleInstall as exc:  # said by main() in one line, not as a traceback at import
    _stale = exc


def main() -> None:
    if _stale is not None:
        err.print(f"[bold red]error:[/] {markup_safe(str(_stale))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: games finished so far are stored; run the same command to resume a tournament")
        sys.exit(130)
