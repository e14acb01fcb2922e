"""Run model-written code in a separate, locked-down process; only numbers come back.

The `function` evaluation asks a model to write `message_probability_me(message)` and then
calls it. The code is untrusted, so it runs in a fresh interpreter (`python -I -S`: no user
site, no site-packages, no environment-driven behaviour). The policy that matters lives in the
kernel, where nothing the code does to the interpreter can reach it:

- a **seccomp filter** (installed with no_new_privs, just before the code is compiled): an
  allow-list of system calls for memory, time, reading and writing descriptors already open,
  and exit. Every other call fails with EPERM: no open of any file (inside the work directory
  or out), no stat, no directory listing, no socket, no fork/clone/exec, no kill, no ptrace;
- an **empty environment** (no API keys), a temporary working directory and a new session
  (process group) that is killed as a whole when the wall-clock limit passes and after every run;
- **resource limits**: CPU seconds (SIGXCPU, then SIGKILL), address space (so a 10 GB
  allocation fails with MemoryError), file size, no core dumps, no new processes;
- as root: a network namespace of its own and a switch to the unprivileged `nobody` user;
  otherwise a user and network namespace where the kernel allows one;
- an audit hook, for clear error messages only: the code can rewrite the bootstrap's state
  and switch the hook's checks off, and the kernel still refuses.

It fails closed: if the filter cannot be installed (an unknown architecture, a kernel without
seccomp) or root cannot be dropped, the code is not run and the result says why. The result
comes back on a channel of its own (the code's stdout/stderr go to /dev/null), capped in size
and parsed strictly: a list of floats in [0, 1] or nulls, and short error names. Code that
knows the bootstrap can still forge its own return values, and nothing more.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHILD_SOURCE = Path(__file__).with_name("sandbox_child.py")
NOBODY = 65534


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: int = 5
    memory_bytes: int = 512 * 1024 * 1024
    file_bytes: int = 1024 * 1024
    output_bytes: int = 256 * 1024
    max_inputs: int = 500


@dataclass(frozen=True)
class SandboxResult:
    """What came back: `values[i]` is f(inputs[i]) or None; `error` says why a run failed whole."""

    ok: bool
    values: list[float | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    error: str | None = None
    pid: int | None = None  # the child's process (and process group) id, for checks
    layers: tuple[str, ...] = ()  # the protections that were in place, e.g. ("nobody", "seccomp")

    def value(self, i: int) -> float | None:
        return self.values[i] if self.ok and i < len(self.values) else None


def _nobody() -> tuple[int, int]:
    try:
        import pwd

        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except (ImportError, KeyError):
        return NOBODY, NOBODY


def run_function(code: str, name: str, inputs: list[str], limits: Limits = Limits()) -> SandboxResult:
    """Define `name` by running `code` in the sandbox and call it on each input (blocking)."""
    if len(inputs) > limits.max_inputs:
        raise ValueError(f"at most {limits.max_inputs} inputs per run")
    uid, gid = _nobody()
    with tempfile.TemporaryDirectory(prefix="mms-sandbox-") as work, \
            tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        if os.geteuid() == 0:
            os.chown(work, uid, gid)
        payload = json.dumps({
            "code": code, "name": name, "inputs": list(inputs), "workdir": work, "uid": uid, "gid": gid,
            "limits": {"cpu_s": limits.cpu_s, "memory_bytes": limits.memory_bytes,
                       "file_bytes": limits.file_bytes, "output_bytes": limits.output_bytes},
        }).encode()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", CHILD_SOURCE.read_text(encoding="utf-8")],
            stdin=subprocess.PIPE, stdout=out_file, stderr=err_file, cwd=work, env={},
            start_new_session=True, close_fds=True,
        )
        timed_out = False
        try:
            proc.communicate(payload, timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc.pid)
            proc.wait()
        out_file.seek(0)
        raw = out_file.read(limits.output_bytes + 1)
        err_file.seek(0)
        stderr = err_file.read(2000).decode("utf-8", "replace")
    if timed_out:
        return SandboxResult(False, error=f"timed out after {limits.wall_s:g} s (wall clock)", pid=proc.pid)
    return _parse(raw, proc.returncode, stderr, len(inputs), limits, proc.pid)


_available = False  # the probe passed in this process


def ensure_available(limits: Limits = Limits()) -> None:
    """Raise a one-line error unless the sandbox can be set up here, checked once per process
    with code of our own, so that a model's code can never be what says it failed."""
    global _available
    if _available:
        return
    from agents.errors import MmsError

    probe = run_function("def probe(message):\n    return 0.5", "probe", ["x"], limits)
    if probe.values != [0.5]:
        raise MmsError(f"the sandbox for model-written code cannot run here ({probe.error or 'no result'}): "
                       "function evaluations need Linux with seccomp filters; leave them out (--evals, --question)")
    _available = True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _parse(raw: bytes, returncode: int, stderr: str, n: int, limits: Limits, pid: int) -> SandboxResult:
    if returncode and returncode < 0:
        reason = {signal.SIGXCPU: f"CPU time limit ({limits.cpu_s} s)", signal.SIGKILL: "killed",
                  signal.SIGXFSZ: "file size limit"}.get(-returncode, f"signal {-returncode}")
        return SandboxResult(False, error=f"stopped: {reason}", pid=pid)
    if not raw:
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {returncode}"
        return SandboxResult(False, error=f"no result ({detail[:200]})", pid=pid)
    if len(raw) > limits.output_bytes:
        return SandboxResult(False, error="result too large", pid=pid)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return SandboxResult(False, error="unreadable result", pid=pid)
    if not isinstance(data, dict) or not data.get("ok"):
        error = data.get("error") if isinstance(data, dict) else None
        return SandboxResult(False, error=str(error or "failed")[:200], pid=pid)
    values, errors = data.get("values"), data.get("errors")
    if not (isinstance(values, list) and isinstance(errors, list) and len(values) == len(errors) == n):
        return SandboxResult(False, error="malformed result", pid=pid)
    clean = [_probability(v) for v in values]
    notes = [None if c is not None else str(e or "invalid value")[:200] for c, e in zip(clean, errors)]
    layers = data.get("layers")
    layers = tuple(str(x) for x in layers) if isinstance(layers, list) else ()
    return SandboxResult(True, clean, notes, pid=pid, layers=layers)


def _probability(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def extract_code(answer: str) -> str:
    """The Python code in a model's answer: its fenced blocks if any, else the whole answer."""
    blocks = []
    lines = answer.splitlines()
    inside, current = False, []
    for line in lines:
        if line.strip().startswith("```"):
            if inside:
                blocks.append("\n".join(current))
                current = []
            inside = not inside
            continue
        if inside:
            current.append(line)
    if inside and current:  # an unclosed block (the reply hit its token limit)
        blocks.append("\n".join(current))
    return "\n\n".join(blocks) if blocks else answer
