"""The image's entry point (``bin/serve`` -> ``containers/inference/serve.py``) as a real process
tree: a supervisor and its workers, configured from SageMaker's environment variables, on a
free loopback port. SIGTERM drains the requests in flight; a worker that dies is replaced.

A request is held "in flight" for as long as the test wants by sending its body in two parts:
the server has the request (headers and part of the body) and cannot answer until the rest
arrives, which is exactly the situation of a slow request when SIGTERM comes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from inference_support import REPO, SERVE, call, free_port, invoke, ping_status, serve_process, train_model, wait_for, workers

ROW = b"12,70.5,846.0,2,0,3,1,1,14\n"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_model(tmp_path_factory.mktemp("opt-ml"))


def _start_request(port: int, first_part: bytes, total_length: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=20)
    head = f"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\nContent-Length: {total_length}\r\n\r\n"
    client.sendall(head.encode() + first_part)
    return client


def _read_response(client: socket.socket) -> tuple[int, str]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = client.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture(scope="module")
def configured(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A server configured only through the environment: port, workers, timeout, model folder."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {
        "SM_MODEL_DIR": str(model_dir),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "1",
    }
    with serve_process(log, env) as process:
        wait_for(lambda: ping_status(port) == 200 or process.poll() is not None, what="the server to answer /ping")
        assert process.poll() is None, log.read_text()
        # /ping answered by one worker says nothing of the other: wait until both have the model,
        # or a request meant for one kind of answer meets a 503 "still loading" instead.
        wait_for(lambda: log.read_text().count("model loaded from") >= 2, what="both workers to load the model")
        yield {"port": port, "process": process, "log": log}


def test_port_workers_and_timeout_come_from_the_environment(configured: dict) -> None:
    port, process = configured["port"], configured["process"]
    assert invoke(port, ROW).status == 200
    assert len(wait_for(lambda: len(workers(process.pid)) == 2 and workers(process.pid), what="two workers")) == 2
    assert f"on http://127.0.0.1:{port} with 2 worker(s), request timeout 1 s" in configured["log"].read_text()
    client = _start_request(port, ROW[:5], len(ROW))
    try:
        status, body = _read_response(client)  # the rest of the body never comes
    finally:
        client.close()
    assert (status, body) == (408, "the body did not arrive within the 1 s request timeout (SAGEMAKER_MODEL_SERVER_TIMEOUT)\n")


def test_a_worker_that_dies_is_replaced(configured: dict) -> None:
    port, process = configured["port"], configured["process"]
    running = wait_for(lambda: len(workers(process.pid)) == 2 and workers(process.pid), what="two workers")
    victim = min(running)
    os.kill(victim, signal.SIGKILL)
    replaced = wait_for(
        lambda: (current := workers(process.pid)) and victim not in current and len(current) == 2 and current,
        what="the supervisor to replace the killed worker",
    )
    assert victim not in replaced
    wait_for(lambda: all(invoke(port, ROW).status == 200 for _ in range(10)), what="every worker to answer")
    assert process.poll() is None


def test_sigterm_drains_the_request_in_flight_then_exits(model_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {"SM_MODEL_DIR": str(model_dir), "SAGEMAKER_MODEL_SERVER_TIMEOUT": "20"}
    with serve_process(tmp_path / "serve.log", env, "--port", str(port), "--workers", "1") as process:
        wait_for(lambda: ping_status(port) == 200, what="the server to answer /ping")
        body = ROW * 3
        client = _start_request(port, body[:10], len(body))
        try:
            time.sleep(0.3)  # the worker has the request
            process.send_signal(signal.SIGTERM)
            time.sleep(0.7)  # shutdown has begun: the listening socket is closed by the worker
            assert process.poll() is None, "the server must wait for the request in flight"
            client.sendall(body[10:])
            status, answer = _read_response(client)
        finally:
            client.close()
        assert status == 200
        assert len(answer.splitlines()) == 3
        assert process.wait(timeout=15) == 0
    log = (tmp_path / "serve.log").read_text()
    assert "Received SIGTERM" in log and "Finished server process" in log


def test_a_model_that_cannot_load_keeps_the_server_up_with_ping_503(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with serve_process(log, {"SM_MODEL_DIR": str(tmp_path / "nothing-here")}, "--port", str(port), "--workers", "1") as process:
        wait_for(lambda: ping_status(port) == 503, what="/ping 503")
        # /ping says "still loading" (also 503) until the worker has tried the model and failed.
        wait_for(lambda: call(port, "GET", "/ping").text.startswith("the model failed"), what="the load failure")
        for _ in range(3):
            answer = call(port, "GET", "/ping")
            assert answer.status == 503
            assert answer.text == (
                f"the model failed to load: model folder {tmp_path / 'nothing-here'} does not exist; "
                "set SM_MODEL_DIR or pass --model-dir\n"
            )
        assert process.poll() is None
    assert log.read_text().count("the model failed to load") == 1


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["train"], {}, "this is the inference image; it was started with 'train' instead of 'serve'"),
        ([], {"SAGEMAKER_MODEL_SERVER_WORKERS": "many", "SAGEMAKER_BIND_TO_PORT": "0"}, "SAGEMAKER_BIND_TO_PORT='0' must be an integer"),
        ([], {"SAGEMAKER_MODEL_SERVER_WORKERS": "many"}, "SAGEMAKER_MODEL_SERVER_WORKERS='many' must be an integer in [1, 256]"),
    ],
)
def test_bad_start_exits_2_with_the_reason(args: list[str], env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, str(SERVE), *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stdout + result.stderr


def test_a_port_in_use_exits_3(model_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with serve_process(tmp_path / "serve.log", {"SM_MODEL_DIR": str(model_dir)}, "--port", str(port)) as process:
            assert process.wait(timeout=30) == 3
    assert "address already in use" in (tmp_path / "serve.log").read_text().lower()
