"""The self-report commands, in the order `mms --help` lists them (declared in pyproject.toml)."""

from .cli import interview
from .cli_report import report

COMMANDS = {"interview": interview, "report": report}
