"""A real `transformers serve` on loopback, serving the embedded SmolLM2 on the CPU.

The server is pinned to the converted model folder (its positional FORCE_MODEL argument), so it
loads the weights before it starts listening, and requests must name the model by exactly that
path: the spec is `openai:<folder path>@http://127.0.0.1:<port>/v1`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

START_DEADLINE_S = 180.0


@dataclass
class ServeProcess:
    proc: subprocess.Popen
    port: int
    model: str
    log: Path
    startup_s: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def spec(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def kill(self) -> None:
        """Kill the server at once (no graceful shutdown) and wait until it has exited."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _transformers_cli() -> list[str]:
    beside = Path(sys.executable).parent / "transformers"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("transformers")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from transformers.cli.transformers import main; sys.exit(main())"]


def start_transformers_serve(log_dir: Path) -> ServeProcess:
    pytest.importorskip("fastapi", reason="transformers serve needs `transformers[serving]` (the dev extra)")
    pytest.importorskip("uvicorn", reason="transformers serve needs `transformers[serving]` (the dev extra)")
    from agents.errors import SpecError
    from agents.local_models import model_dir

    try:
        model = str(model_dir("smollm2"))
    except SpecError as exc:
        pytest.skip(f"embedded model unavailable: {exc}")
    port = _free_port()
    log = log_dir / f"transformers-serve-{port}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [*_transformers_cli(), "serve", model, "--host", "127.0.0.1", "--port", str(port),
               "--device", "cpu", "--log-level", "info"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    server = ServeProcess(proc, port, model, log)
    started = time.monotonic()
    deadline = started + START_DEADLINE_S
    with httpx.Client(timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited with {proc.returncode} before answering:\n{_tail(log)}")
            try:
                if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                pytest.fail(f"transformers serve did not answer within {START_DEADLINE_S:g} s:\n{_tail(log)}")
            time.sleep(0.2)  # polling a subprocess for readiness, bounded by the deadline
    server.startup_s = time.monotonic() - started
    print(f"transformers serve ready on port {port} in {server.startup_s:.1f} s", file=sys.stderr)
    return server


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def transformers_server(tmp_path_factory):
    """One shared server for the tests of a module."""
    server = start_transformers_serve(tmp_path_factory.mktemp("serve"))
    yield server
    server.stop()


@pytest.fixture
def fresh_transformers_server(tmp_path_factory):
    """A server of its own, for a test that kills it."""
    server = start_transformers_serve(tmp_path_factory.mktemp("serve"))
    yield server
    server.stop()
