"""A feature group's definitions, and the check every row passes before it becomes a record.

The definitions come from the deployed group itself (DescribeFeatureGroup), not from a copy, so
a row is judged by what Feature Store will accept. A row is refused, with a reason code and a
sentence, when it lacks its record identifier or event time, names columns the group does not
define or lacks ones it does, holds a value of the wrong type, or a value outside the type's
range: Integral is a signed 64-bit integer, Fractional a finite 64-bit float, String at most
358,400 characters (PutRecord's ValueAsString limit), event times ISO-8601 with a time zone, or
Unix seconds for a Fractional event time, and not in the future.

A missing value (an empty CSV cell, a JSON null) leaves the feature out of the record, which
Feature Store allows for every feature but the identifier and the event time; a column left out
altogether is a missing column, refused, so a producer that drops one is noticed. String event
times are written as UTC `yyyy-MM-ddTHH:mm:ss.SSSZ`, one of the two forms Feature Store accepts
(CreateFeatureGroup, EventTimeFeatureName), so they sort as text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
STRING_MAX_LENGTH = 358400
# Event times later than now by more than this are refused: Feature Store keeps the record with
# the latest event time online, so one from the future would shadow every real update after it.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ISO_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})T(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})")


class RejectedError(Exception):
    """Why a row cannot become a record: `reason` is a stable code, the message says what to fix."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# Reason codes (the dead-letter object's `reason`).
MALFORMED = "malformed_row"
UNKNOWN_COLUMNS = "unknown_columns"
MISSING_COLUMNS = "missing_columns"
MISSING_RECORD_IDENTIFIER = "missing_record_identifier"
MISSING_EVENT_TIME = "missing_event_time"
BAD_EVENT_TIME = "bad_event_time"
WRONG_TYPE = "wrong_type"
OUT_OF_RANGE = "out_of_range"
REFUSED_BY_FEATURE_STORE = "refused_by_feature_store"


@dataclass(frozen=True)
class GroupSchema:
    name: str  # the feature group's physical name
    record_identifier: str
    event_time: str
    types: Mapping[str, str]  # feature name -> Integral | Fractional | String, in definition order

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> GroupSchema:
        """From a DescribeFeatureGroup response."""
        return cls(
            name=description["FeatureGroupName"],
            record_identifier=description["RecordIdentifierFeatureName"],
            event_time=description["EventTimeFeatureName"],
            types={d["FeatureName"]: d["FeatureType"] for d in description["FeatureDefinitions"]},
        )


@dataclass(frozen=True)
class Record:
    """A checked row: PutRecord's `Record`, and its event time for freshness."""

    values: tuple[tuple[str, str], ...]  # (feature, ValueAsString), in definition order
    event_time: dt.datetime  # aware, UTC

    def feature_values(self) -> list[dict[str, str]]:
        return [{"FeatureName": name, "ValueAsString": value} for name, value in self.values]


def check_columns(schema: GroupSchema, columns: set[str] | frozenset[str]) -> None:
    """Every defined feature must be a column and every column a defined feature."""
    unknown = sorted(columns - set(schema.types))
    if unknown:
        raise RejectedError(UNKNOWN_COLUMNS, f"column(s) {', '.join(unknown)} are not features of {schema.name} "
                                        f"(features: {', '.join(schema.types)})")
    missing = [name for name in schema.types if name not in columns]
    if missing:
        raise RejectedError(MISSING_COLUMNS, f"column(s) {', '.join(missing)} are missing; every feature of "
                                        f"{schema.name} needs a column (leave a value empty for a missing value)")


def to_record(schema: GroupSchema, row: Mapping[str, Any], now: dt.datetime) -> Record:
    """The record a row becomes, or RejectedError. CSV cells arrive as text, JSON values as parsed."""
    check_columns(schema, set(row))
    values: list[tuple[str, str]] = []
    for name, type_ in schema.types.items():
        value = _value(name, type_, row[name])
        if value is not None:
            values.append((name, value))
    present = dict(values)
    if schema.record_identifier not in present:
        raise RejectedError(MISSING_RECORD_IDENTIFIER, f"the record identifier {schema.record_identifier!r} is empty")
    if schema.event_time not in present:
        raise RejectedError(MISSING_EVENT_TIME, f"the event time {schema.event_time!r} is empty")
    event_time, written = _event_time(schema.types[schema.event_time], present[schema.event_time], now)
    values = [(name, written if name == schema.event_time else value) for name, value in values]
    return Record(tuple(values), event_time)


def _value(name: str, type_: str, raw: Any) -> str | None:
    """ValueAsString for one feature, None for a missing value."""
    if _is_missing(type_, raw):
        return None
    if isinstance(raw, str) and _has_undecodable(raw):
        raise RejectedError(MALFORMED, f"{name}: the value is not valid UTF-8")
    return VALUE_CHECKS[type_](name, raw)


def _is_missing(type_: str, raw: Any) -> bool:
    """Null, an empty cell, or (for numbers) a cell of spaces; text keeps its spaces."""
    if raw is None:
        return True
    if not isinstance(raw, str):
        return False
    return raw == "" if type_ == "String" else not raw.strip()


def _has_undecodable(text: str) -> bool:
    # Bytes that are not UTF-8 arrive as lone surrogates (the reader decodes with surrogateescape).
    return any("\udc80" <= c <= "\udcff" for c in text)


def _integral(name: str, raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise RejectedError(WRONG_TYPE, f"{name}: {raw!r} is not an integer ({name} is Integral)")
    if isinstance(raw, str):
        if not _INTEGER.fullmatch(raw.strip()):
            raise RejectedError(WRONG_TYPE, f"{name}: {raw!r} is not an integer ({name} is Integral)")
        raw = int(raw.strip())
    if not INT64_MIN <= raw <= INT64_MAX:
        raise RejectedError(OUT_OF_RANGE, f"{name}: {raw} is outside the 64-bit integer range of Integral")
    return str(raw)


def _fractional(name: str, raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise RejectedError(WRONG_TYPE, f"{name}: {raw!r} is not a number ({name} is Fractional)")
    if isinstance(raw, str) and not _DECIMAL.fullmatch(raw.strip()):
        raise RejectedError(WRONG_TYPE, f"{name}: {raw!r} is not a decimal number ({name} is Fractional)")
    try:
        number = float(raw.strip() if isinstance(raw, str) else raw)
    except OverflowError:  # an integer beyond float range
        number = math.inf
    if not math.isfinite(number):
        raise RejectedError(OUT_OF_RANGE, f"{name}: {raw!r} is not a finite 64-bit float ({name} is Fractional)")
    return repr(number)


def _string(name: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise RejectedError(WRONG_TYPE, f"{name}: {raw!r} is not text ({name} is String)")
    if len(raw) > STRING_MAX_LENGTH:
        raise RejectedError(OUT_OF_RANGE, f"{name}: {len(raw)} characters; Feature Store keeps at most {STRING_MAX_LENGTH}")
    return raw


VALUE_CHECKS: Mapping[str, Callable[[str, Any], str]] = {
    "Integral": _integral,
    "Fractional": _fractional,
    "String": _string,
}


def _event_time(type_: str, value: str, now: dt.datetime) -> tuple[dt.datetime, str]:
    """The event time as an aware UTC datetime, and the text to write."""
    if type_ == "Fractional":
        moment = _from_unix_seconds(value)
        written = value
    else:
        moment = parse_event_time(value)
        written = format_event_time(moment)
    if moment > now + FUTURE_TOLERANCE:
        raise RejectedError(OUT_OF_RANGE, f"event time {value} is in the future (now {format_event_time(now)})")
    return moment, written


def _from_unix_seconds(value: str) -> dt.datetime:
    seconds = float(value)
    if seconds < 0:
        raise RejectedError(BAD_EVENT_TIME, f"event time {value} is before 1970 (Unix seconds)")
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise RejectedError(OUT_OF_RANGE, f"event time {value} is beyond the calendar (Unix seconds)") from None


def parse_event_time(text: str) -> dt.datetime:
    """ISO-8601 date and time with a time zone (Z or +hh:mm), at most millisecond precision."""
    match = _ISO_TIME.fullmatch(text)
    if not match:
        raise RejectedError(BAD_EVENT_TIME, f"event time {text!r} is not ISO-8601 with a time zone, e.g. 2024-06-01T12:00:00Z")
    fraction = match["fraction"] or ""
    if len(fraction) > 3:
        raise RejectedError(BAD_EVENT_TIME, f"event time {text!r} is more precise than milliseconds, which Feature Store keeps")
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    try:
        moment = dt.datetime.fromisoformat(f"{match['date']}T{match['time']}{zone}")
    except ValueError as error:
        raise RejectedError(BAD_EVENT_TIME, f"event time {text!r} is not a real date and time: {error}") from None
    return moment.astimezone(dt.UTC) + dt.timedelta(milliseconds=int(fraction.ljust(3, "0")))


def format_event_time(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
