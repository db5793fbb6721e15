"""Feature Store's runtime and its offline store's query engine, emulated on this machine.

moto has no `sagemaker-featurestore-runtime` and no Athena engine. The rehearsal therefore:
- gives the ingestion function (functions/feature_ingest, run as deployed) a runtime client that
  checks every PutRecord against botocore's model and records it as SageMaker's offline store
  replication would (an append-only table with `write_time`, `api_invocation_time` and `is_deleted`, the columns
  SageMaker adds to the Glue table; Developer Guide, "Offline store", "Data format");
- answers automation/training_set.py's Athena calls by running its point-in-time SQL, word for
  word, on SQLite over that table, with the two Trino functions it calls given Trino's meaning
  (tests/functions/test_feature_training_set.py does the same), and writes the result CSV to S3
  the way Athena writes a SELECT's result (a header, every value quoted).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator

OFFLINE_COLUMNS = ("write_time", "api_invocation_time", "is_deleted")


def _instant(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@functools.cache
def _input_shape(service: str, operation: str) -> Any:
    return botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape


def _check(service: str, operation: str, params: dict[str, Any]) -> None:
    """The request must be one AWS accepts: botocore's model of the operation, as boto3 would check it."""
    shape = _input_shape(service, operation)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


class RecordingFeatureStore:
    """`put_record` of the Feature Store runtime: validated against AWS's model, then recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.offline: dict[str, list[dict[str, str]]] = {}  # group -> every record written, in order

    def put_record(self, **params: Any) -> dict[str, Any]:
        _check("sagemaker-featurestore-runtime", "PutRecord", params)
        values = {v["FeatureName"]: v["ValueAsString"] for v in params["Record"]}
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        with self._lock:
            self.offline.setdefault(params["FeatureGroupName"], []).append(
                {**values, "write_time": now, "api_invocation_time": now, "is_deleted": False})
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}


class LocalAthena:
    """StartQueryExecution/GetQueryExecution over the recorded offline store, on SQLite."""

    def __init__(self, store: RecordingFeatureStore, s3: Any, tables: Mapping[tuple[str, str], tuple[str, Sequence[str]]]):
        """`tables`: (Glue database, table) -> the feature group whose offline store it is, and the
        group's feature names (the Glue table's columns, before the ones SageMaker adds)."""
        self._store, self._s3, self._tables = store, s3, tables
        self._ids = itertools.count(1)
        self._executions: dict[str, dict[str, Any]] = {}

    def start_query_execution(self, **params: Any) -> dict[str, str]:
        _check("athena", "StartQueryExecution", params)
        query_id = f"rehearsal-{next(self._ids)}"
        location = f"{params['ResultConfiguration']['OutputLocation'].rstrip('/')}/{query_id}.csv"
        try:
            header, rows = self._run(params["QueryString"])
            self._write(location, header, rows)
            status: dict[str, Any] = {"State": "SUCCEEDED"}
        except sqlite3.Error as error:
            status = {"State": "FAILED", "StateChangeReason": f"SQL error: {error}"}
        self._executions[query_id] = {"QueryExecutionId": query_id, "Status": status,
                                      "ResultConfiguration": {"OutputLocation": location}}
        return {"QueryExecutionId": query_id}

    def get_query_execution(self, **params: Any) -> dict[str, Any]:
        _check("athena", "GetQueryExecution", params)
        return {"QueryExecution": self._executions[params["QueryExecutionId"]]}

    def _run(self, sql: str) -> tuple[list[str], list[tuple]]:
        db = sqlite3.connect(":memory:")
        db.create_function("from_iso8601_timestamp", 1, _instant, deterministic=True)
        db.create_function("from_unixtime", 1, float, deterministic=True)
        attached: set[str] = set()
        for (database, table), (group, features) in self._tables.items():
            if database not in attached:
                db.execute(f'ATTACH DATABASE ":memory:" AS "{database}"')
                attached.add(database)
            records = self._store.offline.get(group, [])
            columns = [*features, *OFFLINE_COLUMNS]  # a feature a record does not give is NULL, as in Athena
            db.execute(f'CREATE TABLE "{database}"."{table}" ({", ".join(f"{c!r}" for c in columns)})')
            db.executemany(f'INSERT INTO "{database}"."{table}" VALUES ({", ".join("?" * len(columns))})',
                           [[record.get(c) for c in columns] for record in records])
        cursor = db.execute(sql)
        return [d[0] for d in cursor.description], cursor.fetchall()

    def _write(self, location: str, header: list[str], rows: list[tuple]) -> None:
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        bucket, _, key = location.removeprefix("s3://").partition("/")
        self._s3.put_object(Bucket=bucket, Key=key, Body=out.getvalue().encode())
