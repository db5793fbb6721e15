"""An S3 object's rows, numbered by the line each starts on, read as they stream in.

CSV (`.csv`): the first row is the header, naming a feature per column; a row with more or fewer
cells than the header is malformed. JSON Lines (`.jsonl`): one JSON object per line. Blank
lines are not rows. Text is UTF-8 (a byte-order mark is allowed); bytes that are not UTF-8 reach
the row check as lone surrogates and only that row is refused.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from functions.feature_ingest.schema import MALFORMED, STRING_MAX_LENGTH, RejectedError

# The csv module refuses fields over 128 KiB by default; a String value may be 350 KiB, and
# anything longer should be refused by the row check with its reason, not by the reader.
csv.field_size_limit(max(csv.field_size_limit(), 4 * STRING_MAX_LENGTH))


@dataclass(frozen=True)
class Row:
    line: int
    values: Mapping[str, Any] | None  # column -> cell text (CSV) or JSON value; None when malformed
    raw: Any  # what a dead letter shows: the row by column, or the line's text
    problem: RejectedError | None = None


class _RawStream(io.RawIOBase):
    """Any object with read(n) (botocore's StreamingBody) as a raw stream io can buffer and decode."""

    def __init__(self, body: Any):
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def text_of(body: Any, newline: str | None) -> IO[str]:
    return io.TextIOWrapper(io.BufferedReader(_RawStream(body)), encoding="utf-8-sig", errors="surrogateescape",
                            newline=newline)


def csv_rows(body: Any) -> Iterator[Row]:
    reader = csv.reader(text_of(body, newline=""))
    header: list[str] | None = None
    header_problem: RejectedError | None = None
    previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Row(previous + 1, None, None, RejectedError(MALFORMED, f"not readable as CSV: {error}"))
            previous = reader.line_num
            continue
        line, previous = previous + 1, reader.line_num
        if not cells:
            continue
        if header is None:
            header = [cell.strip() for cell in cells]
            repeated = sorted({c for c in header if header.count(c) > 1})
            if repeated:
                header_problem = RejectedError(MALFORMED, f"the header names column(s) {', '.join(repeated)} more than once")
            continue
        yield _csv_row(line, header, cells, header_problem)


def _csv_row(line: int, header: list[str], cells: list[str], header_problem: RejectedError | None) -> Row:
    if header_problem:
        return Row(line, None, cells, header_problem)
    if len(cells) != len(header):
        return Row(line, None, cells, RejectedError(MALFORMED, f"{len(cells)} cells but the header has {len(header)}"))
    values = dict(zip(header, cells, strict=True))
    return Row(line, values, values)


def json_lines_rows(body: Any) -> Iterator[Row]:
    for line, text in enumerate(text_of(body, newline=None), start=1):
        if not text.strip():
            continue
        shown = text.rstrip("\n")
        try:
            value = json.loads(text, object_pairs_hook=_no_repeated_keys)
        except ValueError as error:
            yield Row(line, None, shown, RejectedError(MALFORMED, f"not JSON: {error}"))
            continue
        if not isinstance(value, dict):
            yield Row(line, None, shown, RejectedError(MALFORMED, f"a JSON Lines row is one object, not {type(value).__name__}"))
            continue
        yield Row(line, value, value)


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"key(s) {', '.join(repeated)} appear more than once")
    return dict(pairs)


# How an object is read, by the end of its key (lowercase, as the S3 notification filters say).
READERS: Mapping[str, Callable[[Any], Iterator[Row]]] = {".csv": csv_rows, ".jsonl": json_lines_rows}


def reader_for(key: str) -> Callable[[Any], Iterator[Row]] | None:
    return next((read for suffix, read in READERS.items() if key.endswith(suffix)), None)
