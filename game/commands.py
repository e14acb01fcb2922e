"""The game's commands, in the order `mms --help` lists them (declared in pyproject.toml)."""

from .cli_catalog import codewords, personas
from .cli_db import db_app
from .cli_play import play
from .cli_referee import referee
from .cli_show import show
from .cli_stats import stats
from .cli_tournament import tournament
from .cli_transcripts import transcripts

COMMANDS = {
    "play": play,
    "stats": stats,
    "referee": referee,
    "tournament": tournament,
    "personas": personas,
    "codewords": codewords,
    "transcripts": transcripts,
    "show": show,
    "db": db_app,
}
