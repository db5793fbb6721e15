"""Feature ingestion (functions/feature_ingest) against moto's S3, SageMaker and CloudWatch, with
Feature Store's runtime played by `RecordingFeatureStore` (requests checked against botocore's
PutRecord model; moto has no Feature Store runtime) or by a real botocore client under the
Stubber, which validates each request against the same model and serializes it.

What is held: valid rows reach PutRecord in the record shape Feature Store takes; every kind of
bad row is rejected with its line number and reason into the dead-letter object; throttles and
server errors are retried with backoff, then succeed; and every row is accounted for,
`read = written + rejected`, on random files (hypothesis), when retries run out and when the
function's time runs out half-way (it fails loudly and the object is ingested again, whole).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from moto import mock_aws

from functions.feature_ingest import handler as ingest_handler
from functions.feature_ingest import ingest
from functions.feature_ingest.ingest import IngestionIncompleteError, UnsupportedObjectError, ingest_object
from functions.shared.deadline import Deadline
from functions.shared.events import S3Object
from functions.shared.retry import Backoff
from tests.functions.feature_support import (
    BUCKET,
    FEATURES,
    GROUP,
    GROUP_NAME,
    REGION,
    RecordingFeatureStore,
    clients,
    create_group_in_moto,
    csv_text,
    good_row,
    settings,
)

NOW = dt.datetime(2024, 6, 2, tzinfo=dt.UTC)
_keys = itertools.count()


@pytest.fixture(autouse=True)
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        create_group_in_moto()
        yield


def put(text: str | bytes, suffix: str = ".csv") -> S3Object:
    key = f"ingest/{GROUP.name}/batch-{next(_keys)}{suffix}"
    answer = boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=text)
    return S3Object(BUCKET, key, answer.get("VersionId"))


def run(obj: S3Object, store: Any, deadline: Deadline | None = None, sleeps: list[float] | None = None,
        **overrides: Any) -> ingest.Summary:
    return ingest_object(obj, clients(store), settings(**overrides), deadline or Deadline.never(), now=lambda: NOW,
                         backoff=Backoff(base_seconds=0.05, cap_seconds=2.0),
                         sleep=(sleeps.append if sleeps is not None else lambda _: None))


def dead_letters(obj: S3Object) -> list[dict[str, Any]]:
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=ingest.dead_letter_key(obj.key))["Body"]
    return [json.loads(line) for line in body.read().decode().splitlines()]


def has_dead_letters(obj: S3Object) -> bool:
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET, Prefix=ingest.dead_letter_key(obj.key))
    return listed.get("KeyCount", 0) > 0


def metric_sum(key: str) -> float | None:
    names = settings().metrics
    points = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace=names.namespace, MetricName=names.names[key], Dimensions=[{"Name": names.dimension, "Value": GROUP_NAME}],
        StartTime=NOW - dt.timedelta(hours=1), EndTime=NOW + dt.timedelta(hours=1), Period=60,
        Statistics=["Sum", "Maximum"])["Datapoints"]
    return sum(p["Sum"] for p in points) if points else None


def expected_record(row: dict[str, str]) -> list[dict[str, str]]:
    """The Record Feature Store receives for a good row: definition order, text values, the
    event time in UTC milliseconds, numbers as Python writes them back."""
    converted = {"event_time": "2024-06-01T10:00:00.000Z", "monthly_charges": repr(float(row["monthly_charges"])),
                 "total_charges": repr(float(row["total_charges"]))}
    return [{"FeatureName": name, "ValueAsString": converted.get(name, row[name])} for name in FEATURES]


# --- Valid rows -----------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_valid_rows_become_records_of_the_shape_feature_store_takes(suffix):
    rows = [good_row(f"c{i}") for i in range(5)]
    text = csv_text(rows) if suffix == ".csv" else "".join(json.dumps(r) + "\n" for r in rows)
    store = RecordingFeatureStore()
    summary = run(put(text, suffix), store)
    assert (summary.read, summary.written, summary.rejected, summary.retried, summary.unfinished) == (5, 5, 0, 0, 0)
    assert {r["FeatureGroupName"] for r in store.records} == {GROUP_NAME}
    assert sorted((r["Record"] for r in store.records), key=str) == sorted((expected_record(r) for r in rows), key=str)
    assert summary.newest_event_time == "2024-06-01T10:00:00+00:00"


def test_json_values_keep_their_types_and_null_is_a_missing_value():
    row = {**good_row("c1"), "tenure_months": 7, "monthly_charges": 70, "total_charges": None,
           "event_time": "2024-06-01T12:00:00+02:00"}
    store = RecordingFeatureStore()
    run(put(json.dumps(row) + "\n", ".jsonl"), store)
    written = store.written()["c1"]
    assert (written["tenure_months"], written["monthly_charges"]) == ("7", "70.0")
    assert "total_charges" not in written  # a missing value: the feature is left out of the record
    assert written["event_time"] == "2024-06-01T10:00:00.000Z"  # +02:00 written as UTC


def test_a_clean_file_still_gets_its_empty_dead_letter_object_which_marks_it_done():
    obj = put(csv_text([good_row("c1")]))
    summary = run(obj, RecordingFeatureStore())
    assert dead_letters(obj) == []
    assert summary.dead_letters == f"s3://{BUCKET}/{obj.key}.rejected.ndjson"


def test_requests_through_a_real_botocore_client_with_a_throttle_in_between():
    """The Stubber checks each request against botocore's model and the exact parameters; one
    request at a time so the order of the stubbed answers is the order of the rows."""
    client = botocore.session.get_session().create_client(
        "sagemaker-featurestore-runtime", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    rows = [good_row("c1"), good_row("c2", tenure_months="40")]
    with Stubber(client) as stubber:
        stubber.add_response("put_record", {}, {"FeatureGroupName": GROUP_NAME, "Record": expected_record(rows[0])})
        stubber.add_client_error("put_record", service_error_code="ThrottlingException", service_message="Rate exceeded",
                                 http_status_code=400,
                                 expected_params={"FeatureGroupName": GROUP_NAME, "Record": expected_record(rows[1])})
        stubber.add_response("put_record", {}, {"FeatureGroupName": GROUP_NAME, "Record": expected_record(rows[1])})
        sleeps: list[float] = []
        summary = run(put(csv_text(rows)), client, sleeps=sleeps, concurrency=1)
        stubber.assert_no_pending_responses()
    assert (summary.written, summary.retried, len(sleeps)) == (2, 1, 1)
    assert 0 <= sleeps[0] <= 0.05


# --- Bad rows ---------------------------------------------------------------------------------------

BAD_CSV_ROWS = {
    "no record identifier": (good_row("", ), "missing_record_identifier", "customer_id"),
    "no event time": (good_row("c9", event_time=""), "missing_event_time", "event_time"),
    "text in an Integral": (good_row("c9", tenure_months="twelve"), "wrong_type", "tenure_months: 'twelve' is not an integer"),
    "a fraction in an Integral": (good_row("c9", support_calls="2.5"), "wrong_type", "support_calls: '2.5' is not an integer"),
    "text in a Fractional": (good_row("c9", monthly_charges="$70"), "wrong_type", "monthly_charges: '$70' is not a decimal"),
    "Integral beyond int64": (good_row("c9", tenure_months=str(2**63)), "out_of_range", "64-bit integer range"),
    "Integral below int64": (good_row("c9", tenure_months=str(-(2**63) - 1)), "out_of_range", "64-bit integer range"),
    "Fractional beyond float64": (good_row("c9", monthly_charges="1e400"), "out_of_range", "not a finite 64-bit float"),
    "event time not ISO-8601": (good_row("c9", event_time="06/01/2024 10:00"), "bad_event_time", "not ISO-8601"),
    "event time without a zone": (good_row("c9", event_time="2024-06-01T10:00:00"), "bad_event_time", "time zone"),
    "event time not a date": (good_row("c9", event_time="2024-02-30T10:00:00Z"), "bad_event_time", "not a real date"),
    "event time in microseconds": (good_row("c9", event_time="2024-06-01T10:00:00.123456Z"), "bad_event_time",
                                   "milliseconds"),
    "event time in the future": (good_row("c9", event_time="2024-06-02T01:00:00Z"), "out_of_range", "in the future"),
}


@pytest.mark.parametrize("row, reason, detail", BAD_CSV_ROWS.values(), ids=list(BAD_CSV_ROWS))
def test_each_kind_of_bad_row_is_rejected_with_its_line_and_reason(row, reason, detail):
    store = RecordingFeatureStore()
    obj = put(csv_text([good_row("c1"), row, good_row("c2")]))
    summary = run(obj, store)
    assert (summary.read, summary.written, summary.rejected) == (3, 2, 1)
    (letter,) = dead_letters(obj)
    assert (letter["line"], letter["reason"]) == (3, reason)  # line 1 is the header
    assert detail in letter["detail"]
    assert letter["row"] == row
    assert set(store.written()) == {"c1", "c2"}


BAD_FILES = {
    "a column the group does not define": (
        csv_text([good_row("c1", extra="x")], FEATURES + ["extra"]), ".csv", [2], "unknown_columns", "extra"),
    "a feature without a column": (
        csv_text([good_row("c1")], [f for f in FEATURES if f != "late_payments"]), ".csv", [2], "missing_columns",
        "late_payments"),
    "a column named twice": (
        csv_text([good_row("c1")], FEATURES + ["tenure_months"]), ".csv", [2], "malformed_row", "more than once"),
    "more cells than the header": (csv_text([good_row("c1")]).rstrip("\n") + ",surplus\n", ".csv", [2],
                                   "malformed_row", "12 cells but the header has 11"),
    "bytes that are not UTF-8": (csv_text([good_row("c1", customer_id="caf\xe9")]).encode("latin-1"), ".csv", [2],
                                 "malformed_row", "not valid UTF-8"),
    "a line that is not JSON": ('{"customer_id": "c1",\n', ".jsonl", [1], "malformed_row", "not JSON"),
    "a JSON line that is not an object": ("[1, 2]\n", ".jsonl", [1], "malformed_row", "one object, not list"),
    "a JSON key twice": ('{"a": 1, "a": 2}\n', ".jsonl", [1], "malformed_row", "more than once"),
    "a JSON boolean for an Integral": (json.dumps({**good_row("c1"), "has_internet": True}) + "\n", ".jsonl", [1],
                                       "wrong_type", "has_internet: True is not an integer"),
    "a JSON number for a String": (json.dumps({**good_row("c1"), "customer_id": 123}) + "\n", ".jsonl", [1],
                                   "wrong_type", "customer_id: 123 is not text"),
    "a JSON float for an Integral": (json.dumps({**good_row("c1"), "tenure_months": 1.5}) + "\n", ".jsonl", [1],
                                     "wrong_type", "is not an integer"),
    "a JSON NaN": (json.dumps({**good_row("c1"), "monthly_charges": float("nan")}) + "\n", ".jsonl", [1],
                   "out_of_range", "not a finite"),
    "a JSON feature left out": (json.dumps({k: v for k, v in good_row("c1").items() if k != "num_products"}) + "\n",
                                ".jsonl", [1], "missing_columns", "num_products"),
}


@pytest.mark.parametrize("text, suffix, lines, reason, detail", BAD_FILES.values(), ids=list(BAD_FILES))
def test_each_kind_of_malformed_file_content_is_rejected_row_by_row(text, suffix, lines, reason, detail):
    store = RecordingFeatureStore()
    obj = put(text, suffix)
    summary = run(obj, store)
    letters = dead_letters(obj)
    assert [(d["line"], d["reason"]) for d in letters] == [(line, reason) for line in lines]
    assert all(detail in d["detail"] for d in letters)
    assert (summary.read, summary.rejected, summary.written, store.records) == (len(lines), len(lines), 0, [])


def test_a_record_feature_store_refuses_is_rejected_with_its_message():
    store = RecordingFeatureStore(failures={"c2": ["ValidationError"]})
    obj = put(csv_text([good_row("c1"), good_row("c2")]))
    summary = run(obj, store)
    (letter,) = dead_letters(obj)
    assert (letter["line"], letter["reason"], letter["row"]["customer_id"]) == (3, "refused_by_feature_store", "c2")
    assert "scripted ValidationError" in letter["detail"]
    assert (summary.read, summary.written, summary.rejected, summary.retried) == (2, 1, 1, 0)


def test_blank_lines_are_not_rows_and_line_numbers_count_them():
    text = csv_text([good_row("c1")]) + "\n\n" + csv_text([good_row("c2", tenure_months="x")]).split("\n", 1)[1]
    obj = put(text)
    summary = run(obj, RecordingFeatureStore())
    assert (summary.read, summary.written, summary.rejected) == (2, 1, 1)
    assert [d["line"] for d in dead_letters(obj)] == [5]


# --- Retries and failures ---------------------------------------------------------------------------

def test_throttles_and_server_errors_are_retried_with_capped_jittered_backoff_then_succeed():
    store = RecordingFeatureStore(failures={"c1": ["ThrottlingException", "ThrottlingException"],
                                            "c2": ["InternalFailure"], "c3": ["ServiceUnavailable"]})
    sleeps: list[float] = []
    summary = run(put(csv_text([good_row(f"c{i}") for i in range(5)])), store, sleeps=sleeps)
    assert (summary.written, summary.rejected, summary.retried) == (5, 0, 4)
    assert store.attempts["c1"] == 3 and store.attempts["c2"] == store.attempts["c3"] == 2
    assert len(sleeps) == 4 and all(0 <= s <= 2.0 for s in sleeps)
    assert metric_sum(ingest.PUT_RETRIES) == 4 and metric_sum(ingest.ROWS_WRITTEN) == 5


@pytest.mark.parametrize("failures, attempts", [
    (["ThrottlingException"] * 4, 4),  # retried up to max_attempts, then the ingestion fails
    (["AccessForbidden"], 1),  # not the record's fault, and not transient: no retry
])
def test_a_record_that_cannot_be_written_fails_the_ingestion_loudly(failures, attempts):
    store = RecordingFeatureStore(failures={"c0": failures})
    rows = [good_row("c0")] + [good_row(f"c{i}", tenure_months="x" if i == 1 else "3") for i in range(1, 4)]
    obj = put(csv_text(rows))
    with pytest.raises(IngestionIncompleteError) as raised:
        run(obj, store, concurrency=1)
    summary = raised.value.summary
    assert store.attempts["c0"] == attempts
    assert summary.unfinished >= 1 and summary.read == summary.written + summary.rejected
    assert summary.read + summary.unfinished == len(rows)
    assert not has_dead_letters(obj)  # written only once the object is done
    assert metric_sum(ingest.INCOMPLETE) == 1
    assert metric_sum(ingest.ROWS_READ) == summary.read


def test_running_out_of_time_half_way_fails_loudly_and_the_whole_object_is_ingested_again():
    """The chosen behaviour: no checkpoint. The function stops taking rows while
    STOP_MARGIN_SECONDS remain, publishes what it did, and fails; Lambda retries the object
    whole, and rows already written are written again, which leaves the same records."""
    rows = [good_row(f"c{i}", tenure_months="x" if i % 5 == 0 else "3") for i in range(20)]
    obj = put(csv_text(rows))
    remaining = itertools.chain([120_000] * 8, itertools.repeat(1_000))  # near the end after 8 checks
    store = RecordingFeatureStore()
    with pytest.raises(IngestionIncompleteError) as raised:
        run(obj, store, deadline=Deadline(lambda: next(remaining), 30))
    first = raised.value.summary
    assert "time is nearly up" in raised.value.why
    assert first.read == first.written + first.rejected == 8 and first.unfinished == 12
    assert not has_dead_letters(obj)
    retried = run(obj, store)  # Lambda's retry of the same event
    assert (retried.read, retried.written, retried.rejected, retried.unfinished) == (20, 16, 4, 0)
    assert [d["line"] for d in dead_letters(obj)] == [2, 7, 12, 17]
    assert set(store.written()) == {f"c{i}" for i in range(20) if i % 5}
    assert len(store.records) == 16 + first.written  # the first attempt's records were sent again


# --- Every row accounted for, on random files -------------------------------------------------------

BAD_VALUES = {"tenure_months": "x", "monthly_charges": "inf", "event_time": "yesterday", "customer_id": ""}


@st.composite
def files(draw):
    kinds = draw(st.lists(st.sampled_from(["good", *BAD_VALUES]), min_size=0, max_size=20))
    rows = [good_row(f"c{i}") if kind == "good" else good_row(f"c{i}", **{kind: BAD_VALUES[kind]})
            for i, kind in enumerate(kinds)]
    throttles = draw(st.dictionaries(st.sampled_from([f"c{i}" for i in range(len(rows))] or ["none"]),
                                     st.integers(0, 3), max_size=5))
    return kinds, rows, throttles, draw(st.integers(1, 4)), draw(st.sampled_from([".csv", ".jsonl"]))


@hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files())
def test_every_row_is_written_or_rejected_and_the_counts_add_up(example):
    kinds, rows, throttles, concurrency, suffix = example
    store = RecordingFeatureStore(failures={k: ["ThrottlingException"] * n for k, n in throttles.items()})
    text = csv_text(rows) if suffix == ".csv" else "".join(json.dumps(r) + "\n" for r in rows)
    obj = put(text, suffix)
    summary = run(obj, store, concurrency=concurrency, max_attempts=4)
    good = {f"c{i}" for i, kind in enumerate(kinds) if kind == "good"}
    assert summary.read == len(rows) == summary.written + summary.rejected
    assert set(store.written()) == good and summary.written == len(good)
    assert len(dead_letters(obj)) == summary.rejected == len(rows) - len(good)
    assert summary.retried == sum(n for k, n in throttles.items() if k in good)


# --- The handler ------------------------------------------------------------------------------------

class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def handler_env(monkeypatch):
    values = settings()
    monkeypatch.setenv("FEATURE_GROUPS", json.dumps(dict(values.feature_groups)))
    monkeypatch.setenv("INGEST_PREFIX", values.ingest_prefix)
    monkeypatch.setenv("INGEST_CONCURRENCY", "2")
    monkeypatch.setenv("INGEST_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("STOP_MARGIN_SECONDS", "30")
    monkeypatch.setenv("METRICS", values.metrics.to_json())
    store = RecordingFeatureStore()
    monkeypatch.setattr(ingest_handler, "_clients", lambda concurrency: clients(store))
    return store


def test_the_handler_ingests_what_an_s3_event_names(handler_env):
    key = f"ingest/{GROUP.name}/day one.csv"
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=csv_text([good_row("c1")]))
    event = {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": BUCKET},
                                                         "object": {"key": key.replace(" ", "+")}}}]}
    (summary,) = ingest_handler.handler(event, Context())["ingested"]
    assert (summary["object"], summary["written"]) == (f"s3://{BUCKET}/{key}", 1)
    assert set(handler_env.written()) == {"c1"}


@pytest.mark.parametrize("key", [
    f"ingest/{GROUP.name}/notes.txt",  # not a format the function reads
    f"ingest/{GROUP.name}/batch.csv.rejected.ndjson",  # a dead-letter object
    "ingest/unknown-group/batch.csv",
    f"elsewhere/{GROUP.name}/batch.csv",
])
def test_the_handler_refuses_objects_it_does_not_ingest(handler_env, key):
    with pytest.raises(UnsupportedObjectError):
        ingest_handler.handler({"bucket": BUCKET, "key": key}, Context())
    assert handler_env.records == []


def test_the_sample_records_ingest_without_a_rejection_and_their_labels_match(tmp_path):
    """automation/feature_samples.py writes what the runbook ingests on a first deploy."""
    from automation import feature_samples, training_set

    paths = feature_samples.write(tmp_path, 300, NOW - dt.timedelta(hours=1))
    store = RecordingFeatureStore()
    summary = run(put(paths["records"].read_bytes()), store)
    assert (summary.read, summary.written, summary.rejected) == (300, 300, 0)
    labels = training_set.read_labels(paths["labels"].read_text(), GROUP.record_identifier)
    assert set(labels) == set(store.written()) and set(labels.values()) == {"0", "1"}


def test_each_object_is_checked_against_the_group_as_deployed_now():
    """A replaced group keeps its name, so the function asks for the definitions per object."""
    moto_sagemaker = boto3.client("sagemaker", region_name=REGION)
    description = moto_sagemaker.describe_feature_group(FeatureGroupName=GROUP_NAME)
    replaced = {**description, "FeatureDefinitions": [*description["FeatureDefinitions"],
                                                      {"FeatureName": "referrals", "FeatureType": "Integral"}]}
    answers = iter([description, replaced])

    class Replacing:
        def describe_feature_group(self, FeatureGroupName):  # noqa: N803 - boto3's parameter name
            assert FeatureGroupName == GROUP_NAME
            return next(answers)

    store = RecordingFeatureStore()
    new_row = good_row("c2", referrals="4")
    with_referrals = csv_text([new_row], FEATURES + ["referrals"])
    replacing = dataclasses.replace(clients(store), sagemaker=Replacing())
    before = ingest_object(put(with_referrals), replacing, settings(), Deadline.never(), now=lambda: NOW)
    after = ingest_object(put(with_referrals), replacing, settings(), Deadline.never(), now=lambda: NOW)
    assert (before.rejected, after.written) == (1, 1)  # unknown column first, a feature after the replacement
    assert store.written()["c2"]["referrals"] == "4"
