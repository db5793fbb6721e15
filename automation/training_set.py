"""A training set from a feature group's offline store: each entity's latest record as of a point
in time, joined with its label, written as the CSV files the training container reads.

    venv/bin/python -m automation.training_set --feature-group mlops-platform-dev-churn-customers \\
        --data-bucket <data bucket> --model churn --as-of 2024-06-01T00:00:00Z \\
        --labels s3://<data bucket>/churn/labels/2024-06-01.csv

1. Athena selects, per record identifier, the latest record whose event time is at or before
   `--as-of` (later events never leak in: the filter comes before the ranking); ties on the
   event time go to the later write (the offline store is append-only, so a record ingested
   twice is there twice); an identifier whose latest record is a deletion (`is_deleted`) is left
   out. `point_in_time_query` builds the SQL; tests run the same text on SQLite.
2. Labels come from a CSV with the record identifier and the label column (`churned`): the
   outcome observed after the point in time. Records without a label are left out, and so are
   labels without a record (both counted).
3. Rows are split into train and validation by a hash of the identifier (the same entity never
   lands in both), and written with the training container's header (label first, then the
   features of containers/contracts/features.py) under
   `s3://<data bucket>/<model>/training-sets/<name>/{train,validation}/part-0.csv`.

It prints a JSON summary; its `training_set` value is what a training run takes as input:
`{"model_name": "churn", "training_set": "s3://<data bucket>/churn/training-sets/<name>/"}`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from containers.contracts.features import CSV_COLUMNS, FEATURE_NAMES, TARGET  # noqa: E402
from functions.feature_ingest.schema import RejectedError, format_event_time, parse_event_time  # noqa: E402

# Trino functions (Athena engine v3) turning an event time into a timestamp, by its feature type.
EVENT_TIME_AS_TIMESTAMP = {"String": "from_iso8601_timestamp({})", "Fractional": "from_unixtime({})"}
TRAINING_SETS = "training-sets"
QUERY_POLL_SECONDS = 2
QUERY_TIMEOUT_SECONDS = 30 * 60
LABELS = ("0", "1")


class TrainingSetError(RuntimeError):
    """The training set cannot be built; the message says why."""


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def point_in_time_query(*, database: str, table: str, record_identifier: str, event_time: str, event_time_type: str,
                        features: Sequence[str], as_of: dt.datetime) -> str:
    """Each identifier's latest record at or before `as_of` (UTC), deletions left out."""
    columns = ", ".join(quote(f) for f in features)
    event = EVENT_TIME_AS_TIMESTAMP[event_time_type].format(quote(event_time))
    point = f"from_iso8601_timestamp('{format_event_time(as_of)}')"
    return (
        f"SELECT {columns}\n"
        f"FROM (\n"
        f"    SELECT {columns}, \"is_deleted\",\n"
        f"           row_number() OVER (PARTITION BY {quote(record_identifier)}\n"
        f"                              ORDER BY {event} DESC, \"api_invocation_time\" DESC, \"write_time\" DESC)"
        f" AS \"latest_first\"\n"
        f"    FROM {quote(database)}.{quote(table)}\n"
        f"    WHERE {event} <= {point}\n"
        f") AS \"as_of\"\n"
        f"WHERE \"latest_first\" = 1 AND NOT \"is_deleted\"\n"
        f"ORDER BY {quote(record_identifier)}"
    )


@dataclass(frozen=True)
class Split:
    train: list[list[str]]
    validation: list[list[str]]
    unlabeled: int  # records without a label
    labels_without_records: int


def in_validation(identifier: str, fraction: float) -> bool:
    """A stable draw per identifier: the same entity is always on the same side."""
    return int(hashlib.sha256(identifier.encode()).hexdigest()[:8], 16) < fraction * 2**32


def split(records: Iterable[Mapping[str, str]], labels: Mapping[str, str], record_identifier: str,
          validation_fraction: float) -> Split:
    """Rows in the training container's column order (CSV_COLUMNS), split by identifier."""
    train, validation, unlabeled, seen = [], [], 0, set()
    for record in records:
        identifier = record[record_identifier]
        label = labels.get(identifier)
        if label is None:
            unlabeled += 1
            continue
        seen.add(identifier)
        row = [label] + [record.get(name, "") for name in FEATURE_NAMES]
        (validation if in_validation(identifier, validation_fraction) else train).append(row)
    return Split(train, validation, unlabeled, len(set(labels) - seen))


def read_labels(text: str, record_identifier: str) -> dict[str, str]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in (record_identifier, TARGET) if c not in (reader.fieldnames or [])]
    if missing:
        raise TrainingSetError(f"the labels file needs the columns {record_identifier} and {TARGET}; missing {missing}")
    labels: dict[str, str] = {}
    for line, row in enumerate(reader, start=2):
        identifier, label = row[record_identifier], row[TARGET].strip()
        if label not in LABELS:
            raise TrainingSetError(f"labels line {line}: {TARGET} is {label!r}; it must be 0 or 1")
        if identifier in labels:
            raise TrainingSetError(f"labels line {line}: {identifier!r} is labelled twice")
        labels[identifier] = label
    return labels


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode()


def run_query(athena: Any, sql: str, *, catalog: str, database: str, workgroup: str, output_location: str,
              sleep: Callable[[float], None] = time.sleep, timeout_seconds: float = QUERY_TIMEOUT_SECONDS) -> str:
    """Run `sql` in Athena and return the S3 URI of its CSV result."""
    started = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Catalog": catalog, "Database": database}, WorkGroup=workgroup,
        ResultConfiguration={"OutputLocation": output_location})
    query_id = started["QueryExecutionId"]
    waited = 0.0
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state == "SUCCEEDED":
            return execution["ResultConfiguration"]["OutputLocation"]
        if state in ("FAILED", "CANCELLED"):
            raise TrainingSetError(f"Athena query {query_id} {state}: {execution['Status'].get('StateChangeReason', '')}")
        if waited >= timeout_seconds:
            raise TrainingSetError(f"Athena query {query_id} still {state} after {timeout_seconds:.0f} s")
        sleep(QUERY_POLL_SECONDS)
        waited += QUERY_POLL_SECONDS


def _s3_parts(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise TrainingSetError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def _read_s3_text(s3: Any, uri: str) -> str:
    bucket, key = _s3_parts(uri)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8-sig")


@dataclass(frozen=True)
class Request:
    feature_group: str
    data_bucket: str
    model: str
    as_of: dt.datetime
    labels_uri: str
    name: str | None = None
    validation_fraction: float = 0.2
    workgroup: str = "primary"

    @property
    def set_name(self) -> str:
        return self.name or f"as-of-{self.as_of.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"

    @property
    def prefix(self) -> str:
        return f"s3://{self.data_bucket}/{self.model}/{TRAINING_SETS}/{self.set_name}/"


def _group_table(sagemaker: Any, feature_group: str) -> dict[str, Any]:
    group = sagemaker.describe_feature_group(FeatureGroupName=feature_group)
    catalog = group.get("OfflineStoreConfig", {}).get("DataCatalogConfig")
    if not catalog:
        raise TrainingSetError(f"{feature_group} has no offline store table (offlineStore: false?)")
    types = {d["FeatureName"]: d["FeatureType"] for d in group["FeatureDefinitions"]}
    missing = [f for f in FEATURE_NAMES if f not in types]
    if missing:
        raise TrainingSetError(f"{feature_group} lacks the model's features {missing} (containers/contracts/features.py)")
    return {"catalog": catalog.get("Catalog", "AwsDataCatalog"), "database": catalog["Database"], "table": catalog["TableName"],
            "record_identifier": group["RecordIdentifierFeatureName"], "event_time": group["EventTimeFeatureName"],
            "event_time_type": types[group["EventTimeFeatureName"]], "features": list(types)}


def build(request: Request, *, sagemaker: Any, athena: Any, s3: Any, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Query, join, split and write one training set; returns its summary."""
    table = _group_table(sagemaker, request.feature_group)
    labels = read_labels(_read_s3_text(s3, request.labels_uri), table["record_identifier"])
    sql = point_in_time_query(database=table["database"], table=table["table"], record_identifier=table["record_identifier"],
                              event_time=table["event_time"], event_time_type=table["event_time_type"],
                              features=table["features"], as_of=request.as_of)
    result = run_query(athena, sql, catalog=table["catalog"], database=table["database"], workgroup=request.workgroup,
                       output_location=f"{request.prefix}query/", sleep=sleep)
    records = csv.DictReader(io.StringIO(_read_s3_text(s3, result)))
    parts = split(records, labels, table["record_identifier"], request.validation_fraction)
    if not parts.train or not parts.validation:
        raise TrainingSetError(f"{len(parts.train)} training and {len(parts.validation)} validation rows: both channels "
                               "need rows (more labelled records, or another validation fraction)")
    bucket, prefix = _s3_parts(request.prefix)
    for channel, rows in (("train", parts.train), ("validation", parts.validation)):
        s3.put_object(Bucket=bucket, Key=f"{prefix}{channel}/part-0.csv", Body=csv_bytes(rows), ContentType="text/csv")
    return {"training_set": request.prefix, "as_of": format_event_time(request.as_of), "query_result": result,
            "rows": {"train": len(parts.train), "validation": len(parts.validation)},
            "unlabeled_records": parts.unlabeled, "labels_without_records": parts.labels_without_records,
            "start_execution_input": {"model_name": request.model, "training_set": request.prefix}}


def _as_of(text: str) -> dt.datetime:
    try:
        return parse_event_time(text)
    except RejectedError as error:
        raise argparse.ArgumentTypeError(error.detail) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m automation.training_set", description=__doc__.split("\n\n")[0])
    parser.add_argument("--feature-group", required=True, help="the feature group's name (stack output feature_groups)")
    parser.add_argument("--data-bucket", required=True, help="the training data bucket (stack output data_bucket)")
    parser.add_argument("--model", required=True, help="a configured model, e.g. churn")
    parser.add_argument("--as-of", required=True, type=_as_of, help="ISO-8601 with a time zone, e.g. 2024-06-01T00:00:00Z")
    parser.add_argument("--labels", required=True, help="s3:// URI of a CSV with the record identifier and the label")
    parser.add_argument("--name", help="the training set's folder (default: as-of-<time>)")
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--workgroup", default="primary", help="the Athena workgroup")
    parser.add_argument("--region", help="AWS region (default: the SDK's)")
    args = parser.parse_args(argv)
    if not 0 < args.validation_fraction < 1:
        parser.error("--validation-fraction must be between 0 and 1")
    import boto3

    session = boto3.session.Session(region_name=args.region)
    request = Request(feature_group=args.feature_group, data_bucket=args.data_bucket, model=args.model, as_of=args.as_of,
                      labels_uri=args.labels, name=args.name, validation_fraction=args.validation_fraction,
                      workgroup=args.workgroup)
    try:
        summary = build(request, sagemaker=session.client("sagemaker"), athena=session.client("athena"),
                        s3=session.client("s3"))
    except TrainingSetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
