"""Fixtures: the database of scripted games (built once) and our commands on a throwaway app."""

import pytest
from tests.helpers.behaviors_data import build_games_db, data_cli


@pytest.fixture(scope="session")
def games_db(tmp_path_factory) -> dict:
    return build_games_db(tmp_path_factory.mktemp("games"))


@pytest.fixture(scope="session")
def invoke():
    return data_cli()
