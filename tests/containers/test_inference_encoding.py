"""Predictions to response bodies (``containers/inference/encoding.py``): which type the Accept
header asks for, and bodies that give back the model's exact numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from containers.inference import encoding
from containers.inference.decoding import CSV, JSON
from containers.inference.errors import NotAcceptableError


@pytest.mark.parametrize(
    ("accept", "request_type", "expected"),
    [
        (None, CSV, CSV),
        (None, JSON, JSON),
        ("", JSON, JSON),
        ("*/*", CSV, CSV),
        ("*/*", JSON, JSON),
        ("text/csv", JSON, CSV),
        ("application/json", CSV, JSON),
        ("Application/JSON; charset=utf-8", CSV, JSON),
        ("text/*", JSON, CSV),
        ("application/*", CSV, JSON),
        ("image/png, application/json", CSV, JSON),
        ("application/json;q=0.5, text/csv", JSON, CSV),
        ("text/csv;q=0.2, application/json;q=0.9", CSV, JSON),
        ("text/csv;q=0, */*", JSON, JSON),
        ("text/csv;q=oops", JSON, CSV),
    ],
)
def test_the_answer_type_follows_accept_then_the_request(accept: str | None, request_type: str, expected: str) -> None:
    assert encoding.response_media_type(accept, request_type) == expected


@pytest.mark.parametrize("accept", ["image/png", "text/html, application/xml", "text/csv;q=0", "application/jsonlines"])
def test_an_accept_we_cannot_answer_is_406(accept: str) -> None:
    with pytest.raises(NotAcceptableError) as caught:
        encoding.response_media_type(accept, CSV)
    assert caught.value.status == 406
    assert caught.value.message == f"Accept {accept!r} allows no type this server answers in; accept text/csv or application/json"


SCORES = np.array([0.12345678, 0.5, 0.9999999, 1e-8], dtype=np.float32)


def test_csv_answer_is_one_exact_probability_per_line() -> None:
    body = encoding.encode(SCORES, CSV, 0.5).decode()
    assert body.endswith("\n") and body.count("\n") == len(SCORES)
    np.testing.assert_array_equal(np.array([float(line) for line in body.splitlines()], dtype=np.float32), SCORES)


def test_json_answer_has_scores_and_labels_from_the_threshold() -> None:
    document = json.loads(encoding.encode(SCORES, JSON, 0.5))
    assert [p["predicted_label"] for p in document["predictions"]] == [0, 1, 1, 0]
    np.testing.assert_array_equal(np.array([p["score"] for p in document["predictions"]], dtype=np.float32), SCORES)
    assert [p["predicted_label"] for p in json.loads(encoding.encode(SCORES, JSON, 0.1))["predictions"]] == [1, 1, 1, 0]
