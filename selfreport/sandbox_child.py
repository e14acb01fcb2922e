"""The sandboxed side of `selfreport.sandbox`: never imported, its source is run by
`python -I -S -c` in a fresh process with an empty environment.

Reads one JSON payload on stdin, locks itself down (limits, no network, an unprivileged
user, an audit hook), runs the model's code, calls the function on each input and writes one
JSON line — the return values and short error names, nothing else — to a private copy of
stdout. The code's own stdout and stderr go to /dev/null.
"""

import builtins
import io
import json
import math
import os
import resource
import sys

# Modules the model's code may use: loaded now, because after the lockdown nothing more can be
# read from disk (and the unprivileged user may not even be allowed to read the interpreter's
# library).
import collections, functools, itertools, operator, random, re, statistics, string  # noqa: E401,F401
import unicodedata, difflib, heapq, bisect, fractions, decimal, typing, datetime, hashlib, copy, textwrap  # noqa: E401,F401

_payload = json.loads(sys.stdin.read())
_limits = _payload["limits"]
_work = os.path.abspath(_payload["workdir"])
_dumps, _write, _isfinite = json.dumps, os.write, math.isfinite


def _limit(which, value):
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


_limit(resource.RLIMIT_AS, _limits["memory_bytes"])
_limit(resource.RLIMIT_FSIZE, _limits["file_bytes"])
_limit(resource.RLIMIT_CORE, 0)
try:  # the soft limit sends SIGXCPU, the hard one a second later SIGKILL
    resource.setrlimit(resource.RLIMIT_CPU, (_limits["cpu_s"], _limits["cpu_s"] + 1))
except (ValueError, OSError):
    pass

if os.geteuid() == 0:
    # As root: a network namespace of our own (no interfaces, so no network at all), then
    # become the unprivileged user so that RLIMIT_NPROC binds and root's files are out of reach.
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).unshare(0x40000000)  # CLONE_NEWNET
    except Exception:
        pass
    for _name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[_name]
    ctypes = None
    try:
        os.setgroups([])
        os.setgid(_payload["gid"])
        os.setuid(_payload["uid"])
    except OSError:
        pass
_limit(resource.RLIMIT_NPROC, 0)  # no new processes (for any user but root)

# Our own channel for the result; the code's prints go nowhere.
_result_fd = os.dup(1)
_null = os.open(os.devnull, os.O_WRONLY)
os.dup2(_null, 1)
os.dup2(_null, 2)
sys.stdout = sys.stderr = io.StringIO()

_BLOCKED_EVENTS = (
    "socket.", "subprocess.", "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn",
    "os.system", "os.startfile", "os.kill", "os.killpg", "os.remove", "os.rename", "os.rmdir",
    "os.mkdir", "os.chmod", "os.chown", "os.chflags", "os.link", "os.symlink", "os.truncate",
    "os.utime", "os.chdir", "os.chroot", "os.listdir", "os.scandir", "os.walk", "os.setxattr",
    "os.removexattr", "os.listxattr", "os.getxattr", "os.add_dll_directory", "os.unshare",
    "shutil.", "ctypes.", "_thread.start_new_thread", "pty.", "webbrowser.", "urllib.", "http.",
    "ftplib.", "smtplib.", "imaplib.", "poplib.", "nntplib.", "telnetlib.", "sqlite3.", "mmap.",
    "resource.", "fcntl.", "syslog.", "glob.", "tempfile.", "sys.remote_exec",
)
_BLOCKED_IMPORTS = {
    "ctypes", "_ctypes", "socket", "_socket", "ssl", "_ssl", "subprocess", "_posixsubprocess",
    "multiprocessing", "_multiprocessing", "threading", "_thread", "concurrent", "asyncio", "pty",
    "mmap", "fcntl", "resource", "urllib", "http", "ftplib", "smtplib", "sqlite3", "_sqlite3",
}


def _inside_workdir(path):
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    if not isinstance(path, str):
        return False  # a raw file descriptor
    full = os.path.normpath(os.path.join(_work, path))
    return full == _work or full.startswith(_work + os.sep)


def _audit(event, args):
    if event == "open":
        if not _inside_workdir(args[0]):
            raise PermissionError(f"sandbox: opening {args[0]!r} is not allowed")
    elif event == "import":
        if str(args[0]).partition(".")[0] in _BLOCKED_IMPORTS:
            raise ImportError(f"sandbox: importing {args[0]} is not allowed")
    elif event.startswith(_BLOCKED_EVENTS):
        raise PermissionError(f"sandbox: {event} is not allowed")


def _reply(obj):
    data = _dumps(obj).encode("utf-8", "replace")
    os.write(_result_fd, data[: _limits["output_bytes"]])


def _error_name(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text[:200]


def _probability(value):
    if type(value) not in (int, float):
        return None, f"returned {type(value).__name__}, not a number"
    value = float(value)
    if not _isfinite(value) or not 0.0 <= value <= 1.0:
        return None, f"returned {value!r}, not a probability in [0, 1]"
    return value, None


sys.addaudithook(_audit)
_namespace = {"__builtins__": builtins, "__name__": "__sandbox__"}
try:
    exec(compile(_payload["code"], "<model code>", "exec"), _namespace)
    _function = _namespace.get(_payload["name"])
    if not callable(_function):
        raise NameError(f"the code defines no function {_payload['name']}")
except BaseException as exc:  # noqa: BLE001 - anything the code does is reported, not raised
    _reply({"ok": False, "error": _error_name(exc)})
    os._exit(0)

_values, _errors = [], []
for _input in _payload["inputs"]:
    try:
        _value, _err = _probability(_function(_input))
    except BaseException as exc:  # noqa: BLE001
        _value, _err = None, _error_name(exc)
    _values.append(_value)
    _errors.append(_err)
_reply({"ok": True, "values": _values, "errors": _errors})
os._exit(0)
