"""The EventBridge rules of monitoring, run in moto's EventBridge with an SQS queue as the target
(moto delivers to SQS through the same pattern matching and input transformer as any target),
against AWS's own sample events:

- data/cloudwatch-alarm-state-change.json: the "State change for a single-metric alarm" sample of
  the CloudWatch User Guide ("Alarm events and EventBridge"), verbatim; the tests rename its alarm
  and flip its states;
- data/ecr-image-scan.json: the "Event for a completed image scan" sample of the Amazon ECR User
  Guide ("Amazon ECR events and EventBridge"), verbatim but for a closing quote the guide's
  sample lacks ("MEDIUM” instead of "MEDIUM").

The retraining rule's message is then held to the training state machine: its model_name is one
the deployed definition's SelectModel accepts, and its hyperparameters go the default route.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from automation import offline
from components import drift_events, monitoring_events, training_workflow
from components.config import parse_cli_config

DATA = Path(__file__).parent / "data"
REGION = "us-east-1"
DRIFT_ALARM = "mlops-platform-dev-churn-data-drift"
REPOSITORY = "mlops-platform-dev-training"


def sample(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


def alarm_event(name: str, state: str, previous: str) -> dict[str, Any]:
    event = copy.deepcopy(sample("cloudwatch-alarm-state-change.json"))
    event["resources"] = [f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{name}"]
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"], event["detail"]["previousState"]["value"] = state, previous
    return event


def delivered(pattern: dict[str, Any], transformer: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a rule with `pattern` and an SQS target with `transformer` delivers for `events`."""
    with mock_aws():
        events_client = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="target")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events_client.put_rule(Name="rule", EventPattern=json.dumps(pattern))
        events_client.put_targets(Rule="rule", Targets=[{"Id": "queue", "Arn": arn, "InputTransformer": transformer}])
        for event in events:
            answer = events_client.put_events(Entries=[{
                "Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"]}])
            assert answer["FailedEntryCount"] == 0
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


RETRAIN_TRANSFORMER = {"InputPathsMap": drift_events.INPUT_PATHS, "InputTemplate": drift_events.retrain_input_template("churn")}


def test_a_drift_alarm_going_into_alarm_starts_the_models_training_run():
    (message,) = delivered(drift_events.retrain_event_pattern([DRIFT_ALARM]), RETRAIN_TRANSFORMER,
                           [alarm_event(DRIFT_ALARM, "ALARM", "OK")])
    assert message["model_name"] == "churn" and message["hyperparameters"] == {}
    assert message["retrain_trigger"]["alarm"] == DRIFT_ALARM and message["retrain_trigger"]["changed_at"]
    assert set(message) == {"model_name", "hyperparameters", "retrain_trigger"}


@pytest.mark.parametrize("event", [
    alarm_event(DRIFT_ALARM, "OK", "ALARM"),
    alarm_event(DRIFT_ALARM, "INSUFFICIENT_DATA", "OK"),
    alarm_event("mlops-platform-dev-churn-champion-5xx-rate", "ALARM", "OK"),
    alarm_event("mlops-platform-dev-other-data-drift", "ALARM", "OK"),
    alarm_event("ServerCpuTooHigh", "ALARM", "OK"),
], ids=["back to OK", "insufficient data", "another alarm of the stack", "another model's drift alarm", "AWS's sample alarm"])
def test_no_other_state_change_starts_anything(event):
    assert delivered(drift_events.retrain_event_pattern([DRIFT_ALARM]), RETRAIN_TRANSFORMER, [event]) == []


def test_the_message_is_an_input_the_deployed_state_machine_runs_with_the_models_defaults():
    project = offline.load_project()
    cfg = parse_cli_config(project["name"], "dev", offline.load_stack_config("dev", project=project)[0])
    spec = training_workflow.spec_for(cfg, image_uri="image:tag", inference_image_uri="inference:tag",
                                      training_role_arn="arn:role", kms_key_arn="arn:key",
                                      topic_arn="arn:topic", data_bucket="d", artifact_bucket="a",
                                      package_groups={m.name: f"g-{m.name}" for m in cfg.models})
    states = training_workflow.definition(spec)["States"]
    accepted = {rule["And"][2]["StringEquals"] for rule in states["SelectModel"]["Choices"]}
    (message,) = delivered(drift_events.retrain_event_pattern([DRIFT_ALARM]), RETRAIN_TRANSFORMER,
                           [alarm_event(DRIFT_ALARM, "ALARM", "OK")])
    assert message["model_name"] in accepted
    # {} is what the schedule sends: CheckHyperparameters' object test passes, MergeHyperparameters
    # overlays nothing on the configured defaults.
    assert json.dumps(message["hyperparameters"]).startswith("{")


SCAN_TRANSFORMER = {"InputPathsMap": monitoring_events.INPUT_PATHS,
                    "InputTemplate": monitoring_events.scan_findings_template("mlops-platform/dev")}


def scan_event(repository: str, counts: dict[str, int]) -> dict[str, Any]:
    event = copy.deepcopy(sample("ecr-image-scan.json"))
    event["detail"]["repository-name"] = repository
    event["detail"]["finding-severity-counts"] = counts
    return event


@pytest.mark.parametrize("counts, alerts", [
    ({"CRITICAL": 10, "MEDIUM": 9}, True),  # AWS's sample
    ({"HIGH": 1}, True),
    ({"CRITICAL": 1, "HIGH": 2, "LOW": 3}, True),
    ({"MEDIUM": 9, "LOW": 4, "INFORMATIONAL": 2}, False),
    ({}, False),
    ({"CRITICAL": 0, "HIGH": 0}, False),
])
def test_scans_with_high_or_critical_findings_alert_and_others_do_not(counts, alerts):
    messages = delivered(monitoring_events.scan_findings_pattern([REPOSITORY]), SCAN_TRANSFORMER,
                         [scan_event(REPOSITORY, counts)])
    assert len(messages) == int(alerts)
    if alerts:
        (message,) = messages
        assert message["outcome"] == "image_scan_findings" and message["repository"] == REPOSITORY
        assert message["image_digest"].startswith("sha256:")
        # A level without findings has no variable: AWS leaves "" there, moto the placeholder itself.
        assert {level: message[level] for level in ("critical", "high") if level.upper() in counts} == {
            level.lower(): str(count) for level, count in counts.items() if level in ("CRITICAL", "HIGH")}


def test_scans_of_other_repositories_and_scans_that_did_not_complete_are_not_alerts():
    failed = scan_event(REPOSITORY, {"CRITICAL": 3})
    failed["detail"]["scan-status"] = "FAILED"
    events = [scan_event("someone-elses-repo", {"CRITICAL": 3}), failed]
    assert delivered(monitoring_events.scan_findings_pattern([REPOSITORY]), SCAN_TRANSFORMER, events) == []
