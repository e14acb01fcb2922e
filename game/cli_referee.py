"""`mms referee`: judge one text under a rule."""

# No ``from __future__ import annotations``: Typer reads the option annotations at run time.
from typing import Annotated

import typer

from .cli_support import JsonOption, cli_errors, out, print_json
from .referee import RULES, judge
from .safe_text import markup_safe


@cli_errors
def referee(
    text: Annotated[str, typer.Argument(help="The text to judge.")],
    codeword: Annotated[str, typer.Option(help="The codeword to look for.")],
    rule: Annotated[str, typer.Option(help=f"Matching rule: {' or '.join(RULES)}.")] = "paper",
    json_output: JsonOption = False,
) -> None:
    """Say whether TEXT mentions the codeword under a rule, and which words matched."""
    report = judge(text, codeword, rule)
    if json_output:
        print_json(report.to_json())
    elif report.mentioned:
        out.print(f"mentioned ({rule} rule): " + markup_safe(", ".join(repr(m) for m in report.matches)),
                  highlight=False)
    else:
        out.print(f"not mentioned ({rule} rule)")
