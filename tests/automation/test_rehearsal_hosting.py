"""The rehearsal's emulated SageMaker hosting (automation/rehearsal/hosting.py), run for real: the
project's inference server as local processes on a model trained here, moto's S3 and CloudWatch,
and the drift check's own capture reader (functions/drift/capture.py) reading what it wrote.

Two endpoints are shared by most tests to keep the module fast: `capturing` (one variant, every
request captured) and `split` (two variants, weights set per test). Tests on a shared endpoint
isolate what they read by the clock: each sets its own day, so its captures and metric data land
in their own hour folders and time windows.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import importlib.util
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from automation.rehearsal import moto_fixes
from automation.rehearsal.hosting import (
    CaptureSettings,
    Endpoint,
    HostingError,
    VariantModel,
    capture_line,
)
from containers.contracts.features import FEATURES
from containers.training import local_run, sample_data
from functions.drift.capture import Captured
from functions.drift.detect import window_prefixes

REGION = "us-east-1"
BUCKET = "capture-bucket"
PREFIX = "capture"
CSV, JSON = "text/csv", "application/json"
ROWS = sample_data.generate(40, seed=11)[1].astype(float)
ROWS[1, 7] = np.nan  # a missing value: an empty CSV cell, a JSON null


# --------------------------------------------------------------------------- helpers

def day(number: int, hour: int = 7, minute: int = 8, second: int = 9) -> dt.datetime:
    return dt.datetime(2024, 5, number, hour, minute, second, 123000, tzinfo=dt.UTC)


class Clock:
    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


class Weights:
    """The weights callable the rehearsal passes (it reads moto's DescribeEndpoint); counts its calls."""

    def __init__(self, **values: float):
        self.values, self.calls, self.failure = dict(values), 0, None

    def __call__(self) -> dict[str, float]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return dict(self.values)


def csv_body(rows: np.ndarray) -> bytes:
    return "".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n" for row in rows).encode()


def json_rows(rows: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in row] for row in rows]


def answered_scores(body: bytes, content_type: str) -> list[float]:
    """The probabilities in an answer, read independently of the capture reader."""
    if content_type.startswith(JSON):
        return [prediction["score"] for prediction in json.loads(body)["predictions"]]
    return [float(line) for line in body.decode().splitlines() if line.strip()]


def keys_under(s3: Any, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def lines_under(s3: Any, prefix: str) -> list[str]:
    return [line for key in keys_under(s3, prefix) for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()]


def day_prefix(endpoint: str, variant: str, at: dt.datetime) -> str:
    return f"{PREFIX}/{endpoint}/{variant}/{at:%Y/%m/%d}/"


def session_members(session: int) -> list[int]:
    """Live (not zombie) processes of a session, from /proc: the server and every process it started."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def statistic(cloudwatch: Any, endpoint: str, variant: str, metric: str, stat: str, at: dt.datetime) -> float | None:
    """`stat` of an AWS/SageMaker endpoint metric over the hour of `at` (None when nothing was published)."""
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName=metric, StartTime=at.replace(minute=0, second=0, microsecond=0),
        EndTime=at.replace(minute=59, second=59), Period=3600, Statistics=[stat],
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}])
    points = answer["Datapoints"]
    return sum(point[stat] for point in points) if points else None


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model, trained once by the training image's own code (what /opt/ml/model would hold)."""
    out = tmp_path_factory.mktemp("training")
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    try:  # local_run installs its own SIGTERM/SIGINT handlers; pytest keeps its own
        code = local_run.main(["--out", str(out), "--rows", "400", "--hyperparameter", "num_round=5"])
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert code == 0
    return out / "model"


@pytest.fixture(scope="module")
def aws() -> Iterator[SimpleNamespace]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        yield SimpleNamespace(s3=s3, cloudwatch=boto3.client("cloudwatch", region_name=REGION))


def make_endpoint(aws: SimpleNamespace, model_dir: Path, name: str, variants: tuple[str, ...] = ("AllTraffic",),
                  **options: Any) -> Endpoint:
    options.setdefault("weights", Weights(**dict.fromkeys(variants, 1.0)))
    options.setdefault("capture", CaptureSettings(BUCKET, PREFIX, 100))
    return Endpoint(name, [VariantModel(variant, model_dir) for variant in variants], s3=aws.s3, cloudwatch=aws.cloudwatch, **options)


@pytest.fixture(scope="module")
def capturing(aws: SimpleNamespace, model_dir: Path) -> Iterator[Endpoint]:
    clock = Clock(day(1))
    with make_endpoint(aws, model_dir, "capturing-endpoint", now=clock) as endpoint:
        endpoint.clock = clock  # type: ignore[attr-defined]
        yield endpoint


@pytest.fixture(scope="module")
def split(aws: SimpleNamespace, model_dir: Path) -> Iterator[Endpoint]:
    clock, weights = Clock(day(1)), Weights(blue=1.0, green=0.0)
    with make_endpoint(aws, model_dir, "split-endpoint", ("blue", "green"), weights=weights, weights_ttl=0.1, seed=7,
                       capture=CaptureSettings(BUCKET, PREFIX, 50), now=clock) as endpoint:
        endpoint.clock, endpoint.weights = clock, weights  # type: ignore[attr-defined]
        yield endpoint


def post(endpoint: Endpoint, path: str, headers: dict[str, str]) -> SimpleNamespace:
    """A raw InvokeEndpoint-shaped request, to read what invoke() does not return (the error type)."""
    connection = http.client.HTTPConnection("127.0.0.1", int(endpoint.url.rsplit(":", 1)[1]), timeout=10)
    try:
        connection.request("POST", path, body=csv_body(ROWS[:1]), headers={"Content-Type": CSV, **headers})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return SimpleNamespace(status=response.status, error_type=response.getheader("x-amzn-ErrorType"),
                           variant=response.getheader("x-Amzn-Invoked-Production-Variant"),
                           message=json.loads(body).get("message") if response.getheader("x-amzn-ErrorType") else None)


def set_weights(endpoint: Endpoint, **values: float) -> None:
    endpoint.weights.values = values  # type: ignore[attr-defined]
    time.sleep(0.15)  # past the endpoint's weights_ttl of 0.1 s


# --------------------------------------------------------------------------- (1) captures the drift check reads

CAPTURE_CASES = [
    # name, rows sent, request body, content type, accept, captured encodings (input, output)
    ("csv-single-row", ROWS[:1], csv_body(ROWS[:1]), CSV, None, ("CSV", "CSV")),
    ("csv-batch-with-a-missing-value", ROWS[:6], csv_body(ROWS[:6]), CSV, None, ("CSV", "CSV")),
    ("json-instances", ROWS[:4], json.dumps({"instances": json_rows(ROWS[:4])}).encode(), JSON, None, ("JSON", "JSON")),
    ("json-single-row", ROWS[2:3], json.dumps(json_rows(ROWS[2:3])[0]).encode(), JSON, None, ("JSON", "JSON")),
    ("csv-answered-in-json", ROWS[3:6], csv_body(ROWS[3:6]), CSV, JSON, ("CSV", "JSON")),
    ("content-type-with-charset", ROWS[:2], csv_body(ROWS[:2]), "text/csv; charset=utf-8", None, ("CSV", "CSV")),
]


@pytest.mark.parametrize(("index", "case"), list(enumerate(CAPTURE_CASES)), ids=[case[0] for case in CAPTURE_CASES])
def test_captured_requests_read_back_by_the_drift_reader(capturing: Endpoint, aws: SimpleNamespace, index: int,
                                                         case: tuple) -> None:
    """The real contract: the drift check's reader gets back exactly the rows sent and the scores answered."""
    _, rows, body, content_type, accept, encodings = case
    capturing.clock.at = at = day(10 + index)  # type: ignore[attr-defined]
    answers = [capturing.invoke(body, content_type, accept) for _ in range(2)]
    capturing.flush()

    assert all(answer.status == 200 and answer.variant == "AllTraffic" for answer in answers)
    lines = lines_under(aws.s3, day_prefix(capturing.name, "AllTraffic", at))
    captured = Captured(len(FEATURES))
    captured.add_lines(lines)
    assert (captured.records, captured.malformed, captured.unreadable_outputs) == (2, 0, 0)
    np.testing.assert_array_equal(captured.features(), np.concatenate([rows, rows]))
    assert captured.scores == [s for answer in answers for s in answered_scores(answer.body, answer.content_type or "")]
    records = [json.loads(line) for line in lines]
    assert {(r["captureData"]["endpointInput"]["encoding"], r["captureData"]["endpointOutput"]["encoding"]) for r in records} == {encodings}
    assert {r["captureData"]["endpointInput"]["observedContentType"] for r in records} == {content_type}
    assert {r["eventMetadata"]["inferenceTime"] for r in records} == {at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert len({uuid.UUID(r["eventMetadata"]["eventId"]) for r in records}) == 2
    assert {r["eventVersion"] for r in records} == {"0"}


@pytest.mark.parametrize(("declared", "encoding"), [
    ({}, "CSV"),
    ({"csv_content_types": ()}, "BASE64"),  # not declared: SageMaker base64-encodes (DataCaptureConfig)
    ({"csv_content_types": (), "json_content_types": (CSV,)}, "JSON"),
])
def test_capture_encoding_follows_the_declared_content_types(declared: dict, encoding: str) -> None:
    """What the reader gets back is the same whichever encoding the endpoint config leads to."""
    settings = CaptureSettings(BUCKET, PREFIX, 100, **declared)
    answer = b"0.25\n0.75\n"
    line = capture_line(CSV, csv_body(ROWS[:2]), CSV, answer, day(3), settings)
    record = json.loads(line)
    captured = Captured(len(FEATURES))
    captured.add_lines([line])

    assert record["captureData"]["endpointInput"]["encoding"] == encoding
    if encoding == "BASE64":
        assert base64.b64decode(record["captureData"]["endpointOutput"]["data"]) == answer
    np.testing.assert_array_equal(captured.features(), ROWS[:2])
    assert captured.scores == [0.25, 0.75]


def test_capture_line_has_the_shape_of_sagemakers() -> None:
    """Same fields, nested the same way, as tests/functions/drift_support.py's line (SageMaker's format)."""
    spec = importlib.util.spec_from_file_location("drift_support", Path(__file__).parents[1] / "functions" / "drift_support.py")
    assert spec is not None and spec.loader is not None
    drift_support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(drift_support)

    def shape(value: Any) -> Any:
        return {key: shape(inner) for key, inner in value.items()} if isinstance(value, dict) else type(value).__name__

    ours = json.loads(capture_line(CSV, csv_body(ROWS[:1]), CSV, b"0.5\n", day(3), CaptureSettings(BUCKET, PREFIX, 100)))
    theirs = json.loads(drift_support.capture_line(ROWS[:1], [0.5], day(3)))
    assert shape(ours) == shape(theirs)


# --------------------------------------------------------------------------- (2) the capture layout

def test_capture_objects_follow_sagemakers_layout_and_the_drift_window_finds_them(capturing: Endpoint, aws: SimpleNamespace) -> None:
    """`<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<ms>-<uuid>.jsonl`, a file per variant and hour."""
    before, after = day(20, hour=7, minute=59, second=58), day(20, hour=8, minute=0, second=1)
    for at in (before, after, after):
        capturing.clock.at = at  # type: ignore[attr-defined]
        assert capturing.invoke(csv_body(ROWS[:1]), CSV).status == 200
    capturing.flush()

    keys = keys_under(aws.s3, day_prefix(capturing.name, "AllTraffic", before))
    folder = f"{PREFIX}/{capturing.name}/AllTraffic/2024/05/20"
    uuid_pattern = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert len(keys) == 2
    assert re.fullmatch(rf"{folder}/07/59-58-123-{uuid_pattern}\.jsonl", keys[0]), keys
    assert re.fullmatch(rf"{folder}/08/00-01-123-{uuid_pattern}\.jsonl", keys[1]), keys
    assert [len(lines_under(aws.s3, key)) for key in keys] == [1, 2]
    prefixes = window_prefixes(capturing.capture.destination_uri, capturing.name, "AllTraffic", after.replace(minute=30), 1)
    assert sorted(key for prefix in prefixes for key in keys_under(aws.s3, prefix)) == keys


# --------------------------------------------------------------------------- (3) routing by weight

@pytest.mark.parametrize("chosen", ["blue", "green"])
def test_a_zero_weight_variant_gets_nothing(split: Endpoint, chosen: str) -> None:
    set_weights(split, **{"blue": 0.0, "green": 0.0, chosen: 1.0})
    variants = {split.invoke(csv_body(ROWS[:1]), CSV).variant for _ in range(30)}
    assert variants == {chosen}


def test_changed_weights_apply_to_later_requests_and_are_not_asked_per_request(split: Endpoint) -> None:
    set_weights(split, blue=1.0, green=0.0)
    assert {split.invoke(csv_body(ROWS[:1]), CSV).variant for _ in range(10)} == {"blue"}
    split.weights.values = {"blue": 0.0, "green": 1.0}  # type: ignore[attr-defined]
    time.sleep(0.15)
    calls, started = split.weights.calls, time.monotonic()  # type: ignore[attr-defined]
    assert {split.invoke(csv_body(ROWS[:1]), CSV).variant for _ in range(40)} == {"green"}
    asked = split.weights.calls - calls  # type: ignore[attr-defined]
    assert 1 <= asked <= (time.monotonic() - started) / 0.1 + 1  # cached for weights_ttl, not asked 40 times


def test_traffic_splits_by_weight_and_capture_samples_by_percent(split: Endpoint, aws: SimpleNamespace) -> None:
    """0.7/0.3 over 400 requests with a fixed seed; the endpoint captures 50 % of them."""
    set_weights(split, blue=0.7, green=0.3)
    split.clock.at = at = day(21)  # type: ignore[attr-defined]
    before = split.counts()
    variants = [split.invoke(csv_body(ROWS[:1]), CSV).variant for _ in range(400)]
    split.flush()
    after = split.counts()

    assert variants.count("blue") / len(variants) == pytest.approx(0.7, abs=0.08)
    assert {name: after[name].routed - before[name].routed for name in after} == {name: variants.count(name) for name in after}
    captured = {name: after[name].captured - before[name].captured for name in after}
    assert sum(captured.values()) / len(variants) == pytest.approx(0.5, abs=0.1)
    assert {name: len(lines_under(aws.s3, day_prefix(split.name, name, at))) for name in after} == captured


def test_target_variant_is_honoured_whatever_the_weights(split: Endpoint) -> None:
    set_weights(split, blue=1.0, green=0.0)
    answers = [split.invoke(csv_body(ROWS[:1]), CSV, target_variant="green") for _ in range(5)]
    assert [(a.status, a.variant) for a in answers] == [(200, "green")] * 5


def test_boto3s_own_sagemaker_runtime_client_can_invoke_the_router(capturing: Endpoint) -> None:
    """The REST shape is botocore's: its client, pointed at the router, parses answers and errors."""
    capturing.clock.at = day(27)  # type: ignore[attr-defined]
    runtime = boto3.client("sagemaker-runtime", region_name=REGION, endpoint_url=capturing.url)
    answer = runtime.invoke_endpoint(EndpointName=capturing.name, Body=csv_body(ROWS[:3]), ContentType=CSV, Accept=JSON)
    direct = capturing.invoke(csv_body(ROWS[:3]), CSV, JSON)
    assert (answer["InvokedProductionVariant"], answer["ContentType"]) == ("AllTraffic", JSON)
    assert answer["Body"].read() == direct.body
    with pytest.raises(runtime.exceptions.ValidationError, match="Endpoint another-endpoint not found"):
        runtime.invoke_endpoint(EndpointName="another-endpoint", Body=csv_body(ROWS[:1]), ContentType=CSV)


@pytest.mark.parametrize(("path", "headers", "status", "error_type"), [
    ("/endpoints/split-endpoint/invocations", {"X-Amzn-SageMaker-Target-Variant": "red"}, 400, "ValidationError"),
    ("/endpoints/another-endpoint/invocations", {}, 400, "ValidationError"),
    ("/endpoints/split-endpoint/predict", {}, 404, "UnknownOperationException"),
])
def test_requests_sagemaker_runtime_refuses_reach_no_variant(split: Endpoint, path: str, headers: dict, status: int,
                                                             error_type: str) -> None:
    """As SageMaker Runtime answers them (botocore's rest-json errors: x-amzn-ErrorType and a message)."""
    set_weights(split, blue=1.0, green=1.0)
    before = split.counts()
    answer = post(split, path, headers)
    assert (answer.status, answer.error_type, answer.variant) == (status, error_type, None)
    assert answer.message
    assert split.counts() == before


@pytest.mark.parametrize(("weights", "failure", "status", "error_type"), [
    ({"blue": 0.0, "green": 0.0}, None, 503, "ServiceUnavailable"),
    ({"blue": 1.0}, RuntimeError("DescribeEndpoint failed"), 500, "InternalFailure"),
])
def test_no_routable_weights_is_an_error_of_the_runtime(split: Endpoint, weights: dict, failure: Exception | None,
                                                        status: int, error_type: str) -> None:
    before = split.counts()
    split.weights.failure = failure  # type: ignore[attr-defined]
    try:
        set_weights(split, **weights)
        answer = post(split, f"/endpoints/{split.name}/invocations", {})
    finally:
        split.weights.failure = None  # type: ignore[attr-defined]
    assert (answer.status, answer.error_type, answer.variant) == (status, error_type, None)
    assert answer.message
    assert split.counts() == before


# --------------------------------------------------------------------------- (4) refusals of the container

REFUSALS = [
    ("unsupported-content-type", b"a,b\n", "text/plain", None, 415),
    ("malformed-row", b"1,2,3\n", CSV, None, 400),
    ("unacceptable-accept", csv_body(ROWS[:1]), CSV, "image/png", 406),
]


@pytest.mark.parametrize(("index", "case"), list(enumerate(REFUSALS)), ids=[case[0] for case in REFUSALS])
def test_a_refusal_of_the_container_is_passed_through_counted_and_not_captured(capturing: Endpoint, aws: SimpleNamespace,
                                                                               index: int, case: tuple) -> None:
    _, body, content_type, accept, status = case
    capturing.clock.at = at = day(22 + index)  # type: ignore[attr-defined]
    before = capturing.counts()["AllTraffic"]
    answers = [capturing.invoke(body, content_type, accept) for _ in range(3)]
    assert capturing.invoke(csv_body(ROWS[:1]), CSV).status == 200  # one answered request, captured
    capturing.flush()
    after = capturing.counts()["AllTraffic"]

    assert [(a.status, a.variant) for a in answers] == [(status, "AllTraffic")] * 3
    assert all(a.body and a.content_type and a.content_type.startswith("text/plain") for a in answers)  # the server's own message
    assert (after.routed - before.routed, after.failed - before.failed, after.captured - before.captured) == (4, 3, 1)
    assert len(lines_under(aws.s3, day_prefix(capturing.name, "AllTraffic", at))) == 1
    stats = {metric: statistic(aws.cloudwatch, capturing.name, "AllTraffic", metric, "Sum", at)
             for metric in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors")}
    assert stats == {"Invocations": 4, "Invocation4XXErrors": 3, "Invocation5XXErrors": 0}


# --------------------------------------------------------------------------- (5) metrics in CloudWatch

def test_invocation_metrics_reach_cloudwatch_per_variant(split: Endpoint, aws: SimpleNamespace) -> None:
    """SageMaker's endpoint invocation metrics with EndpointName and VariantName; latencies as raw
    microsecond values, so the p99 the promotion pipeline asks for exists (moto_fixes' percentiles)."""
    set_weights(split, blue=0.5, green=0.5)
    split.clock.at = at = day(25)  # type: ignore[attr-defined]
    answers = [split.invoke(csv_body(ROWS[:3]), CSV) for _ in range(30)]
    answers += [split.invoke(b"1,2\n", CSV, target_variant="green") for _ in range(2)]
    split.flush()
    routed = {name: sum(a.variant == name for a in answers) for name in ("blue", "green")}
    assert min(routed.values()) > 0

    for variant, count in routed.items():
        def sum_of(metric: str, variant: str = variant) -> float | None:
            return statistic(aws.cloudwatch, split.name, variant, metric, "Sum", at)
        refused = 2 if variant == "green" else 0
        assert (sum_of("Invocations"), sum_of("InvocationsPerInstance")) == (count, count)
        assert (sum_of("Invocation4XXErrors"), sum_of("Invocation5XXErrors")) == (refused, 0)
        for latency in ("ModelLatency", "OverheadLatency"):
            assert statistic(aws.cloudwatch, split.name, variant, latency, "SampleCount", at) == count
        assert statistic(aws.cloudwatch, split.name, variant, "ModelLatency", "Minimum", at) >= 50  # microseconds, not s or ms
        assert statistic(aws.cloudwatch, split.name, variant, "ModelLatency", "Maximum", at) < 60e6
    listed = aws.cloudwatch.list_metrics(Namespace="AWS/SageMaker", MetricName="ModelLatency",
                                         Dimensions=[{"Name": "EndpointName", "Value": split.name}])["Metrics"]
    assert {tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed} == {
        (("EndpointName", split.name), ("VariantName", variant)) for variant in ("blue", "green")}
    with moto_fixes.corrected():
        query = {"Id": "p99", "MetricStat": {"Stat": "p99", "Period": 3600, "Metric": {
            "Namespace": "AWS/SageMaker", "MetricName": "ModelLatency",
            "Dimensions": [{"Name": "EndpointName", "Value": split.name}, {"Name": "VariantName", "Value": "blue"}]}}}
        p99 = aws.cloudwatch.get_metric_data(MetricDataQueries=[query], StartTime=at.replace(minute=0, second=0, microsecond=0),
                                             EndTime=at.replace(minute=59))["MetricDataResults"][0]["Values"]
    assert len(p99) == 1
    assert statistic(aws.cloudwatch, split.name, "blue", "ModelLatency", "Minimum", at) <= p99[0] <= \
        statistic(aws.cloudwatch, split.name, "blue", "ModelLatency", "Maximum", at)


# --------------------------------------------------------------------------- (6) nothing left running

def test_leaving_the_block_with_an_exception_stops_every_server_process(aws: SimpleNamespace, model_dir: Path) -> None:
    """The context manager's exit is stop(), with or without an exception (the shared endpoints
    above stop the same way without one); stop() copes with a server that died, and writes what was
    still buffered. A dead variant answers 500, counted as Invocation5XXErrors as a dead container's."""
    at = day(28)
    endpoint = make_endpoint(aws, model_dir, "stopping-endpoint", ("blue", "green"), now=Clock(at))
    running: dict[str, list[int]] = {}
    with pytest.raises(RuntimeError, match="the rehearsal failed"), endpoint:
        assert endpoint.invoke(csv_body(ROWS[:1]), CSV, target_variant="blue").status == 200
        running = {name: session_members(pid) for name, pid in endpoint.server_pids().items()}
        os.killpg(endpoint.server_pids()["green"], signal.SIGKILL)
        dead = endpoint.invoke(csv_body(ROWS[:1]), CSV, target_variant="green")
        raise RuntimeError("the rehearsal failed")
    assert set(running) == {"blue", "green"} and all(len(members) >= 2 for members in running.values())  # server + worker
    assert {name: session_members(pid) for name, pid in endpoint.server_pids().items()} == {"blue": [], "green": []}
    with pytest.raises(HostingError, match="not serving"):
        endpoint.invoke(csv_body(ROWS[:1]), CSV)
    assert (dead.status, dead.variant) == (500, "green")
    assert len(lines_under(aws.s3, f"{PREFIX}/stopping-endpoint/")) == 1
    assert statistic(aws.cloudwatch, endpoint.name, "blue", "Invocations", "Sum", at) == 1
    assert statistic(aws.cloudwatch, endpoint.name, "green", "Invocation5XXErrors", "Sum", at) == 1


@pytest.mark.parametrize(("variants", "without_model", "options", "environment", "failing", "reason"), [
    # blue starts fine and must be stopped too: start() failed half-way
    (("blue", "green"), "green", {"ready_timeout": 2}, {}, "green",
     r"answers /ping but was not ready within 2 s \(last /ping: 503 the model failed to load"),
    (("AllTraffic",), None, {}, {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "soon"}, "AllTraffic", r"exited with code 2 before it was ready"),
    (("AllTraffic",), None, {"launch_timeout": 0.01}, {}, "AllTraffic", r"did not answer /ping within 0.01 s of its start"),
], ids=["a-variant-misses-its-model", "server-exits", "server-does-not-answer-in-time"])
def test_a_server_that_does_not_become_ready_fails_start_and_nothing_is_left(
        aws: SimpleNamespace, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variants: tuple[str, ...],
        without_model: str | None, options: dict, environment: dict, failing: str, reason: str) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    empty = tmp_path / "no-model"
    empty.mkdir()
    endpoint = Endpoint("failing-endpoint", [VariantModel(v, empty if v == without_model else model_dir) for v in variants],
                        weights=Weights(), s3=aws.s3, cloudwatch=aws.cloudwatch, **options)
    started = time.monotonic()
    with pytest.raises(HostingError, match=rf"variant '{failing}': its inference server {reason}") as error:
        endpoint.start()
    assert time.monotonic() - started < 30  # none of the default bounds (60 s, 30 s) was what ended it
    assert "its output ends with:" in str(error.value)
    assert set(endpoint.server_pids()) == set(variants)
    assert {name: session_members(pid) for name, pid in endpoint.server_pids().items()} == dict.fromkeys(variants, [])
