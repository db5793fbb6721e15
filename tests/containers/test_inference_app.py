"""The server app over real HTTP (``containers/inference/app.py``), served in this process by
uvicorn on httptools + uvloop exactly as a worker serves it, on a free loopback port.

What a client relies on: /ping tells the truth about the model; CSV and JSON, one row or many,
give the model's own probabilities; every client mistake is its 4xx with a one-line message;
random bodies never produce a 5xx; a bug costs one request, not the worker; the request
timeout answers instead of hanging.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inference_support import app_server, call, invoke, ping_status, train_model, wait_for

from containers.contracts import features, model_metadata
from containers.inference import app as server_app
from containers.inference import model as model_loading
from containers.inference.app import InferenceApp
from containers.inference.environment import Settings
from containers.training import train as trainer

NAMES = ", ".join(features.FEATURE_NAMES)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_model(tmp_path_factory.mktemp("opt-ml"))


@pytest.fixture(scope="module")
def port(model_dir: Path) -> Iterator[int]:
    """One server for the read-only tests, with the real loader and default settings."""
    with app_server(InferenceApp(Settings(model_dir=model_dir))) as bound:
        wait_for(lambda: ping_status(bound) == 200, what="the model to load")
        yield bound


@pytest.fixture(scope="module")
def rows(model_dir: Path) -> np.ndarray:
    """Validation rows as the trainer reads them, some values missing."""
    matrix = trainer.load_channel(trainer.SageMakerPaths(model_dir.parent), "validation").features[:40].copy()
    matrix[::4, 1] = np.nan
    return matrix


@pytest.fixture(scope="module")
def expected(model_dir: Path, rows: np.ndarray) -> np.ndarray:
    """The probabilities the trainer's own scoring path gives (DMatrix with feature names)."""
    booster = xgb.Booster(model_file=str(model_dir / model_metadata.MODEL_FILE))
    matrix = xgb.DMatrix(rows, feature_names=list(features.FEATURE_NAMES), feature_types=[f.type for f in features.FEATURES])
    return booster.predict(matrix)


def _cell(value: float) -> str:
    return "" if np.isnan(value) else repr(value)


def _csv(rows: np.ndarray) -> str:
    return "\n".join(",".join(_cell(v) for v in row) for row in rows.tolist()) + "\n"


def _json_rows(rows: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else v for v in row] for row in rows.tolist()]


def _scores(response) -> np.ndarray:
    if response.headers["content-type"].startswith("application/json"):
        return np.array([p["score"] for p in json.loads(response.body)["predictions"]], dtype=np.float32)
    return np.array([float(line) for line in response.text.splitlines()], dtype=np.float32)


# ----------------------------------------------------------------------------- /ping


def test_ping_is_503_while_the_model_loads_then_200(model_dir: Path) -> None:
    release = threading.Event()

    def slow_loader(folder: Path) -> model_loading.Model:
        release.wait(10)
        return model_loading.load(folder)

    with app_server(InferenceApp(Settings(model_dir=model_dir), loader=slow_loader)) as bound:
        before = call(bound, "GET", "/ping")
        assert (before.status, before.text) == (503, "the model is still loading\n")
        early = invoke(bound, "1,2,3,4,5,6,7,8,9")
        assert (early.status, early.text) == (503, "the model is still loading\n")
        release.set()
        wait_for(lambda: ping_status(bound) == 200, what="/ping 200 after the load")
        after = call(bound, "GET", "/ping")
        assert (after.status, after.body) == (200, b"")
        assert invoke(bound, "1,2,3,4,5,6,7,8,9").status == 200


def test_ping_is_503_with_the_reason_when_the_model_cannot_load(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / model_metadata.METADATA_FILE).write_text(json.dumps({"format_version": 1}))
    with caplog.at_level("ERROR", logger="containers.inference.app"):
        with app_server(InferenceApp(Settings(model_dir=tmp_path))) as bound:
            wait_for(lambda: "failed" in call(bound, "GET", "/ping").text, what="the load to fail")
            answers = [call(bound, "GET", "/ping") for _ in range(3)]
            refused = invoke(bound, "1,2,3,4,5,6,7,8,9")
    for answer in [*answers, refused]:
        assert answer.status == 503
        assert answer.text.startswith("the model failed to load: ")
        assert "does not match this image's contracts: model_format is missing" in answer.text
    failures = [r for r in caplog.records if "failed to load" in r.getMessage()]
    assert len(failures) == 1, "the reason is logged once, not on every ping"


def test_ping_and_invocations_answer_only_their_method(port: int) -> None:
    assert call(port, "POST", "/ping", b"").status == 405
    wrong = call(port, "GET", "/invocations")
    assert (wrong.status, wrong.headers["allow"], wrong.text) == (405, "POST", "/invocations answers POST only\n")
    missing = call(port, "GET", "/models")
    assert (missing.status, missing.text) == (404, "no route /models; this server answers GET /ping and POST /invocations\n")


# ----------------------------------------------------------------------------- predictions


@pytest.mark.parametrize("count", [1, 40])
@pytest.mark.parametrize(
    ("content_type", "encode", "accept", "answer_type"),
    [
        ("text/csv", _csv, None, "text/csv"),
        ("text/csv", _csv, "application/json", "application/json"),
        ("application/json", lambda r: json.dumps(_json_rows(r)), None, "application/json"),
        ("application/json", lambda r: json.dumps({"instances": _json_rows(r)}), "text/csv", "text/csv"),
        ("text/csv; charset=utf-8", _csv, "*/*", "text/csv"),
    ],
)
def test_csv_and_json_single_and_batch_give_the_models_probabilities(
    port: int, rows: np.ndarray, expected: np.ndarray, count: int, content_type: str, encode, accept: str | None, answer_type: str
) -> None:
    response = invoke(port, encode(rows[:count]), content_type, accept)
    assert response.status == 200, response.text
    assert response.headers["content-type"] == answer_type
    np.testing.assert_array_equal(_scores(response), expected[:count])


def test_a_single_json_row_needs_no_list_around_it(port: int, rows: np.ndarray, expected: np.ndarray) -> None:
    response = invoke(port, json.dumps(_json_rows(rows[:1])[0]), "application/json")
    document = json.loads(response.body)
    assert document == {"predictions": [{"score": float(expected[0]), "predicted_label": int(expected[0] >= 0.5)}]}


def test_keep_alive_connections_serve_many_requests(port: int, rows: np.ndarray, expected: np.ndarray) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for index in range(20):
            response = invoke(port, _csv(rows[index : index + 1]), connection=connection)
            assert _scores(response)[0] == expected[index]
    finally:
        connection.close()


# ----------------------------------------------------------------------------- client mistakes

BAD_REQUESTS = [
    ("empty body", "text/csv", None, b"", 400, f"empty body; send one or more rows of 9 values ({NAMES})"),
    ("wrong columns", "text/csv", None, b"1,2,3", 400, f"row 1 has 3 columns; the model expects 9: {NAMES}"),
    ("not a number", "text/csv", None, b"1,2,3,4,5,6,7,8,9\n1,2,x,4,5,6,7,8,9", 400,
     "row 2, column 3 (total_charges): 'x' is not a number"),
    ("header", "text/csv", None, ",".join(features.FEATURE_NAMES).encode(), 400, "row 1 is a header"),
    ("malformed json", "application/json", None, b"[1,2", 400, "malformed JSON: "),
    ("json values", "application/json", None, b"[[1,2,3,4,5,6,7,8]]", 400, "row 1 has 8 values; the model expects 9"),
    ("json string", "application/json", None, b'[1,2,"3",4,5,6,7,8,9]', 400, 'row 1, column 3 (total_charges): "3" is not a number'),
    ("not utf-8", "text/csv", None, b"\xff\xfe", 400, "body is not UTF-8 text"),
    ("no content type", None, None, b"1,2,3,4,5,6,7,8,9", 415, "no Content-Type is not supported; send text/csv or application/json"),
    ("form post", "application/x-www-form-urlencoded", None, b"a=1", 415,
     "Content-Type 'application/x-www-form-urlencoded' is not supported"),
    ("accept", "text/csv", "image/png", b"1,2,3,4,5,6,7,8,9", 406, "Accept 'image/png' allows no type this server answers in"),
]


@pytest.mark.parametrize(
    ("case", "content_type", "accept", "body", "status", "message"), BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS]
)
def test_each_client_mistake_is_its_4xx_with_a_one_line_message(
    port: int, case: str, content_type: str | None, accept: str | None, body: bytes, status: int, message: str
) -> None:
    response = invoke(port, body, content_type, accept)
    assert response.status == status
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert message in response.text
    assert response.text.endswith("\n") and response.text.count("\n") == 1


def _csv_of_size(size: int) -> bytes:
    row = b"12,70.5,846.0,2,0,3,1,1,14\n"
    body = row * (size // len(row))
    return body + b"\n" * (size - len(body))


def test_the_body_limit_is_exact(model_dir: Path) -> None:
    with app_server(InferenceApp(Settings(model_dir=model_dir, max_body_bytes=4096))) as bound:
        wait_for(lambda: ping_status(bound) == 200, what="the model to load")
        at_limit = invoke(bound, _csv_of_size(4096))
        assert at_limit.status == 200 and len(at_limit.text.splitlines()) == 4096 // 27
        over = invoke(bound, _csv_of_size(4097))
        assert over.status == 413
        assert over.text == "the body is over the 4096 byte limit (0.00390625 MiB, SAGEMAKER_MAX_PAYLOAD_IN_MB); send smaller batches\n"


def test_a_body_over_6_mib_is_413_declared_or_chunked(port: int) -> None:
    body = _csv_of_size(6 * 1024 * 1024 + 1)
    declared = invoke(port, body)
    assert declared.status == 413 and "over the 6291456 byte limit (6 MiB" in declared.text
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:  # no Content-Length: the server counts what arrives
        pieces = (body[i : i + 65536] for i in range(0, len(body), 65536))
        connection.request("POST", "/invocations", body=pieces, headers={"Content-Type": "text/csv"}, encode_chunked=True)
        chunked = connection.getresponse()
        assert chunked.status == 413 and b"over the 6291456 byte limit" in chunked.read()
    finally:
        connection.close()
    assert ping_status(port) == 200


# ----------------------------------------------------------------------------- no 5xx from any input


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200), content_type=st.sampled_from(["text/csv", "application/json"]))
def test_random_bytes_never_get_a_5xx(port: int, body: bytes, content_type: str) -> None:
    response = invoke(port, body, content_type)
    assert response.status in (200, 400), response.text


CELLS = st.sampled_from(["1", "0", "2.5", "-4", "", "1e3", "nan", "x", '"3"', "1e999", " 7 "])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grid=st.lists(st.lists(CELLS, min_size=1, max_size=11), min_size=0, max_size=5))
def test_random_csv_never_gets_a_5xx_and_a_200_answers_every_row(port: int, grid: list[list[str]]) -> None:
    response = invoke(port, "\n".join(",".join(row) for row in grid))
    assert response.status in (200, 400), response.text
    if response.status == 200:
        assert len(response.text.splitlines()) == sum(1 for row in grid if len(row) > 1 or row[0].strip())


# ----------------------------------------------------------------------------- faults and time


class _FailingOnce:
    """A model whose first prediction hits a bug; afterwards it is the real model."""

    def __init__(self, real: model_loading.Model):
        self.real, self.metadata, self.feature_count = real, real.metadata, real.feature_count
        self.failed = False

    def predict(self, rows: np.ndarray) -> np.ndarray:
        if not self.failed:
            self.failed = True
            raise RuntimeError("injected bug")
        return self.real.predict(rows)


def test_an_internal_error_is_one_500_and_the_worker_keeps_serving(model_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    real = model_loading.load(model_dir)
    with caplog.at_level("ERROR", logger="containers.inference.app"):
        with app_server(InferenceApp(Settings(model_dir=model_dir), loader=lambda folder: _FailingOnce(real))) as bound:
            wait_for(lambda: ping_status(bound) == 200, what="the model to load")
            broken = invoke(bound, "1,2,3,4,5,6,7,8,9")
            assert (broken.status, broken.text) == (500, "internal error (RuntimeError); the container log has the details\n")
            assert ping_status(bound) == 200
            again = invoke(bound, "1,2,3,4,5,6,7,8,9")
            assert again.status == 200 and float(again.text) == float(real.predict(np.array([[1.0, 2, 3, 4, 5, 6, 7, 8, 9]]))[0])
    assert "injected bug" in caplog.text


class _Slow:
    """A model that takes ``seconds`` per prediction call (one chunk of rows)."""

    def __init__(self, real: model_loading.Model, seconds: float):
        self.real, self.metadata, self.feature_count = real, real.metadata, real.feature_count
        self.seconds = seconds

    def predict(self, rows: np.ndarray) -> np.ndarray:
        time.sleep(self.seconds)
        return self.real.predict(rows)


def test_rows_that_cannot_be_scored_in_time_are_413_not_a_hang(model_dir: Path) -> None:
    real = model_loading.load(model_dir)
    settings_ = Settings(model_dir=model_dir, timeout_seconds=0.25)
    with app_server(InferenceApp(settings_, loader=lambda folder: _Slow(real, 0.15))) as bound:
        wait_for(lambda: ping_status(bound) == 200, what="the model to load")
        rows = 3 * server_app.CHUNK_ROWS
        started = time.monotonic()
        late = invoke(bound, "1,2,3,4,5,6,7,8,9\n" * rows)
        assert late.status == 413
        assert late.text == (
            f"{rows} rows could not be scored within the 0.25 s request timeout (SAGEMAKER_MODEL_SERVER_TIMEOUT); send smaller batches\n"
        )
        assert time.monotonic() - started < 2
        assert invoke(bound, "1,2,3,4,5,6,7,8,9").status == 200  # one chunk: delivered, even late


def test_a_body_that_does_not_arrive_in_time_is_408(model_dir: Path) -> None:
    with app_server(InferenceApp(Settings(model_dir=model_dir, timeout_seconds=0.3))) as bound:
        wait_for(lambda: ping_status(bound) == 200, what="the model to load")
        with socket.create_connection(("127.0.0.1", bound), timeout=10) as client:
            client.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 17\r\n\r\n1,2,3")
            answer = client.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 408 ")
        assert answer.endswith("the body did not arrive within the 0.3 s request timeout (SAGEMAKER_MODEL_SERVER_TIMEOUT)\n")
        assert ping_status(bound) == 200
