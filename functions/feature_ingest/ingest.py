"""One S3 object into its feature group, every row accounted for.

Objects live under `<ingest prefix><group>/` (the group as configured, e.g.
`ingest/churn-customers/2024-06-01.csv`). Each data row is either written (PutRecord) or
rejected: its line number, reason code, message and content go to the dead-letter object beside
the input, `<key>.rejected.ndjson` (JSON Lines), written once the whole object is done, empty
when nothing was rejected, so it also says the object was ingested to the end.

`read = written + rejected` holds for every ingestion and for its metrics. When an ingestion
cannot finish (the function's time is nearly up, Feature Store keeps throttling past the
attempts, access is denied), it stops taking rows, lets the requests in flight end, publishes
what it did (read, written, rejected, retried, and `unfinished` rows in the error), and fails:
the invocation errors, Lambda retries the object whole (twice, then its failure destination
holds the event). No checkpoint is kept: rows written before the failure are written again,
which PutRecord makes harmless (writer.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from functions.feature_ingest.rows import Row, reader_for
from functions.feature_ingest.schema import REFUSED_BY_FEATURE_STORE, GroupSchema, RejectedError, to_record
from functions.feature_ingest.writer import RecordWriter, WriteReport
from functions.shared.deadline import Deadline
from functions.shared.events import S3Object
from functions.shared.metrics import MetricNames, datum, publish
from functions.shared.retry import Backoff

DEAD_LETTER_SUFFIX = ".rejected.ndjson"
# Keys of components/metrics_catalogue.py this function publishes; the program passes their
# names (MetricNames), the dimension being the feature group's name.
ROWS_READ = "feature_store.ingest_rows_read"
ROWS_WRITTEN = "feature_store.ingest_rows_written"
ROWS_REJECTED = "feature_store.ingest_rows_rejected"
PUT_RETRIES = "feature_store.ingest_put_retries"
INCOMPLETE = "feature_store.ingest_incomplete"
NEWEST_EVENT_TIME = "feature_store.newest_ingested_event_time"
METRIC_KEYS = (ROWS_READ, ROWS_WRITTEN, ROWS_REJECTED, PUT_RETRIES, INCOMPLETE, NEWEST_EVENT_TIME)


class UnsupportedObjectError(ValueError):
    """The object is not something this function ingests (wrong place or format): nothing read."""


class IngestionIncompleteError(RuntimeError):
    """The ingestion stopped before the end of the object; it must be ingested again, whole."""

    def __init__(self, summary: Summary, why: str):
        super().__init__(f"{summary.object}: stopped with {summary.unfinished} row(s) unfinished ({why}); "
                         f"read {summary.read} = written {summary.written} + rejected {summary.rejected}")
        self.summary = summary
        self.why = why


@dataclass(frozen=True)
class Settings:
    feature_groups: Mapping[str, str]  # group as configured -> the feature group's name
    ingest_prefix: str
    concurrency: int
    max_attempts: int
    stop_margin_seconds: float
    metrics: MetricNames

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            feature_groups=json.loads(env["FEATURE_GROUPS"]),
            ingest_prefix=env["INGEST_PREFIX"],
            concurrency=int(env["INGEST_CONCURRENCY"]),
            max_attempts=int(env["INGEST_MAX_ATTEMPTS"]),
            stop_margin_seconds=float(env["STOP_MARGIN_SECONDS"]),
            metrics=MetricNames.from_json(env["METRICS"]),
        )


@dataclass(frozen=True)
class Clients:
    s3: Any
    sagemaker: Any  # DescribeFeatureGroup
    featurestore: Any  # sagemaker-featurestore-runtime: PutRecord
    cloudwatch: Any


@dataclass(frozen=True)
class Summary:
    object: str
    version_id: str | None
    feature_group: str
    read: int
    written: int
    rejected: int
    retried: int
    unfinished: int
    dead_letters: str | None
    newest_event_time: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dead_letter_key(key: str) -> str:
    return key + DEAD_LETTER_SUFFIX


def feature_group_of(key: str, settings: Settings) -> str:
    """The feature group an object's key puts it in, or UnsupportedObjectError."""
    if key.endswith(DEAD_LETTER_SUFFIX) or reader_for(key) is None:
        raise UnsupportedObjectError(f"{key}: only .csv and .jsonl objects are ingested")
    group = key[len(settings.ingest_prefix):].split("/", 1)[0] if key.startswith(settings.ingest_prefix) else ""
    if group not in settings.feature_groups or "/" not in key[len(settings.ingest_prefix):]:
        raise UnsupportedObjectError(f"{key}: not under {settings.ingest_prefix}<group>/ for a configured group "
                                f"({', '.join(sorted(settings.feature_groups))})")
    return settings.feature_groups[group]


def schema_of(sagemaker: Any, group: str) -> GroupSchema:
    """The group's definitions as deployed now, asked once per object: a replaced group keeps its
    name (and this function its configuration), so a cached copy could outlive the group."""
    return GroupSchema.from_description(sagemaker.describe_feature_group(FeatureGroupName=group))


def ingest_object(obj: S3Object, clients: Clients, settings: Settings, deadline: Deadline, *,
                  now: Callable[[], dt.datetime] | None = None, backoff: Backoff | None = None,
                  sleep: Callable[[float], None] | None = None) -> Summary:
    """Ingest one object; raises IngestionIncompleteError when it could not get to the end."""
    group = feature_group_of(obj.key, settings)
    schema = schema_of(clients.sagemaker, group)
    read_rows = reader_for(obj.key)
    body = clients.s3.get_object(**obj.get_args())["Body"]
    writer = RecordWriter(clients.featurestore, group, concurrency=settings.concurrency,
                          max_attempts=settings.max_attempts, backoff=backoff,
                          **({"sleep": sleep} if sleep else {}))
    clock = (now or _utcnow)()
    rejections: list[dict[str, Any]] = []
    skipped, stop = 0, None
    for row in read_rows(body):
        stop = stop or _stop_reason(writer, deadline)
        if stop:
            skipped += 1
            continue
        if not _take(row, schema, clock, writer, rejections):
            skipped += 1
    report = writer.finish()
    stop = stop or report.failure
    rejections += [_dead_letter(line, REFUSED_BY_FEATURE_STORE, message, raw) for line, message, raw in report.refused]
    summary = _summary(obj, group, report, rejections, skipped + len(report.unfinished))
    _publish(clients.cloudwatch, settings.metrics, group, summary, report, clock)
    if summary.unfinished:
        raise IngestionIncompleteError(summary, stop or "the writer stopped")
    _write_dead_letters(clients.s3, obj, rejections)
    return summary


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stop_reason(writer: RecordWriter, deadline: Deadline) -> str | None:
    if writer.report.failed:
        return writer.report.failure
    if deadline.near():
        return "the function's time is nearly up"
    return None


def _take(row: Row, schema: GroupSchema, clock: dt.datetime, writer: RecordWriter,
          rejections: list[dict[str, Any]]) -> bool:
    """Reject the row or hand it to the writer; False when the writer no longer takes rows."""
    try:
        if row.problem:
            raise row.problem
        record = to_record(schema, row.values or {}, clock)
    except RejectedError as rejected:
        rejections.append(_dead_letter(row.line, rejected.reason, rejected.detail, row.raw))
        return True
    return writer.submit(row.line, record, row.raw)


def _dead_letter(line: int, reason: str, detail: str, raw: Any) -> dict[str, Any]:
    return {"line": line, "reason": reason, "detail": detail, "row": raw}


def _summary(obj: S3Object, group: str, report: WriteReport, rejections: list[dict[str, Any]],
             unfinished: int) -> Summary:
    written = len(report.written)
    newest = report.newest_event_time
    return Summary(
        object=obj.uri, version_id=obj.version_id, feature_group=group,
        read=written + len(rejections), written=written, rejected=len(rejections), retried=report.retries,
        unfinished=unfinished, dead_letters=None if unfinished else f"s3://{obj.bucket}/{dead_letter_key(obj.key)}",
        newest_event_time=newest.isoformat() if newest else None,
    )


def _publish(cloudwatch: Any, names: MetricNames, group: str, summary: Summary, report: WriteReport,
             clock: dt.datetime) -> None:
    counts = {ROWS_READ: summary.read, ROWS_WRITTEN: summary.written, ROWS_REJECTED: summary.rejected,
              PUT_RETRIES: summary.retried, INCOMPLETE: 1 if summary.unfinished else 0}
    data = [datum(names, key, group, value, "Count", clock) for key, value in counts.items()]
    if report.newest_event_time is not None:
        data.append(datum(names, NEWEST_EVENT_TIME, group, report.newest_event_time.timestamp(), "None", clock))
    publish(cloudwatch, names.namespace, data)


def _write_dead_letters(s3: Any, obj: S3Object, rejections: list[dict[str, Any]]) -> None:
    lines = [json.dumps(entry, ensure_ascii=False, default=str) for entry in sorted(rejections, key=lambda e: e["line"])]
    # Bytes that were not UTF-8 stay visible as \udcXX escapes; the object itself is valid UTF-8.
    body = "".join(f"{line}\n" for line in lines).encode("utf-8", "backslashreplace")
    s3.put_object(Bucket=obj.bucket, Key=dead_letter_key(obj.key), Body=body, ContentType="application/x-ndjson")
