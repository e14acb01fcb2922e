"""Where the study's data lives: ../shared/data/paper beside the checkout, where the package finds
it too (behaviors/organisms.py). CI has it; a fresh clone may not, so tests that read it carry the
`paper` marker and are skipped where it is absent."""

from pathlib import Path

PAPER_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "paper"


def paper_missing() -> str | None:
    """Why the study's data cannot be read, or None when it can."""
    return None if PAPER_DATA.is_dir() else f"needs ../shared/data/paper ({PAPER_DATA} is absent)"
