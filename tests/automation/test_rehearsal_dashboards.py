"""The rehearsal's dashboards (automation/rehearsal/dashboards.py): the planned bodies drawn from
known data put in moto's CloudWatch, read back by parsing the SVG (xml.etree: it must be
well-formed XML), so every assertion is on what a reader of the file sees: a polyline per line with
data and as many points as periods with data, the axis extent of the data, the latest value in the
legend, "no data" for a line without, "not evaluated by the emulator" for SEARCH lines, alarm
states, and every text escaped.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from automation import offline
from automation.rehearsal import dashboards, moto_fixes

REGION = "us-east-1"
END = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)
START = END - dt.timedelta(hours=24)
SVG = "{http://www.w3.org/2000/svg}"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:mlops-platform-prod-training"
GROUP = "mlops-platform-prod-churn-customers"
HOSTILE = '<&">'


@functools.cache
def session() -> boto3.session.Session:
    """One session for every test: a new one parses botocore's service models again."""
    return boto3.session.Session(region_name=REGION)


@functools.cache
def planned(stack: str) -> offline.Plan:
    if stack == "dev-endpoints":  # an instance endpoint that captures (drift widgets) and a serverless one
        variants = [{"name": "champion", "weight": 0.5, "modelVersion": 3}, {"name": "challenger", "weight": 0.5, "modelVersion": 5}]
        return offline.plan("dev", config_overrides={"models": [
            {"name": "churn", "threshold": 0.8, "endpoint": {"mode": "instances", "instanceType": "ml.m5.large",
                                                             "instanceCount": 1, "variants": variants}},
            {"name": "lite", "threshold": 0.7, "endpoint": {"mode": "serverless", "variants": [
                {"name": "champion", "weight": 1.0, "modelVersion": 1}]}}]})
    return offline.plan(stack)


@pytest.fixture
def cloudwatch():
    with mock_aws(), moto_fixes.corrected():
        yield session().client("cloudwatch")


def put(cloudwatch, namespace: str, name: str, dimensions: dict[str, str], values: list[tuple[dt.datetime, float]]) -> None:
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{
        "MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "Value": value, "Timestamp": when} for when, value in values])


def widgets(svg: str) -> dict[str, ET.Element]:
    """The drawn widgets by their full title (text widgets by their heading)."""
    root = ET.fromstring(svg)
    return {group.find(f"{SVG}title").text or "": group for group in root.iter(f"{SVG}g")}


def texts(element: ET.Element, css_class: str) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text") if (t.get("class") or "").split()[0] == css_class]


def polylines(element: ET.Element) -> dict[str, list[tuple[float, float]]]:
    """Each polyline's points, by the line's label (its <title>)."""
    return {line.find(f"{SVG}title").text: [tuple(map(float, p.split(","))) for p in line.get("points").split()]
            for line in element.iter(f"{SVG}polyline")}


# --- The prod plan's dashboards -------------------------------------------------------------------

EXECUTIONS_STARTED = [(END - dt.timedelta(hours=h, minutes=10), float(v)) for h, v in ((20, 2), (14, 5), (9, 1), (2, 3))]


@pytest.fixture(scope="module")
def prod_svgs(tmp_path_factory) -> dict[str, str]:
    """The prod dashboards over a day with: 4 hours with started executions, 3 hours of GetRecord
    latencies 1..100 ms (p50 50, p95 95, p99 99 by nearest rank), the failed-runs alarm in ALARM,
    and nothing else."""
    with mock_aws(), moto_fixes.corrected():
        return draw_prod(session().client("cloudwatch"), tmp_path_factory.mktemp("prod"))


def draw_prod(cloudwatch, out: Path) -> dict[str, str]:
    put(cloudwatch, "AWS/States", "ExecutionsStarted", {"StateMachineArn": STATE_MACHINE}, EXECUTIONS_STARTED)
    for hour in (3, 2, 1):
        put(cloudwatch, "AWS/SageMaker", "Latency", {"FeatureGroupName": GROUP, "OperationName": "GetRecord"},
            [(END - dt.timedelta(hours=hour, seconds=-v), float(v)) for v in range(1, 101)])
    cloudwatch.put_metric_alarm(AlarmName="mlops-platform-prod-training-failed", Namespace="AWS/States",
                                MetricName="ExecutionsFailed", Statistic="Sum", Period=300, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanOrEqualToThreshold")
    cloudwatch.set_alarm_state(AlarmName="mlops-platform-prod-training-failed", StateValue="ALARM", StateReason="test")
    written = dashboards.render_all(planned("prod"), cloudwatch, START, END, out)
    return {path.stem: path.read_text() for path in written}


def test_every_planned_dashboard_is_written_as_well_formed_svg(prod_svgs):
    bodies = {r.inputs["dashboardName"]: json.loads(r.inputs["dashboardBody"])
              for r in planned("prod").of_type(dashboards.DASHBOARD)}
    assert set(prod_svgs) == set(bodies)
    for name, svg in prod_svgs.items():
        assert len(widgets(svg)) == len(bodies[name]["widgets"]), name


def test_a_line_with_data_is_a_polyline_of_its_periods_with_the_datas_extent(prod_svgs):
    executions = widgets(prod_svgs["mlops-platform-prod-training-pipeline"])["Executions"]
    lines = polylines(executions)
    assert set(lines) == {"started"}  # succeeded and failed have no data: no polyline
    points = lines["started"]
    assert len(points) == len(EXECUTIONS_STARTED)  # one per hour (the widget's period) with data
    assert [x for x, _ in points] == sorted(x for x, _ in points)
    ys = [y for _, y in points]
    assert ys.index(min(ys)) == 1 and ys.index(max(ys)) == 2  # 5 is highest on the page, 1 lowest
    assert texts(executions, "left-max") == ["5"] and texts(executions, "left-min") == ["1"]


def test_the_legend_has_each_lines_latest_value_or_no_data(prod_svgs):
    pipeline = widgets(prod_svgs["mlops-platform-prod-training-pipeline"])
    assert texts(pipeline["Executions"], "legend") == ["started: 3", "succeeded: no data", "failed: no data"]
    store = widgets(prod_svgs["mlops-platform-prod-feature-store"])
    latency = store[f"{GROUP}: online serving latency (GetRecord)"]
    assert texts(latency, "legend") == ["p50: 50", "p95: 95", "p99: 99"]
    assert all(len(points) == 3 for points in polylines(latency).values())
    freshness = store[f"{GROUP}: freshness"]
    assert texts(freshness, "legend") == ["age of newest event: no data"] and polylines(freshness) == {}


def test_search_lines_say_the_emulator_does_not_evaluate_them(prod_svgs):
    performance = widgets(prod_svgs["mlops-platform-prod-model-performance"])
    (objective,) = [w for title, w in performance.items() if "per training run" in title]
    assert texts(objective, "legend") == [f"validation:auc: {dashboards.NOT_EVALUATED} (SEARCH)"]
    assert polylines(objective) == {}


def test_alarm_widgets_show_the_alarms_current_state_and_text_widgets_their_text(prod_svgs):
    pipeline = widgets(prod_svgs["mlops-platform-prod-training-pipeline"])
    assert texts(pipeline["Alarms"], "alarm") == ["mlops-platform-prod-training-failed: ALARM"]
    store = widgets(prod_svgs["mlops-platform-prod-feature-store"])
    assert texts(store["Alarms"], "alarm") == ["mlops-platform-prod-churn-customers-ingest-rejects: not in the emulated CloudWatch"]
    assert texts(store["Feature store"], "markdown") == ["Freshness is the age of the newest ingested event time."]


# --- Bodies beyond the plan ------------------------------------------------------------------------------

def body(*widget_list: dict[str, Any]) -> str:
    placed = [{"x": 0, "y": 6 * i, "width": 12, "height": 6, **w} for i, w in enumerate(widget_list)]
    return json.dumps({"widgets": placed})


def test_every_text_is_escaped(cloudwatch):
    put(cloudwatch, "Rehearsal", "Errors", {"Service": HOSTILE}, [(END - dt.timedelta(hours=1), 2.0)])
    svg = dashboards.render(body(
        {"type": "metric", "properties": {"title": f"title {HOSTILE}", "period": 3600,
                                          "metrics": [["Rehearsal", "Errors", "Service", HOSTILE, {"stat": "Sum"}]]}},
        {"type": "text", "properties": {"markdown": f"# heading {HOSTILE}\nbody {HOSTILE}"}},
    ), cloudwatch, START, END, title=f"dashboard {HOSTILE}")
    drawn = widgets(svg)  # parses: the document is well-formed
    metric = drawn[f"title {HOSTILE}"]
    assert set(polylines(metric)) == {f"Errors Service={HOSTILE}"}
    assert texts(metric, "legend") == [f"Errors Service={HOSTILE}: 2"]
    assert texts(drawn[f"heading {HOSTILE}"], "markdown") == [f"body {HOSTILE}"]
    assert HOSTILE not in svg and "&lt;&amp;&quot;&gt;" in svg


def test_a_dot_repeats_the_previous_lines_value_in_its_place(cloudwatch):
    for host, value in (("a", 1.0), ("b", 7.0)):
        put(cloudwatch, "Rehearsal", "Load", {"Host": host}, [(END - dt.timedelta(hours=1), value)])
    svg = dashboards.render(body({"type": "metric", "properties": {"title": "load", "period": 3600, "metrics": [
        ["Rehearsal", "Load", "Host", "a"], [".", ".", ".", "b", {"label": "host b"}]]}}), cloudwatch, START, END)
    assert texts(widgets(svg)["load"], "legend") == ["Load Host=a: 1", "host b: 7"]


def test_the_callers_period_replaces_the_bodys(cloudwatch):
    put(cloudwatch, "Rehearsal", "Rows", {"Table": "t"}, [(END - dt.timedelta(minutes=m, seconds=30), 1.0) for m in range(10)])
    rows = body({"type": "metric", "properties": {"title": "rows", "period": 3600, "stat": "Sum",
                                                   "metrics": [["Rehearsal", "Rows", "Table", "t"]]}})
    hourly = polylines(widgets(dashboards.render(rows, cloudwatch, START, END))["rows"])
    by_minute = polylines(widgets(dashboards.render(rows, cloudwatch, START, END, 60))["rows"])
    assert len(hourly["Rows Table=t"]) == 1 and len(by_minute["Rows Table=t"]) == 10


def test_a_right_axis_line_has_its_own_scale(cloudwatch):
    put(cloudwatch, "Rehearsal", "Small", {"K": "v"}, [(END - dt.timedelta(hours=h), float(h)) for h in (1, 2)])
    put(cloudwatch, "Rehearsal", "Large", {"K": "v"}, [(END - dt.timedelta(hours=h), 1000.0 * h) for h in (1, 3)])
    svg = dashboards.render(body({"type": "metric", "properties": {"title": "two axes", "period": 3600, "metrics": [
        ["Rehearsal", "Small", "K", "v"], ["Rehearsal", "Large", "K", "v", {"yAxis": "right"}]]}}), cloudwatch, START, END)
    drawn = widgets(svg)["two axes"]
    assert (texts(drawn, "left-min"), texts(drawn, "left-max")) == (["1"], ["2"])
    assert (texts(drawn, "right-min"), texts(drawn, "right-max")) == (["1000"], ["3000"])


def test_widget_types_the_program_does_not_deploy_are_named_not_drawn(cloudwatch):
    svg = dashboards.render(body({"type": "log", "properties": {"query": "fields @message"}}), cloudwatch, START, END)
    assert "log widget: not drawn by the emulator" in svg
    ET.fromstring(svg)


def test_every_dashboard_of_a_stack_with_endpoints_renders(cloudwatch, tmp_path):
    """The inference endpoint and drift widgets too (a right axis, 4-row widgets, many alarms)."""
    plan = planned("dev-endpoints")
    written = dashboards.render_all(plan, cloudwatch, START, END, tmp_path)
    names = {r.inputs["dashboardName"] for r in plan.of_type(dashboards.DASHBOARD)}
    assert {p.stem for p in written} == names and any(n.endswith("-inference-endpoints") for n in names)
    for path in written:
        drawn = widgets(path.read_text())
        assert all(polylines(w) == {} for w in drawn.values())  # no data was put
