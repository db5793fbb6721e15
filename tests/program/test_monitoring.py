"""Monitoring as the stacks plan it: the four dashboards, the alarms, drift detection with
retraining, archiving and scan alerts, each built for what the stack has.

Every widget line is checked against the plan, not against what the dashboard builder was told:
its namespace, name and dimension names must be an entry of components/metrics_catalogue.py, and
its dimension values must name a resource of the same plan that emits it (the state machine, a
model's training jobs by the job prefix the deployed state machine uses, a feature group, an
endpoint and its variants, the models the drift schedules check, the catalogue's own value sets).

The shipped stacks serve no model yet (no `modelVersion`), so they have no endpoint; the
endpoint case is dev with two models serving: one from an instance endpoint with two variants that
captures its requests, one from a serverless endpoint, which cannot.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation import offline
from automation.offline import Plan
from components import archiving, dashboards, drift, drift_events, metrics_catalogue, monitoring, monitoring_events
from containers.contracts.features import FEATURE_NAMES
from functions.drift import outcomes
from scripts import render_dashboards

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
FUNCTION = "aws:lambda/function:Function"
SEARCH_RE = re.compile(r"^SEARCH\('\{\"(?P<namespace>[^\"]+)\",(?P<dimension>\w+)\} MetricName=\"(?P<name>[^\"]+)\" "
                       r"(?P<term>\S+)(?P<exclusions>( NOT \S+)*)', '(?P<stat>\w+)', (?P<period>\d+)\)$")

VARIANTS = {"champion": (3, 2), "challenger": (5, None)}  # name -> (modelVersion, previousModelVersion)

@pytest.fixture(scope="module")
def endpoint_plan() -> Plan:
    """dev, with model churn serving two versions from an instance endpoint that captures its
    requests, and model lite one version from a serverless endpoint (which cannot capture)."""
    variants = [{"name": n, "weight": 0.5, "modelVersion": v, **({"previousModelVersion": p} if p else {})}
                for n, (v, p) in VARIANTS.items()]
    models = [{"name": "churn", "threshold": 0.8, "hyperparameters": {"max_depth": "5"},
               "endpoint": {"mode": "instances", "instanceType": "ml.m5.large", "instanceCount": 1, "variants": variants}},
              {"name": "lite", "threshold": 0.7, "endpoint": {"mode": "serverless", "variants": [
                  {"name": "champion", "weight": 1.0, "modelVersion": 1}]}}]
    return offline.plan("dev", config_overrides={"models": models})


@pytest.fixture(params=["dev", "prod", "endpoint"])
def any_plan(request, plan_for, endpoint_plan) -> Plan:
    return endpoint_plan if request.param == "endpoint" else plan_for(request.param)


def bodies(plan: Plan) -> dict[str, dict[str, Any]]:
    return {r.inputs["dashboardName"]: json.loads(r.inputs["dashboardBody"]) for r in plan.of_type(DASHBOARD)}


# --- What the plan emits, by dimension ---------------------------------------------------------

def job_prefixes(plan: Plan) -> set[str]:
    (machine,) = plan.of_type("aws:sfn/stateMachine:StateMachine")
    states = json.loads(machine.inputs["definition"])["States"]
    return {state["Result"]["job_prefix"] for name, state in states.items() if name.startswith("Configure-")}


def drift_checks(plan: Plan) -> list[dict[str, Any]]:
    functions = {f.outputs["arn"] for f in plan.of_type(FUNCTION) if f.inputs["name"].endswith("-drift-check")}
    return [json.loads(t.inputs["input"]) for t in plan.of_type(TARGET) if t.inputs["arn"] in functions]


def endpoint_variants(plan: Plan) -> set[tuple[str, str]]:
    configs = {c.outputs["name"]: c for c in plan.of_type(ENDPOINT_CONFIG)}
    return {(e.inputs["name"], v["variantName"]) for e in plan.of_type(ENDPOINT)
            for v in configs[e.inputs["endpointConfigName"]].inputs["productionVariants"]}


def emitted(plan: Plan) -> dict[str, set]:
    """Dimension name -> the values the plan's resources emit metrics under."""
    checks = drift_checks(plan)
    pairs = endpoint_variants(plan)
    return {
        "StateMachineArn": {m.outputs["arn"] for m in plan.of_type("aws:sfn/stateMachine:StateMachine")},
        "FeatureGroupName": {g.inputs["featureGroupName"] for g in plan.of_type("aws:sagemaker/featureGroup:FeatureGroup")},
        "OperationName": {"GetRecord"},
        "EndpointName": {e for e, _ in pairs},
        "VariantName": {v for _, v in pairs},
        "Model": {c["model"] for c in checks},
        "Variant": {v["name"] for c in checks for v in c["variants"]},
        "Feature": set(FEATURE_NAMES),
        "Outcome": set(outcomes.OUTCOMES),
    }


def lines(body: dict[str, Any]):
    for widget in body["widgets"]:
        if widget["type"] == "metric":
            for line in widget["properties"]["metrics"]:
                yield widget["properties"]["title"], line


# --- Dashboards --------------------------------------------------------------------------------

def test_each_stack_has_the_dashboards_of_what_it_deploys(any_plan):
    names = {n.removeprefix(f"mlops-platform-{any_plan.stack}-") for n in bodies(any_plan)}
    expected = {dashboards.TRAINING_PIPELINE, dashboards.MODEL_PERFORMANCE}
    expected |= {dashboards.FEATURE_STORE} if any_plan.of_type("aws:sagemaker/featureGroup:FeatureGroup") else set()
    expected |= {dashboards.INFERENCE_ENDPOINTS} if any_plan.of_type(ENDPOINT) else set()
    assert names == expected


def test_dashboards_are_valid_json_within_cloudwatchs_limits(any_plan):
    for name, body in bodies(any_plan).items():
        assert dashboards.check_limits(body) == [], name
        assert body["widgets"] and all(w["type"] in ("metric", "text", "alarm") for w in body["widgets"])


def test_every_widget_metric_is_a_catalogue_entry_that_a_planned_resource_emits(any_plan):
    values = emitted(any_plan)
    prefixes = job_prefixes(any_plan)
    checked = 0
    for name, body in bodies(any_plan).items():
        for title, line in lines(body):
            if isinstance(line[0], dict):
                match = SEARCH_RE.match(line[0]["expression"])
                assert match, (name, title, line)
                assert [m for m in metrics_catalogue.CATALOGUE.values() if (m.namespace, m.name, m.dimensions) == (
                    match["namespace"], match["name"], (match["dimension"],))], (title, line)
                assert match["term"] in prefixes and match["dimension"] in ("Host", "TrainingJobName"), (title, line)
            else:
                entry, dimensions = dashboards.metric_of(line)
                assert entry is not None, (name, title, line)
                unknown = {d: v for d, v in dimensions.items() if v not in values[d]}
                assert unknown == {}, (name, title, line)
            checked += 1
    assert checked > 10


def test_the_alarm_widgets_show_planned_alarms(any_plan):
    alarms = {a.outputs["arn"] for a in any_plan.of_type(ALARM)}
    shown = [arn for body in bodies(any_plan).values() for w in body["widgets"] if w["type"] == "alarm"
             for arn in w["properties"]["alarms"]]
    assert shown and set(shown) <= alarms


def test_endpoint_and_drift_widgets_cover_every_variant_of_every_endpoint(endpoint_plan):
    def dimensions(board: str, metric_name: str | None = None) -> list[dict[str, str]]:
        found = [dashboards.metric_of(line) for _, line in lines(bodies(endpoint_plan)[f"mlops-platform-dev-{board}"])
                 if not isinstance(line[0], dict)]
        return [d for entry, d in found if metric_name in (None, entry.name)]

    shown = {(d["EndpointName"], d["VariantName"]) for d in dimensions(dashboards.INFERENCE_ENDPOINTS)}
    assert shown == endpoint_variants(endpoint_plan) and len(shown) == 3
    features = {(d["Model"], d["Variant"], d["Feature"]) for d in dimensions(dashboards.MODEL_PERFORMANCE, "FeatureDriftPSI")}
    assert features == {("churn", v, f) for v in VARIANTS for f in FEATURE_NAMES}  # lite captures nothing
    board = bodies(endpoint_plan)["mlops-platform-dev-inference-endpoints"]
    names = {(dashboards.metric_of(line)[1]["EndpointName"], line[1]) for _, line in lines(board)}
    assert {("mlops-platform-dev-churn-endpoint", "CPUUtilization"),
            ("mlops-platform-dev-lite-endpoint", "ServerlessConcurrentExecutionsUtilization")} <= names
    assert ("mlops-platform-dev-lite-endpoint", "CPUUtilization") not in names


# --- Alarms ------------------------------------------------------------------------------------

def alarm_metrics(alarm) -> list[dict[str, Any]]:
    inputs = alarm.inputs
    if "metricQueries" in inputs:
        return [q["metric"] for q in inputs["metricQueries"] if "metric" in q]
    return [{"namespace": inputs["namespace"], "metricName": inputs["metricName"], "dimensions": inputs.get("dimensions")}]


def test_no_alarm_without_dimensions_and_each_chose_what_missing_data_means(any_plan):
    """Every alarm of the stack (any component's): each metric it reads has every dimension its
    catalogue entry has, and treat_missing_data is set (never CloudWatch's default)."""
    alarms = any_plan.of_type(ALARM)
    assert len(alarms) >= 3
    for alarm in alarms:
        assert alarm.inputs.get("treatMissingData") in ("notBreaching", "breaching", "ignore", "missing"), alarm.name
        for metric in alarm_metrics(alarm):
            assert metric["dimensions"], alarm.name
            assert [m for m in metrics_catalogue.CATALOGUE.values() if (m.namespace, m.name, set(m.dimensions)) == (
                metric["namespace"], metric["metricName"], set(metric["dimensions"]))], alarm.name


def test_every_alarm_tells_the_encrypted_alert_topic_which_lets_it(any_plan):
    (topic,) = any_plan.of_type("aws:sns/topic:Topic")
    policy = json.loads(any_plan.get("aws:sns/topicPolicy:TopicPolicy", "monitoring-alerts-policy").inputs["policy"])
    (alarm_statement,) = [s for s in policy["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    key_policy = json.loads(any_plan.get("aws:kms/key:Key", "platform-key").inputs["policy"])
    (key_statement,) = [s for s in key_policy["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert fnmatch.fnmatch(topic.outputs["arn"], key_statement["Condition"]["StringLike"]["kms:EncryptionContext:aws:sns:topicArn"])
    # An endpoint's rollback alarms act only by rolling a deployment back: they notify nobody, and
    # exist for the endpoint that names them (components/inference_endpoint.py).
    rollback = {a["alarmName"] for e in any_plan.of_type("aws:sagemaker/endpoint:Endpoint")
                for a in e.inputs.get("deploymentConfig", {}).get("autoRollbackConfiguration", {}).get("alarms", [])}
    for alarm in any_plan.of_type(ALARM):
        if alarm.inputs["name"] in rollback:
            assert alarm.inputs["actionsEnabled"] is False and "alarmActions" not in alarm.inputs, alarm.name
            continue
        assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]], alarm.name
        assert alarm.inputs.get("okActions", [topic.outputs["arn"]]) == [topic.outputs["arn"]], alarm.name
        assert fnmatch.fnmatch(alarm.outputs["arn"], alarm_statement["Condition"]["ArnLike"]["aws:SourceArn"]), alarm.name
    mine = [a for a in any_plan.of_type(ALARM) if a.parent and "Monitoring" in a.parent]
    assert mine and all(a.inputs["okActions"] == [topic.outputs["arn"]] for a in mine)  # they tell when they clear


def test_the_endpoint_alarms_watch_5xx_rate_and_p99_latency_of_each_variant(endpoint_plan):
    alarms = {a.inputs["name"]: a.inputs for a in endpoint_plan.of_type(ALARM)}
    for variant in VARIANTS:
        rate = alarms[f"mlops-platform-dev-churn-{variant}-5xx-rate"]
        assert rate["threshold"] == monitoring.SERVER_ERROR_PERCENT
        assert rate["metricQueries"][0]["expression"] == "IF(total > 0, 100 * part / total, 0)"
        assert [q["metric"]["metricName"] for q in rate["metricQueries"][1:]] == ["Invocation5XXErrors", "Invocations"]
        latency = alarms[f"mlops-platform-dev-churn-{variant}-p99-latency"]
        assert (latency["extendedStatistic"], latency["threshold"]) == ("p99", monitoring.MODEL_LATENCY_P99_MS * 1000)
        assert latency["dimensions"] == {"EndpointName": "mlops-platform-dev-churn-endpoint", "VariantName": variant}


def test_stacks_without_an_endpoint_have_no_endpoint_alarms_no_drift_and_no_drift_widgets(stack_plan):
    assert not [a for a in stack_plan.of_type(ALARM) if re.search(r"(5xx-rate|p99-latency|data-drift)$", a.inputs["name"])]
    assert not [r for r in stack_plan.resources if r.type == "mlops:components:DriftDetection"]
    assert not [line for body in bodies(stack_plan).values() for _, line in lines(body)
                if not isinstance(line[0], dict) and line[0] == metrics_catalogue.PLATFORM_NAMESPACE and "Model" in line]


# --- Drift detection and retraining ----------------------------------------------------------

def test_the_drift_schedule_checks_the_versions_the_variants_serve(endpoint_plan):
    (check,) = drift_checks(endpoint_plan)  # lite's serverless endpoint captures nothing: not checked
    (capture,) = [c.inputs["dataCaptureConfig"]["destinationS3Uri"] for c in endpoint_plan.of_type(ENDPOINT_CONFIG)
                  if c.inputs.get("dataCaptureConfig")]
    assert check == {"model": "churn", "endpoint": "mlops-platform-dev-churn-endpoint", "capture_uri": capture, "variants": [
        {"name": v, "model_package_arn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-platform-dev-churn/{n}"}
        for v, (n, _) in VARIANTS.items()]}
    rule = endpoint_plan.get(RULE, "monitoring-drift-churn-schedule")
    assert rule.inputs["scheduleExpression"] == f"rate({drift.CHECK_HOURS} hours)"


def test_the_drift_function_carries_numpy_and_gets_the_catalogues_names(endpoint_plan):
    function = endpoint_plan.get(FUNCTION, "monitoring-drift-check-function")
    code = function.inputs["code"].assets
    assert {name: archive.path for name, archive in code.items() if not name.endswith(".py")} == {
        folder: f"{drift.NUMPY_DIR}/{folder}" for folder in drift.NUMPY_FOLDERS}
    assert "functions/drift/handler.py" in code and function.inputs["handler"] == "functions.drift.handler.handler"
    other = endpoint_plan.get(FUNCTION, "monitoring-archiving-run-function").inputs["code"].assets
    assert all(name.endswith(".py") for name in other)  # only the drift function carries numpy
    metrics = json.loads(function.inputs["environment"]["variables"]["METRICS"])
    assert set(metrics) == set(outcomes.METRIC_KEYS)
    assert all(metrics_catalogue.CATALOGUE[k].name == m["name"] for k, m in metrics.items())


def test_the_drift_alarm_rearms_only_after_checks_without_drift(endpoint_plan):
    alarm = endpoint_plan.get(ALARM, "monitoring-drift-churn-alarm").inputs
    assert (alarm["metricName"], alarm["dimensions"]) == ("DataDriftDetected", {"Model": "churn"})
    assert (alarm["datapointsToAlarm"], alarm["evaluationPeriods"], alarm["period"]) == (
        1, drift.REARM_CHECKS, drift.CHECK_HOURS * 3600)
    assert alarm["period"] * alarm["evaluationPeriods"] <= 86400  # CloudWatch looks back at most a day
    assert alarm["treatMissingData"] == "notBreaching"


def test_the_retrain_rule_starts_the_state_machine_with_the_models_input(endpoint_plan):
    rule = endpoint_plan.get(RULE, "monitoring-drift-churn-retrain")
    assert json.loads(rule.inputs["eventPattern"]) == drift_events.retrain_event_pattern(["mlops-platform-dev-churn-data-drift"])
    target = endpoint_plan.get(TARGET, "monitoring-drift-churn-retrain-target").inputs
    (machine,) = endpoint_plan.of_type("aws:sfn/stateMachine:StateMachine")
    assert target["arn"] == machine.outputs["arn"]
    assert target["inputTransformer"] == {"inputPaths": drift_events.INPUT_PATHS,
                                          "inputTemplate": drift_events.retrain_input_template("churn")}
    role = endpoint_plan.get("aws:iam/role:Role", "monitoring-drift-retrain-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == [rule.outputs["arn"]]
    access = json.loads(endpoint_plan.get("aws:iam/rolePolicy:RolePolicy", "monitoring-drift-retrain-access").inputs["policy"])
    assert access["Statement"] == [{"Sid": "StartTrainingPipeline", "Effect": "Allow", "Action": ["states:StartExecution"],
                                    "Resource": [machine.outputs["arn"]]}]


def test_the_drift_function_reads_only_its_endpoints_captures_and_baselines(endpoint_plan):
    policy = json.loads(endpoint_plan.get("aws:iam/rolePolicy:RolePolicy", "monitoring-drift-check-access").inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    (uri,) = [c.inputs["dataCaptureConfig"]["destinationS3Uri"] for c in endpoint_plan.of_type(ENDPOINT_CONFIG)
              if c.inputs.get("dataCaptureConfig")]
    bucket, path = uri.removeprefix("s3://").split("/", 1)
    capture = next(b.outputs["arn"] for b in endpoint_plan.of_type("aws:s3/bucket:Bucket") if b.outputs["bucket"] == bucket)
    artifacts = endpoint_plan.get("aws:s3/bucket:Bucket", "training-artifacts").outputs["arn"]
    assert statements["ReadCaptures"]["Resource"] == [f"{capture}/{path}/mlops-platform-dev-churn-endpoint/*"]
    assert statements["ListCaptures"]["Condition"] == {"StringLike": {"s3:prefix": [f"{path}/mlops-platform-dev-churn-endpoint/*"]}}
    assert statements["WriteReports"]["Resource"] == [f"{capture}/{drift.REPORT_PREFIX}/*"]
    assert statements["ReadBaselines"]["Resource"] == [f"{artifacts}/churn/training/*"]
    assert statements["PublishDriftMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "MLOpsPlatform"}}


# --- Archiving and scan alerts ---------------------------------------------------------------

def archive_input(plan: Plan) -> dict[str, Any]:
    return json.loads(plan.get(TARGET, "monitoring-archiving-churn-target").inputs["input"])


@pytest.mark.parametrize("stack, keep", [("dev", 5), ("prod", 20)])
def test_archiving_keeps_the_retention_of_each_stack(plan_for, stack, keep):
    assert archive_input(plan_for(stack)) == {"model_package_group": f"mlops-platform-{stack}-churn", "keep": keep,
                                              "protected_versions": [], "dry_run": False}


def test_archiving_never_touches_what_the_variants_serve_or_would_roll_back_to(endpoint_plan):
    assert archive_input(endpoint_plan)["protected_versions"] == [2, 3, 5]
    lite = json.loads(endpoint_plan.get(TARGET, "monitoring-archiving-lite-target").inputs["input"])
    assert lite["protected_versions"] == [1]
    assert endpoint_plan.get(RULE, "monitoring-archiving-churn-schedule").inputs["scheduleExpression"] == archiving.SCHEDULE


def test_scan_findings_of_the_platforms_images_reach_the_alert_topic(any_plan):
    rule = any_plan.get(RULE, "monitoring-image-scans")
    repositories = [r.inputs["name"] for r in any_plan.of_type("aws:ecr/repository:Repository")]
    assert repositories and all(r.inputs["imageScanningConfiguration"]["scanOnPush"]
                                for r in any_plan.of_type("aws:ecr/repository:Repository"))
    assert json.loads(rule.inputs["eventPattern"]) == monitoring_events.scan_findings_pattern(repositories)
    target = any_plan.get(TARGET, "monitoring-image-scans-alert").inputs
    (topic,) = any_plan.of_type("aws:sns/topic:Topic")
    assert target["arn"] == topic.outputs["arn"]
    assert fnmatch.fnmatch(rule.outputs["arn"], "arn:aws:events:us-east-1:123456789012:rule/mlops-platform-*-*")


def test_the_rendered_dashboards_in_docs_are_the_current_ones():
    """docs/dashboards/*.svg are made from the prod config by scripts/render_dashboards.py: a change
    to a dashboard without rendering them again fails here."""
    rendered = render_dashboards.render(render_dashboards.stack_config("prod"))
    assert len(rendered) == 4
    for name, svg in rendered.items():
        path = Path(offline.ROOT / "docs" / "dashboards" / f"{name}.svg")
        assert path.is_file() and path.read_text() == svg, f"run venv/bin/python scripts/render_dashboards.py ({name})"
    assert sorted(p.stem for p in (offline.ROOT / "docs" / "dashboards").glob("*.svg")) == sorted(rendered)


def test_the_rendering_is_made_from_the_bodies_the_prod_plan_deploys(plan_for):
    """The renderer's inputs (without endpoints, as prod has none yet) give exactly the prod plan's bodies."""
    cfg = render_dashboards.stack_config("prod")
    inputs = render_dashboards.sample_inputs(cfg, serving=False)
    deployed = bodies(plan_for("prod"))
    assert {cfg.namer.name(b, "dashboard"): body for b, body in dashboards.bodies(inputs).items()} == deployed


# --- The cool-down of retraining on drift -----------------------------------------------------

def alarm_states(checks: list[bool | None], datapoints_to_alarm: int, evaluation_periods: int) -> list[str]:
    """The state of an M-out-of-N alarm after each period, as CloudWatch evaluates it (CloudWatch
    User Guide, "Alarm evaluation"): ALARM when at least M of the last N periods breach, OK
    otherwise; a period with no datapoint (None: the check decided nothing) counts as not
    breaching under treat_missing_data=notBreaching."""
    states = []
    for end in range(1, len(checks) + 1):
        window = checks[max(0, end - evaluation_periods):end]
        states.append("ALARM" if sum(bool(c) for c in window) >= datapoints_to_alarm else "OK")
    return states


def starts(states: list[str]) -> list[int]:
    """The periods at which the retrain rule fires: the changes into ALARM."""
    return [i for i, state in enumerate(states) if state == "ALARM" and (i == 0 or states[i - 1] != "ALARM")]


def drift_alarm(plan: Plan) -> tuple[int, int]:
    alarm = plan.get(ALARM, "monitoring-drift-churn-alarm").inputs
    assert alarm["treatMissingData"] == "notBreaching"
    return int(alarm["datapointsToAlarm"]), int(alarm["evaluationPeriods"])


def test_a_flapping_drift_signal_starts_one_run_not_one_per_flap(endpoint_plan):
    m, n = drift_alarm(endpoint_plan)
    flapping = [check % 2 == 0 for check in range(40)]  # drift, none, drift, none... for ten days
    assert starts(alarm_states(flapping, m, n)) == [0]
    with_gaps = [check % 3 == 0 or None for check in range(40)]  # drift every third check, nothing decided between
    assert starts(alarm_states(with_gaps, m, n)) == [0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(checks=st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=60))
def test_runs_start_at_least_the_rearm_time_apart_and_no_drift_goes_unanswered(endpoint_plan, checks):
    m, n = drift_alarm(endpoint_plan)
    states = alarm_states(checks, m, n)
    fired = starts(states)
    assert all(later - earlier >= n + 1 for earlier, later in zip(fired, fired[1:], strict=False))
    assert (n + 1) * drift.CHECK_HOURS == 30
    # Every check that found drift is followed by a run within the alarm's episode: it fires then, or it already had.
    assert all(states[i] == "ALARM" for i, found in enumerate(checks) if found)
