"""Step 2 of a request: the body, in its Content-Type, to a float64 matrix in model feature order.

Two request types, one row or a batch each:

``text/csv``          one row per line, no header, the features in ``features.FEATURE_NAMES``
                      order; blank lines are skipped; RFC 4180 quoting is understood.
``application/json``  a row ``[12, 70.5, ...]``, a list of rows ``[[...], [...]]`` or
                      ``{"instances": <either of those>}``; ``null`` is a missing value.

Every cell goes through ``features.parse_value`` (CSV text) or ``features.check_number`` (JSON
numbers): the very rules the training image reads its files with, so a value training would
refuse (``1_000``, ``nan``, ``3.5`` for an int feature) is refused here too, and an empty cell
is a missing value in both. Anything wrong is a ``BadRequestError`` naming the row (1-based: the
line for CSV, the position for JSON) and the column; rows are never silently dropped or
padded, so the answer has exactly one prediction per row sent.

The stdlib csv module parses (measured: 5.5 us per single-row body with the per-cell checks,
against 2.4 us for str.split plus one regex per row, which would lose quoting and per-cell
messages; predicting the row takes 82 us).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections.abc import Callable

import numpy as np

from containers.contracts.features import CSV_COLUMNS, FEATURE_NAMES, FEATURES, check_number, parse_value
from containers.contracts.serving import CSV, JSON
from containers.inference.errors import BadRequestError, UnsupportedMediaTypeError

_EXPECTED = f"{len(FEATURES)}: {', '.join(FEATURE_NAMES)}"
_ROWS_WANTED = f"one or more rows of {len(FEATURES)} values ({', '.join(FEATURE_NAMES)})"
_JSON_SHAPES = 'a row [v1, v2, ...], a list of rows [[...], ...] or {"instances": [...]}'


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@functools.lru_cache(maxsize=64)
def media_type(header: str) -> str:
    """The ``type/subtype`` of a Content-Type or Accept item, lowercased, parameters dropped."""
    return header.split(";", 1)[0].strip().lower()


def request_media_type(content_type: str | None) -> str:
    """The request's media type if this server decodes it; else UnsupportedMediaTypeError (415)."""
    kind = media_type(content_type or "")
    if kind not in DECODERS:
        shown = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise UnsupportedMediaTypeError(f"{shown} is not supported; send {CSV} or {JSON}")
    return kind


def decode(body: bytes, kind: str) -> np.ndarray:
    """Rows of ``body`` (of media type ``kind``, from ``request_media_type``) as an (n, features) array."""
    if not body.strip():
        raise BadRequestError(f"empty body; send {_ROWS_WANTED}")
    return DECODERS[kind](body)


def _bad_row(row: int, cells: list[str], message: str) -> BadRequestError:
    stripped = [cell.strip() for cell in cells]
    if row == 1 and stripped in (list(FEATURE_NAMES), list(CSV_COLUMNS)):
        return BadRequestError(f"row 1 is a header ({', '.join(stripped)}); send the rows only, without a header")
    return BadRequestError(message)


def _csv_row(cells: list[str], row: int) -> list[float]:
    if len(cells) != len(FEATURES):
        raise _bad_row(row, cells, f"row {row} has {_count(len(cells), 'column')}; the model expects {_EXPECTED}")
    values = []
    for column, (feature, cell) in enumerate(zip(FEATURES, cells, strict=True)):
        try:
            values.append(parse_value(feature, cell))
        except ValueError as exc:
            raise _bad_row(row, cells, f"row {row}, column {column + 1} ({feature.name}): {exc}") from None
    return values


def decode_csv(body: bytes) -> np.ndarray:
    """``text/csv``: one row per line, no header; raises BadRequestError."""
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"body is not UTF-8 text: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for cells in reader:
            if len(cells) > 1 or (cells and cells[0].strip()):  # blank lines carry no row
                rows.append(_csv_row(cells, reader.line_num))
    except csv.Error as exc:
        raise BadRequestError(f"malformed CSV at row {reader.line_num}: {exc}") from None
    return _matrix(rows)


def _json_value(row: int, column: int, value: object) -> float:
    if value is None:
        return math.nan
    if type(value) not in (int, float):  # bool is an int subclass, and True is no feature value
        raise BadRequestError(
            f"row {row}, column {column + 1} ({FEATURES[column].name}): {json.dumps(value)[:60]} is not a number"
        )
    try:
        return check_number(FEATURES[column], value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise BadRequestError(f"row {row}, column {column + 1} ({FEATURES[column].name}): {exc}") from None


def _json_row(row: int, values: object) -> list[float]:
    if not isinstance(values, list):
        raise BadRequestError(f"row {row} is a {type(values).__name__}, not a list of values; the model expects {_EXPECTED}")
    if len(values) != len(FEATURES):
        raise BadRequestError(f"row {row} has {_count(len(values), 'value')}; the model expects {_EXPECTED}")
    return [_json_value(row, column, value) for column, value in enumerate(values)]


def _json_rows(document: object) -> list[object]:
    if isinstance(document, dict):
        if list(document) != ["instances"]:
            raise BadRequestError(f"a JSON object must be {{\"instances\": [...]}}, got keys {sorted(document)[:5]}; send {_JSON_SHAPES}")
        document = document["instances"]
    if not isinstance(document, list):
        raise BadRequestError(f"the JSON body is a {type(document).__name__}; send {_JSON_SHAPES}")
    nested = [isinstance(item, list) for item in document]
    if not any(nested):
        return [document] if document else []
    if not all(nested):
        raise BadRequestError(f"the JSON list mixes rows and single values; send {_JSON_SHAPES}")
    return document


def decode_json(body: bytes) -> np.ndarray:
    """``application/json``: a row, a list of rows, or ``{"instances": [...]}``; raises BadRequestError."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise BadRequestError("malformed JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, over-long integers
        raise BadRequestError(f"malformed JSON: {exc}") from None
    return _matrix([_json_row(row, values) for row, values in enumerate(_json_rows(document), start=1)])


def _matrix(rows: list[list[float]]) -> np.ndarray:
    if not rows:
        raise BadRequestError(f"empty body: no rows; send {_ROWS_WANTED}")
    return np.array(rows, dtype=np.float64)


DECODERS: dict[str, Callable[[bytes], np.ndarray]] = {CSV: decode_csv, JSON: decode_json}
"""Request media type -> decoder."""
