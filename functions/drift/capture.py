"""Reading SageMaker data capture files: the requests' feature rows and the predicted scores.

An endpoint with data capture writes JSON Lines objects to
`<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`, one line per captured
request (SageMaker Developer Guide, "Capture data from real-time endpoint"):

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "12,70.5,...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                                        "data": "0.0254", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2022-02-14T17:25:49Z"},
     "eventVersion": "0"}

`encoding` is CSV or JSON when the content type is one the endpoint config lists as such
(CaptureContentTypeHeader), else BASE64 (DataCaptureConfig: "If no headers are specified SageMaker
AI will by default base64 encode"). Bodies are what the inference container takes and answers
(containers/inference/decoding.py, encoding.py): CSV rows without a header, or JSON (a row, rows,
or {"instances": ...}); scores as one probability per CSV line or {"predictions": [{"score": p}]}.

A line that cannot be read, or whose rows do not have the baseline's width, is counted, never
fatal. Rows of another width than the baseline's are counted apart: when they are the majority,
the model's features changed, and comparing them with the baseline would be meaningless.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CSV = "text/csv"
JSON = "application/json"


class MalformedRecordError(ValueError):
    """A capture line (or its body) that is not what SageMaker and the inference container write."""


@dataclass
class Captured:
    """What a window of capture lines held, accumulated file by file."""

    width: int  # features per row: the baseline's
    rows: list[list[float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    records: int = 0  # lines read
    malformed: int = 0  # lines that could not be read
    unreadable_outputs: int = 0  # readable requests whose answers could not be read (their scores are skipped)
    other_width_rows: int = 0  # well-formed rows with another number of values than the baseline's

    def features(self) -> np.ndarray:
        return np.asarray(self.rows, dtype=float).reshape(len(self.rows), self.width)

    def add_lines(self, lines: Iterable[bytes | str]) -> None:
        for line in lines:
            text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
            if not text.strip():
                continue
            self.records += 1
            try:
                self._add_record(json.loads(text))
            except (MalformedRecordError, ValueError, TypeError, KeyError):
                self.malformed += 1

    def _add_record(self, record: Any) -> None:
        capture = record["captureData"]
        rows = decode_rows(body_of(capture["endpointInput"]))
        widths = {len(row) for row in rows}
        if widths != {self.width}:
            self.other_width_rows += sum(len(row) != self.width for row in rows)
            raise MalformedRecordError(f"rows of {sorted(widths)} values; the baseline has {self.width}")
        self.rows.extend(rows)
        output = capture.get("endpointOutput")
        try:
            scores = decode_scores(body_of(output)) if output else []
        except (MalformedRecordError, ValueError, TypeError, KeyError):
            scores = []
        if len(scores) == len(rows):
            self.scores.extend(scores)
        elif output:
            self.unreadable_outputs += 1


def body_of(part: dict[str, Any]) -> tuple[str, str]:
    """(media type, text) of an endpointInput or endpointOutput."""
    data, encoding = part["data"], str(part.get("encoding", "")).upper()
    media = str(part.get("observedContentType", "")).split(";", 1)[0].strip().lower()
    if not isinstance(data, str):
        raise MalformedRecordError("data is not text")
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise MalformedRecordError(f"BASE64 data that does not decode: {error}") from None
    elif encoding not in ("CSV", "JSON"):
        raise MalformedRecordError(f"unknown encoding {encoding!r}")
    return media, data


def _number(value: Any) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan  # a missing value, as the inference container reads it
    if isinstance(value, bool):
        raise MalformedRecordError("a boolean is not a feature value")
    number = float(value)
    if math.isinf(number):
        raise MalformedRecordError("an infinite value")
    return number


def decode_rows(body: tuple[str, str]) -> list[list[float]]:
    media, text = body
    if media == CSV:
        rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    elif media == JSON:
        rows = _json_rows(json.loads(text))
    else:
        raise MalformedRecordError(f"content type {media!r} is neither {CSV} nor {JSON}")
    if not rows:
        raise MalformedRecordError("no rows")
    return [[_number(value) for value in row] for row in rows]


def _json_rows(document: Any) -> list[list[Any]]:
    if isinstance(document, dict):
        document = document.get("instances")
    if isinstance(document, list) and document and all(isinstance(row, list) for row in document):
        return document
    if isinstance(document, list) and document and not any(isinstance(v, (list, dict)) for v in document):
        return [document]
    raise MalformedRecordError("JSON that is neither a row, a list of rows nor {'instances': ...}")


def decode_scores(body: tuple[str, str]) -> list[float]:
    media, text = body
    if media == CSV:
        scores = [float(line) for line in text.splitlines() if line.strip()]
    elif media == JSON:
        scores = [float(item["score"]) for item in json.loads(text)["predictions"]]
    else:
        raise MalformedRecordError(f"answer of content type {media!r}")
    if not all(0.0 <= score <= 1.0 for score in scores):  # also refuses NaN
        raise MalformedRecordError("a score that is not a probability")
    return scores
