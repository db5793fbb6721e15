"""CloudWatch alarm evaluation, emulated: moto stores alarms but never evaluates them.

`evaluate` reads an alarm's datapoints from (moto's) CloudWatch and decides its state the way the
CloudWatch User Guide says alarms are evaluated ("Using Amazon CloudWatch alarms": "Evaluating an
alarm", "How alarm state is evaluated when data is missing"); `apply` moves the alarm in moto to that
state and, when it changed, puts the "CloudWatch Alarm State Change" event CloudWatch sends to the
default event bus ("Alarm events and EventBridge"), so the rules moto holds (retraining on drift,
components/drift_events.py) see it.

The rules, as documented:
- Every `Period` makes one datapoint (the alarm's statistic, or metric math over the period's values).
- CloudWatch reads more periods than `EvaluationPeriods` (N): the evaluation range. Its exact length
  is not documented ("depends on the length of the alarm period"); the guide's examples read 5 for
  N = 3, and the emulator always reads N + `EXTRA_PERIODS`.
- With at least N real datapoints in the range, the N most recent decide and missing data is
  ignored. With fewer, every real one counts and missing ones fill the rest as `TreatMissingData`
  says (`breaching`, `notBreaching`); ALARM when at least `DatapointsToAlarm` (M) are breaching.
- With no datapoint at all: `missing` -> INSUFFICIENT_DATA, `ignore` -> the current state,
  `breaching` -> ALARM, `notBreaching` -> OK. With a few real datapoints, `missing` and `ignore`
  decide on the real ones: ALARM at M breaching, OK when one is not breaching, and otherwise
  INSUFFICIENT_DATA (`ignore`: the current state).
- Alarms on `AWS/DynamoDB` metrics always ignore missing data (PutMetricAlarm, TreatMissingData).
- Metric math ("Using metric math"): missing values count as 0 in arithmetic and comparisons
  between two series, a division by zero drops the datapoint; `IF(condition, a, b)` per timestamp
  of the condition, a missing `a` is 0, a missing or omitted `b` drops the datapoint.

Not emulated, each refused with `UnsupportedAlarmError` naming it: anomaly detection (`thresholdMetricId`
and the band operators, which the program does not deploy), `evaluateLowSampleCountPercentile:
ignore`, metric math beyond + - * /, unary minus, one comparison and IF (the program uses
`IF(total > 0, 100 * part / total, 0)`), cross-account queries. One row of the guide's first table
is not reproduced: `X - - - -` (3 out of 3, one breaching datapoint, the oldest) is ALARM under
`missing` there, but `- - - - X` is INSUFFICIENT_DATA; no rule of the guide separates the two, and
the emulator answers INSUFFICIENT_DATA for both. The program's alarms all treat missing data as
`notBreaching` or `breaching`, where the guide's tables are reproduced exactly.

Percentile statistics (`p99`) need moto_fixes.corrected(): moto alone answers them with nothing.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import operator
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
EXTRA_PERIODS = 2  # the evaluation range is N + 2 periods, as in the guide's examples (5 for N = 3)
DEFAULT_TREATMENT = "missing"  # PutMetricAlarm: "If this parameter is omitted, the default behavior of missing is used"
ALWAYS_IGNORING_NAMESPACES = ("AWS/DynamoDB",)

SOURCE = "aws.cloudwatch"
DETAIL_TYPE = "CloudWatch Alarm State Change"

# ComparisonOperator -> (breaching test of `value OP threshold`, the words of CloudWatch's reasons)
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}

# With no real datapoint in the evaluation range (None: keep the current state).
ALL_MISSING: dict[str, str | None] = {"missing": INSUFFICIENT_DATA, "ignore": None, "breaching": ALARM, "notBreaching": OK}
FILLS = {"breaching": True, "notBreaching": False}  # what a missing datapoint counts as, where it is filled in

Series = dict[float, float]  # period start (epoch seconds) -> value


class UnsupportedAlarmError(ValueError):
    """An alarm setting the emulator does not evaluate (see the module docstring)."""


@dataclass(frozen=True)
class Datapoint:
    timestamp: dt.datetime  # the start of its period
    value: float | None  # None: no data in that period


@dataclass(frozen=True)
class Evaluation:
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str  # CloudWatch's StateReason, in the form of its sample events
    datapoints: list[Datapoint]  # the evaluation range, oldest first
    reason_data: str  # CloudWatch's StateReasonData (JSON text)


@dataclass(frozen=True)
class AlarmChange:
    alarm_name: str
    previous: str
    state: str
    event: dict[str, Any]  # the "CloudWatch Alarm State Change" event put on the default bus


@dataclass(frozen=True)
class _Spec:
    name: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treatment: str
    queries: list[dict[str, Any]]  # GetMetricData MetricStat queries
    expressions: dict[str, str]  # id -> metric math
    returned: str  # the id whose series the alarm watches
    statistic: str | None  # single-metric alarms: their statistic


# --- Reading the alarm's definition ------------------------------------------------------------

def _spec(inputs: Mapping[str, Any]) -> _Spec:
    name = inputs["name"]
    if "thresholdMetricId" in inputs:
        raise UnsupportedAlarmError(f"alarm {name}: thresholdMetricId (anomaly detection) is not emulated")
    if inputs.get("evaluateLowSampleCountPercentile", "evaluate") != "evaluate":
        raise UnsupportedAlarmError(f"alarm {name}: evaluateLowSampleCountPercentile=ignore is not emulated")
    comparison = inputs["comparisonOperator"]
    if comparison not in COMPARISONS:
        raise UnsupportedAlarmError(f"alarm {name}: comparison operator {comparison} is not emulated")
    if "metricQueries" in inputs:
        queries, expressions, returned, period = _math_queries(name, inputs["metricQueries"])
        statistic = None
    else:
        statistic = _statistic(inputs)
        period = int(inputs["period"])
        queries = [_metric_stat("m1", inputs["namespace"], inputs["metricName"], inputs.get("dimensions", {}),
                                period, statistic, inputs.get("unit"))]
        expressions, returned = {}, "m1"
    treatment = inputs.get("treatMissingData", DEFAULT_TREATMENT)
    if treatment not in ALL_MISSING:
        raise UnsupportedAlarmError(f"alarm {name}: treatMissingData {treatment} is not one of {sorted(ALL_MISSING)}")
    if any(q["MetricStat"]["Metric"]["Namespace"] in ALWAYS_IGNORING_NAMESPACES for q in queries):
        treatment = "ignore"
    evaluation_periods = int(inputs["evaluationPeriods"])
    return _Spec(name=name, period=period, evaluation_periods=evaluation_periods,
                 datapoints_to_alarm=int(inputs.get("datapointsToAlarm", evaluation_periods)),
                 threshold=float(inputs["threshold"]), comparison=comparison, treatment=treatment,
                 queries=queries, expressions=expressions, returned=returned, statistic=statistic)


def _statistic(inputs: Mapping[str, Any]) -> str:
    statistic = inputs.get("statistic") or inputs.get("extendedStatistic")
    if not statistic:
        raise UnsupportedAlarmError(f"alarm {inputs['name']}: no metricQueries, statistic or extendedStatistic")
    return statistic


def _metric_stat(query_id: str, namespace: str, metric_name: str, dimensions: Mapping[str, str], period: int,
                 stat: str, unit: str | None) -> dict[str, Any]:
    metric = {"Namespace": namespace, "MetricName": metric_name,
              "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]}
    stat_query: dict[str, Any] = {"Metric": metric, "Period": period, "Stat": stat}
    if unit:
        stat_query["Unit"] = unit
    return {"Id": query_id, "MetricStat": stat_query, "ReturnData": True}


def _math_queries(name: str, metric_queries: Sequence[Mapping[str, Any]]) -> tuple[list, dict[str, str], str, int]:
    """The metric queries for moto, the expressions, the returned id and the common period."""
    queries, expressions = [], {}
    for query in metric_queries:
        if "accountId" in query:
            raise UnsupportedAlarmError(f"alarm {name}: cross-account query {query['id']} is not emulated")
        if "metric" in query:
            metric = query["metric"]
            queries.append(_metric_stat(query["id"], metric["namespace"], metric["metricName"], metric.get("dimensions", {}),
                                        int(metric["period"]), metric["stat"], metric.get("unit")))
        else:
            expressions[query["id"]] = query["expression"]
    returned = [q["id"] for q in metric_queries if q.get("returnData", True)]
    periods = {q["MetricStat"]["Period"] for q in queries}
    # "A math expression used for an alarm ... Each metric must be using the same period" (the guide).
    if len(returned) != 1 or len(periods) != 1:
        raise UnsupportedAlarmError(f"alarm {name}: metric math needs one returned query ({returned}) and one period ({periods})")
    return queries, expressions, returned[0], periods.pop()


# --- Metric math -------------------------------------------------------------------------------

# Metric math's ^ (power) is left out: Python parses it as XOR, below + and *, so 2 ^ 1 + 1 would
# not be read as metric math reads it.
_ARITHMETIC: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}
_COMPARE: dict[type, Callable[[float, float], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _parse(expression: str) -> ast.Expression:
    try:
        return ast.parse(expression, mode="eval")  # the supported subset is also Python's syntax
    except SyntaxError as error:
        raise UnsupportedAlarmError(f"metric math {expression!r} is not emulated") from error


def referenced_ids(expression: str) -> set[str]:
    """The query ids an expression reads (function names left out)."""
    nodes = list(ast.walk(_parse(expression)))
    functions = {n.func.id for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return {n.id for n in nodes if isinstance(n, ast.Name)} - functions


def evaluate_math(expression: str, series: Mapping[str, Series]) -> Series:
    """One metric math expression over the queries' series (the subset of the module docstring)."""
    result = _math_node(_parse(expression).body, series, expression)
    if not isinstance(result, dict):
        raise UnsupportedAlarmError(f"metric math {expression!r} is a scalar, not a time series")
    return result


def _math_node(node: ast.AST, series: Mapping[str, Series], expression: str) -> float | Series:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in series:
        return series[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _combine(operator.mul, -1.0, _math_node(node.operand, series, expression))
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        return _combine(_ARITHMETIC[type(node.op)], _math_node(node.left, series, expression),
                        _math_node(node.right, series, expression))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        compare = _COMPARE[type(node.ops[0])]
        return _combine(lambda a, b: float(compare(a, b)), _math_node(node.left, series, expression),
                        _math_node(node.comparators[0], series, expression))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "IF" and 2 <= len(node.args) <= 3 \
            and not node.keywords:
        return _if(*(_math_node(arg, series, expression) for arg in node.args))
    raise UnsupportedAlarmError(f"metric math {ast.unparse(node)!r} (in {expression!r}) is not emulated")


def _combine(function: Callable[[float, float], float], left: float | Series, right: float | Series) -> float | Series:
    """`left OP right` point by point: a series' missing values are 0, a division by zero drops the point."""
    if not isinstance(left, dict) and not isinstance(right, dict):
        return function(left, right)
    timestamps = sorted(set(left if isinstance(left, dict) else ()) | set(right if isinstance(right, dict) else ()))
    combined = {}
    for timestamp in timestamps:
        a = left.get(timestamp, 0.0) if isinstance(left, dict) else left
        b = right.get(timestamp, 0.0) if isinstance(right, dict) else right
        try:
            combined[timestamp] = function(a, b)
        except ZeroDivisionError:
            continue
    return combined


def _if(condition: float | Series, when_true: float | Series, when_false: float | Series | None = None) -> float | Series:
    if not isinstance(condition, dict):
        return when_true if condition else ({} if when_false is None else when_false)
    chosen = {}
    for timestamp, value in condition.items():
        if value:
            chosen[timestamp] = when_true.get(timestamp, 0.0) if isinstance(when_true, dict) else when_true
        elif when_false is not None:
            picked = when_false.get(timestamp) if isinstance(when_false, dict) else when_false
            if picked is not None:
                chosen[timestamp] = picked
    return chosen


# --- Evaluation ----------------------------------------------------------------------------------

def evaluate(alarm_inputs: Mapping[str, Any], cloudwatch_client: Any, now: dt.datetime) -> Evaluation:
    """The state CloudWatch would give the alarm at `now` (its planned inputs, as the offline plan
    records them), from the datapoints `cloudwatch_client` holds; see the module docstring. The
    evaluation range is the N + EXTRA_PERIODS periods that end at `now` (to the second); `ignore`
    with nothing to decide on keeps the state the alarm has in `cloudwatch_client`."""
    spec = _spec(alarm_inputs)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    end = now.astimezone(dt.UTC).replace(microsecond=0)
    count = spec.evaluation_periods + EXTRA_PERIODS
    slots = [end - dt.timedelta(seconds=spec.period * (count - k)) for k in range(count)]
    watched = _read(spec, cloudwatch_client, slots[0], end)
    datapoints = [Datapoint(slot, watched.get(slot.timestamp())) for slot in slots]
    state, evaluated = _decide(spec, datapoints)
    if state is None:
        state = _current_state(cloudwatch_client, spec.name)
        reason = f"Missing data ignored (treatMissingData: {spec.treatment}): the alarm stays {state}."
    else:
        reason = _reason(spec, state, datapoints, evaluated)
    return Evaluation(state, reason, datapoints, _reason_data(spec, now, datapoints, evaluated))


def _read(spec: _Spec, cloudwatch: Any, start: dt.datetime, end: dt.datetime) -> Series:
    """The watched series over [start, end), period by period (GetMetricData; the math evaluated here)."""
    queries = [with_stored_dimensions(cloudwatch, query) for query in spec.queries]
    answer = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending")
    series: dict[str, Series] = {}
    for result in answer["MetricDataResults"]:
        if any(value is None for value in result["Values"]):
            raise UnsupportedAlarmError(f"alarm {spec.name}: CloudWatch answered no value for {result['Id']} "
                                   "(percentiles need moto_fixes.corrected())")
        series[result["Id"]] = {t.timestamp(): float(v) for t, v in zip(result["Timestamps"], result["Values"], strict=True)}
    return _resolve(spec.returned, spec, series, ())


def with_stored_dimensions(cloudwatch: Any, query: Mapping[str, Any]) -> dict[str, Any]:
    """A MetricStat query naming its metric's dimensions in the order ListMetrics gives them.

    CloudWatch treats dimensions as a set. moto 5.2 compares GetMetricData's dimensions with the
    stored ones after sorting both with a broken order (`Dimension.__lt__` compares a value with a
    name), so with two or more dimensions only the order they were put in finds the data."""
    metric = query["MetricStat"]["Metric"]
    wanted = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
    if len(wanted) < 2:
        return dict(query)
    listed = cloudwatch.list_metrics(Namespace=metric["Namespace"], MetricName=metric["MetricName"],
                                     Dimensions=[{"Name": k, "Value": v} for k, v in wanted.items()])["Metrics"]
    stored = next((m["Dimensions"] for m in listed if {d["Name"]: d["Value"] for d in m["Dimensions"]} == wanted),
                  metric["Dimensions"])
    return {**query, "MetricStat": {**query["MetricStat"], "Metric": {**metric, "Dimensions": stored}}}


def _resolve(query_id: str, spec: _Spec, series: dict[str, Series], resolving: tuple[str, ...]) -> Series:
    if query_id in series:
        return series[query_id]
    if query_id not in spec.expressions or query_id in resolving:
        raise UnsupportedAlarmError(f"alarm {spec.name}: query {query_id} is unknown or refers to itself")
    expression = spec.expressions[query_id]
    inputs = {name: _resolve(name, spec, series, (*resolving, query_id)) for name in referenced_ids(expression)}
    series[query_id] = evaluate_math(expression, inputs)
    return series[query_id]


Evaluated = list[tuple[Datapoint | None, bool]]  # the datapoints that decided (None: filled in), breaching or not


def _decide(spec: _Spec, datapoints: list[Datapoint]) -> tuple[str | None, Evaluated]:
    """The documented rules (module docstring); state None keeps the current one (`ignore`)."""
    breaching_test, _ = COMPARISONS[spec.comparison]
    real: Evaluated = [(d, breaching_test(d.value, spec.threshold)) for d in datapoints if d.value is not None]
    n, m = spec.evaluation_periods, spec.datapoints_to_alarm
    if len(real) >= n:
        return _m_out_of_n(real[-n:], m), real[-n:]
    if spec.treatment in FILLS:  # every real datapoint counts, missing ones fill in as few as possible
        evaluated = real + [(None, FILLS[spec.treatment])] * (n - len(real))
        return _m_out_of_n(evaluated, m), evaluated
    if not real:
        return ALL_MISSING[spec.treatment], []
    breaching = sum(b for _, b in real)
    if breaching >= m or breaching < len(real):
        return _m_out_of_n(real, m), real
    return (INSUFFICIENT_DATA if spec.treatment == "missing" else None), real


def _m_out_of_n(evaluated: Evaluated, m: int) -> str:
    return ALARM if sum(b for _, b in evaluated) >= m else OK


def _current_state(cloudwatch: Any, name: str) -> str:
    alarms = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0]["StateValue"] if alarms else INSUFFICIENT_DATA  # a new alarm starts INSUFFICIENT_DATA


def _reason(spec: _Spec, state: str, datapoints: list[Datapoint], evaluated: Evaluated) -> str:
    """StateReason in the form of the guide's sample events ("Threshold Crossed: 1 out of the last 1
    datapoints [99.5 (02/10/19 16:59:00)] was greater than the threshold (50.0) ...")."""
    if state == INSUFFICIENT_DATA:
        missing = sum(d.value is None for d in datapoints)
        return f"Insufficient Data: {missing} of the last {len(datapoints)} datapoints were missing " \
               f"(treatMissingData: {spec.treatment})."
    _, words = COMPARISONS[spec.comparison]
    counted = [(d, b) for d, b in evaluated if b == (state == ALARM)]
    listed = ", ".join(f"{d.value!r} ({d.timestamp:%d/%m/%y %H:%M:%S})" for d, _ in counted if d is not None)
    filled = sum(d is None for d, _ in counted)
    if filled:
        listed += f"{', ' if listed else ''}{filled} missing (treatMissingData: {spec.treatment})"
    n, m = spec.evaluation_periods, spec.datapoints_to_alarm
    needed, transition = (m, "OK -> ALARM") if state == ALARM else (n - m + 1, "ALARM -> OK")
    verb = ("was" if len(counted) == 1 else "were") + ("" if state == ALARM else " not")
    return (f"Threshold Crossed: {len(counted)} out of the last {n} datapoints [{listed}] {verb} {words} the threshold "
            f"({spec.threshold!r}) (minimum {needed} datapoint{'s' if needed > 1 else ''} for {transition} transition).")


def _reason_data(spec: _Spec, now: dt.datetime, datapoints: list[Datapoint], evaluated: Evaluated) -> str:
    real = [d for d, _ in evaluated if d is not None]
    data: dict[str, Any] = {"version": "1.0", "queryDate": event_timestamp(now),
                            "startDate": event_timestamp(real[0].timestamp if real else datapoints[0].timestamp)}
    if spec.statistic:
        data["statistic"] = spec.statistic
    data.update({"period": spec.period, "recentDatapoints": [d.value for d in real], "threshold": spec.threshold})
    return json.dumps(data, separators=(",", ":"))


def event_timestamp(moment: dt.datetime) -> str:
    """A time as the alarm events write it: 2019-10-02T17:04:40.989+0000."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


# --- Applying the state --------------------------------------------------------------------------

def apply(alarm_inputs: Mapping[str, Any], evaluation: Evaluation, cloudwatch: Any, events: Any, account: str, region: str,
          now: dt.datetime) -> AlarmChange | None:
    """Moves the alarm (already in moto) to the evaluated state; when that changes its state, puts
    the event CloudWatch sends on the default bus. None when the state stays."""
    name = alarm_inputs["name"]
    found = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if not found:
        raise LookupError(f"alarm {name} is not in the emulated CloudWatch: apply the plan first")
    (current,) = found
    if current["StateValue"] == evaluation.state:
        return None
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=evaluation.state, StateReason=evaluation.reason,
                               StateReasonData=evaluation.reason_data)
    detail = {
        "alarmName": name,
        "configuration": configuration(alarm_inputs),
        "previousState": _previous_state(current),
        "state": {"reason": evaluation.reason, "reasonData": evaluation.reason_data,
                  "timestamp": event_timestamp(now), "value": evaluation.state},
    }
    answer = events.put_events(Entries=[{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail),
                                         "Resources": [current["AlarmArn"]], "Time": now}])
    if answer["FailedEntryCount"]:
        raise RuntimeError(f"EventBridge refused the state change of alarm {name}: {answer['Entries']}")
    event = {"version": "0", "id": answer["Entries"][0]["EventId"], "detail-type": DETAIL_TYPE, "source": SOURCE,
             "account": account, "time": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
             "resources": [current["AlarmArn"]], "detail": detail}
    return AlarmChange(name, current["StateValue"], evaluation.state, event)


def _previous_state(alarm: Mapping[str, Any]) -> dict[str, Any]:
    previous: dict[str, Any] = {"reason": alarm.get("StateReason", "")}
    if alarm.get("StateReasonData") not in (None, "", "{}"):  # the guide's initial state has none
        previous["reasonData"] = alarm["StateReasonData"]
    previous.update({"timestamp": event_timestamp(alarm["StateUpdatedTimestamp"]), "value": alarm["StateValue"]})
    return previous


def configuration(alarm_inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The event's `detail.configuration`: the description and the metrics, as in the guide's samples
    (a single-metric alarm's one metric has a generated id and returnData true)."""
    configured: dict[str, Any] = {}
    if alarm_inputs.get("alarmDescription"):
        configured["description"] = alarm_inputs["alarmDescription"]
    if "metricQueries" not in alarm_inputs:
        stat = alarm_inputs.get("statistic") or alarm_inputs.get("extendedStatistic")
        metric = _event_metric(alarm_inputs["namespace"], alarm_inputs["metricName"], alarm_inputs.get("dimensions", {}))
        configured["metrics"] = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm_inputs["name"])), "metricStat": {
            "metric": metric, "period": int(alarm_inputs["period"]), "stat": stat}, "returnData": True}]
        return configured
    metrics = []
    for query in alarm_inputs["metricQueries"]:
        entry: dict[str, Any] = {"id": query["id"]}
        if "metric" in query:
            m = query["metric"]
            entry["metricStat"] = {"metric": _event_metric(m["namespace"], m["metricName"], m.get("dimensions", {})),
                                   "period": int(m["period"]), "stat": m["stat"]}
        else:
            entry["expression"] = query["expression"]
        if query.get("label"):
            entry["label"] = query["label"]
        entry["returnData"] = bool(query.get("returnData", True))
        metrics.append(entry)
    configured["metrics"] = metrics
    return configured


def _event_metric(namespace: str, name: str, dimensions: Mapping[str, str]) -> dict[str, Any]:
    return {"dimensions": dict(dimensions), "name": name, "namespace": namespace}
