"""Feature freshness (functions/feature_freshness) against moto's CloudWatch: the newest event
time ingestion published, turned into FeatureFreshnessSeconds per group, as the alarm reads it."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from moto import mock_aws

from functions.feature_freshness import freshness
from functions.feature_freshness import handler as freshness_handler
from functions.feature_ingest import ingest
from functions.shared.deadline import Deadline
from functions.shared.events import S3Object
from functions.shared.metrics import datum, publish
from tests.functions.feature_support import (
    BUCKET,
    GROUP,
    GROUP_NAME,
    REGION,
    RecordingFeatureStore,
    clients,
    create_group_in_moto,
    csv_text,
    freshness_settings,
    good_row,
    settings,
)

NOW = dt.datetime(2024, 6, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def published_newest(cloudwatch, *event_times: dt.datetime, group: str = GROUP_NAME, at: dt.datetime = NOW) -> None:
    """What ingestion publishes after each object (functions/feature_ingest/ingest.py)."""
    names = settings().metrics
    publish(cloudwatch, names.namespace,
            [datum(names, ingest.NEWEST_EVENT_TIME, group, t.timestamp(), "None", at) for t in event_times])


def freshness_points(cloudwatch, group: str = GROUP_NAME) -> list[dict]:
    names = freshness_settings().metrics
    return cloudwatch.get_metric_statistics(
        Namespace=names.namespace, MetricName=names.names[freshness.FRESHNESS],
        Dimensions=[{"Name": names.dimension, "Value": group}], StartTime=NOW - dt.timedelta(days=1),
        EndTime=NOW + dt.timedelta(days=1), Period=60, Statistics=["Maximum"], Unit="Seconds")["Datapoints"]


def test_freshness_is_the_age_of_the_newest_event_time_whatever_order_ingestions_ended_in(aws):
    newest = NOW - dt.timedelta(hours=3)
    # Three ingestions; the last to finish carried older events than the one before it.
    published_newest(aws, NOW - dt.timedelta(hours=9), newest, NOW - dt.timedelta(hours=5), at=NOW - dt.timedelta(hours=1))
    ages = freshness.measure(aws, freshness_settings(), NOW)
    assert ages == {GROUP_NAME: 3 * 3600.0}
    (point,) = freshness_points(aws)
    assert (point["Maximum"], point["Unit"]) == (3 * 3600.0, "Seconds")


def test_a_group_with_nothing_ingested_in_the_window_gets_no_value_so_its_alarm_breaches(aws):
    published_newest(aws, NOW - dt.timedelta(days=20), at=NOW - dt.timedelta(days=20))  # before the 14-day window
    assert freshness.measure(aws, freshness_settings(), NOW) == {GROUP_NAME: None}
    assert freshness_points(aws) == []


def test_groups_are_measured_separately(aws):
    other = "mlops-platform-dev-other-group"
    published_newest(aws, NOW - dt.timedelta(minutes=10))
    published_newest(aws, NOW - dt.timedelta(days=2), group=other)
    values = freshness.Settings(feature_groups=[GROUP_NAME, other], lookback_seconds=14 * 24 * 3600,
                                metrics=freshness_settings().metrics)
    assert freshness.measure(aws, values, NOW) == {GROUP_NAME: 600.0, other: 2 * 86400.0}
    assert [p["Maximum"] for p in freshness_points(aws, other)] == [2 * 86400.0]


def test_an_event_time_a_little_ahead_of_this_clock_counts_as_fresh(aws):
    published_newest(aws, NOW + dt.timedelta(minutes=2))
    assert freshness.measure(aws, freshness_settings(), NOW) == {GROUP_NAME: 0.0}


def test_after_an_ingestion_freshness_measures_its_newest_written_row(aws):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    create_group_in_moto()
    key = f"ingest/{GROUP.name}/batch.csv"
    rows = [good_row("c1", event_time="2024-06-02T08:00:00Z"), good_row("c2", event_time="2024-06-02T09:30:00Z"),
            good_row("c3", event_time="2024-06-02T11:00:00Z", tenure_months="x")]  # rejected: not counted
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=csv_text(rows))
    ingest.ingest_object(S3Object(BUCKET, key), clients(RecordingFeatureStore()), settings(), Deadline.never(),
                         now=lambda: NOW)
    assert freshness.measure(aws, freshness_settings(), NOW + dt.timedelta(minutes=30)) == {GROUP_NAME: 3 * 3600.0}


def test_the_handler_reads_its_settings_from_the_environment(aws, monkeypatch):
    values = freshness_settings()
    monkeypatch.setenv("FEATURE_GROUPS", f'["{GROUP_NAME}"]')
    monkeypatch.setenv("LOOKBACK_SECONDS", str(values.lookback_seconds))
    monkeypatch.setenv("METRICS", values.metrics.to_json())
    monkeypatch.setattr(freshness_handler, "_cloudwatch", lambda: aws)
    published_newest(aws, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), at=dt.datetime.now(dt.UTC))
    ages = freshness_handler.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)["freshness_seconds"]
    assert 3500 < ages[GROUP_NAME] < 3700
