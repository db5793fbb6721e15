"""The drift check end to end: capture files written in SageMaker's data capture format to moto S3,
the served version registered in moto SageMaker with its training archives, the handler run as
Lambda runs it, and what it leaves behind read back: metrics from moto CloudWatch and the report
object. Then every way a check cannot compare (no capture, empty window, malformed lines, missing
or unreadable baseline, changed features) as a table: each a logged outcome and a metric, never
an exception and never a drift value.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

import boto3
import numpy as np
import pytest
from drift_support import (
    ARTIFACT_BUCKET,
    CAPTURE_BUCKET,
    CAPTURE_PREFIX,
    ENDPOINT,
    GROUP,
    REGION,
    baseline_document,
    capture_key,
    capture_line,
    metric_settings,
    register_version,
    settings,
    tar_of,
)
from moto import mock_aws

from containers.contracts.features import FEATURE_NAMES
from containers.training import sample_data
from functions.drift import handler as drift_handler
from functions.drift import outcomes
from functions.drift.capture import Captured
from functions.drift.detect import Check, Variant, run, window_prefixes

NOW = dt.datetime(2030, 5, 6, 14, 30, tzinfo=dt.UTC)
BASELINE = json.dumps(baseline_document()).encode()
GOOD_OUTPUT = tar_of({"evaluation.json": b"{}", "baseline.json": BASELINE})


@pytest.fixture(scope="module")
def moto_clients():
    """One mock and its clients for the module (making clients costs most of a test's time);
    every test starts from empty backends (`aws`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        mock = mock_aws()
        mock.start()
        try:
            yield mock, {name: boto3.client(name, region_name=REGION) for name in ("s3", "sagemaker", "cloudwatch")}
        finally:
            mock.stop()


@pytest.fixture
def aws(moto_clients):
    mock, clients = moto_clients
    mock.reset()
    for bucket in (CAPTURE_BUCKET, ARTIFACT_BUCKET):
        clients["s3"].create_bucket(Bucket=bucket)
    clients["sagemaker"].create_model_package_group(ModelPackageGroupName=GROUP)
    return clients


def live_rows(seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Undrifted rows, with the scores of a calibrated model (mean: the training positive rate)."""
    features = sample_data.generate(rows, seed=seed)[1]
    rate = json.loads(BASELINE)["positive_rate"]
    return features.astype(float), np.random.default_rng(seed).beta(4 * rate, 4 * (1 - rate), rows)


def write_capture(s3: Any, features: np.ndarray, scores: np.ndarray | None, *, variant: str = "champion",
                  at: dt.datetime = NOW - dt.timedelta(hours=1), per_request: int = 10, extra_lines: tuple[str, ...] = (),
                  **line_options: Any) -> None:
    """Requests of `per_request` rows each, split over two files of the same hour."""
    lines = [capture_line(features[i:i + per_request], None if scores is None else scores[i:i + per_request].tolist(),
                          at, **line_options) for i in range(0, len(features), per_request)]
    lines += list(extra_lines)
    half = len(lines) // 2
    for name, part in (("a", lines[:half]), ("b", lines[half:])):
        s3.put_object(Bucket=CAPTURE_BUCKET, Key=capture_key(variant, at, name), Body="\n".join(part).encode() + b"\n")


def check_for(arn: str, variants: tuple[str, ...] = ("champion",)) -> Check:
    return Check("churn", ENDPOINT, f"s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}", tuple(Variant(v, arn) for v in variants))


def published(cloudwatch: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every MLOpsPlatform value moto holds, by (metric name, sorted dimensions)."""
    values = {}
    for metric in cloudwatch.list_metrics(Namespace="MLOpsPlatform")["Metrics"]:
        dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"]))
        stats = cloudwatch.get_metric_statistics(Namespace="MLOpsPlatform", MetricName=metric["MetricName"],
                                                 Dimensions=metric["Dimensions"], StartTime=NOW - dt.timedelta(hours=1),
                                                 EndTime=NOW + dt.timedelta(hours=1), Period=3600, Statistics=["Sum"])
        values[(metric["MetricName"], dimensions)] = sum(p["Sum"] for p in stats["Datapoints"])
    return values


def report_of(s3: Any) -> dict[str, Any]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=CAPTURE_BUCKET, Prefix="drift-reports/")["Contents"]]
    assert len(keys) == 1
    return json.loads(s3.get_object(Bucket=CAPTURE_BUCKET, Key=keys[0])["Body"].read())


# --- End to end -------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [{}, {"encoding": "BASE64"}, {"content_type": "application/json"},
                                     {"content_type": "application/json", "encoding": "BASE64"}],
                         ids=["csv", "csv-base64", "json", "json-base64"])
def test_undrifted_traffic_publishes_scores_and_no_drift(aws, options):
    arn = register_version(aws["sagemaker"], aws["s3"], output_archive=GOOD_OUTPUT, model_archive=None)
    write_capture(aws["s3"], *live_rows(7, 2000), **options)
    report = run(check_for(arn), aws, settings(), NOW)

    assert report["drift_detected"] is False
    variant = report["variants"][0]
    assert (variant["outcome"], variant["rows"], variant["malformed"]) == (outcomes.CHECKED, 2000, 0)
    assert variant["baseline"] == f"s3://{ARTIFACT_BUCKET}/churn/training/mlops-platform-dev-churn-0123456789abcdef0123456789abcdef/output/output.tar.gz"
    values = published(aws["cloudwatch"])
    assert values[("DataDriftDetected", (("Model", "churn"),))] == 0
    assert values[("DriftChecks", (("Model", "churn"), ("Outcome", "checked")))] == 1
    assert values[("CapturedRows", (("Model", "churn"), ("Variant", "champion")))] == 2000
    assert values[("DriftedFeatures", (("Model", "churn"), ("Variant", "champion")))] == 0
    assert {dict(dims)["Feature"] for name, dims in values if name == "FeatureDriftPSI"} == set(FEATURE_NAMES)
    assert ("MeanPredictedProbability", (("Model", "churn"), ("Variant", "champion"))) in values
    assert report_of(aws["s3"]) == {k: v for k, v in report.items() if k != "report"}


def test_a_drifted_feature_raises_the_models_drift_metric_and_is_named_in_the_report(aws):
    arn = register_version(aws["sagemaker"], aws["s3"], output_archive=GOOD_OUTPUT, model_archive=None)
    features, scores = live_rows(8, 2000)
    features[:, FEATURE_NAMES.index("monthly_charges")] += 25.0
    write_capture(aws["s3"], features, scores)
    report = run(check_for(arn), aws, settings(), NOW)

    assert report["drift_detected"] is True
    assert report["variants"][0]["drifted_features"] == ["monthly_charges"]
    values = published(aws["cloudwatch"])
    assert values[("DataDriftDetected", (("Model", "churn"),))] == 1
    psi = values[("FeatureDriftPSI", (("Feature", "monthly_charges"), ("Model", "churn"), ("Variant", "champion")))]
    assert psi >= report["psi_threshold"]


def test_the_handler_runs_as_lambda_runs_it(aws, monkeypatch):
    for name, value in metric_settings().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(drift_handler, "_clients", lambda: aws)
    arn = register_version(aws["sagemaker"], aws["s3"], output_archive=GOOD_OUTPUT, model_archive=None)
    write_capture(aws["s3"], *live_rows(9, 500), at=dt.datetime.now(dt.UTC))
    event = {"model": "churn", "endpoint": ENDPOINT, "capture_uri": f"s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}/",
             "variants": [{"name": "champion", "model_package_arn": arn}]}
    answer = drift_handler.handler(event, None)
    assert answer["outcomes"] == {"champion": outcomes.CHECKED} and answer["drift_detected"] is False
    assert answer["report"].startswith(f"s3://{CAPTURE_BUCKET}/drift-reports/churn/")


def test_each_variant_is_compared_with_its_own_versions_baseline(aws):
    """A challenger whose version was trained on other data: its traffic drifts from its own
    baseline only if it differs from that baseline."""
    champion = register_version(aws["sagemaker"], aws["s3"], output_archive=GOOD_OUTPUT, model_archive=None)
    shifted = baseline_document()
    shifted["features"]["days_since_last_login"]["histogram"]["counts"] = list(
        reversed(shifted["features"]["days_since_last_login"]["histogram"]["counts"]))
    challenger = register_version(aws["sagemaker"], aws["s3"], model_archive=None, job="mlops-platform-dev-churn-ffff",
                                  output_archive=tar_of({"baseline.json": json.dumps(shifted).encode()}))
    for variant in ("champion", "challenger"):
        write_capture(aws["s3"], *live_rows(10, 1500), variant=variant)
    check = Check("churn", ENDPOINT, f"s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}",
                  (Variant("champion", champion), Variant("challenger", challenger)))
    report = run(check, aws, settings(), NOW)
    assert {v["variant"]: v["drifted_features"] for v in report["variants"]} == {
        "champion": [], "challenger": ["days_since_last_login"]}
    assert published(aws["cloudwatch"])[("DataDriftDetected", (("Model", "churn"),))] == 1


# --- Every way a check cannot compare --------------------------------------------------------

def setup_no_capture(aws: dict[str, Any]) -> str:
    return register_version(aws["sagemaker"], aws["s3"], output_archive=GOOD_OUTPUT, model_archive=None)


def setup_empty_window(aws: dict[str, Any]) -> str:
    write_capture(aws["s3"], *live_rows(1, 300), at=NOW - dt.timedelta(days=3))
    return setup_no_capture(aws)


def setup_insufficient(aws: dict[str, Any]) -> str:
    write_capture(aws["s3"], *live_rows(1, 40))
    return setup_no_capture(aws)


def setup_baseline_not_registered(aws: dict[str, Any]) -> str:
    write_capture(aws["s3"], *live_rows(1, 300))
    return f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/99"


def setup_archives_missing(aws: dict[str, Any]) -> str:
    write_capture(aws["s3"], *live_rows(1, 300))
    return register_version(aws["sagemaker"], aws["s3"], output_archive=None, model_archive=None)


def setup_archive_without_baseline(aws: dict[str, Any]) -> str:
    write_capture(aws["s3"], *live_rows(1, 300))
    return register_version(aws["sagemaker"], aws["s3"], output_archive=tar_of({"evaluation.json": b"{}"}),
                            model_archive=tar_of({"xgboost-model.json": b"{}"}))


def unreadable(archive: bytes) -> Callable[[dict[str, Any]], str]:
    def setup(aws: dict[str, Any]) -> str:
        write_capture(aws["s3"], *live_rows(1, 300))
        return register_version(aws["sagemaker"], aws["s3"], output_archive=archive, model_archive=None)
    return setup


def with_document(change: Callable[[dict[str, Any]], None]) -> bytes:
    document = baseline_document()
    change(document)
    return tar_of({"baseline.json": json.dumps(document).encode()})


def setup_features_changed(aws: dict[str, Any]) -> str:
    features, scores = live_rows(1, 300)
    write_capture(aws["s3"], np.hstack([features, np.ones((300, 1))]), scores)
    return setup_no_capture(aws)


OUTCOME_CASES = [
    ("no capture yet", setup_no_capture, outcomes.NO_CAPTURE),
    ("nothing in the window", setup_empty_window, outcomes.EMPTY_WINDOW),
    ("too few rows", setup_insufficient, outcomes.INSUFFICIENT_DATA),
    ("version not registered", setup_baseline_not_registered, outcomes.BASELINE_MISSING),
    ("archives deleted", setup_archives_missing, outcomes.BASELINE_MISSING),
    ("no baseline.json in the archives", setup_archive_without_baseline, outcomes.BASELINE_MISSING),
    ("archive is not a tar", unreadable(b"not a tar archive"), outcomes.BASELINE_UNREADABLE),
    ("baseline is not JSON", unreadable(tar_of({"baseline.json": b"{not json"})), outcomes.BASELINE_UNREADABLE),
    ("another format version", unreadable(with_document(lambda d: d.update(format_version=2))), outcomes.BASELINE_UNREADABLE),
    ("bins that do not add up", unreadable(with_document(
        lambda d: d["features"]["tenure_months"]["histogram"]["counts"].append(0.5))), outcomes.BASELINE_UNREADABLE),
    ("a feature without its entry", unreadable(with_document(lambda d: d["features"].pop("tenure_months"))),
     outcomes.BASELINE_UNREADABLE),
    ("features changed", setup_features_changed, outcomes.FEATURES_CHANGED),
]


@pytest.mark.parametrize("setup, outcome", [(s, o) for _, s, o in OUTCOME_CASES], ids=[c[0] for c in OUTCOME_CASES])
def test_a_check_that_cannot_compare_logs_and_counts_its_outcome_and_never_reports_drift(aws, caplog, setup, outcome):
    arn = setup(aws)
    with caplog.at_level(logging.INFO, logger="functions.drift.detect"):
        report = run(check_for(arn), aws, settings(), NOW)

    variant = report["variants"][0]
    assert (variant["outcome"], variant["drifted"], report["drift_detected"]) == (outcome, None, None)
    assert variant["reason"]
    values = published(aws["cloudwatch"])
    assert values[("DriftChecks", (("Model", "churn"), ("Outcome", outcome)))] == 1
    assert not [key for key in values if key[0] in ("DataDriftDetected", "FeatureDriftPSI", "DriftedFeatures")]
    logged = [json.loads(r.getMessage()) for r in caplog.records]
    assert logged == [{"model": "churn", "variant": "champion", "outcome": outcome, "reason": variant["reason"],
                       "rows": variant["rows"], "malformed": variant["malformed"], "drifted": []}]
    assert report_of(aws["s3"])["variants"][0]["outcome"] == outcome


def test_malformed_lines_are_counted_and_the_rest_is_compared(aws):
    arn = register_version(aws["sagemaker"], aws["s3"], output_archive=GOOD_OUTPUT, model_archive=None)
    bad = ("not json", '{"captureData": {}}', json.dumps({"captureData": {"endpointInput": {
        "observedContentType": "text/csv", "mode": "INPUT", "data": "1,2,x,4,5,6,7,8,9", "encoding": "CSV"}}}))
    write_capture(aws["s3"], *live_rows(11, 1000), extra_lines=bad)
    report = run(check_for(arn), aws, settings(), NOW)
    variant = report["variants"][0]
    assert (variant["outcome"], variant["rows"], variant["malformed"], variant["drifted"]) == (outcomes.CHECKED, 1000, 3, False)
    assert published(aws["cloudwatch"])[("MalformedCaptureRecords", (("Model", "churn"), ("Variant", "champion")))] == 3


def test_the_window_covers_the_hours_sagemaker_writes_into():
    prefixes = window_prefixes("s3://b/datacapture/", "ep", "champion", NOW, 2)
    assert prefixes == ["datacapture/ep/champion/2030/05/06/12/", "datacapture/ep/champion/2030/05/06/13/",
                        "datacapture/ep/champion/2030/05/06/14/"]
    assert window_prefixes("s3://b", "ep", "v", NOW, 0) == ["ep/v/2030/05/06/14/"]


# --- Capture lines, one by one -----------------------------------------------------------------

ROW = "12,70.5,846.0,2,0,3,1,1,14"


def line(input_part: dict[str, Any], output_part: dict[str, Any] | None = None) -> str:
    capture = {"endpointInput": input_part, **({"endpointOutput": output_part} if output_part else {})}
    return json.dumps({"captureData": capture, "eventMetadata": {"eventId": "e", "inferenceTime": "2030-01-01T00:00:00Z"},
                       "eventVersion": "0"})


def part(data: str, content_type: str = "text/csv", encoding: str = "CSV", mode: str = "INPUT") -> dict[str, str]:
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


MALFORMED_LINES = [
    ("not JSON", "{"),
    ("no captureData", json.dumps({"eventMetadata": {}})),
    ("no endpointInput", json.dumps({"captureData": {}})),
    ("unknown encoding", line(part(ROW, encoding="GZIP"))),
    ("BASE64 that does not decode", line(part("%%%", encoding="BASE64"))),
    ("unsupported content type", line(part(ROW, content_type="image/png"))),
    ("a value that is not a number", line(part("12,abc,846.0,2,0,3,1,1,14"))),
    ("an infinite value", line(part("12,inf,846.0,2,0,3,1,1,14"))),
    ("empty data", line(part(""))),
    ("JSON of the wrong shape", line(part(json.dumps({"rows": [[1]]}), content_type="application/json", encoding="JSON"))),
    ("data that is not text", json.dumps({"captureData": {"endpointInput": {"observedContentType": "text/csv",
                                                                            "data": 5, "encoding": "CSV"}}})),
]


@pytest.mark.parametrize("text", [t for _, t in MALFORMED_LINES], ids=[n for n, _ in MALFORMED_LINES])
def test_a_malformed_line_is_counted_never_raised(text):
    captured = Captured(9)
    captured.add_lines([text, line(part(ROW))])
    assert (captured.records, captured.malformed, len(captured.rows)) == (2, 1, 1)


@pytest.mark.parametrize("output, scores, unreadable_outputs", [
    (part("0.25\n", mode="OUTPUT"), [0.25], 0),
    (part('{"predictions": [{"score": 0.5, "predicted_label": 1}]}', "application/json", "JSON", "OUTPUT"), [0.5], 0),
    (part("0.25\n0.5\n", mode="OUTPUT"), [], 1),  # two scores for one row
    (part("1.5\n", mode="OUTPUT"), [], 1),  # not a probability
    (part("nan\n", mode="OUTPUT"), [], 1),
    (part("oops", "text/html", mode="OUTPUT"), [], 1),
    (None, [], 0),  # capture of requests only
])
def test_answers_that_cannot_be_read_lose_their_scores_but_keep_their_rows(output, scores, unreadable_outputs):
    captured = Captured(9)
    captured.add_lines([line(part(ROW), output)])
    assert (len(captured.rows), captured.scores, captured.unreadable_outputs, captured.malformed) == (
        1, scores, unreadable_outputs, 0)


def test_rows_of_another_width_are_counted_apart_from_other_malformed_lines():
    captured = Captured(9)
    captured.add_lines([line(part(ROW + ",7\n" + ROW + ",8")), line(part(ROW))])
    assert (captured.malformed, captured.other_width_rows, len(captured.rows)) == (1, 2, 1)


def test_json_requests_in_every_shape_the_inference_container_takes():
    values = [12, 70.5, 846.0, 2, 0, 3, 1, None, 14]
    captured = Captured(9)
    for body in (values, [values, values], {"instances": [values]}, {"instances": values}):
        captured.add_lines([line(part(json.dumps(body), "application/json", "JSON"))])
    assert captured.malformed == 0 and len(captured.rows) == 5
    assert np.isnan(captured.features()[:, 7]).all()
