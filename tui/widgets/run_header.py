"""The header: what is being watched, the newest run's progress and the live win rate."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from ..highlight import inert
from ..reader import Summary

BAR = 12


class RunHeader(Static):
    def __init__(self, source: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.summary = Summary()
        self.follow = True
        self.filter = ""

    def on_mount(self) -> None:
        self.show(self.summary)

    def show(self, summary: Summary | None = None, *, follow: bool | None = None, filter: str | None = None) -> None:
        self.summary = summary or self.summary
        self.follow = self.follow if follow is None else follow
        self.filter = self.filter if filter is None else filter
        self.update(render_header(self.source, self.summary, self.follow, self.filter))


def render_header(source: str, s: Summary, follow: bool, filter: str) -> Content:
    top = [Content.styled("make-me-say", "bold"), inert(f" · {source}")]
    top.append(Content.styled("  ● follow", "bold $text-success") if follow else Content.styled("  ○ follow off", "$text-muted"))
    if filter:
        top.append(inert(f"  filter: {filter}", "$text-accent"))
    line = [Content("\n")]
    if s.run_id:
        done = min(s.run_done, s.run_planned) if s.run_planned else s.run_done
        filled = round(BAR * done / s.run_planned) if s.run_planned else 0
        line += [
            inert(f"{s.run_kind or 'run'} {s.run_id}{' (finished)' if s.run_status == 'finished' else ''} "),
            Content.styled("█" * filled, "$text-success"), Content.styled("░" * (BAR - filled), "$text-muted"),
            Content.styled(f" {s.run_done}/{s.run_planned} done", "bold"),
            Content(f" · {s.run_running} playing · "),
            Content.styled(f"{s.run_errors} error{'s' if s.run_errors != 1 else ''}", "$text-error" if s.run_errors else ""),
            Content(" · win "), Content.styled(_rate(s.run_wins, s.run_decided), "bold"),
        ]
    else:
        line.append(Content("no run yet"))
    line += [Content.styled("  │  ", "$text-muted"),
             Content(f"all runs: {s.games:,} game{'s' if s.games != 1 else ''}, win "),
             Content.styled(_rate(s.wins, s.decided), "bold")]
    return Content.assemble(*top, *line)


def _rate(wins: int, decided: int) -> str:
    return f"{wins / decided:.0%} ({wins}/{decided})" if decided else "–"
