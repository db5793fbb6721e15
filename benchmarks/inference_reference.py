"""The reference server of benchmarks/inference_server.py: SageMaker's framework stack.

SageMaker's own framework images serve models with Flask on gunicorn (gthread workers). This
app runs the inference container's very steps (``decoding``, ``Model.predict``, ``encoding``)
behind that stack, so the benchmark compares server stacks on identical work, not two
different parsers. Started by the benchmark as::

    SM_MODEL_DIR=DIR gunicorn -w 1 -k gthread --threads 4 --chdir benchmarks inference_reference:app
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, request

from containers.inference import app as server_app
from containers.inference import decoding, encoding
from containers.inference import model as model_loading
from containers.inference.errors import InferenceError

MODEL = model_loading.load(Path(os.environ["SM_MODEL_DIR"]))
app = Flask(__name__)


@app.get("/ping")
def ping() -> Response:
    return Response(b"", status=200)


@app.post("/invocations")
def invocations() -> Response:
    try:
        request_type = decoding.request_media_type(request.headers.get("Content-Type"))
        response_type = encoding.response_media_type(request.headers.get("Accept"), request_type)
        rows = decoding.decode(request.get_data(), request_type)
        body = encoding.encode(MODEL.predict(rows), response_type, MODEL.metadata.decision_threshold)
        return Response(body, status=200, content_type=server_app.CONTENT_TYPES[response_type].decode())
    except InferenceError as exc:
        return Response(exc.message + "\n", status=exc.status, content_type="text/plain; charset=utf-8")
