"""One drift check of one endpoint: every variant's captured window against its model version's
training baseline, then metrics and a report.

Each variant is checked on its own: variants may serve different versions, each with its own
baseline, and SageMaker captures each under its own prefix. The outcome of every variant is
logged, counted (`drift.checks` by outcome) and written to the report; only `checked` variants
publish drift scores, and the model's `drift.detected` (1 when any variant drifted, else 0) is
published only when at least one variant was checked. So no capture, an empty window, a missing or
unreadable baseline or changed features never raise the drift alarm: it sees no value, and
treats missing data as not breaching (components/drift.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import numpy as np
from botocore.exceptions import ClientError

from functions.drift import baseline as baselines
from functions.drift import outcomes, statistics
from functions.drift.capture import Captured

logger = logging.getLogger(__name__)
PUT_METRIC_BATCH = 20  # what PutMetricData took per call for years; fine with every limit since


@dataclass(frozen=True)
class MetricSpec:
    """One catalogue entry, as the program passes it."""

    namespace: str
    name: str
    dimensions: tuple[str, ...]
    unit: str


@dataclass(frozen=True)
class Settings:
    window_hours: int
    report_bucket: str
    report_prefix: str
    metrics: Mapping[str, MetricSpec]  # outcomes.METRIC_KEYS -> entry

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        raw = json.loads(env["METRICS"])
        metrics = {key: MetricSpec(m["namespace"], m["name"], tuple(m["dimensions"]), m["unit"]) for key, m in raw.items()}
        missing = set(outcomes.METRIC_KEYS) - set(metrics)
        if missing:
            raise ValueError(f"METRICS lacks {sorted(missing)}")
        return cls(int(env["WINDOW_HOURS"]), env["REPORT_BUCKET"], env["REPORT_PREFIX"].strip("/"), metrics)


@dataclass(frozen=True)
class Variant:
    name: str
    model_package_arn: str  # the registered version it serves


@dataclass(frozen=True)
class Check:
    """What the schedule asks for (its input, set by components/drift.py)."""

    model: str
    endpoint: str
    capture_uri: str  # the endpoint config's DataCaptureConfig.DestinationS3Uri
    variants: tuple[Variant, ...]

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Check:
        try:
            variants = tuple(Variant(v["name"], v["model_package_arn"]) for v in event["variants"])
            return cls(event["model"], event["endpoint"], event["capture_uri"].rstrip("/"), variants)
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a drift check: {event!r} ({type(error).__name__} {error})") from None


@dataclass
class VariantResult:
    variant: str
    model_package_arn: str
    outcome: str
    reason: str = ""
    baseline: str | None = None
    files: int = 0
    records: int = 0
    rows: int = 0
    malformed: int = 0
    unreadable_outputs: int = 0
    other_width_rows: int = 0
    tests: list[statistics.TestResult] = field(default_factory=list)
    mean_prediction: float | None = None
    positive_rate: float | None = None

    @property
    def drifted(self) -> bool:
        return any(test.drifted for test in self.tests)

    def as_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in vars(self).items() if key != "tests"}
        data["drifted"] = self.drifted if self.outcome == outcomes.CHECKED else None
        data["drifted_features"] = [t.name for t in self.tests if t.drifted and t.name != "prediction"]
        data["tests"] = [test.as_dict() for test in self.tests]
        return data


def variant_prefix(capture_uri: str, endpoint: str, variant: str) -> str:
    """`<path>/<endpoint>/<variant>/`: where SageMaker captures one variant's requests."""
    path = urlparse(capture_uri).path.strip("/")
    return f"{path}/{endpoint}/{variant}/" if path else f"{endpoint}/{variant}/"


def window_prefixes(capture_uri: str, endpoint: str, variant: str, now: dt.datetime, hours: int) -> list[str]:
    """The hourly key prefixes `<variant prefix>yyyy/mm/dd/hh/` of the window, oldest first; the
    current hour, still being written, is the last."""
    base = variant_prefix(capture_uri, endpoint, variant)
    end = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return [f"{base}{end - dt.timedelta(hours=back):%Y/%m/%d/%H}/" for back in range(hours, -1, -1)]


def _keys(s3: Any, bucket: str, prefix: str, max_keys: int | None = None) -> Iterator[str]:
    args = {"Bucket": bucket, "Prefix": prefix, **({"PaginationConfig": {"MaxItems": max_keys}} if max_keys else {})}
    for page in s3.get_paginator("list_objects_v2").paginate(**args):
        for item in page.get("Contents", []):
            yield item["Key"]


def read_window(s3: Any, check: Check, variant: Variant, width: int, now: dt.datetime, hours: int) -> tuple[Captured, int]:
    """The variant's capture lines within the window, and how many files held them."""
    bucket = urlparse(check.capture_uri).netloc
    captured, files = Captured(width), 0
    for prefix in window_prefixes(check.capture_uri, check.endpoint, variant.name, now, hours):
        for key in _keys(s3, bucket, prefix):
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as error:  # removed by a lifecycle rule between listing and reading
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    continue
                raise
            files += 1
            captured.add_lines(body.splitlines())
    return captured, files


def ever_captured(s3: Any, check: Check, variant: Variant) -> bool:
    prefix = variant_prefix(check.capture_uri, check.endpoint, variant.name)
    return next(_keys(s3, urlparse(check.capture_uri).netloc, prefix, 1), None) is not None


def compare(baseline: baselines.Baseline, captured: Captured) -> tuple[list[statistics.TestResult], float | None]:
    """Every feature's test, the predictions' (when the answers were captured), corrected together."""
    matrix = captured.features()
    results = [statistics.feature_test(name, baseline.histograms[name], matrix[:, column])
               for column, name in enumerate(baseline.feature_names) if name in baseline.histograms]
    mean = None
    if captured.scores:
        scores = np.asarray(captured.scores, dtype=float)
        mean = float(scores.mean())
        results.append(statistics.prediction_test(scores, baseline.positive_rate, baseline.row_count))
    return statistics.decide(results), mean


def check_variant(clients: Mapping[str, Any], check: Check, variant: Variant, now: dt.datetime,
                  hours: int) -> VariantResult:
    result = VariantResult(variant.name, variant.model_package_arn, outcomes.CHECKED)
    try:
        baseline = baselines.load(clients["sagemaker"], clients["s3"], variant.model_package_arn)
    except baselines.BaselineMissingError as reason:
        result.outcome, result.reason = outcomes.BASELINE_MISSING, str(reason)
        return result
    except baselines.BaselineUnreadableError as reason:
        result.outcome, result.reason = outcomes.BASELINE_UNREADABLE, str(reason)
        return result
    result.baseline, result.positive_rate = baseline.source, baseline.positive_rate
    captured, result.files = read_window(clients["s3"], check, variant, len(baseline.feature_names), now, hours)
    result.records, result.rows, result.malformed = captured.records, len(captured.rows), captured.malformed
    result.unreadable_outputs, result.other_width_rows = captured.unreadable_outputs, captured.other_width_rows
    result.outcome, result.reason = _outcome_of(clients["s3"], check, variant, captured, result.files, baseline)
    if result.outcome == outcomes.CHECKED:
        result.tests, result.mean_prediction = compare(baseline, captured)
    return result


def _outcome_of(s3: Any, check: Check, variant: Variant, captured: Captured, files: int,
                baseline: baselines.Baseline) -> tuple[str, str]:
    width = len(baseline.feature_names)
    if captured.other_width_rows and captured.other_width_rows >= len(captured.rows):
        return outcomes.FEATURES_CHANGED, (f"{captured.other_width_rows} captured rows do not have the baseline's "
                                           f"{width} features ({', '.join(baseline.feature_names)})")
    if files == 0:
        if ever_captured(s3, check, variant):
            return outcomes.EMPTY_WINDOW, "nothing was captured within the window"
        return outcomes.NO_CAPTURE, "the variant has never captured a request"
    if len(captured.rows) < outcomes.MIN_ROWS:
        return outcomes.INSUFFICIENT_DATA, f"{len(captured.rows)} readable rows, fewer than {outcomes.MIN_ROWS}"
    return outcomes.CHECKED, ""


class Publisher:
    """Metric data for one check, in the catalogue's names, sent in batches."""

    def __init__(self, settings: Settings, now: dt.datetime):
        self.settings, self.now = settings, now
        self.data: dict[str, list[dict[str, Any]]] = {}

    def add(self, key: str, value: float, **dimensions: str) -> None:
        spec = self.settings.metrics[key]
        if set(dimensions) != set(spec.dimensions):
            raise ValueError(f"{key} takes {spec.dimensions}, got {sorted(dimensions)}")
        self.data.setdefault(spec.namespace, []).append({
            "MetricName": spec.name, "Timestamp": self.now, "Value": float(value), "Unit": spec.unit,
            "Dimensions": [{"Name": name, "Value": dimensions[name]} for name in spec.dimensions]})

    def send(self, cloudwatch: Any) -> None:
        for namespace, data in self.data.items():
            for start in range(0, len(data), PUT_METRIC_BATCH):
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start:start + PUT_METRIC_BATCH])


def metrics_of(publisher: Publisher, model: str, results: Sequence[VariantResult]) -> None:
    for result in results:
        publisher.add(outcomes.CHECKS, 1, Model=model, Outcome=result.outcome)
        if result.baseline is None:
            continue
        publisher.add(outcomes.ROWS, result.rows, Model=model, Variant=result.variant)
        publisher.add(outcomes.MALFORMED, result.malformed, Model=model, Variant=result.variant)
        if result.outcome != outcomes.CHECKED:
            continue
        publisher.add(outcomes.DRIFTED_FEATURES, sum(t.drifted for t in result.tests if t.name != "prediction"),
                      Model=model, Variant=result.variant)
        for test in result.tests:
            if test.name != "prediction":
                publisher.add(outcomes.FEATURE_SCORE, test.effect, Model=model, Variant=result.variant, Feature=test.name)
        if result.mean_prediction is not None:
            publisher.add(outcomes.MEAN_PREDICTION, result.mean_prediction, Model=model, Variant=result.variant)
            publisher.add(outcomes.BASELINE_POSITIVE_RATE, result.positive_rate or 0.0, Model=model, Variant=result.variant)
    checked = [r for r in results if r.outcome == outcomes.CHECKED]
    if checked:
        publisher.add(outcomes.DETECTED, int(any(r.drifted for r in checked)), Model=model)


def report_key(settings: Settings, check: Check, now: dt.datetime) -> str:
    return f"{settings.report_prefix}/{check.model}/{now:%Y/%m/%d}/{now:%Y%m%dT%H%M%SZ}-{check.endpoint}.json"


def run(check: Check, clients: Mapping[str, Any], settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """Check every variant, publish the metrics, write the report; returns the report."""
    results = [check_variant(clients, check, variant, now, settings.window_hours) for variant in check.variants]
    checked = [r for r in results if r.outcome == outcomes.CHECKED]
    report = {
        "model": check.model, "endpoint": check.endpoint, "checked_at": now.isoformat(),
        "window_hours": settings.window_hours, "capture_uri": check.capture_uri,
        "drift_detected": any(r.drifted for r in checked) if checked else None,
        "false_discovery_rate": statistics.FALSE_DISCOVERY_RATE, "psi_threshold": statistics.PSI_THRESHOLD,
        "prediction_shift_threshold": statistics.PREDICTION_SHIFT_THRESHOLD,
        "variants": [result.as_dict() for result in results],
    }
    key = report_key(settings, check, now)
    clients["s3"].put_object(Bucket=settings.report_bucket, Key=key, Body=json.dumps(report, indent=2).encode(),
                             ContentType="application/json")
    report["report"] = f"s3://{settings.report_bucket}/{key}"
    publisher = Publisher(settings, now)
    metrics_of(publisher, check.model, results)
    publisher.send(clients["cloudwatch"])
    for result in results:
        logger.info(json.dumps({"model": check.model, "variant": result.variant, "outcome": result.outcome,
                                "reason": result.reason, "rows": result.rows, "malformed": result.malformed,
                                "drifted": [t.name for t in result.tests if t.drifted]}))
    return report
