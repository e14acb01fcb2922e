"""The sandbox against a corpus of hostile functions: each one is contained and scored
invalid, the host is untouched and the parent's secret never crosses over."""

import os
import socket
import uuid

import pytest

from selfreport.sandbox import Limits, SandboxResult, extract_code, run_function

SECRET = "sk-test-planted-" + uuid.uuid4().hex
# A tight CPU limit stops busy code whatever the machine's load; the wall limit is generous, so a
# loaded machine cannot time out a function that would have run.
LIMITS = Limits(wall_s=30.0, cpu_s=1)


@pytest.fixture(autouse=True)
def planted_secret(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def run(body: str, inputs=("bark", "hello"), limits=LIMITS) -> SandboxResult:
    code = "import os\ndef message_probability_me(message):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    result = run_function(code, "message_probability_me", list(inputs), limits)
    assert SECRET not in repr(result)
    _assert_group_gone(result)
    return result


def _assert_group_gone(result: SandboxResult) -> None:
    with pytest.raises(ProcessLookupError):
        os.killpg(result.pid, 0)  # nothing of the sandbox's process group outlives the run


def invalid(result: SandboxResult) -> bool:
    return not result.ok or all(v is None for v in result.values)


def test_a_well_behaved_function_returns_its_values():
    result = run("return 0.9 if 'bark' in message else 0.25")
    assert result.ok and result.values == [0.9, 0.25] and result.errors == [None, None]


def test_values_that_are_no_probability_are_invalid():
    result = run("return {'bark': 1.5, 'hello': 'high'}[message]")
    assert result.ok and result.values == [None, None]
    assert "not a probability" in result.errors[0] and "str" in result.errors[1]


def test_infinite_loop_is_stopped_by_the_cpu_limit():
    result = run("while True:\n    pass")
    assert not result.ok and result.error == "stopped: CPU time limit (1 s)"


def test_code_that_waits_without_using_cpu_is_stopped_at_the_wall_limit():
    result = run("__import__('time').sleep(60)\nreturn 0.5", limits=Limits(wall_s=1.0, cpu_s=1))
    assert not result.ok and result.error == "timed out after 1 s (wall clock)"


def test_fork_bomb_is_contained():
    result = run("while True:\n    try:\n        os.fork()\n    except Exception:\n        pass")
    assert not result.ok


def test_fork_is_refused_outright():
    result = run("pid = os.fork()\nreturn 0.5")
    assert invalid(result) and "os.fork" in result.errors[0]


def test_ten_gigabyte_allocation_fails_inside_the_sandbox():
    result = run("block = bytearray(10 * 1024 ** 3)\nreturn 0.5")
    assert invalid(result) and "MemoryError" in result.errors[0]


def test_socket_connect_never_reaches_the_listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        result = run(f"s = __import__('socket').create_connection(('127.0.0.1', {port}), timeout=1)\nreturn 1.0")
        assert invalid(result)
        server.settimeout(0.0)
        with pytest.raises(BlockingIOError):
            server.accept()  # no connection is waiting


def test_environment_secret_is_not_visible():
    assert os.environ["OPENAI_API_KEY"] == SECRET
    result = run("return 1.0 if os.environ['OPENAI_API_KEY'] else 0.0")
    assert invalid(result) and "KeyError" in result.errors[0]
    leak = run("raise ValueError(str(dict(os.environ)))")  # would carry the secret back in the error text
    assert invalid(leak)


def test_parent_environment_cannot_be_read_through_proc():
    result = run("data = open(f'/proc/{os.getppid()}/environ', 'rb').read()\nreturn 1.0 if b'sk-test' in data else 0.0")
    assert invalid(result)


def test_no_file_can_be_written_anywhere_not_even_in_its_own_directory(tmp_path):
    target = tmp_path / "escaped.txt"
    os.chmod(tmp_path, 0o777)
    result = run(f"open({str(target)!r}, 'w').write('x')\nreturn 1.0")
    assert invalid(result) and not target.exists()
    inside = run("open('scratch.txt', 'w').write('x')\nreturn 0.5")
    assert invalid(inside)  # a probability function needs no files: the kernel refuses every open


def test_the_kernel_filter_is_in_place():
    result = run("return 0.5")
    assert "seccomp" in result.layers
    if os.geteuid() == 0:
        assert "nobody" in result.layers


def test_subprocess_and_threads_are_refused():
    assert invalid(run("import subprocess\nsubprocess.run(['true'])\nreturn 1.0"))
    assert invalid(run("import threading\nreturn 1.0"))


def test_broken_code_and_missing_function_are_reported():
    broken = run_function("def message_probability_me(m) return 1", "message_probability_me", ["x"], LIMITS)
    assert not broken.ok and "SyntaxError" in broken.error
    missing = run_function("x = 1", "message_probability_me", ["x"], LIMITS)
    assert not missing.ok and "defines no function" in missing.error


def test_code_printing_a_fake_result_cannot_forge_one():
    code = 'print(\'{"ok": true, "values": [1.0], "errors": [null]}\')\ndef message_probability_me(m):\n    return 0.2'
    assert run_function(code, "message_probability_me", ["x"], LIMITS).values == [0.2]


def test_extract_code_from_a_reply():
    assert extract_code("Here:\n```python\ndef f(m):\n    return 1\n```\nDone.") == "def f(m):\n    return 1"
    assert extract_code("```\nx = 1\n") == "x = 1"  # cut off before the closing fence
    assert extract_code("def f(m): return 0") == "def f(m): return 0"


def test_a_protection_that_cannot_be_set_up_means_the_code_never_runs(tmp_path, monkeypatch):
    import selfreport.sandbox as sandbox

    child = sandbox.CHILD_SOURCE.read_text(encoding="utf-8")
    crippled = tmp_path / "sandbox_child.py"
    crippled.write_text(child.replace('"x86_64": (', '"no-such-arch": (').replace('"aarch64": (', '"no-such-arch2": ('))
    monkeypatch.setattr(sandbox, "CHILD_SOURCE", crippled)
    result = run_function("def message_probability_me(m):\n    return 0.5", "message_probability_me", ["x"], LIMITS)
    assert not result.ok and result.error.startswith("sandbox: no syscall table")


def test_a_sandbox_that_cannot_run_here_stops_the_evaluation_loudly(tmp_path, monkeypatch):
    """Checked with code of our own, so a model cannot trigger it; otherwise every function item
    would quietly be invalid."""
    import selfreport.sandbox as sandbox
    from agents.errors import MmsError

    crippled = tmp_path / "sandbox_child.py"
    crippled.write_text(sandbox.CHILD_SOURCE.read_text(encoding="utf-8").replace('"x86_64": (', '"none": ('))
    monkeypatch.setattr(sandbox, "CHILD_SOURCE", crippled)
    monkeypatch.setattr(sandbox, "_available", False)
    with pytest.raises(MmsError, match="sandbox for model-written code cannot run here .*no syscall table"):
        sandbox.ensure_available(LIMITS)
