"""Helpers the inference tests share: a trained sample model, servers on free loopback ports
(in-process in a thread, or the real entry point in a subprocess), and a small HTTP client.

Every server binds 127.0.0.1 on a port the kernel picks and is always stopped (context
managers with ``finally``), so tests run in parallel without colliding or leaking processes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from containers.training import sample_data
from containers.training import train as trainer

REPO = Path(__file__).resolve().parents[2]
SERVE = REPO / "containers" / "inference" / "bin" / "serve"

FAST_HYPERPARAMETERS = {"num_round": "20", "max_depth": "4", "eta": "0.3", "early_stopping_rounds": "0"}


def train_model(root: Path, rows: int = 1500, seed: int = 5) -> Path:
    """Run the training image's code on sample data under ``root``; returns the model folder."""
    sample_data.write_channels(root / "input" / "data", rows=rows, seed=seed)
    config = root / "input" / "config" / "hyperparameters.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(FAST_HYPERPARAMETERS))
    code = trainer.execute(root, log=lambda line: None)
    assert code == trainer.EXIT_OK, (root / "output" / "failure").read_text()
    return root / "model"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> Response:
    """One request; reuses ``connection`` when given (keep-alive), else opens and closes one."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        answer = connection.getresponse()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
    finally:
        if own:
            connection.close()


def invoke(port: int, body: bytes | str, content_type: str | None = "text/csv", accept: str | None = None, **kwargs) -> Response:
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    data = body.encode() if isinstance(body, str) else body
    return call(port, "POST", "/invocations", data, headers, **kwargs)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.02, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def app_server(app) -> Iterator[int]:
    """Serve an ASGI app in this process (uvicorn on httptools + uvloop, as in the image); yields the port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, loop="uvloop", http="httptools", lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), what="the in-process server to start")
        assert server.started, "the in-process server did not start"
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def ping_status(port: int) -> int | None:
    try:
        return call(port, "GET", "/ping").status
    except OSError:
        return None


@contextlib.contextmanager
def serve_process(log: Path, env: Mapping[str, str], *args: str) -> Iterator[subprocess.Popen]:
    """The image's entry point (bin/serve) as a subprocess with ``env`` added, its output in
    ``log``; always stopped (SIGTERM, then SIGKILL to the whole process group)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **env}
    with open(log, "w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [sys.executable, str(SERVE), "serve", "--host", "127.0.0.1", *args],
            env=full_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def workers(pid: int) -> set[int]:
    """The worker processes of the server whose supervisor is ``pid`` (Linux /proc): its children
    started by multiprocessing's spawn (its resource tracker is a child too, but not a worker)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:  # exited meanwhile
                continue
            if b"spawn_main" in command:
                found.add(int(child))
    return found
