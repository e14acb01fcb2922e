"""What the orchestrator costs per message against a server that answers at once.

    python benchmarks/orchestrator.py [--json] [--games N] [--in-flight 16,256,1024]
                                      [--messages-per-player 5] [--servers 1]

It starts its own OpenAI-compatible server on loopback (`--servers` processes sharing one
listening socket; each answers every request at once with one canned chat completion, usage
included), then for each in-flight level runs `mms play` in a child process, from the root of
the checkout this file is in (so a worktree measures its own code), with `--concurrency` = the
level and both seats `openai:bench@http://127.0.0.1:PORT/v1`, and with the per-server request cap
(`MMS_OPENAI_CONCURRENCY`, and its successor `MMS_MAX_REQUESTS`) set to the level too. Where the
machine has two cores or more, the server is pinned to one core and `mms play` to another, so
`mms play` has one core to itself.

Per level it reports, from the child's own resource usage (`os.wait4`):
- msgs_per_s: messages written (both seats, guesses included) per second of wall time;
- cpu_ms_per_msg: the child's CPU time (user + sys) per message;
- peak_rss_mb: the child's peak resident memory.
Start-up is left out: a 1-game run is measured first and its CPU time, wall time and messages are
subtracted from every level's, so the figures are the marginal cost of a message. Games per level
default to max(1000, 4 × level), about ten seconds at 1,000 messages a second.

Never part of `make test`: it takes minutes and its figures depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench"
CODEWORD = "bark"
REPLY_TEXT = "Hello there, how was your day?"  # never the codeword: every game plays out in full
LEVELS = (16, 256, 1024)
MIN_GAMES = 1000
GAMES_PER_SLOT = 4
CAP_VARIABLES = ("MMS_OPENAI_CONCURRENCY", "MMS_MAX_REQUESTS")
CAP_RANGE = (1, 1024)  # what MMS_OPENAI_CONCURRENCY accepts


# -- the instant server ---------------------------------------------------------------------

def _reply() -> bytes:
    body = json.dumps({
        "id": "bench-1", "object": "chat.completion", "created": 0, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": REPLY_TEXT}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


REPLY = _reply()
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)


def serve(fd: int) -> None:
    """Answer every HTTP/1.1 request on the listening socket `fd` with `REPLY`, keeping
    connections open, until SIGTERM; then print how many requests were answered."""
    import asyncio

    answered = 0

    class Instant(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, bytearray()

        def data_received(self, data):
            nonlocal answered
            buffer = self.buffer
            buffer += data
            start, replies, close = 0, 0, False
            while (end := buffer.find(b"\r\n\r\n", start)) >= 0:
                head = bytes(buffer[start:end])
                length = _LENGTH.search(head)
                stop = end + 4 + (int(length[1]) if length else 0)
                if len(buffer) < stop:
                    break
                start, replies = stop, replies + 1
                close = close or _CLOSE.search(head) is not None
            if replies:
                del buffer[:start]
                answered += replies
                self.transport.write(REPLY * replies)
                if close:
                    self.transport.close()

    async def main():
        loop = asyncio.get_running_loop()
        stopped = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stopped.set_result, None)
        server = await loop.create_server(Instant, sock=socket.socket(fileno=fd))
        await stopped
        server.close()

    asyncio.run(main())
    print(answered, flush=True)


@dataclass
class Usage:
    """What one finished child process used."""

    cpu_s: float
    wall_s: float
    peak_rss_mb: float
    status: int


def wait_for(process: subprocess.Popen, started: float) -> Usage:
    """Reap the child ourselves, to get its own resource usage (not that of all our children)."""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Usage(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, process.returncode)


class InstantServers:
    """`count` server processes sharing one listening socket on loopback, pinned to `cores`."""

    def __init__(self, count: int, cores: list[int] | None):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
        self.port = self.listener.getsockname()[1]
        fd = self.listener.fileno()
        self.started = time.perf_counter()
        self.processes = [
            subprocess.Popen([sys.executable, __file__, "--serve-fd", str(fd)], pass_fds=[fd],
                             stdout=subprocess.PIPE, text=True,
                             preexec_fn=_pinned({cores[i % len(cores)]}) if cores else None)
            for i in range(count)
        ]
        self.listener.close()  # the servers hold it; connections queue in its backlog meanwhile

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> tuple[int, float]:
        """Stop every server; return (requests answered, CPU seconds they used)."""
        answered, cpu = 0, 0.0
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
            out = process.stdout.read()
            cpu += wait_for(process, self.started).cpu_s
            answered += int(out.strip() or 0)
        return answered, cpu


def _pinned(cores: set[int]):
    return lambda: os.sched_setaffinity(0, cores)


# -- the orchestrator under test --------------------------------------------------------------

@dataclass
class Level:
    in_flight: int
    games: int
    messages: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    msgs_per_s: float | None = None
    cpu_ms_per_msg: float | None = None


def play(url: str, games: int, level: int, messages_per_player: int, core: int | None, db: Path) -> Level:
    """One `mms play` in a child process; its messages counted from its `--json` line."""
    spec = f"openai:{MODEL}@{url}"
    cap = str(min(max(level, CAP_RANGE[0]), CAP_RANGE[1]))
    env = {**os.environ, **dict.fromkeys(CAP_VARIABLES, cap)}
    env.pop("OPENAI_BASE_URL", None)
    command = [sys.executable, "-c", "from game.cli import main; main()", "play",
               "--codeword", CODEWORD, "--games", str(games), "--concurrency", str(level),
               "--manipulator", spec, "--user", spec, "--messages-per-player", str(messages_per_player),
               "--seed", "0", "--db", str(db), "--json"]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err,
                                   preexec_fn=_pinned({core}) if core is not None else None)
        try:
            usage = wait_for(process, started)
        except BaseException:  # interrupted or stopped: leave no orphan playing on
            process.kill()
            process.wait()
            raise
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    if usage.status != 0:
        raise SystemExit(f"mms play at {level} in flight failed (exit {usage.status}): {errors.strip()[-2000:]}")
    result = json.loads(text.strip().splitlines()[-1])
    if result.get("error"):
        raise SystemExit(f"mms play at {level} in flight: {result['error']} game(s) ended in error: {errors.strip()[-2000:]}")
    guesses = result.get("win", 0) + result.get("correct_guess", 0)  # one guess per game the user named the word in
    messages = result["manipulator_messages"] + result["user_messages"] + guesses
    return Level(level, games, messages, round(usage.wall_s, 3), round(usage.cpu_s, 3), round(usage.peak_rss_mb, 1))


def marginal(level: Level, startup: Level) -> Level:
    """The level's figures less the 1-game run's: what its messages cost beyond start-up."""
    messages = level.messages - startup.messages
    cpu, wall = level.cpu_s - startup.cpu_s, level.wall_s - startup.wall_s
    level.msgs_per_s = round(messages / wall, 1) if wall > 0 else None
    level.cpu_ms_per_msg = round(1000 * cpu / messages, 3) if messages > 0 else None
    return level


def cores() -> tuple[list[int] | None, int | None]:
    """(server cores, orchestrator core): the last core for `mms play`, the others for the server."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[:-1], available[-1]


def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(x) for x in text.split(",")]
    except ValueError:
        raise SystemExit(f"--in-flight takes whole numbers separated by commas, e.g. 16,256,1024 (got {text!r})") from None
    if not levels or min(levels) < 1:
        raise SystemExit(f"--in-flight levels must be at least 1 (got {text!r})")
    return levels


def run(levels: list[int], games: int | None, messages_per_player: int, servers: int, log) -> dict:
    server_cores, core = cores()
    pinning = (f"server on core(s) {server_cores}, mms play on core {core}" if core is not None
               else "not pinned: fewer than 2 cores")
    log(f"pinning: {pinning}")
    instant = InstantServers(servers, server_cores)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            startup = play(instant.url, 1, 1, messages_per_player, core, Path(tmp) / "startup.db")
            log(f"start-up (1 game, subtracted from every level): {startup.cpu_s:.2f} s CPU, {startup.wall_s:.2f} s wall")
            results = []
            for level in levels:
                n = games or max(MIN_GAMES, GAMES_PER_SLOT * level)
                result = marginal(play(instant.url, n, level, messages_per_player, core, Path(tmp) / f"l{level}.db"),
                                  startup)
                log(f"{level:>5} in flight: {result.games} games, {result.messages} messages in {result.wall_s:.1f} s: "
                    f"{result.msgs_per_s} msgs/s, {result.cpu_ms_per_msg} CPU ms/msg, peak RSS {result.peak_rss_mb:.0f} MB")
                results.append(result)
    finally:
        answered, server_cpu = instant.stop()
    return {
        "levels": [asdict(r) for r in results],
        "startup_cpu_s": round(startup.cpu_s, 3), "startup_wall_s": round(startup.wall_s, 3),
        "startup_subtracted": True, "pinned": core is not None, "pinning": pinning,
        "servers": servers, "server_requests": answered,
        "server_cpu_ms_per_request": round(1000 * server_cpu / answered, 4) if answered else None,
        "messages_per_player": messages_per_player,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    parser.add_argument("--games", type=int, default=None,
                        help=f"games per level (default max({MIN_GAMES}, {GAMES_PER_SLOT} × level))")
    parser.add_argument("--in-flight", default=",".join(map(str, LEVELS)),
                        help="levels of games (and requests) in flight, comma-separated (default 16,256,1024)")
    parser.add_argument("--messages-per-player", type=int, default=5)
    parser.add_argument("--servers", type=int, default=1, help="instant server processes (default 1)")
    parser.add_argument("--serve-fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fd is not None:
        serve(args.serve_fd)
        return
    if args.games is not None and args.games < 2:
        raise SystemExit("--games must be at least 2 (one game is the start-up run subtracted from each level)")
    if args.servers < 1 or args.messages_per_player < 1:
        raise SystemExit("--servers and --messages-per-player must be at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # through `finally`, so the servers stop too
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    result = run(parse_levels(args.in_flight), args.games, args.messages_per_player, args.servers, log)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"instant server: {result['server_requests']} requests at {result['server_cpu_ms_per_request']} CPU ms each")


if __name__ == "__main__":
    main()
