"""Each feature group's freshness: the age of the newest event time ingestion wrote to it.

Ingestion publishes the newest event time it wrote (`NewestIngestedEventTime`, Unix seconds, one
value per ingested object); its Maximum over the look-back window is the newest event any
ingestion wrote, whatever the order ingestions finished in. On each run this function publishes
`FeatureFreshnessSeconds` = now - that time, per group (dimension: the feature group's name).
A group with nothing ingested within the window gets no value: its freshness alarm treats
missing data as breaching, so "never ingested" and "ingestion stopped" both alarm.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.shared.metrics import MetricNames, datum, publish

# Keys of components/metrics_catalogue.py (the program passes their names).
NEWEST_EVENT_TIME = "feature_store.newest_ingested_event_time"
FRESHNESS = "feature_store.freshness_seconds"
METRIC_KEYS = (NEWEST_EVENT_TIME, FRESHNESS)


@dataclass(frozen=True)
class Settings:
    feature_groups: Sequence[str]  # the feature groups' names
    lookback_seconds: int  # a multiple of 3600: GetMetricStatistics' rule for data older than 63 days
    metrics: MetricNames

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        return cls(feature_groups=json.loads(env["FEATURE_GROUPS"]), lookback_seconds=int(env["LOOKBACK_SECONDS"]),
                   metrics=MetricNames.from_json(env["METRICS"]))


def newest_event_time(cloudwatch: Any, settings: Settings, group: str, now: dt.datetime) -> dt.datetime | None:
    """The newest event time ingested into `group` within the look-back window, or None."""
    names = settings.metrics
    # EndTime is exclusive; a minute ahead also takes in a value published this very second.
    end = now + dt.timedelta(minutes=1)
    answer = cloudwatch.get_metric_statistics(
        Namespace=names.namespace, MetricName=names.names[NEWEST_EVENT_TIME],
        Dimensions=[{"Name": names.dimension, "Value": group}],
        StartTime=end - dt.timedelta(seconds=settings.lookback_seconds), EndTime=end,
        # One period spanning the window: one datapoint, whatever the metric's resolution.
        Period=settings.lookback_seconds, Statistics=["Maximum"])
    points = [p["Maximum"] for p in answer.get("Datapoints", [])]
    return dt.datetime.fromtimestamp(max(points), dt.UTC) if points else None


def measure(cloudwatch: Any, settings: Settings, now: dt.datetime) -> dict[str, float | None]:
    """Every group's freshness in seconds (None: nothing ingested in the window), published."""
    ages: dict[str, float | None] = {}
    for group in settings.feature_groups:
        newest = newest_event_time(cloudwatch, settings, group, now)
        # An event time a little ahead of this clock (ingestion allows a few minutes) is fresh.
        ages[group] = None if newest is None else max(0.0, (now - newest).total_seconds())
    data = [datum(settings.metrics, FRESHNESS, group, age, "Seconds", now) for group, age in ages.items() if age is not None]
    publish(cloudwatch, settings.metrics.namespace, data)
    return ages
