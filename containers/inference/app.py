"""The HTTP side of the SageMaker inference contract: ``GET /ping`` and ``POST /invocations``.

A plain ASGI application, no web framework: two routes do not need a router, and on the
request path every microsecond of framework is a microsecond of the model's budget (measured
on the sample model with uvicorn: 5,500 requests/s as plain ASGI against 4,700 with Starlette
and 3,900 with FastAPI; see containers/inference/README.md).

The model loads in a background thread once the server is up, so /ping can answer 503 while it
loads and keep answering 503, with the reason, if it fails. A request runs the four steps of
aws/sagemaker-inference-toolkit (the loaded model, ``decoding.decode``, ``Model.predict``,
``encoding.encode``); a step that finds the client's mistake raises an ``InferenceError`` that
carries its 4xx status, and anything else is answered with a 500 that names no internals while
the traceback goes to the log. The worker survives every one of them.

Request timeout (``SAGEMAKER_MODEL_SERVER_TIMEOUT``): measured from the moment the request
reaches the app. A body that has not fully arrived by then is answered 408; rows that cannot
all be scored by then (checked between chunks of ``CHUNK_ROWS``) are answered 413, "send
smaller batches". Work that finished is delivered even if it finished late. Neither is a 5xx:
CloudWatch's Invocation5XXErrors (which rollback alarms watch) stays a signal of server faults.
Body reads are timed by one watchdog task per worker, not a timer per request: an
``asyncio.timeout`` around each read cost about 10 us of CPU per request, 5 % of single-row
throughput (measured A/B on uvloop, one worker).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from containers.inference import decoding, encoding, environment
from containers.inference import model as model_loading
from containers.inference.environment import TIMEOUT_ENV, Settings
from containers.inference.errors import BadRequestError, InferenceError, ModelNotReadyError, PayloadTooLargeError, RequestTimeoutError
from containers.inference.model import Model, ModelLoadError

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CHUNK_ROWS = 8192
"""Rows scored between two looks at the request deadline (about 5 ms of work for the sample model)."""

WATCH_INTERVAL_SECONDS = 0.1
"""How often the watchdog looks for body reads past their deadline (so a 408 comes up to this late)."""

TEXT = b"text/plain; charset=utf-8"
CONTENT_TYPES = {decoding.CSV: b"text/csv", decoding.JSON: b"application/json"}


async def respond(send: Send, status: int, content_type: bytes, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """One complete response (ASGI start + body)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _request_headers(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """Content-Type, Accept (repeated headers joined) and Content-Length; ASGI names are lowercase."""
    content_type = length = None
    accepts = []
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"accept":
            accepts.append(value.decode("latin-1"))
        elif name == b"content-length":
            length = value.decode("latin-1")
    return content_type, ", ".join(accepts) if accepts else None, length


def predict_within(model: Model, rows: np.ndarray, deadline: float, timeout_seconds: float) -> np.ndarray:
    """Score ``rows`` in chunks, refusing to start a chunk after ``deadline`` (time.monotonic)."""
    parts = []
    for start in range(0, rows.shape[0], CHUNK_ROWS):
        if time.monotonic() > deadline:
            raise PayloadTooLargeError(
                f"{rows.shape[0]} rows could not be scored within the {timeout_seconds:g} s request timeout "
                f"({TIMEOUT_ENV}); send smaller batches"
            )
        parts.append(model.predict(rows[start : start + CHUNK_ROWS]))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class InferenceApp:
    """The ASGI application; ``loader`` is replaceable so tests can hold or fail the load."""

    def __init__(self, settings: Settings, loader: Callable[[Path], Model] = model_loading.load):
        self.settings = settings
        self._loader = loader
        self.model: Model | None = None
        self.unavailable = "the model is still loading"
        self._loading = threading.Lock()
        self._load_started = False
        self._reading: dict[asyncio.Task, float] = {}  # request tasks waiting for their body -> deadline
        self._timed_out: set[asyncio.Task] = set()
        self._watchdog: asyncio.Task | None = None
        self._routes = {
            "/ping": ("GET", self._ping),
            "/invocations": ("POST", self._invocations),
        }

    # ------------------------------------------------------------------ model

    def start_loading(self) -> None:
        """Load the model in a background thread (once); /ping answers 503 until it is loaded."""
        with self._loading:
            if self._load_started:
                return
            self._load_started = True
        threading.Thread(target=self._load, name="model-loader", daemon=True).start()

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            loaded = self._loader(self.settings.model_dir)
        except ModelLoadError as exc:
            self.unavailable = f"the model failed to load: {exc}"
            log.error("%s; /ping answers 503 until the container is replaced", self.unavailable)
            return
        except Exception as exc:  # noqa: BLE001 - a loader bug must also end as a 503 with a reason
            self.unavailable = f"the model failed to load: unexpected {type(exc).__name__}: {exc}"
            log.exception("%s; /ping answers 503 until the container is replaced", self.unavailable)
            return
        self.model = loaded
        log.info(
            "model loaded from %s in %.0f ms: %d features, %d trees, decision threshold %g",
            self.settings.model_dir,
            (time.perf_counter() - started) * 1000,
            loaded.feature_count,
            loaded.metadata.num_boosted_rounds,
            loaded.metadata.decision_threshold,
        )

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self._routes.get(scope["path"])
            if route is None:
                message = f"no route {scope['path'][:100]}; this server answers GET /ping and POST /invocations\n"
                await respond(send, 404, TEXT, message.encode())
            elif scope["method"] != route[0]:
                message = f"{scope['path']} answers {route[0]} only\n"
                await respond(send, 405, TEXT, message.encode(), ((b"allow", route[0].encode()),))
            else:
                await route[1](scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start_loading()
                self._watchdog = asyncio.create_task(self._watch_body_reads())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._watchdog is not None:
                    self._watchdog.cancel()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _watch_body_reads(self) -> None:
        """Cancel body reads past their deadline; ``_read_body`` turns that into a 408."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL_SECONDS)
            now = time.monotonic()
            for task, deadline in list(self._reading.items()):
                if now > deadline and task not in self._timed_out:
                    self._timed_out.add(task)
                    task.cancel()

    async def _ping(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.model is not None:
            await respond(send, 200, TEXT, b"")
        else:
            await respond(send, 503, TEXT, self.unavailable.encode() + b"\n")

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            content_type, body = await self._invoke(scope, receive)
            status = 200
        except InferenceError as exc:
            status, content_type, body = exc.status, TEXT, exc.message.encode() + b"\n"
        except Exception as exc:  # noqa: BLE001 - a bug must cost one request, never the worker
            log.exception("internal error answering /invocations")
            status, content_type, body = 500, TEXT, f"internal error ({type(exc).__name__}); the container log has the details\n".encode()
        await respond(send, status, content_type, body)

    async def _invoke(self, scope: Scope, receive: Receive) -> tuple[bytes, bytes]:
        """The four steps; returns (content type, body) or raises an InferenceError."""
        deadline = time.monotonic() + self.settings.timeout_seconds
        model = self.model
        if model is None:
            raise ModelNotReadyError(self.unavailable)
        content_type, accept, length = _request_headers(scope)
        request_type = decoding.request_media_type(content_type)
        response_type = encoding.response_media_type(accept, request_type)
        body = await self._read_body(receive, length, deadline)
        rows = decoding.decode(body, request_type)
        scores = predict_within(model, rows, deadline, self.settings.timeout_seconds)
        return CONTENT_TYPES[response_type], encoding.encode(scores, response_type, model.metadata.decision_threshold)

    async def _read_body(self, receive: Receive, length: str | None, deadline: float) -> bytes:
        limit = self.settings.max_body_bytes
        too_large = (
            f"the body is over the {limit} byte limit ({limit / environment.MIB:g} MiB, {environment.MAX_PAYLOAD_ENV}); "
            "send smaller batches"
        )
        if length is not None and length.isdigit() and int(length) > limit:
            raise PayloadTooLargeError(too_large)
        chunks = []
        size = 0
        task = asyncio.current_task()
        assert task is not None
        self._reading[task] = deadline
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise BadRequestError("the client disconnected before sending the whole body")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(too_large)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        except asyncio.CancelledError:
            if task not in self._timed_out:  # a real cancellation (shutdown), not our deadline
                raise
            task.uncancel()
            raise RequestTimeoutError(
                f"the body did not arrive within the {self.settings.timeout_seconds:g} s request timeout ({TIMEOUT_ENV})"
            ) from None
        finally:
            del self._reading[task]
            self._timed_out.discard(task)


def create_app() -> InferenceApp:
    """The app a worker serves, configured from the environment (uvicorn's factory entry point)."""
    return InferenceApp(environment.from_environment())
