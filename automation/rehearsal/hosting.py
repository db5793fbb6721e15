"""SageMaker hosting of one endpoint, emulated on this machine for the lifecycle rehearsal.

Each production variant is the project's own inference server (containers/inference/serve.py)
run as a local process on a free loopback port, as SageMaker runs the image on an instance with
the model unpacked into /opt/ml/model. In front of them a small router speaks SageMaker
Runtime's InvokeEndpoint REST shape (botocore's model: `POST /endpoints/{EndpointName}/invocations`,
headers Content-Type, Accept and X-Amzn-SageMaker-Target-Variant; the answer names the variant in
x-Amzn-Invoked-Production-Variant) and does what SageMaker does around each request:

- picks a variant at random in proportion to the endpoint's current weights (asked of a callable,
  so UpdateEndpointWeightsAndCapacities on moto applies to later requests), unless the request
  targets one;
- publishes the endpoint invocation metrics to CloudWatch (SageMaker Developer Guide,
  "Monitor SageMaker with Amazon CloudWatch", endpoint invocation metrics; names and units from
  components/metrics_catalogue.py), one raw value per request and metric, so percentiles of
  ModelLatency can be computed from them (automation/rehearsal/moto_fixes.py);
- captures a sample of the requests to S3 in SageMaker's data capture format (see
  `capture_line` and `capture_key`), which functions/drift/capture.py reads.

Errors of the runtime itself (an unknown endpoint or target variant: 400 ValidationError, as
botocore's model gives that error) come in the rest-json shape botocore parses, so boto3's own
`sagemaker-runtime` client works with `endpoint_url=Endpoint.url` (moto lets it through: the URL is
no AWS one); `Endpoint.invoke` is the same request without SigV4.

Where it differs from SageMaker, on purpose: an answer of the container that is not 2xx is
passed through with its own status and body (SageMaker Runtime wraps it in a 424 ModelError that
carries OriginalStatusCode), so the rehearsal sees what the server said; each variant has one
instance, so InvocationsPerInstance is 1 per request; nothing is encrypted.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import http.client
import json
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from components.metrics_catalogue import CATALOGUE
from containers.contracts.serving import CSV, JSON

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
TARGET_VARIANT_HEADER = "X-Amzn-SageMaker-Target-Variant"
INVOKED_VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
ERROR_TYPE_HEADER = "x-amzn-ErrorType"  # where botocore's rest-json parser reads an error's code
INVOCATION_TIMEOUT_SECONDS = 60  # SageMaker's own limit on a container's answer to /invocations
PUT_METRIC_DATA_LIMIT = 1000  # MetricData items per PutMetricData call (CloudWatch API reference)
CAPTURE_FILE_LINES = 1000  # a capture buffer this long is written without waiting for flush()
OUTPUT_TAIL_LINES = 20
_INVOCATIONS_PATH = re.compile(r"/endpoints/(?P<name>[^/]+)/invocations")


class HostingError(RuntimeError):
    """The endpoint could not start, or buffered metrics or captures could not be written."""


@dataclass(frozen=True)
class VariantModel:
    """One production variant and the folder SageMaker would unpack its model.tar.gz into."""

    name: str
    model_dir: Path


@dataclass(frozen=True)
class CaptureSettings:
    """Data capture as the endpoint config declares it (DataCaptureConfig): requests and answers to
    `s3://bucket/prefix`; bodies of a declared CSV or JSON content type are captured as text, others
    base64 (CaptureContentTypeHeader; the defaults are what components/inference_endpoint.py declares)."""

    bucket: str
    prefix: str
    percent: int
    csv_content_types: tuple[str, ...] = (CSV,)
    json_content_types: tuple[str, ...] = (JSON,)

    def __post_init__(self) -> None:
        if not 0 <= self.percent <= 100:
            raise ValueError(f"capture percent must be within [0, 100], got {self.percent}")

    @property
    def destination_uri(self) -> str:
        """DataCaptureConfig.DestinationS3Uri."""
        path = self.prefix.strip("/")
        return f"s3://{self.bucket}/{path}" if path else f"s3://{self.bucket}"

    def encoding_of(self, content_type: str | None) -> str:
        """CSV or JSON for a declared content type (parameters such as charset ignored), else BASE64."""
        media = (content_type or "").split(";", 1)[0].strip().lower()
        declared = {kind.lower(): "CSV" for kind in self.csv_content_types}
        declared.update({kind.lower(): "JSON" for kind in self.json_content_types if kind.lower() not in declared})
        return declared.get(media, "BASE64")


@dataclass(frozen=True)
class Invocation:
    """InvokeEndpoint's answer as a client sees it; `variant` is None when no variant was invoked."""

    status: int
    variant: str | None
    body: bytes
    content_type: str | None


@dataclass(frozen=True)
class VariantCounts:
    """What one variant served, for the rehearsal's summary."""

    routed: int = 0
    captured: int = 0
    failed: int = 0  # answers that were not 2xx


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


# --------------------------------------------------------------------------- data capture format

def _captured_payload(mode: str, content_type: str | None, body: bytes, settings: CaptureSettings) -> dict[str, str]:
    encoding = settings.encoding_of(content_type)
    if encoding != "BASE64":
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:  # declared as text but is not: keep it readable as bytes
            encoding = "BASE64"
    if encoding == "BASE64":
        data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type or "", "mode": mode, "data": data, "encoding": encoding}


def capture_line(request_type: str | None, request_body: bytes, answer_type: str | None, answer_body: bytes,
                 at: dt.datetime, settings: CaptureSettings) -> str:
    """One captured request as SageMaker writes it (SageMaker Developer Guide, "Capture data from
    real-time endpoint", View Captured Data): captureData.endpointInput/endpointOutput with
    observedContentType, mode, data and encoding; eventMetadata with eventId and inferenceTime
    ("2022-02-14T17:25:49Z"); eventVersion "0"."""
    record = {
        "captureData": {
            "endpointInput": _captured_payload("INPUT", request_type, request_body, settings),
            "endpointOutput": _captured_payload("OUTPUT", answer_type, answer_body, settings),
        },
        "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": _as_utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")},
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":"))


def capture_key(settings: CaptureSettings, endpoint: str, variant: str, first: dt.datetime) -> str:
    """`<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`, the layout of the Developer Guide
    ("s3:///{endpoint-name}/{variant-name}/yyyy/mm/dd/hh/filename.jsonl", UTC hours). The guide does
    not name the file; SageMaker's own are `<minute>-<second>-<millisecond>-<uuid>.jsonl` of when the
    file was started (e.g. `.../AllTraffic/2020/03/11/12/32-18-648-cee08c3a-....jsonl`), as here."""
    first = _as_utc(first)
    path = settings.prefix.strip("/")
    folder = f"{endpoint}/{variant}/{first:%Y/%m/%d/%H}"
    name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    return f"{path}/{folder}/{name}" if path else f"{folder}/{name}"


# --------------------------------------------------------------------------- buffers sent to AWS

class _CaptureBuffer:
    """Capture lines per (variant, UTC hour), written as one object each: SageMaker too collects
    requests for a while and writes a file per variant and hour folder."""

    def __init__(self, s3: Any, settings: CaptureSettings, endpoint: str):
        self._s3, self._settings, self._endpoint = s3, settings, endpoint
        self._lock = threading.Lock()
        self._buffers: dict[tuple[str, dt.datetime], tuple[dt.datetime, list[str]]] = {}

    def add(self, variant: str, at: dt.datetime, line: str) -> None:
        at = _as_utc(at)
        hour = at.replace(minute=0, second=0, microsecond=0)
        with self._lock:
            first, lines = self._buffers.setdefault((variant, hour), (at, []))
            lines.append(line)
            full = len(lines) >= CAPTURE_FILE_LINES
            if full:
                del self._buffers[(variant, hour)]
        if full:
            self._write(variant, first, lines)

    def flush(self) -> None:
        with self._lock:
            buffers, self._buffers = self._buffers, {}
        for (variant, _), (first, lines) in buffers.items():
            self._write(variant, first, lines)

    def _write(self, variant: str, first: dt.datetime, lines: list[str]) -> None:
        key = capture_key(self._settings, self._endpoint, variant, first)
        self._s3.put_object(Bucket=self._settings.bucket, Key=key, Body=("\n".join(lines) + "\n").encode("utf-8"),
                            ContentType="application/jsonl")


_REQUEST_METRICS = ("endpoint.invocations", "endpoint.invocations_per_instance", "endpoint.invocation_4xx_errors",
                    "endpoint.invocation_5xx_errors", "endpoint.model_latency", "endpoint.overhead_latency")


def invocation_metrics(endpoint: str, variant: str, status: int, model_us: float, overhead_us: float,
                       at: dt.datetime) -> list[dict[str, Any]]:
    """The MetricData SageMaker publishes for one InvokeEndpoint request that reached a variant."""
    values = {
        "endpoint.invocations": 1.0,
        "endpoint.invocations_per_instance": 1.0,  # 1 / the variant's instances; one here
        "endpoint.invocation_4xx_errors": float(400 <= status < 500),
        "endpoint.invocation_5xx_errors": float(status >= 500),
        "endpoint.model_latency": float(model_us),
        "endpoint.overhead_latency": float(overhead_us),
    }
    data = []
    for key in _REQUEST_METRICS:
        metric = CATALOGUE[key]
        dimensions = metric.dimensioned(EndpointName=endpoint, VariantName=variant)
        data.append({"MetricName": metric.name, "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions.items()],
                     "Timestamp": _as_utc(at), "Value": values[key], "Unit": metric.unit})
    return data


class _MetricBuffer:
    """Metric data waiting for PutMetricData, sent in batches of the call's limit."""

    def __init__(self, cloudwatch: Any):
        self._cloudwatch = cloudwatch
        self._lock = threading.Lock()
        self._data: list[dict[str, Any]] = []

    def add(self, data: list[dict[str, Any]]) -> None:
        with self._lock:
            self._data.extend(data)
            if len(self._data) < PUT_METRIC_DATA_LIMIT:
                return
            batch, self._data = self._data, []
        self._send(batch)

    def flush(self) -> None:
        with self._lock:
            data, self._data = self._data, []
        self._send(data)

    def _send(self, data: list[dict[str, Any]]) -> None:
        namespace = CATALOGUE["endpoint.invocations"].namespace
        for start in range(0, len(data), PUT_METRIC_DATA_LIMIT):
            self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start:start + PUT_METRIC_DATA_LIMIT])


# --------------------------------------------------------------------------- routing

class _Dice:
    """The one seeded random source of the endpoint (variant choice and capture sampling), so a
    rehearsal with the same seed and the same requests routes and samples the same way."""

    def __init__(self, seed: int):
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self, names: Sequence[str], weights: Sequence[float]) -> str:
        with self._lock:
            return self._random.choices(names, weights)[0]

    def chance(self, percent: int) -> bool:
        if percent >= 100 or percent <= 0:
            return percent >= 100  # no draw: 100 % and 0 % are not samples
        with self._lock:
            return self._random.random() * 100 < percent


class _RoutingError(Exception):
    """A request the router answers itself, as SageMaker Runtime would."""

    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


class _TrafficSplit:
    """Variant choice by weight; the weights are asked for at most every `ttl` seconds, like an
    endpoint's routing that follows UpdateEndpointWeightsAndCapacities shortly after the call."""

    def __init__(self, names: Sequence[str], weights: Callable[[], Mapping[str, float]], ttl: float, dice: _Dice):
        self._names, self._weights, self._ttl, self._dice = tuple(names), weights, ttl, dice
        self._lock = threading.Lock()
        self._cached: tuple[float, tuple[float, ...]] | None = None

    def choose(self, target: str | None) -> str:
        if target is not None:
            if target not in self._names:
                raise _RoutingError(400, "ValidationError", f"Target variant {target} does not exist; the endpoint has {list(self._names)}")
            return target
        weights = self._current()
        if not any(weight > 0 for weight in weights):
            shown = dict(zip(self._names, weights, strict=True))
            raise _RoutingError(503, "ServiceUnavailable", f"no production variant has a positive weight: {shown}")
        return self._dice.pick(self._names, weights)

    def _current(self) -> tuple[float, ...]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] >= self._ttl:
                asked = self._weights()
                self._cached = (time.monotonic(), tuple(max(float(asked.get(name, 0.0)), 0.0) for name in self._names))
            return self._cached[1]


# --------------------------------------------------------------------------- inference servers

def free_port() -> int:
    """A port nothing listens on now (the server binds it a moment later; a clash ends its start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, timeout: float) -> tuple[int | None, str]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace").strip()
    except OSError as error:
        return None, f"not answering ({type(error).__name__})"
    finally:
        connection.close()


class _InferenceServer:
    """One variant's inference server process: the image's entry point, on a loopback port, in its
    own session so that stopping it can sweep its worker processes too."""

    def __init__(self, variant: VariantModel):
        self.variant = variant
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.last_ping = "never asked"
        self.launched_at = 0.0  # time.monotonic()
        self.first_answer_at: float | None = None
        self._output: IO[bytes] | None = None
        self._reaped = False

    def launch(self) -> None:
        # A file, not a pipe: nobody reads the log while it serves, and a full pipe would block it.
        self._output = tempfile.TemporaryFile(prefix=f"inference-{self.variant.name}-")
        command = [sys.executable, "-m", "containers.inference.serve", "--model-dir", str(self.variant.model_dir),
                   "--port", str(self.port), "--workers", "1", "--host", LOOPBACK]
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=self._output,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.launched_at = time.monotonic()

    def ready(self) -> bool:
        """True once /ping answers 200; raises HostingError if the process has exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise HostingError(f"variant {self.variant.name!r}: its inference server exited with code {self.process.returncode} "
                               f"before it was ready; its output ends with:\n{self.output_tail()}")
        status, text = _get(self.port, "/ping", timeout=1.0)
        self.last_ping = f"{status} {text}".strip() if status is not None else text
        if status is not None and self.first_answer_at is None:
            self.first_answer_at = time.monotonic()
        return status == 200

    def lateness(self, launch_timeout: float, ready_timeout: float) -> str | None:
        """Why the server is too late to be ready, or None while it still has time."""
        now = time.monotonic()
        if self.first_answer_at is None and now - self.launched_at > launch_timeout:
            return f"did not answer /ping within {launch_timeout:g} s of its start (last: {self.last_ping})"
        if self.first_answer_at is not None and now - self.first_answer_at > ready_timeout:
            return f"answers /ping but was not ready within {ready_timeout:g} s (last /ping: {self.last_ping})"
        return None

    def output_tail(self) -> str:
        if self._output is None:
            return ""
        self._output.flush()
        self._output.seek(0)
        lines = self._output.read().decode("utf-8", errors="replace").splitlines()
        return "\n".join(lines[-OUTPUT_TAIL_LINES:])

    def terminate(self) -> None:
        """SIGTERM, as SageMaker stops a container: the server finishes in-flight requests and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def reap(self, deadline: float) -> None:
        """Wait until `deadline` (time.monotonic), then SIGKILL whatever of its session is left. Once:
        a second sweep could hit another process group that was given the same id since."""
        if self.process is None or self._reaped:
            return
        try:
            self.process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            log.warning("variant %s: inference server ignored SIGTERM; killing it", self.variant.name)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its workers, if any outlived it
        self.process.wait()
        self._reaped = True
        if self._output is not None:
            self._output.close()


def _wait_until_ready(servers: Sequence[_InferenceServer], launch_timeout: float, ready_timeout: float) -> None:
    """Until every server's /ping answers 200. Two bounds, because a slow start is not a failure: on
    a busy machine an interpreter with uvicorn and xgboost can take seconds to answer at all, while a
    server that answers but stays unready (a model that failed to load answers 503 for good) is."""
    waiting = list(servers)
    while waiting:
        waiting = [server for server in waiting if not server.ready()]
        for server in waiting:
            late = server.lateness(launch_timeout, ready_timeout)
            if late is not None:
                raise HostingError(f"variant {server.variant.name!r}: its inference server {late}; its output ends with:\n"
                                   f"{server.output_tail()}")
        if waiting:
            time.sleep(0.05)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _invoke_server(port: int, body: bytes, content_type: str | None, accept: str | None) -> _Answer:
    """POST /invocations to a variant's server, the headers SageMaker passes on; an unreachable
    server is a 500 of that variant (it counts as Invocation5XXErrors, as a dead container would)."""
    headers = {name: value for name, value in (("Content-Type", content_type), ("Accept", accept)) if value is not None}
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=INVOCATION_TIMEOUT_SECONDS)
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        return _Answer(response.status, response.read(), response.getheader("Content-Type"))
    except OSError as error:
        return _Answer(500, f"the variant's inference server did not answer: {error}\n".encode(), "text/plain; charset=utf-8")
    finally:
        connection.close()


# --------------------------------------------------------------------------- the router

class _RuntimeHandler(BaseHTTPRequestHandler):
    """HTTP of the router; everything it does is Endpoint._serve's."""

    protocol_version = "HTTP/1.1"  # keep-alive, as SDK clients use it
    server: _RuntimeServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.endpoint._serve(self)

    def do_GET(self) -> None:  # noqa: N802
        self.server.endpoint._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("router: " + format, *args)


class _RuntimeServer(ThreadingHTTPServer):
    daemon_threads = True  # a client that keeps a connection open must not hold up stop()

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        super().__init__((LOOPBACK, 0), _RuntimeHandler)


def _reply(request: BaseHTTPRequestHandler, status: int, body: bytes, headers: Mapping[str, str]) -> None:
    request.send_response(status)
    for name, value in headers.items():
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)
    request.wfile.flush()


def _reply_error(request: BaseHTTPRequestHandler, error: _RoutingError) -> None:
    """An error of SageMaker Runtime itself, in the rest-json shape botocore parses."""
    body = json.dumps({"message": error.message}).encode()
    _reply(request, error.status, body, {"Content-Type": "application/json", ERROR_TYPE_HEADER: error.code})


class Endpoint:
    """One emulated SageMaker endpoint: a server process per variant and the router in front.

    Use it as a context manager (or start() and stop()): whatever happens, stop() leaves no server
    process running. `weights` is asked for the variants' current weights (missing names weigh 0);
    `now` stamps captures and metrics. start() fails, naming the variant and quoting the end of its
    server's output, when a server exits, does not answer /ping within `launch_timeout` seconds of
    its start, or answers it but not with 200 within `ready_timeout` seconds of its first answer (a
    model that fails to load answers 503). An Endpoint starts once; a new rehearsal makes a new one."""

    def __init__(self, name: str, variants: Sequence[VariantModel], *, weights: Callable[[], Mapping[str, float]],
                 s3: Any, cloudwatch: Any, capture: CaptureSettings | None = None, seed: int = 0,
                 now: Callable[[], dt.datetime] = utc_now, launch_timeout: float = 60.0, ready_timeout: float = 30.0,
                 weights_ttl: float = 0.5, stop_timeout: float = 10.0):
        names = [variant.name for variant in variants]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"an endpoint needs one or more variants with distinct names, got {names}")
        self.name, self.variants, self.capture = name, tuple(variants), capture
        self._now, self._stop_timeout = now, stop_timeout
        self._launch_timeout, self._ready_timeout = launch_timeout, ready_timeout
        self._dice = _Dice(seed)
        self._traffic = _TrafficSplit(names, weights, weights_ttl, self._dice)
        self._metrics = _MetricBuffer(cloudwatch)
        self._captures = _CaptureBuffer(s3, capture, name) if capture is not None else None
        self._counts = {variant: VariantCounts() for variant in names}
        self._counts_lock = threading.Lock()
        self._write_failures: list[BaseException] = []
        self._servers: dict[str, _InferenceServer] = {}
        self._router: _RuntimeServer | None = None
        self._router_thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Endpoint:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start every variant's server, wait until all answer /ping, then open the router."""
        if self._servers:
            raise HostingError(f"endpoint {self.name} was already started")
        try:
            for variant in self.variants:
                server = self._servers[variant.name] = _InferenceServer(variant)
                server.launch()
            _wait_until_ready(list(self._servers.values()), self._launch_timeout, self._ready_timeout)
            self._router = _RuntimeServer(self)
            self._router_thread = threading.Thread(target=self._router.serve_forever, kwargs={"poll_interval": 0.05},
                                                   name=f"router-{self.name}", daemon=True)  # the interval bounds stop()'s wait
            self._router_thread.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Close the router, stop every server (SIGTERM, then SIGKILL after `stop_timeout`), then
        write what is buffered. Safe to call twice and after a failed start()."""
        try:
            self._close_router()
        finally:
            self._stop_servers()
        self.flush()

    def _close_router(self) -> None:
        if self._router_thread is not None and self._router_thread.is_alive():
            assert self._router is not None
            self._router.shutdown()  # returns once serve_forever has returned; would wait forever if it never ran
            self._router_thread.join()
        if self._router is not None:
            self._router.server_close()
        self._router = self._router_thread = None

    def _stop_servers(self) -> None:
        servers = list(self._servers.values())
        for server in servers:
            server.terminate()
        deadline = time.monotonic() + self._stop_timeout
        for server in servers:
            server.reap(deadline)

    def flush(self) -> None:
        """Send buffered metrics and write buffered captures now."""
        self._metrics.flush()
        if self._captures is not None:
            self._captures.flush()
        with self._counts_lock:
            failures, self._write_failures = self._write_failures, []
        if failures:
            raise HostingError(f"{len(failures)} write(s) of metrics or captures failed while serving; the first: "
                               f"{failures[0]!r}") from failures[0]

    # ------------------------------------------------------------------ what callers read

    @property
    def url(self) -> str:
        """The router's base URL: an endpoint_url for InvokeEndpoint-shaped requests."""
        return f"http://{LOOPBACK}:{self._router_port()}"

    def _router_port(self) -> int:
        if self._router is None:
            raise HostingError(f"endpoint {self.name} is not serving")
        return self._router.server_address[1]

    def server_pids(self) -> dict[str, int]:
        """Each variant's server process id (also its session id), once launched."""
        return {name: server.process.pid for name, server in self._servers.items() if server.process is not None}

    def counts(self) -> dict[str, VariantCounts]:
        with self._counts_lock:
            return dict(self._counts)

    def invoke(self, body: bytes, content_type: str, accept: str | None = None,
               target_variant: str | None = None) -> Invocation:
        """InvokeEndpoint through the router over loopback HTTP, as a client would."""
        headers = {"Content-Type": content_type}
        headers.update({name: value for name, value in (("Accept", accept), (TARGET_VARIANT_HEADER, target_variant)) if value})
        connection = http.client.HTTPConnection(LOOPBACK, self._router_port(), timeout=INVOCATION_TIMEOUT_SECONDS + 5)
        try:
            connection.request("POST", f"/endpoints/{self.name}/invocations", body=body, headers=headers)
            response = connection.getresponse()
            return Invocation(response.status, response.getheader(INVOKED_VARIANT_HEADER), response.read(),
                              response.getheader("Content-Type"))
        finally:
            connection.close()

    # ------------------------------------------------------------------ one request (router threads)

    def _serve(self, request: _RuntimeHandler) -> None:
        """One request. It is recorded (counted, measured, captured) before it is answered, so a
        caller that has its answer can flush() and find it in S3 and CloudWatch."""
        received, at = time.perf_counter(), self._now()
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        try:
            variant = self._route(request)
        except _RoutingError as error:
            _reply_error(request, error)
            return
        except Exception as error:  # noqa: BLE001 - e.g. the weights callable failed: the client gets a 500, the router lives
            log.exception("endpoint %s: routing failed", self.name)
            _reply_error(request, _RoutingError(500, "InternalFailure", f"routing failed: {type(error).__name__}: {error}"))
            return
        content_type, accept = request.headers.get("Content-Type"), request.headers.get("Accept")
        sent = time.perf_counter()
        answer = _invoke_server(self._servers[variant].port, body, content_type, accept)
        model_seconds = time.perf_counter() - sent
        overhead_seconds = time.perf_counter() - received - model_seconds  # until the answer is ready to go back
        try:
            self._record(variant, content_type, body, answer, at, model_seconds, overhead_seconds)
        except Exception as error:  # noqa: BLE001 - a failed write must not cost the client its answer; flush() reports it
            log.exception("endpoint %s: recording a request failed", self.name)
            with self._counts_lock:
                self._write_failures.append(error)
        headers = {INVOKED_VARIANT_HEADER: variant, **({"Content-Type": answer.content_type} if answer.content_type else {})}
        _reply(request, answer.status, answer.body, headers)

    def _route(self, request: _RuntimeHandler) -> str:
        match = _INVOCATIONS_PATH.fullmatch(request.path)
        if request.command != "POST" or match is None:
            raise _RoutingError(404, "UnknownOperationException", f"{request.command} {request.path} is not InvokeEndpoint "
                                f"(POST /endpoints/<name>/invocations)")
        if unquote(match["name"]) != self.name:
            raise _RoutingError(400, "ValidationError", f"Endpoint {unquote(match['name'])} not found (this emulator hosts {self.name}).")
        return self._traffic.choose(request.headers.get(TARGET_VARIANT_HEADER))

    def _record(self, variant: str, content_type: str | None, body: bytes, answer: _Answer, at: dt.datetime,
                model_seconds: float, overhead_seconds: float) -> None:
        """Metrics for every request that reached a variant; a capture for a sample of the answered
        (2xx) ones. The Developer Guide does not say whether SageMaker captures a request its container
        refused (every example it shows is an answered one); a refusal's answer is no prediction, and
        the drift check reads each captured answer as predictions, so refusals are not captured."""
        captured = answer.ok and self.capture is not None and self._dice.chance(self.capture.percent)
        with self._counts_lock:
            counts = self._counts[variant]
            self._counts[variant] = dataclasses.replace(counts, routed=counts.routed + 1, captured=counts.captured + captured,
                                                        failed=counts.failed + (not answer.ok))
        self._metrics.add(invocation_metrics(self.name, variant, answer.status, model_seconds * 1e6, overhead_seconds * 1e6, at))
        if captured:
            assert self._captures is not None and self.capture is not None
            line = capture_line(content_type, body, answer.content_type, answer.body, at, self.capture)
            self._captures.add(variant, at, line)
