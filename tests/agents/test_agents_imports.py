"""`agents/` is the shared core (DESIGN §2): it imports nothing of ours, and its modules import
one another one way only, counting every import (lazy ones in functions and TYPE_CHECKING ones
too: a cycle hidden there still ties two modules into one)."""

from __future__ import annotations

import ast
from pathlib import Path

AGENTS = Path(__file__).resolve().parents[2] / "agents"
OURS = ("game", "behaviors", "selfreport", "tui", "tests", "benchmarks", "scripts")


def _imports() -> dict[str, set[str]]:
    """Module → every module named by an import in it (relative imports resolved)."""
    graph = {}
    for path in AGENTS.rglob("*.py"):
        parts = ("agents", *path.relative_to(AGENTS).with_suffix("").parts)
        package = parts[:-1]
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        named = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                named.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
                source = ".".join(p for p in (base, node.module) if p)
                named.add(source)
                named.update(f"{source}.{alias.name}" for alias in node.names)
        graph[module] = named
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the modules of `graph`, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for other in sorted(graph[module] & graph.keys() - {module}):
            if found := visit(other, path + [module]):
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        if found := visit(module, []):
            return found
    return None


def test_agents_modules_import_one_another_one_way():
    assert _cycle(_imports()) is None


def test_agents_imports_nothing_of_ours():
    bad = {m: sorted(n for n in named if n.split(".")[0] in OURS) for m, named in _imports().items()}
    assert {m: names for m, names in bad.items() if names} == {}


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
