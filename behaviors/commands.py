"""The behaviors' commands, in the order `mms --help` lists them (declared in pyproject.toml)."""

from .cli_data import check_data, export
from .cli_fit import fit_command
from .cli_gate import gate_app
from .cli_train import train_app

COMMANDS = {
    "export": export,
    "check-data": check_data,
    "fit": fit_command,
    "train": train_app,
    "gate": gate_app,
}
