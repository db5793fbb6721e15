"""Step 4 of a request: the probabilities, in the type the client asked for.

The answer's type comes from the Accept header, the request's own type when Accept is absent
or ``*/*`` (SageMaker passes InvokeEndpoint's ``Accept`` through). Quality values are
honoured, so ``Accept: application/json;q=0.5, text/csv`` answers in CSV. Both forms keep the
request's row order, one prediction per row:

``text/csv``          one probability per line (the positive class, ``churned = 1``)
``application/json``  ``{"predictions": [{"score": 0.93, "predicted_label": 1}, ...]}``, the
                      label from the model's ``decision_threshold``

Probabilities are printed with Python's shortest round-trip repr of the float32 xgboost
returns, so parsing the answer gives back exactly the model's number.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import numpy as np

from containers.inference.decoding import CSV, JSON
from containers.inference.errors import NotAcceptableError

_WILDCARDS: dict[str, str | None] = {"*/*": None, "*": None, "text/*": CSV, "application/*": JSON}
"""Accept ranges that are not a type: None means "the request's type"."""


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 1.0
    return 1.0


@functools.lru_cache(maxsize=64)
def response_media_type(accept: str | None, request_type: str) -> str:
    """The type to answer in; raises NotAcceptableError (406) if Accept allows none of ours."""
    if accept is None or not accept.strip():
        return request_type
    ranked = []
    for position, item in enumerate(accept.split(",")):
        kind, _, parameters = item.partition(";")
        quality = _quality(parameters)
        if quality > 0:
            ranked.append((-quality, position, kind.strip().lower()))
    for _, _, kind in sorted(ranked):
        if kind in ENCODERS:
            return kind
        if kind in _WILDCARDS:
            return _WILDCARDS[kind] or request_type
    raise NotAcceptableError(f"Accept {accept!r} allows no type this server answers in; accept {CSV} or {JSON}")


def encode_csv(scores: np.ndarray, threshold: float) -> bytes:
    """One probability per line."""
    return ("\n".join(map(repr, scores.tolist())) + "\n").encode()


def encode_json(scores: np.ndarray, threshold: float) -> bytes:
    """``{"predictions": [{"score": p, "predicted_label": 0 or 1}, ...]}``."""
    predictions = [{"score": score, "predicted_label": int(score >= threshold)} for score in scores.tolist()]
    return json.dumps({"predictions": predictions}, separators=(",", ":")).encode()


ENCODERS: dict[str, Callable[[np.ndarray, float], bytes]] = {CSV: encode_csv, JSON: encode_json}
"""Response media type -> encoder."""


def encode(scores: np.ndarray, kind: str, threshold: float) -> bytes:
    """The body for ``scores`` in media type ``kind`` (from ``response_media_type``)."""
    return ENCODERS[kind](scores, threshold)
