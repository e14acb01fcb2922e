"""Plain helpers the tests import (`from tests.helpers.factories import Writer`); fixtures live in
the conftest.py files."""
