"""Fixtures for every test; the plain helpers are in tests/helpers/."""

import json
import os

import pytest

from tests.helpers.paper import paper_missing

# pytest-xdist's workers start with COLUMNS=80 set, and rich fixes a console's width from it when the
# console is made (at import); without it, each test's CliRunner env={"COLUMNS": ...} is read per print.
os.environ.pop("COLUMNS", None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A test marked `paper` is skipped, not failed, where ../shared/data/paper is absent."""
    if item.get_closest_marker("paper") is not None and (reason := paper_missing()):
        pytest.skip(reason)


@pytest.fixture
def script(tmp_path):
    """Write a scripted player's lines to a JSON file and return its `scripted:` spec."""
    counter = iter(range(1000))

    def make(*lines: str) -> str:
        path = tmp_path / f"script{next(counter)}.json"
        path.write_text(json.dumps(list(lines)), encoding="utf-8")
        return f"scripted:{path}"

    return make


@pytest.fixture(scope="session")
def smollm2():
    """The embedded model, loaded once for the whole test session (converted on first use)."""
    from agents.hf_backend import local_backend

    backend = local_backend("local:smollm2", "smollm2")
    backend.load()
    yield backend
    backend.batcher.close()


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch):
    """Loopback servers are reached directly, whatever proxy the machine's environment names
    (agents/http_transport.py honours HTTP_PROXY and its kin, as httpx did)."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
