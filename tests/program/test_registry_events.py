"""The registry's approval alert: an EventBridge rule on this stack's model package groups that
tells the alert topic, in a sentence, which version changed status and why.

The event is AWS's own sample of "SageMaker Model Package State Change" (SageMaker Developer
Guide, "Events that Amazon SageMaker sends to Amazon EventBridge"; data/model-package-state-change.json,
verbatim but for the page's duplicated "source" key), moved into this stack's group, account and
region. The rule and target are the planned ones, put into moto's EventBridge with an SQS queue
standing in for the topic (moto delivers to SQS, not to SNS; the topic's side, its policy, is
checked against the planned rule ARN below).

What moto (5.2.5) cannot show: real EventBridge inserts an unquoted placeholder as JSON and a
missing path as nothing, moto as raw text and as the placeholder itself. The template quotes every
placeholder, which reads the same in both, and the tests compare only the fields the event carries.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from automation.offline import ACCOUNT_ID, Plan
from components import registry_events

SAMPLE = json.loads((Path(__file__).parent / "data" / "model-package-state-change.json").read_text())
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
REGION = "us-east-1"


def sample_event(group: str, version: int = 2, status: str = "Rejected", **detail: Any) -> dict[str, Any]:
    """AWS's sample event for `group`'s `version`, as a PutEvents entry."""
    event = copy.deepcopy(SAMPLE)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model-package/{group}/{version}"
    event["detail"].update(ModelPackageGroupName=group, ModelPackageVersion=version, ModelPackageArn=arn,
                           ModelApprovalStatus=status, **detail)
    return {"Source": event["source"], "DetailType": event["detail-type"], "Resources": [arn],
            "Detail": json.dumps(event["detail"])}


def planned_rule(plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    rule = plan.get(RULE, "registry-approvals")
    (target,) = [t for t in plan.of_type(TARGET) if t.inputs["rule"] == rule.inputs["name"]]
    return dict(rule.inputs), dict(target.inputs)


class Bus:
    """moto's default event bus with the planned rule, its target an SQS queue."""

    def __init__(self, plan: Plan):
        rule, target = planned_rule(plan)
        self.events = boto3.client("events", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queue = self.sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name=rule["name"], EventPattern=rule["eventPattern"])
        transformer = target["inputTransformer"]
        self.events.put_targets(Rule=rule["name"], Targets=[{
            "Id": "alerts", "Arn": queue_arn,
            "InputTransformer": {"InputPathsMap": transformer["inputPaths"], "InputTemplate": transformer["inputTemplate"]}}])

    def send(self, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """Put one event; the alerts it produced."""
        assert self.events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture(params=["dev", "prod"])
def stack(request) -> str:
    return request.param


@pytest.fixture
def bus(plan_for, stack) -> Bus:
    with mock_aws():
        yield Bus(plan_for(stack))


def other_detail_type(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "DetailType": "SageMaker Model State Change"}


def other_source(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "Source": "my.application"}


@pytest.mark.parametrize("group, change, alerted", [
    ("mlops-platform-{stack}-churn", None, True),
    ("mlops-platform-pr-1-churn", None, False),  # another stack in the same account
    ("mlops-platform-{stack}-churn-v2", None, False),  # a name that merely starts like ours
    ("versionedmp-p-idy6c3e1fiqj", None, False),  # AWS's sample as it is: someone else's group
    ("mlops-platform-{stack}-churn", other_detail_type, False),
    ("mlops-platform-{stack}-churn", other_source, False),
])
def test_the_rule_alerts_on_this_stacks_groups_only(bus, stack, group, change, alerted):
    entry = sample_event(group.format(stack=stack))
    alerts = bus.send(change(entry) if change else entry)
    assert len(alerts) == (1 if alerted else 0)


def test_the_alert_says_which_version_changed_to_what_and_why(bus, stack):
    group = f"mlops-platform-{stack}-churn"
    why = "validation:auc 0.91 on the March data (by arn:aws:iam::123456789012:user/alice via automation/models.py)"
    (alert,) = bus.send(sample_event(group, version=7, status="Approved", ApprovalDescription=why,
                                     LastModifiedTime="2030-03-06T09:15:00Z"))
    assert alert == {
        "outcome": "model_version_status_changed",
        "message": f"[mlops-platform/{stack}] {group} version 7 is now Approved",
        "model_package_group": group,
        "model_version": "7",
        "approval_status": "Approved",
        "approval_description": why,
        "model_package_arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model-package/{group}/7",
        "changed_at": "2030-03-06T09:15:00Z",
    }


def test_aws_sample_event_in_our_group_reads_as_a_rejection(bus, stack):
    """The sample as AWS publishes it (no ApprovalDescription): the fields it has are all there."""
    (alert,) = bus.send(sample_event(f"mlops-platform-{stack}-churn"))
    assert alert["message"] == f"[mlops-platform/{stack}] mlops-platform-{stack}-churn version 2 is now Rejected"
    assert (alert["approval_status"], alert["model_version"], alert["changed_at"]) == ("Rejected", "2", "2021-02-24T17:00:14Z")


def test_the_rule_watches_every_group_the_stack_exports_and_publishes_where_the_topic_allows(stack_plan: Plan):
    rule, target = planned_rule(stack_plan)
    pattern = json.loads(rule["eventPattern"])
    assert pattern == registry_events.approval_event_pattern(list(stack_plan.outputs["model_package_groups"].values()))
    assert pattern["detail"]["ModelPackageGroupName"] == [f"mlops-platform-{stack_plan.stack}-churn"]
    topic = stack_plan.get("aws:sns/topic:Topic", "monitoring-alerts")
    assert target["arn"] == topic.outputs["arn"] == stack_plan.outputs["alert_topic_arn"]
    policy = json.loads(stack_plan.get("aws:sns/topicPolicy:TopicPolicy", "monitoring-alerts-policy").inputs["policy"])
    (allowed,) = [s for s in policy["Statement"] if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    rule_arn = stack_plan.get(RULE, "registry-approvals").outputs["arn"]
    assert fnmatch.fnmatchcase(rule_arn, allowed["Condition"]["ArnLike"]["aws:SourceArn"])
    assert rule["name"] == f"mlops-platform-{stack_plan.stack}-model-approvals"


@pytest.mark.parametrize("stack, status", [("dev", "Approved"), ("prod", "PendingManualApproval")])
def test_versions_arrive_approved_in_dev_and_pending_in_prod(plan_for, stack, status):
    (machine,) = plan_for(stack).of_type("aws:sfn/stateMachine:StateMachine")
    definition = json.loads(machine.inputs["definition"])
    registrations = [state for state in definition["States"].values()
                     if state.get("Parameters", {}).get("ModelPackageGroupName.$")]
    assert registrations and {state["Parameters"]["ModelApprovalStatus"] for state in registrations} == {status}
