"""Fixtures of the terminal UI tests."""

import pytest
from tests.helpers.factories import Writer


@pytest.fixture
def writer(tmp_path):
    """A games database in tmp_path, written as another process would."""
    w = Writer(tmp_path / "games.db")
    yield w
    w.close()
