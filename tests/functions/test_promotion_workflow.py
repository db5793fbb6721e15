"""The promotion pipeline's state machine, executed in moto's Step Functions interpreter.

Each scenario builds the definition with the same function the component deploys with
(`promotion_workflow.definition(promotion_workflow.spec_for(cfg, model, ...))`) from the shipped
dev stack config plus an experiment, against moto: a SageMaker endpoint with the champion and
challenger variants at their weights, the variants' metrics posted to CloudWatch, the decision
Lambda created from the very zip the program deploys (`lambda_function.package_files`), the
record's SSM parameter, and the alert topic read back through SQS. DescribeEndpoint,
GetMetricData, UpdateEndpointWeightsAndCapacities and PutParameter run as deployed (aws-sdk
integrations against moto's backends); the weights moto reports afterwards are asserted.

What moto cannot run, and what stands in for it (`faithful_moto`):
- Lambda: moto runs functions in Docker, which this machine lacks. `_invoke_lambda` is swapped
  for the deployed zip, unpacked and run by this Python in isolated mode with site-packages
  disabled (`-I -S`): the handler runs on the standard library alone, from the zip's files only,
  as Lambda's runtime would run it (minus boto3, which it does not use).
- Percentile statistics: moto's CloudWatch answers `p99` with nothing. The stand-in computes the
  nearest-rank percentile of the raw values posted; CloudWatch's own percentile method differs
  in detail, which the pipeline does not depend on (it passes the value through).
- `$$.Execution.StartTime` is the ISO 8601 string of the context object (moto hands the
  interpreter a datetime), as tests/functions/test_state_machine.py corrects it too.
- Retry intervals are recorded instead of slept.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import math
import re
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.cloudwatch.models import Statistics
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.backend.execution import Execution

from automation import offline
from components import config, promotion_workflow
from components.lambda_function import ROOT, handler_of, package_files
from functions.promotion.decision import KEEP, PROMOTE, RULE_VERSION, WAIT

REGION = "us-east-1"
PROJECT = "mlops-platform"
ACCOUNT = offline.ACCOUNT_ID


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def faithful_moto():
    """The stand-ins listed in the module docstring, for the whole module."""
    patch = pytest.MonkeyPatch()
    original_details = Execution.get_start_execution_details
    original_statistic = Statistics.get_statistics_for_type

    def start_execution_details(self):
        details = original_details(self)
        moment = self.start_date.astimezone(dt.UTC)
        details.start_time = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        return details

    def statistic(self, stat):
        match = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?)", stat)
        if match is None:
            return original_statistic(self, stat)
        values = sorted(self.metric_single_values_list)
        return values[max(math.ceil(float(match.group(1)) / 100 * len(values)), 1) - 1] if values else None

    def invoke_from_zip(self, event=None):
        module, function = self.handler.rsplit(".", 1)
        program = (f"import json, sys; sys.path.insert(0, '.'); from {module} import {function}; "
                   f"print(json.dumps({function}(json.load(sys.stdin), None)))")
        with tempfile.TemporaryDirectory() as unpacked:
            zipfile.ZipFile(io.BytesIO(self.code_bytes)).extractall(unpacked)
            run = subprocess.run([sys.executable, "-I", "-S", "-c", program], cwd=unpacked, capture_output=True,
                                 text=True, input=event if isinstance(event, str) else json.dumps(event), timeout=60)
        if run.returncode:
            last = run.stderr.strip().splitlines()[-1]
            return json.dumps({"errorType": last.split(":", 1)[0], "errorMessage": last}), True, run.stderr
        return run.stdout.strip(), False, run.stderr

    patch.setattr(Execution, "get_start_execution_details", start_execution_details)
    patch.setattr(Statistics, "get_statistics_for_type", statistic)
    patch.setattr(LambdaFunction, "_invoke_lambda", invoke_from_zip)
    waits: list[float] = []
    patch.setattr(retrier_decl, "time", types.SimpleNamespace(sleep=waits.append))
    yield waits
    patch.undo()


@dataclass(frozen=True)
class Traffic:
    """One variant's requests over the window: counts and the latencies of its requests."""

    invocations: int
    errors_4xx: int
    errors_5xx: int = 0
    model_latency_ms: float = 40.0  # the p99 of the posted samples
    labels: int = 0
    successes: int = 0


def latency_samples(p99_ms: float) -> list[float]:
    """100 model latencies (microseconds) whose nearest-rank p99 is `p99_ms`."""
    return [p99_ms * 1000 * (0.5 + i / 200) for i in range(98)] + [p99_ms * 1000, p99_ms * 1000 * 3]


class Cloud:
    """moto's side of a stack with one endpoint in an experiment; one per scenario."""

    def __init__(self, scenario: str, experiment: dict[str, Any], champion: Traffic, challenger: Traffic,
                 weights: tuple[float, float] = (0.9, 0.1)):
        self.scenario = scenario
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        self.ssm = boto3.client("ssm", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.endpoint = f"mlops-platform-dev-{scenario}-endpoint"
        self.parameter = f"/mlops-platform/dev/experiments/{scenario}"
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName=f"{scenario}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self._create_endpoint(role, weights)
        self.ssm.put_parameter(Name=self.parameter, Value='{"outcome": "none"}', Type="String")
        self.topic_arn, self.queue_url = self._create_topic()
        self.function_arn = self._create_function(role)
        self.cfg = stack_config(experiment, weights)
        self.spec = promotion_workflow.spec_for(
            self.cfg, self.cfg.models[0], endpoint_name=self.endpoint, function_arn=self.function_arn,
            parameter_name=self.parameter, topic_arn=self.topic_arn)
        self.definition = promotion_workflow.definition(self.spec)
        self.machine = self.sfn.create_state_machine(name=f"{scenario}-promotion", definition=json.dumps(self.definition),
                                                     roleArn=role)["stateMachineArn"]
        started = dt.datetime.strptime(experiment["startedAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        self.post("champion", champion, started + dt.timedelta(minutes=30))
        self.post("challenger", challenger, started + dt.timedelta(minutes=30))
        # Champion traffic from before the experiment, which the window must leave out.
        self.post("champion", Traffic(50_000, 5_000, model_latency_ms=900.0), started - dt.timedelta(minutes=30))
        self._runs = 0

    def _create_endpoint(self, role: str, weights: tuple[float, float]) -> None:
        variants = []
        for (variant, version), weight in zip((("champion", 3), ("challenger", 4)), weights, strict=True):
            model = f"{self.scenario}-v{version}"
            self.sagemaker.create_model(ModelName=model, ExecutionRoleArn=role,
                                        PrimaryContainer={"Image": "image", "ModelDataUrl": "s3://bucket/model.tar.gz"})
            variants.append({"VariantName": variant, "ModelName": model, "InitialVariantWeight": weight,
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"})
        self.sagemaker.create_endpoint_config(EndpointConfigName=f"{self.scenario}-config", ProductionVariants=variants)
        self.sagemaker.create_endpoint(EndpointName=self.endpoint, EndpointConfigName=f"{self.scenario}-config")

    def _create_topic(self) -> tuple[str, str]:
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name=f"{self.scenario}-alerts")["TopicArn"]
        queue = self.sqs.create_queue(QueueName=f"{self.scenario}-inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        return topic, queue

    def _create_function(self, role: str) -> str:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as package:
            for path in package_files("promotion"):
                package.write(ROOT / path, path)
        return boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=f"{self.scenario}-decision", Runtime="python3.13", Role=role, Handler=handler_of("promotion"),
            Code={"ZipFile": archive.getvalue()})["FunctionArn"]

    def post(self, variant: str, traffic: Traffic, at: dt.datetime) -> None:
        """The variant's metrics as SageMaker publishes them, and the business metric as the runbook says to post it."""
        dimensions = [{"Name": "EndpointName", "Value": self.endpoint}, {"Name": "VariantName", "Value": variant}]
        datum = lambda name, value: {"MetricName": name, "Dimensions": dimensions, "Timestamp": at, "Value": value}  # noqa: E731
        data = [datum("Invocations", traffic.invocations), datum("Invocation4XXErrors", traffic.errors_4xx),
                datum("Invocation5XXErrors", traffic.errors_5xx)]
        data += [datum("ModelLatency", value) for value in latency_samples(traffic.model_latency_ms)]
        data += [datum("OverheadLatency", 1500.0)]
        self.cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)
        if traffic.labels:
            self.cloudwatch.put_metric_data(Namespace="MLOpsPlatform", MetricData=[{
                "MetricName": "PredictionCorrect", "Dimensions": dimensions, "Timestamp": at,
                "StatisticValues": {"SampleCount": traffic.labels, "Sum": traffic.successes, "Minimum": 0, "Maximum": 1}}])

    def run(self) -> dict[str, Any]:
        self.notifications()  # only this run's count
        self._runs += 1
        execution = self.sfn.start_execution(stateMachineArn=self.machine, name=f"run-{self._runs}", input="{}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] != "RUNNING":
                events = self.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
                described["entered"] = [e["stateEnteredEventDetails"]["name"] for e in events
                                        if "stateEnteredEventDetails" in e]
                described["events"] = events
                return described
            time.sleep(0.02)
        raise AssertionError("the execution still runs after 60 s")

    def weights(self) -> dict[str, float]:
        variants = self.sagemaker.describe_endpoint(EndpointName=self.endpoint)["ProductionVariants"]
        return {v["VariantName"]: v["CurrentWeight"] for v in variants}

    def record(self) -> dict[str, Any]:
        return json.loads(self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"])

    def notifications(self) -> list[tuple[str, dict]]:
        found = []
        while received := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            for message in received:
                envelope = json.loads(message["Body"])
                found.append((envelope.get("Subject"), json.loads(envelope["Message"])))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found


def stack_config(experiment: dict[str, Any], weights: tuple[float, float]) -> config.PlatformConfig:
    """The shipped dev stack on instances, with champion v3 and challenger v4 in `experiment`."""
    document = yaml.safe_load((offline.ROOT / "Pulumi.dev.yaml").read_text())["config"]
    values = copy.deepcopy({k.split(":", 1)[1]: v for k, v in document.items() if k.startswith(f"{PROJECT}:")})
    endpoint = values["models"][0]["endpoint"]
    endpoint.update(mode="instances")  # serverless endpoints serve one variant
    endpoint["variants"] = [{"name": "champion", "weight": weights[0], "modelVersion": 3},
                            {"name": "challenger", "weight": weights[1], "modelVersion": 4}]
    endpoint["experiment"] = experiment
    return config.parse(PROJECT, "dev", values, document["aws:region"])


@pytest.fixture(scope="module")
def aws(faithful_moto):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def hours_ago(hours: int) -> str:
    return iso((dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0))


FIRST_STATES = ["ReadWindow", "CheckWindowOpen", "DescribeEndpoint", "ReadMetrics", "Decide", "RouteDecision"]


def test_a_clearly_better_challenger_is_promoted_live_recorded_and_announced(aws):
    cloud = Cloud("promote", {"startedAt": hours_ago(3)},
                  champion=Traffic(9000, 150, 30, model_latency_ms=41.8), challenger=Traffic(1000, 9, 0, 43.1))
    result = cloud.run()

    assert result["status"] == "SUCCEEDED", result
    assert result["entered"] == [*FIRST_STATES, "PromoteChallenger", "ShiftTraffic", "RecordDecision",
                                 "WasTrafficShifted", "Promoted", "Notify", "Finish", "Decided"]
    assert cloud.weights() == {"champion": 0.0, "challenger": 1.0}
    record = cloud.record()
    assert (record["outcome"], record["rule_version"], record["weights"]) == \
        (PROMOTE, RULE_VERSION, {"champion": 0.0, "challenger": 1.0})
    assert record["reason"].startswith("promote challenger: the challenger's error rate 0.90% (9 of 1000) is "
                                       "significantly lower than the champion's 2.00% (180 of 9000)")
    # The window: from the experiment's start (pre-experiment traffic left out) to the execution's start.
    assert record["window"]["start"] == cloud.spec.experiment.started_at
    assert re.fullmatch(re.escape(result["startDate"].astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")) + r"\.\d{3}Z",
                        record["window"]["end"])
    assert record["evidence"]["champion"] == {"invocations": 9000, "errors": 180, "error_rate": 0.02,
                                              "p99_model_latency_ms": 41.8, "p99_overhead_latency_ms": 1.5}
    assert record["evidence"]["challenger"]["p99_model_latency_ms"] == 43.1
    assert record["experiment"] == {"model": "churn", "started_at": cloud.spec.experiment.started_at,
                                    "champion": {"variant": "champion", "model_version": 3},
                                    "challenger": {"variant": "challenger", "model_version": 4}}
    assert record["execution"] == result["executionArn"]
    assert cloud.notifications() == [("[mlops-platform/dev] churn: A/B decision: promote challenger (version 4)", record)]
    assert len(json.dumps(record)) <= 4096  # SSM's standard tier

    # A later scheduled run sees the traffic already moved: it changes and records nothing.
    again = cloud.run()
    assert again["status"] == "SUCCEEDED"
    assert again["entered"] == [*FIRST_STATES, "Unchanged"]
    assert "a decision already moved the traffic" in json.loads(again["output"])["decision"]["reason"]
    assert (cloud.weights(), cloud.record(), cloud.notifications()) == ({"champion": 0.0, "challenger": 1.0}, record, [])


@pytest.mark.parametrize("scenario,challenger,reason", [
    pytest.param("keep-errors", Traffic(1000, 14, 0, 43.1), "keep champion: the challenger's error rate 1.40% (14 of "
                 "1000) is significantly higher than the champion's 0.50% (45 of 9000)", id="error-guardrail"),
    pytest.param("keep-latency", Traffic(1000, 5, 0, 51.2), "keep champion: the challenger's p99 model latency 51.2 ms "
                 "is 22.5% above the champion's 41.8 ms, beyond the 10% tolerance", id="latency-guardrail"),
    pytest.param("keep-same", Traffic(1000, 5, 0, 43.1), "keep champion: the challenger's error rate 0.50% (5 of 1000) "
                 "is not significantly lower", id="no-improvement"),
])
def test_a_challenger_that_loses_is_drained_recorded_and_announced(aws, scenario, challenger, reason):
    cloud = Cloud(scenario, {"startedAt": hours_ago(2)}, champion=Traffic(9000, 40, 5, 41.8), challenger=challenger)
    result = cloud.run()

    assert result["status"] == "SUCCEEDED", result
    assert result["entered"] == [*FIRST_STATES, "KeepChampion", "ShiftTraffic", "RecordDecision", "WasTrafficShifted",
                                 "Kept", "Notify", "Finish", "Decided"]
    assert cloud.weights() == {"champion": 1.0, "challenger": 0.0}
    record = cloud.record()
    assert record["outcome"] == KEEP and record["reason"].startswith(reason)
    assert cloud.notifications() == [("[mlops-platform/dev] churn: A/B decision: keep champion (version 3)", record)]


def test_not_enough_evidence_changes_nothing_and_says_so(aws):
    cloud = Cloud("wait", {"startedAt": hours_ago(2)}, champion=Traffic(5412, 11), challenger=Traffic(612, 2))
    result = cloud.run()

    assert result["status"] == "SUCCEEDED", result
    assert result["entered"] == [*FIRST_STATES, "RecordDecision", "WasTrafficShifted", "Waiting"]
    assert cloud.weights() == {"champion": 0.9, "challenger": 0.1}
    record = cloud.record()
    assert (record["outcome"], record["weights"]) == (WAIT, None)
    assert record["reason"] == ("not enough evidence: the challenger has 612 invocations; each variant needs 1000 "
                                "before anything is decided")
    assert json.loads(result["output"])["decision"]["reason"] == record["reason"]
    assert cloud.notifications() == []
    assert not [e for e in result["events"] if e["type"] == "TaskScheduled"
                and e["taskScheduledEventDetails"]["resource"] == "updateEndpointWeightsAndCapacities"]


def test_the_business_metric_decides_once_labels_are_in(aws):
    experiment = {"startedAt": hours_ago(2),
                  "businessMetric": {"metricName": "PredictionCorrect", "minSamplesPerVariant": 500}}
    cloud = Cloud("business", experiment, champion=Traffic(9000, 45, 0, 41.8, labels=4000, successes=3480),
                  challenger=Traffic(1000, 5, 0, 43.1, labels=1000, successes=905))
    result = cloud.run()

    assert result["status"] == "SUCCEEDED", result
    assert cloud.weights() == {"champion": 0.0, "challenger": 1.0}
    record = cloud.record()
    assert record["reason"].startswith("promote challenger: the challenger's PredictionCorrect rate 90.50% (905 of 1000) "
                                       "is significantly higher than the champion's 87.00% (3480 of 4000)")
    assert record["evidence"]["challenger"]["labels"] == 1000
    assert record["checks"]["business_metric_higher"]["p_value"] == pytest.approx(0.001216, rel=1e-3)


def test_before_the_window_opens_nothing_is_read_or_changed(aws):
    future = iso((dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0))
    cloud = Cloud("early", {"startedAt": future}, champion=Traffic(9000, 180), challenger=Traffic(1000, 9))
    result = cloud.run()

    assert result["status"] == "SUCCEEDED"
    assert result["entered"] == ["ReadWindow", "CheckWindowOpen", "WindowNotOpen", "Unchanged"]
    assert (cloud.weights(), cloud.record(), cloud.notifications()) == \
        ({"champion": 0.9, "challenger": 0.1}, {"outcome": "none"}, [])


def test_a_missing_endpoint_fails_the_run_with_a_notification(aws, faithful_moto):
    cloud = Cloud("gone", {"startedAt": hours_ago(2)}, champion=Traffic(9000, 180), challenger=Traffic(1000, 9))
    cloud.sagemaker.delete_endpoint(EndpointName=cloud.endpoint)
    faithful_moto.clear()
    result = cloud.run()

    assert (result["status"], result["error"]) == ("FAILED", "EndpointUnreadable")
    assert result["entered"] == ["ReadWindow", "CheckWindowOpen", "DescribeEndpoint", "EndpointUnreadable", "Notify",
                                 "Finish", "Failed"]
    assert faithful_moto == [5, 10, 20]  # DescribeEndpoint tried three more times first
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] churn: promotion failed: endpoint unreadable"
    assert (message["error"], message["endpoint"]) == ("EndpointUnreadable", cloud.endpoint)
    assert cloud.record() == {"outcome": "none"}


def test_an_experiment_older_than_one_query_period_fails_instead_of_deciding_on_part_of_it(aws):
    """Past MAX_EXPERIMENT_DAYS each query answers with two data points: the decision refuses."""
    started = hours_ago(24 * (promotion_workflow.MAX_EXPERIMENT_DAYS + 2))
    cloud = Cloud("stale", {"startedAt": started}, champion=Traffic(9000, 180), challenger=Traffic(1000, 9))
    late = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    cloud.post("champion", Traffic(100, 1), late)
    cloud.post("challenger", Traffic(100, 1), late)
    result = cloud.run()

    assert (result["status"], result["error"]) == ("FAILED", "DecisionFailed")
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] churn: promotion failed: no decision"
    assert "data points; the query's period must cover the whole window in one" in message["cause"]
    assert cloud.weights() == {"champion": 0.9, "challenger": 0.1}
