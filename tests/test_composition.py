"""The composition root (issue 25): each package declares its commands and migration sets through
entry points, `game` imports none of the packages built on it, and our modules import no cycle."""

import ast
import sqlite3
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from game import plugins
from game.migrations import versions
from game.store import Store

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "game", "behaviors", "selfreport", "tui")
ABOVE_GAME = ("behaviors", "selfreport", "tui")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """Every module `name` imports, at any depth of the file (a function's lazy import counts), with
    its line; `import_module("x")` and `__import__("x")` of a written name count too."""
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(parent + ([node.module] if node.module else []))
            out.append((base, node.lineno))
            out += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            out.append((str(node.args[0].value), node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m, _ in _imports(name, path) if m in modules and m != name}
            for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_of_game_imports_a_package_built_on_it():
    offending = [f"{path.relative_to(ROOT)}:{line} imports {target}"
                 for name, path in _modules().items() if name.split(".")[0] == "game"
                 for target, line in _imports(name, path) if target.split(".")[0] in ABOVE_GAME]
    assert offending == []


def test_our_modules_import_no_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _declared_names() -> list[str]:
    return [name for _, commands in plugins.declared(plugins.COMMANDS) for name in commands]


def test_mms_help_lists_every_command_of_every_package():
    from game.cli import app

    packages = {ep.name for ep in entry_points(group=plugins.COMMANDS)}
    assert set(PACKAGES) - {"agents"} <= packages
    result = CliRunner().invoke(app, ["--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert sorted(listed) == sorted(_declared_names())
    assert set(typer.main.get_command(app).commands) == set(_declared_names())


def test_every_declared_command_is_a_module_level_function_or_group():
    for _, commands in plugins.declared(plugins.COMMANDS):
        for name, command in commands.items():
            if isinstance(command, typer.Typer):
                assert command.registered_commands, name
                continue
            assert "<locals>" not in command.__qualname__, name
            assert getattr(__import__(command.__module__, fromlist=["_"]), command.__name__) is command, name


@pytest.mark.parametrize("name", [ep.name for ep in entry_points(group=plugins.SCHEMAS)])
def test_each_declared_schema_migrates_a_fresh_database(tmp_path, name):
    schema = dict(plugins.declared(plugins.SCHEMAS))[name]
    db = tmp_path / "fresh.db"
    with Store(db) as store:
        store.ensure_schema(schema.table, schema.migrations, tables=schema.tables)
    conn = sqlite3.connect(db)
    assert versions(conn, schema.table) == {v for v, _, _ in schema.migrations}
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    assert set(schema.tables) <= tables


def test_db_migrate_reports_every_declared_schema(tmp_path, script):
    from game.cli import app

    db = tmp_path / "m.db"
    Store(db).close()
    result = CliRunner().invoke(app, ["db", "migrate", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    names = [schema.name for _, schema in plugins.declared(plugins.SCHEMAS)]
    assert list(__import__("json").loads(result.stdout))[1:] == names and names[0] == "games"


def test_a_stale_install_is_one_line_naming_the_fix(monkeypatch, capsys):
    monkeypatch.setattr(plugins, "entry_points", lambda group: [])
    with pytest.raises(plugins.StaleInstall, match=r"stale install.*make setup"):
        plugins.mount_declared(typer.Typer())
    with pytest.raises(plugins.StaleInstall, match=r"--watch.*make setup"):
        plugins.hook(plugins.PLAY_UI, "--watch")


def test_an_entry_point_that_cannot_load_is_one_line_naming_the_fix(monkeypatch):
    from importlib.metadata import EntryPoint

    gone = EntryPoint("gone", "nowhere.commands:COMMANDS", plugins.COMMANDS)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [gone])
    with pytest.raises(plugins.StaleInstall, match=r"gone = nowhere.commands:COMMANDS cannot be loaded.*make setup"):
        plugins.mount_declared(typer.Typer())


def test_play_without_the_ui_hook_says_so_before_writing_anything(tmp_path, monkeypatch, script):
    from game.cli import app

    monkeypatch.setattr(plugins, "entry_points", lambda group: [])
    db = tmp_path / "w.db"
    result = CliRunner().invoke(app, ["play", "--watch", "--codeword", "ring", "--manipulator", script("Hi"),
                                      "--user", script("Hello"), "--db", str(db)])
    assert result.exit_code == 2 and "make setup" in result.output and not db.exists()
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
