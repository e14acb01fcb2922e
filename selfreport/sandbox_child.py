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
import platform, struct  # noqa: E401 - for the seccomp filter

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

def _fail(reason):
    """Fail closed: a protection that cannot be set up means the code does not run."""
    os.write(_out, json.dumps({"ok": False, "error": f"sandbox: {reason}"}).encode())
    os._exit(0)


_out = 1  # where results go: stdout until the code's own prints are sent to /dev/null
import ctypes  # noqa: E402 - for unshare, prctl and seccomp; gone from reach before the code runs

_libc = ctypes.CDLL(None, use_errno=True)
_layers = []
if os.geteuid() == 0:
    # A network namespace of our own (no interfaces), then the unprivileged user, so that
    # RLIMIT_NPROC binds and root's files are out of reach.
    if _libc.unshare(0x40000000) == 0:  # CLONE_NEWNET
        _layers.append("netns")
    try:
        os.setgroups([])
        os.setgid(_payload["gid"])
        os.setuid(_payload["uid"])
    except OSError as exc:
        _fail(f"could not switch to the unprivileged user ({exc})")
    if os.getuid() == 0 or os.geteuid() == 0:
        _fail("still root after switching users")
    _layers.append("nobody")
elif _libc.unshare(0x10000000 | 0x40000000) == 0:  # CLONE_NEWUSER | CLONE_NEWNET, where allowed
    _layers.append("userns+netns")


def _seccomp():
    """Kernel-enforced syscall allow-list: nothing the code does in Python can lift it.

    Allowed: memory, reading and writing already-open descriptors, time, signals' return, exit.
    Every other call fails with EPERM: no open (so no file at all, inside or outside the work
    directory), no stat, no directory listing, no socket, no fork/clone/exec, no kill, no
    ptrace. An unknown architecture, or x32 calls, kill the process.
    """
    allowed = _ALLOWED_SYSCALLS.get(platform.machine())
    if allowed is None:
        _fail(f"no syscall table for this architecture ({platform.machine()})")
    arch, numbers = allowed
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, kill, eperm = 0x7FFF0000, 0x80000000, 0x00050000 | 1
    program = [(ld, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, kill), (ld, 0, 0, 0)]
    if arch == 0xC000003E:
        program += [(jge, 0, 1, 0x40000000), (ret, 0, 0, kill)]
    for number in numbers:
        program += [(jeq, 0, 1, number), (ret, 0, 0, allow)]
    program.append((ret, 0, 0, eperm))
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code, len(code))

    class _Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = _Program(len(program), ctypes.addressof(buffer))
    if _libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        _fail(f"could not set no_new_privs (errno {ctypes.get_errno()})")
    if _libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        _fail(f"could not install the seccomp filter (errno {ctypes.get_errno()}); "
              "this kernel cannot run model-written code safely")


_ALLOWED_SYSCALLS = {
    # read write close fstat lseek mmap mprotect munmap brk rt_sigaction rt_sigprocmask
    # rt_sigreturn pread64 pwrite64 readv writev sched_yield mremap madvise nanosleep getpid
    # exit getrusage times getuid getgid geteuid getegid getppid sigaltstack gettid futex
    # clock_gettime clock_getres clock_nanosleep exit_group getrandom
    "x86_64": (0xC000003E, (0, 1, 3, 5, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 24, 25, 28, 35, 39,
                            60, 98, 100, 102, 104, 107, 108, 110, 131, 186, 202, 228, 229, 230, 231, 318)),
    "aarch64": (0xC00000B7, (63, 64, 57, 80, 62, 222, 226, 215, 214, 134, 135, 139, 67, 68, 65, 66, 124,
                             216, 233, 101, 172, 93, 165, 153, 174, 176, 175, 177, 173, 132, 178, 98,
                             113, 114, 115, 94, 278)),
}

_limit(resource.RLIMIT_NPROC, 0)  # no new processes (for any user but root)

# Our own channel for the result; the code's prints go nowhere.
_result_fd = _out = os.dup(1)
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


_seccomp()
_layers.append("seccomp")
for _name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
    del sys.modules[_name]
ctypes = _libc = None
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
_reply({"ok": True, "values": _values, "errors": _errors, "layers": _layers})
os._exit(0)
