"""The hostile corpus against the sandbox, after the code has rewritten the sandbox's own
bootstrap (its path check, its blocked events and imports): as root, and as an ordinary user
whose own permissions would let it read the planted files. Nothing may come back: no secret,
no file outside the work directory, no network, no process left behind."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from selfreport.sandbox import Limits, run_function

SECRET = "sk-test-planted-" + uuid.uuid4().hex
LIMITS = Limits(wall_s=30.0, cpu_s=1)  # the CPU limit stops busy code; load cannot trip the wall limit
SANDBOX = Path(__file__).resolve().parents[2] / "selfreport"
NOBODY = 65534

# Rebinds what an audit hook in the bootstrap would consult, as the escape did.
TAMPER = """import sys
_boot = sys.modules['__main__']
_boot._inside_workdir = lambda path: True
_boot._BLOCKED_EVENTS = ()
_boot._BLOCKED_IMPORTS = set()
"""


def corpus(planted: Path, canary: Path, port: int) -> dict[str, str]:
    """name -> function body; a body that got what it was after returns 1.0 or raises with it."""
    return {
        "read_etc_passwd": "return 1.0 if open('/etc/passwd').read() else 0.0",
        "read_planted_file": f"raise ValueError(open({str(planted)!r}).read())",
        "read_the_sandbox_source": f"return 1.0 if open({str(SANDBOX / 'sandbox.py')!r}).read() else 0.0",
        "os_open_planted_file": f"fd = os.open({str(planted)!r}, os.O_RDONLY)\nraise ValueError(os.read(fd, 100))",
        "read_parent_environ": "data = open(f'/proc/{os.getppid()}/environ', 'rb').read()\n"
                               "raise ValueError(data.decode('latin-1')[-190:])",
        "read_own_environ_file": "raise ValueError(open('/proc/self/environ').read())",
        "environment_secret": "raise ValueError(str(dict(os.environ)))",
        "list_tmp": "raise ValueError(str(os.listdir('/tmp')))",
        "scandir_planted_folder": f"raise ValueError(str([e.name for e in os.scandir({str(planted.parent)!r})]))",
        "stat_planted_file": f"return 1.0 if os.path.exists({str(planted)!r}) else 0.0",
        "stat_etc_passwd": "return 1.0 if os.stat('/etc/passwd').st_size else 0.0",
        "write_canary": f"open({str(canary)!r}, 'w').write('x')\nreturn 1.0",
        "tcp_connect": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nreturn 1.0",
        "raw_socket_module": "import _socket\n_socket.socket()\nreturn 1.0",
        "ctypes_import": "import ctypes\nreturn 1.0",
        "fork": "os.fork()\nreturn 1.0",
        "fork_bomb": "while True:\n    try:\n        os.fork()\n    except Exception:\n        pass",
        "exec_shell": f"os.execv('/bin/sh', ['sh', '-c', 'touch {canary}'])",
        "kill_parent": "os.kill(os.getppid(), 9)\nreturn 1.0",
        "infinite_loop": "while True:\n    pass",
        "ten_gigabytes": "block = bytearray(10 * 1024 ** 3)\nreturn 1.0",
    }


def function_code(body: str) -> str:
    return TAMPER + "import os\ndef message_probability_me(message):\n" + "".join(f"    {x}\n" for x in body.splitlines())


HARNESS = """import json, sys
sys.path.insert(0, sys.argv[1])
from selfreport.sandbox import Limits, run_function
cases = json.loads(sys.stdin.read())
out = {}
for name, code in cases.items():
    r = run_function(code, "message_probability_me", ["x"], Limits(wall_s=float(sys.argv[2]), cpu_s=int(sys.argv[3])))
    out[name] = {"ok": r.ok, "values": r.values, "errors": r.errors, "error": r.error, "layers": list(getattr(r, "layers", ()))}
print(json.dumps(out))
"""


def _interpreter_for(uid: int) -> str | None:
    """A Python the given user may run: the sandbox needs nothing beyond the standard library."""
    for candidate in (os.path.realpath(sys.executable), "/usr/bin/python3", shutil.which("python3")):
        try:
            if candidate and subprocess.run([candidate, "-I", "-S", "-c", "pass"], user=uid, group=uid,
                                            env={}, cwd="/", capture_output=True).returncode == 0:
                return candidate
        except OSError:
            continue
    return None


def _run_as_ordinary_user(cases: dict[str, str], folder: Path) -> tuple[dict, str]:
    """Run the corpus from a process of the unprivileged user, holding the secret in its environment."""
    package = folder / "pkg" / "selfreport"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in ("sandbox.py", "sandbox_child.py"):
        shutil.copy(SANDBOX / name, package / name)
    for path in [folder / "pkg", package, *package.iterdir()]:
        os.chmod(path, 0o755)
    python = _interpreter_for(NOBODY)
    if python is None:
        pytest.skip("no Python interpreter here is readable by the unprivileged user")
    proc = subprocess.run([python, "-c", HARNESS, str(folder / "pkg"), str(LIMITS.wall_s), str(LIMITS.cpu_s)],
                          input=json.dumps(cases), text=True, capture_output=True, user=NOBODY, group=NOBODY,
                          cwd=str(folder),
                          env={"OPENAI_API_KEY": SECRET, "PATH": "/usr/bin:/bin"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout), proc.stdout + proc.stderr


def _run_here(cases: dict[str, str]) -> tuple[dict, str]:
    out = {}
    for name, code in cases.items():
        r = run_function(code, "message_probability_me", ["x"], LIMITS)
        out[name] = {"ok": r.ok, "values": r.values, "errors": r.errors, "error": r.error, "layers": list(getattr(r, "layers", ()))}
    return out, json.dumps(out)


@pytest.fixture
def world_folder():
    """A folder every user may enter, holding a planted world-readable file: only the sandbox stands in the way."""
    folder = Path(tempfile.mkdtemp(prefix="mms-hostile-"))
    os.chmod(folder, 0o777)
    planted = folder / "planted.txt"
    planted.write_text("planted-" + SECRET)
    os.chmod(planted, 0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.integration  # 42 sandboxes, as root and as another user: seconds of CPU
@pytest.mark.parametrize("who", ["root", "ordinary_user"])
def test_the_hostile_corpus_is_contained(who, world_folder, monkeypatch):
    if who == "root" and os.geteuid() != 0:
        pytest.skip("the tests are not running as root")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    planted, canary = world_folder / "planted.txt", world_folder / "canary.txt"
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        cases = {name: function_code(body) for name, body in corpus(planted, canary, server.getsockname()[1]).items()}
        if who == "ordinary_user" and os.geteuid() == 0:
            results, raw = _run_as_ordinary_user(cases, world_folder)
        else:
            results, raw = _run_here(cases)
        server.settimeout(0.0)
        with pytest.raises(BlockingIOError):
            server.accept()  # no connection ever arrived
    assert SECRET not in raw
    assert not canary.exists()
    escaped = {name: r for name, r in results.items() if r["ok"] and any(v == 1.0 for v in r["values"])}
    assert not escaped
    assert all(not r["ok"] or r["values"] in ([None], [0.0]) for r in results.values()), results
    assert "seccomp" in results["stat_planted_file"]["layers"]
    working = run_function(TAMPER + "def message_probability_me(m):\n    return 0.5", "message_probability_me",
                           ["x"], LIMITS)
    assert working.values == [0.5] and "seccomp" in working.layers  # tampering alone breaks nothing
