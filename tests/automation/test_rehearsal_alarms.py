"""The rehearsal's alarm evaluation (automation/rehearsal/alarms.py) against moto's CloudWatch and
EventBridge, held to the CloudWatch User Guide ("Using Amazon CloudWatch alarms"):

- the two tables of "How alarm state is evaluated when data is missing", verbatim: 3 out of 3 and
  2 out of 3 over the 5 datapoints the guide says CloudWatch retrieves (0 not breaching, X breaching,
  - missing), each row under each treatment of missing data, "Retain current state" from OK and
  from ALARM. One cell is left out, row `X - - - -` under `missing` (ALARM in the guide): no rule of
  the guide tells it from row `- - - - X` (INSUFFICIENT_DATA), see the module's docstring;
- the comparison operators at, below and above the threshold;
- the drift alarm as the endpoint plan deploys it (1 out of 4 checks): into ALARM at the first
  drift, back to OK after 4 checks without, one event per change and none while the state stays,
  and the change into ALARM starts retraining through the planned rule and input transformer;
- every alarm the prod plan and a dev plan with endpoints deploy: evaluated without error, OK or
  ALARM without data as its treatment of missing data says, ALARM on breaching data.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from automation import offline
from automation.rehearsal import alarms, moto_fixes
from components import drift

REGION = "us-east-1"
NOW = dt.datetime(2030, 1, 15, 12, 0, 7, tzinfo=dt.UTC)
ALARM_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
NAMESPACE, METRIC, DIMENSIONS = "Rehearsal", "Errors", {"Service": "api"}
NOT_BREACHING, BREACHING = 0.0, 5.0  # against threshold 1 and GreaterThanThreshold
SAMPLE = Path(__file__).parents[1] / "functions" / "data" / "cloudwatch-alarm-state-change.json"


@functools.cache
def session() -> boto3.session.Session:
    """One session for every test: a new one parses botocore's service models again (0.2 s a test)."""
    return boto3.session.Session(region_name=REGION)


@pytest.fixture
def aws():
    with mock_aws(), moto_fixes.corrected():
        yield session().client("cloudwatch"), session().client("events")


def alarm_inputs(*, n: int = 1, m: int = 1, treatment: str = "missing", comparison: str = "GreaterThanThreshold",
                 threshold: float = 1.0, period: int = 300, name: str = "test-alarm") -> dict[str, Any]:
    """A metric alarm's inputs as the offline plan records them (Pulumi's keys, numbers as floats)."""
    return {"name": name, "namespace": NAMESPACE, "metricName": METRIC, "dimensions": DIMENSIONS, "statistic": "Maximum",
            "period": float(period), "evaluationPeriods": float(n), "datapointsToAlarm": float(m), "threshold": threshold,
            "comparisonOperator": comparison, "treatMissingData": treatment, "alarmDescription": "for the tests"}


def put_alarm(cloudwatch, inputs: dict[str, Any], state: str | None = None) -> None:
    """The alarm in moto, as the rehearsal seeds single-metric alarms (and put in `state`)."""
    cloudwatch.put_metric_alarm(
        AlarmName=inputs["name"], Namespace=inputs["namespace"], MetricName=inputs["metricName"],
        Dimensions=[{"Name": k, "Value": v} for k, v in inputs["dimensions"].items()], Statistic=inputs["statistic"],
        Period=int(inputs["period"]), EvaluationPeriods=int(inputs["evaluationPeriods"]),
        DatapointsToAlarm=int(inputs["datapointsToAlarm"]), Threshold=inputs["threshold"],
        ComparisonOperator=inputs["comparisonOperator"], TreatMissingData=inputs["treatMissingData"])
    if state:
        cloudwatch.set_alarm_state(AlarmName=inputs["name"], StateValue=state, StateReason="set by the test")


def post(cloudwatch, values: list[float | None], *, period: int = 300, now: dt.datetime = NOW,
         namespace: str = NAMESPACE, metric: str = METRIC, dimensions: dict[str, str] = DIMENSIONS) -> None:
    """One datapoint in each of the last len(values) periods before `now` (oldest first; None: none)."""
    for age, value in enumerate(reversed(values), start=1):
        if value is not None:
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{
                "MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Value": value, "Timestamp": now - dt.timedelta(seconds=period * age - period // 2)}])


def points(row: str) -> list[float | None]:
    return [{"0": NOT_BREACHING, "X": BREACHING, "-": None}[c] for c in row.split()]


# The guide's tables: (data points, M, N) -> state per treatment ("retain": the current state stays).
GUIDE = {
    ("0 - X - X", 3, 3): {"missing": "OK", "ignore": "OK", "breaching": "OK", "notBreaching": "OK"},
    ("0 - - - -", 3, 3): {"missing": "OK", "ignore": "OK", "breaching": "OK", "notBreaching": "OK"},
    ("- - - - -", 3, 3): {"missing": "INSUFFICIENT_DATA", "ignore": "retain", "breaching": "ALARM", "notBreaching": "OK"},
    ("0 X X - X", 3, 3): {"missing": "ALARM", "ignore": "ALARM", "breaching": "ALARM", "notBreaching": "ALARM"},
    ("- - - - X", 3, 3): {"missing": "INSUFFICIENT_DATA", "ignore": "retain", "breaching": "ALARM", "notBreaching": "OK"},
    ("X - - - -", 3, 3): {"ignore": "retain", "breaching": "ALARM", "notBreaching": "OK"},  # "missing": see the docstring
    ("0 - X - X", 2, 3): {"missing": "ALARM", "ignore": "ALARM", "breaching": "ALARM", "notBreaching": "ALARM"},
    ("0 0 X 0 X", 2, 3): {"missing": "ALARM", "ignore": "ALARM", "breaching": "ALARM", "notBreaching": "ALARM"},
    ("0 - X - -", 2, 3): {"missing": "OK", "ignore": "OK", "breaching": "ALARM", "notBreaching": "OK"},
    ("- - - - 0", 2, 3): {"missing": "OK", "ignore": "OK", "breaching": "ALARM", "notBreaching": "OK"},
    ("- - - - X", 2, 3): {"missing": "INSUFFICIENT_DATA", "ignore": "retain", "breaching": "ALARM", "notBreaching": "OK"},
}
GUIDE_CASES = [(row, m, n, treatment, expected, current)
               for (row, m, n), states in GUIDE.items() for treatment, expected in states.items()
               for current in (("OK", "ALARM") if expected == "retain" else ("OK",))]


@pytest.mark.parametrize("row, m, n, treatment, expected, current", GUIDE_CASES,
                         ids=[f"{m}of{n} [{row}] {t} from {c}" for row, m, n, t, _, c in GUIDE_CASES])
def test_the_guides_tables_of_missing_data(aws, row, m, n, treatment, expected, current):
    cloudwatch, _ = aws
    inputs = alarm_inputs(n=n, m=m, treatment=treatment)
    put_alarm(cloudwatch, inputs, state=current)
    post(cloudwatch, points(row))
    evaluation = alarms.evaluate(inputs, cloudwatch, NOW)
    assert evaluation.state == (current if expected == "retain" else expected)
    assert [d.value for d in evaluation.datapoints] == points(row)  # the 5 periods read, oldest first


COMPARED = {  # threshold 10: value -> state
    "GreaterThanThreshold": {9.0: "OK", 10.0: "OK", 11.0: "ALARM"},
    "GreaterThanOrEqualToThreshold": {9.0: "OK", 10.0: "ALARM", 11.0: "ALARM"},
    "LessThanThreshold": {9.0: "ALARM", 10.0: "OK", 11.0: "OK"},
    "LessThanOrEqualToThreshold": {9.0: "ALARM", 10.0: "ALARM", 11.0: "OK"},
}


@pytest.mark.parametrize("comparison, value, expected",
                         [(c, v, s) for c, states in COMPARED.items() for v, s in states.items()])
def test_each_comparison_operator_at_below_and_above_the_threshold(aws, comparison, value, expected):
    cloudwatch, _ = aws
    inputs = alarm_inputs(comparison=comparison, threshold=10.0)
    post(cloudwatch, [value])
    evaluation = alarms.evaluate(inputs, cloudwatch, NOW)
    assert evaluation.state == expected
    assert f"[{value!r} (" in evaluation.reason


@pytest.mark.parametrize("inputs, unsupported", [
    ({**alarm_inputs(), "comparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold", "thresholdMetricId": "ad1"},
     "thresholdMetricId"),
    ({**alarm_inputs(), "comparisonOperator": "GreaterThanUpperThreshold"}, "GreaterThanUpperThreshold"),
    ({**alarm_inputs(), "evaluateLowSampleCountPercentile": "ignore"}, "evaluateLowSampleCountPercentile"),
    ({**alarm_inputs(), "treatMissingData": "sometimes"}, "treatMissingData"),
    ({k: v for k, v in alarm_inputs().items() if k != "statistic"}, "statistic"),
    ({**alarm_inputs(), "metricQueries": [{"id": "e1", "expression": "FILL(m1, 0)", "returnData": True},
                                          {"id": "m1", "returnData": False, "metric": {
                                              "namespace": NAMESPACE, "metricName": METRIC, "stat": "Sum", "period": 60.0}}]},
     "FILL"),
    ({**alarm_inputs(), "metricQueries": [{"id": "e1", "expression": "m1 ^ 2", "returnData": True},
                                          {"id": "m1", "returnData": False, "metric": {
                                              "namespace": NAMESPACE, "metricName": METRIC, "stat": "Sum", "period": 60.0}}]},
     "m1 \\^ 2"),
    ({**alarm_inputs(), "metricQueries": [{"id": "e1", "expression": "m1 AND m1", "returnData": True},
                                          {"id": "m1", "returnData": False, "metric": {
                                              "namespace": NAMESPACE, "metricName": METRIC, "stat": "Sum", "period": 60.0}}]},
     "AND"),
])
def test_what_is_not_emulated_is_refused_by_name(aws, inputs, unsupported):
    cloudwatch, _ = aws
    with pytest.raises(alarms.UnsupportedAlarmError, match=unsupported):
        alarms.evaluate(inputs, cloudwatch, NOW)


# --- Metric math ------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, expected", [
    # The guide's own IF tables ("Using IF expressions"), 5 timestamps, "-" no value.
    ("IF(metric1, metric2, metric3)", [30, 0, 20, None, None]),
    ("IF(metric1, 5, metric3)", [5, 5, 20, None, None]),
    ("IF(metric1, metric2, 5)", [30, 0, 5, 5, None]),
    # Comparisons between two series treat a missing value as 0 ("Comparison and logical operators").
    ("c1 < c2", [0, 0, 1, 0, None]),  # the guide's table, verbatim
    ("c1 >= 30", [1, 0, 0, 0, None]),
    ("metric1 < metric2", [1, 0, 0, 0, 1]),
    # Arithmetic: missing values are 0, a division by zero drops the datapoint.
    ("metric2 / metric1", [30, 0, None, None, None]),
    ("100 * metric3 / (metric1 + metric3)", [0, 0, 100, None, 100]),
    ("-metric3 + 2", [2, 2, -18, None, -18]),
    # The program's ratio: no traffic (total 0) is 0, no datapoint of total drops the datapoint.
    ("IF(metric1 > 0, 100 * metric2 / metric1, 0)", [3000, 0, 0, 0, None]),
])
def test_metric_math_follows_the_guides_rules(expression, expected):
    columns = {"metric1": [1, 1, 0, 0, None], "metric2": [30, None, 0, 0, 30], "metric3": [0, 0, 20, None, 20],
               "c1": [30, 20, 0, 0, None], "c2": [20, None, 20, None, None]}
    series = {name: {float(t): float(v) for t, v in enumerate(values) if v is not None} for name, values in columns.items()}
    result = alarms.evaluate_math(expression, series)
    assert [result.get(float(t)) for t in range(5)] == [None if v is None else float(v) for v in expected]


# --- The planned alarms ---------------------------------------------------------------------------

VARIANTS = [{"name": "champion", "weight": 0.5, "modelVersion": 3, "previousModelVersion": 2},
            {"name": "challenger", "weight": 0.5, "modelVersion": 5}]
ENDPOINT_MODELS = [  # an instance endpoint captures requests, so its model gets drift detection
    {"name": "churn", "threshold": 0.8, "endpoint": {"mode": "instances", "instanceType": "ml.m5.large", "instanceCount": 1,
                                                     "variants": VARIANTS}},
    {"name": "lite", "threshold": 0.7, "endpoint": {"mode": "serverless", "variants": [
        {"name": "champion", "weight": 1.0, "modelVersion": 1}]}},
]


@functools.cache
def planned(stack: str) -> offline.Plan:
    if stack == "dev-endpoints":
        return offline.plan("dev", config_overrides={"models": ENDPOINT_MODELS})
    return offline.plan(stack)


def planned_alarm(stack: str, name: str) -> dict[str, Any]:
    (found,) = [dict(r.inputs) for r in planned(stack).of_type(ALARM_TYPE) if r.inputs["name"] == name]
    return found


# Sorted: the engine registers resources in no fixed order, and pytest-xdist's workers must collect the same list.
PLANNED_ALARMS = sorted((stack, r.inputs["name"]) for stack in ("prod", "dev-endpoints") for r in planned(stack).of_type(ALARM_TYPE))


def test_the_planned_alarms_include_each_kind_the_program_deploys():
    kinds = {("metricQueries" in planned_alarm(s, n), "extendedStatistic" in planned_alarm(s, n)) for s, n in PLANNED_ALARMS}
    assert kinds == {(True, False), (False, True), (False, False)}  # metric math, percentile, statistic
    assert any(n.endswith("-data-drift") for _, n in PLANNED_ALARMS)


def breaching_data(cloudwatch, inputs: dict[str, Any]) -> None:
    """Breaching values in each of the alarm's evaluation periods: threshold + 1 on a single metric
    (every alarm of the program alarms above its threshold); the same count on every metric of a
    ratio, which makes it 100 %."""
    metrics = [q["metric"] for q in inputs.get("metricQueries", []) if "metric" in q] or [
        {"namespace": inputs["namespace"], "metricName": inputs["metricName"], "dimensions": inputs["dimensions"],
         "period": inputs["period"]}]
    value = 1.0 if "metricQueries" in inputs else inputs["threshold"] + 1
    for metric in metrics:
        post(cloudwatch, [value] * int(inputs["evaluationPeriods"]), period=int(metric["period"]),
             namespace=metric["namespace"], metric=metric["metricName"], dimensions=metric["dimensions"])


@pytest.mark.parametrize("stack, name", PLANNED_ALARMS, ids=[f"{s}:{n}" for s, n in PLANNED_ALARMS])
def test_every_planned_alarm_is_evaluated(aws, stack, name):
    cloudwatch, _ = aws
    inputs = planned_alarm(stack, name)
    assert inputs["comparisonOperator"].startswith("GreaterThan")  # what breaching_data assumes
    quiet = alarms.evaluate(inputs, cloudwatch, NOW)
    assert quiet.state == {"notBreaching": "OK", "breaching": "ALARM"}[inputs["treatMissingData"]]
    assert all(d.value is None for d in quiet.datapoints)
    breaching_data(cloudwatch, inputs)
    loud = alarms.evaluate(inputs, cloudwatch, NOW)
    assert loud.state == "ALARM", loud.reason
    assert len([d for d in loud.datapoints if d.value is not None]) == int(inputs["evaluationPeriods"])
    assert json.loads(loud.reason_data)["threshold"] == inputs["threshold"]


# --- Changes of state and their events --------------------------------------------------------------

def drift_alarm() -> dict[str, Any]:
    (found,) = [dict(r.inputs) for r in planned("dev-endpoints").of_type(ALARM_TYPE) if r.inputs["name"].endswith("-data-drift")]
    return found


def queue_for(events, rule: str, pattern: str, transformer: dict[str, Any] | None = None) -> tuple[Any, str]:
    """A rule with an SQS target (moto's EventBridge delivers to SQS with its own pattern matching
    and input transformer): where to read what the rule delivers."""
    sqs = session().client("sqs")
    url = sqs.create_queue(QueueName=rule)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventPattern=pattern)
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn, **({"InputTransformer": transformer} if transformer else {})}])
    return sqs, url


def retrain_queue(events, stack: str = "dev-endpoints") -> tuple[Any, str]:
    """The planned retrain rule, with its planned input transformer."""
    (rule,) = [r for r in planned(stack).of_type(RULE) if r.inputs["name"].endswith("-drift-retrain")]
    (target,) = [t for t in planned(stack).of_type(TARGET) if t.inputs["rule"] == rule.inputs["name"]]
    transformer = target.inputs["inputTransformer"]
    return queue_for(events, rule.inputs["name"], rule.inputs["eventPattern"],
                     {"InputPathsMap": dict(transformer["inputPaths"]), "InputTemplate": transformer["inputTemplate"]})


def received(sqs, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def check(cloudwatch, events, inputs: dict[str, Any], when: dt.datetime, drifted: bool | None):
    """One drift check at `when` (None: no decision, nothing published), then the alarm's evaluation."""
    if drifted is not None:
        cloudwatch.put_metric_data(Namespace=inputs["namespace"], MetricData=[{
            "MetricName": inputs["metricName"], "Dimensions": [{"Name": k, "Value": v} for k, v in inputs["dimensions"].items()],
            "Value": float(drifted), "Timestamp": when}])
    later = when + dt.timedelta(minutes=1)
    return alarms.apply(inputs, alarms.evaluate(inputs, cloudwatch, later), cloudwatch, events, "123456789012", REGION, later)


def test_the_drift_alarm_fires_at_the_first_drift_and_rearms_after_the_checks_without(aws):
    cloudwatch, events = aws
    inputs = drift_alarm()
    put_alarm(cloudwatch, inputs, state="OK")
    every = dt.timedelta(hours=drift.CHECK_HOURS)
    checks = [True, False, None, True, False, False, False, False, False]
    states, changes = [], []
    for index, drifted in enumerate(checks):
        change = check(cloudwatch, events, inputs, NOW + index * every, drifted)
        states.append(cloudwatch.describe_alarms(AlarmNames=[inputs["name"]])["MetricAlarms"][0]["StateValue"])
        changes.append(change and (change.previous, change.state))
    # The last drift is check 3; checks 4-7 have none, so the alarm rearms at check 7 (REARM_CHECKS = 4).
    assert states == ["ALARM"] * 7 + ["OK"] * 2
    assert changes == [("OK", "ALARM")] + [None] * 6 + [("ALARM", "OK"), None]


def test_the_change_into_alarm_starts_retraining_and_the_change_back_starts_nothing(aws):
    cloudwatch, events = aws
    inputs = drift_alarm()
    put_alarm(cloudwatch, inputs, state="OK")
    sqs, url = retrain_queue(events)
    fired = check(cloudwatch, events, inputs, NOW, drifted=True)
    (message,) = received(sqs, url)
    assert message["model_name"] == "churn" and message["hyperparameters"] == {}
    assert message["retrain_trigger"]["alarm"] == inputs["name"] and message["retrain_trigger"]["changed_at"]
    assert fired.event["detail"]["state"]["value"] == "ALARM" and fired.event["detail"]["previousState"]["value"] == "OK"
    assert check(cloudwatch, events, inputs, NOW + dt.timedelta(hours=6), drifted=True) is None  # still ALARM
    assert received(sqs, url) == []
    cleared = alarms.apply(inputs, alarms.evaluate(inputs, cloudwatch, NOW + dt.timedelta(days=3)), cloudwatch, events,
                           "123456789012", REGION, NOW + dt.timedelta(days=3))
    assert (cleared.previous, cleared.state) == ("ALARM", "OK")
    assert received(sqs, url) == []


def test_the_event_has_the_shape_of_the_guides_sample(aws):
    """Same keys at every level as tests/functions/data/cloudwatch-alarm-state-change.json (the
    guide's single-metric sample); the state and reasons are this alarm's."""
    cloudwatch, events = aws
    inputs = alarm_inputs(name="ServerCpuTooHigh")
    put_alarm(cloudwatch, inputs, state="OK")
    cloudwatch.set_alarm_state(AlarmName=inputs["name"], StateValue="OK", StateReason="earlier",
                               StateReasonData=json.dumps({"version": "1.0"}))
    sqs, url = queue_for(events, "all-alarm-events", json.dumps({"source": ["aws.cloudwatch"]}))
    post(cloudwatch, [BREACHING])
    change = alarms.apply(inputs, alarms.evaluate(inputs, cloudwatch, NOW), cloudwatch, events, "123456789012", REGION, NOW)
    (delivered,) = received(sqs, url)
    # What the rules saw is the event apply reports (moto's delivery to SQS leaves `account` out).
    assert delivered == {k: v for k, v in change.event.items() if k != "account"}
    sample = json.loads(SAMPLE.read_text())

    def shape(value: Any) -> Any:  # dimension names are the metric's, not the event's
        if isinstance(value, dict):
            return {k: "names" if k == "dimensions" else shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return type(value).__name__

    assert json.dumps(shape(change.event), sort_keys=True) == json.dumps(shape(sample), sort_keys=True)
    state = change.event["detail"]["state"]
    assert state["value"] == "ALARM" and state["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [5.0 (")
    assert json.loads(state["reasonData"])["recentDatapoints"] == [5.0]
    assert change.event["resources"] == [f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:ServerCpuTooHigh"]
    assert change.event["time"] == "2030-01-15T12:00:07Z"


def test_no_event_when_the_state_does_not_change(aws):
    cloudwatch, events = aws
    inputs = alarm_inputs(name="mlops-platform-dev-churn-data-drift")  # a name the retrain rule matches
    put_alarm(cloudwatch, inputs, state="ALARM")
    sqs, url = retrain_queue(events)
    post(cloudwatch, [BREACHING])
    evaluation = alarms.evaluate(inputs, cloudwatch, NOW)
    assert evaluation.state == "ALARM"
    assert alarms.apply(inputs, evaluation, cloudwatch, events, "123456789012", REGION, NOW) is None
    assert received(sqs, url) == []
    (kept,) = cloudwatch.describe_alarms(AlarmNames=[inputs["name"]])["MetricAlarms"]
    assert kept["StateReason"] == "set by the test"  # not set again


def test_apply_needs_the_alarm_in_the_emulated_cloudwatch(aws):
    cloudwatch, events = aws
    inputs = alarm_inputs(name="never-applied")
    with pytest.raises(LookupError, match="never-applied"):
        alarms.apply(inputs, alarms.evaluate(inputs, cloudwatch, NOW), cloudwatch, events, "123456789012", REGION, NOW)
