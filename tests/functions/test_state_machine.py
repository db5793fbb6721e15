"""The training pipeline's state machine, executed in moto's Step Functions interpreter.

The definition is built by the same function the component deploys with
(`training_workflow.definition(training_workflow.spec_for(cfg, ...))`) from the shipped dev and
prod stack configs, with moto's topic, key and model package groups. It then runs as deployed,
with ONE exception, which every test here depends on:

    moto cannot run `arn:aws:states:::sagemaker:createTrainingJob.sync` (it has no `.sync`
    callback for SageMaker and cannot run a training job). `with_completed_training` swaps the
    `Train` state for a Pass state that evaluates the deployed state's own Parameters (the job
    name, merged hyperparameters, channels, KMS keys...) and adds what DescribeTrainingJob
    returns for a completed job (status, model artifacts where SageMaker writes them, the final
    metrics); `with_failed_training` swaps it for a Parallel state whose branch fails the way a
    failed job does (an error whose cause is the job description with its FailureReason), keeping
    the deployed Retry and Catch. The request the Pass state evaluated is then checked against
    botocore's CreateTrainingJob model, so the part moto cannot run is still held to AWS's API.

Registration (`aws-sdk:sagemaker:createModelPackage`) runs against moto's SageMaker backend and
notifications (`sns:publish`) against moto's SNS, read back through an SQS subscription.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from typing import Any

import boto3
import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator
from moto import mock_aws

from automation import offline
from components import config, training_workflow
from components.training_workflow import TRAIN_STATE
from containers.contracts.metrics import METRIC_DEFINITIONS

REGION = "us-east-1"
PROJECT = "mlops-platform"
IMAGE = f"{offline.ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/mlops-platform-test-training:src-0123456789abcdef"
DATA_BUCKET = "mlops-platform-test-data-bucket"
ARTIFACT_BUCKET = "mlops-platform-test-artifacts-bucket"
TRAINING_ROLE = f"arn:aws:iam::{offline.ACCOUNT_ID}:role/mlops-platform-test-training-job"
FAILURE_REASON = "AlgorithmError: hyperparameter max_depth=99 is out of range [1, 20]"
# Keys the stand-in adds to the evaluated request, as DescribeTrainingJob would.
DESCRIBE_ONLY = ("TrainingJobArn", "TrainingJobStatus", "ModelArtifacts", "FinalMetricDataList")


def stack_config(stack: str) -> config.PlatformConfig:
    document = yaml.safe_load((offline.ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in document.items() if k.startswith(f"{PROJECT}:")}
    return config.parse(PROJECT, stack, values, document["aws:region"])


def metrics(**values: float) -> list[dict[str, Any]]:
    """A FinalMetricDataList: every declared metric at 0.5, overridden by `values` ("validation_auc")."""
    named = {name.replace(":", "_"): name for name in (d["Name"] for d in METRIC_DEFINITIONS)}
    result = {d["Name"]: 0.5 for d in METRIC_DEFINITIONS}
    result.update({named[key]: value for key, value in values.items()})
    return [{"MetricName": name, "Value": value, "Timestamp": "2030-01-01T00:00:00Z"} for name, value in result.items()]


def with_completed_training(definition: dict, final_metrics: list[dict] | None) -> dict:
    """The one swap (see the module docstring): Train becomes a Pass that evaluates the deployed
    Parameters and adds DescribeTrainingJob's fields for a completed job."""
    swapped = copy.deepcopy(definition)
    train = swapped["States"][TRAIN_STATE]
    job_name = "$.job.training_job_name"
    describe: dict[str, Any] = {
        "TrainingJobArn.$": f"States.Format('arn:aws:sagemaker:{REGION}:{offline.ACCOUNT_ID}:training-job/{{}}', {job_name})",
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts.$": f"States.Format('{{}}/{{}}/output/model.tar.gz', $.run.output_uri, {job_name})"},
    }
    if final_metrics is not None:
        describe["FinalMetricDataList"] = final_metrics
    swapped["States"][TRAIN_STATE] = {
        "Type": "Pass", "Comment": "stand-in for createTrainingJob.sync (moto cannot run it)",
        "Parameters": {**train["Parameters"], **describe},
        "ResultPath": train["ResultPath"], "Next": train["Next"],
    }
    return swapped


def with_failed_training(definition: dict) -> dict:
    """The one swap for a failing job: same Retry and Catch as deployed, the branch fails like
    `.sync` does when the job ends Failed (the cause is the job description as JSON)."""
    swapped = copy.deepcopy(definition)
    train = swapped["States"][TRAIN_STATE]
    cause = json.dumps({"TrainingJobStatus": "Failed", "FailureReason": FAILURE_REASON})
    swapped["States"][TRAIN_STATE] = {
        "Type": "Parallel", "Comment": "stand-in for createTrainingJob.sync (moto cannot run it)",
        # AWS reports States.TaskFailed; moto forbids "States." names in Fail states.
        "Branches": [{"StartAt": "JobFails", "States": {"JobFails": {"Type": "Fail", "Error": "TrainingJobFailed",
                                                                      "Cause": cause}}}],
        "ResultPath": train["ResultPath"], "Retry": train["Retry"], "Catch": train["Catch"], "Next": train["Next"],
    }
    return swapped


class Cloud:
    """moto's side of a deployed stack: key, alert topic (read through SQS), package groups.

    One per stack for the whole module: moto parses a definition in about a second, so each
    distinct definition becomes one state machine that every test needing it reuses.
    """

    def __init__(self, cfg: config.PlatformConfig):
        self.cfg = cfg
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        self.key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        self.topic_arn = sns.create_topic(Name=cfg.namer.name("alerts", "sns"),
                                          Attributes={"KmsMasterKeyId": self.key_arn})["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName=f"alerts-inbox-{cfg.stack}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self.groups = {m.name: cfg.namer.name(m.name, "sagemaker") for m in cfg.models}
        for group in self.groups.values():
            self.sagemaker.create_model_package_group(ModelPackageGroupName=group)
        self.spec = self.spec_with(self.groups)
        self.definition = training_workflow.definition(self.spec)
        self._machines: dict[str, str] = {}
        self._runs = 0

    def spec_with(self, package_groups: dict[str, str]) -> training_workflow.WorkflowSpec:
        return training_workflow.spec_for(
            self.cfg, image_uri=IMAGE, training_role_arn=TRAINING_ROLE, kms_key_arn=self.key_arn,
            topic_arn=self.topic_arn, data_bucket=DATA_BUCKET, artifact_bucket=ARTIFACT_BUCKET,
            package_groups=package_groups)

    def machine(self, definition: dict) -> str:
        text = json.dumps(definition)
        if text not in self._machines:
            self._machines[text] = self.sfn.create_state_machine(
                name=f"{self.cfg.stack}-training-{len(self._machines)}", definition=text,
                roleArn=f"arn:aws:iam::{offline.ACCOUNT_ID}:role/pipeline")["stateMachineArn"]
        return self._machines[text]

    def run(self, definition: dict, payload: Any, name: str | None = None) -> dict[str, Any]:
        """Execute to the end; the result also lists the states entered, in order."""
        self.notifications()  # drain: only this run's notifications count
        self._runs += 1
        execution = self.sfn.start_execution(stateMachineArn=self.machine(definition), name=name or f"run-{self._runs}",
                                             input=json.dumps(payload))["executionArn"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                events = self.sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
                described["entered"] = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
                return described
            time.sleep(0.02)
        raise AssertionError(f"execution {execution} still running after 30 s")

    def notifications(self) -> list[tuple[str, dict]]:
        """(subject, message) of everything published to the alert topic during the last run."""
        envelopes = []
        while received := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            for message in received:
                envelopes.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [(e.get("Subject"), json.loads(e["Message"])) for e in envelopes]

    def versions(self, model: str = "churn") -> list[dict]:
        return self.sagemaker.list_model_packages(ModelPackageGroupName=self.groups[model])["ModelPackageSummaryList"]


@pytest.fixture(scope="module")
def cloud_for():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        clouds: dict[str, Cloud] = {}

        def get(stack: str = "dev") -> Cloud:
            if stack not in clouds:
                clouds[stack] = Cloud(stack_config(stack))
            return clouds[stack]

        yield get


def expected_job_name(cloud: Cloud, execution_name: str, model: str = "churn") -> str:
    return f"{training_workflow.job_prefix(cloud.cfg, model)}-{hashlib.md5(execution_name.encode()).hexdigest()}"


def check_against_botocore(operation: str, request: dict) -> None:
    """Types and required members (botocore's validator), plus lengths and patterns, which
    botocore leaves to the service: the request must be one SageMaker would accept."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(operation).input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    problems: list[str] = []

    def walk(value: Any, shape, where: str) -> None:
        if shape.type_name == "structure":
            for key, member in value.items():
                walk(member, shape.members[key], f"{where}.{key}")
        elif shape.type_name == "list":
            for index, item in enumerate(value):
                walk(item, shape.member, f"{where}[{index}]")
        elif shape.type_name == "map":
            for key, item in value.items():
                walk(item, shape.value, f"{where}[{key}]")
        elif shape.type_name == "string":
            limit, pattern = shape.metadata.get("max"), shape.metadata.get("pattern")
            if limit is not None and len(value) > limit:
                problems.append(f"{where}: {len(value)} > {limit} characters")
            if pattern and "\\p{" not in pattern and not re.fullmatch(pattern, value):
                problems.append(f"{where}: {value!r} does not match {pattern}")

    walk(request, shape, operation)
    assert problems == []


@pytest.mark.parametrize("stack,approval", [("dev", "Approved"), ("prod", "PendingManualApproval")])
def test_a_model_reaching_its_threshold_is_registered_and_announced(cloud_for, stack, approval):
    cloud = cloud_for(stack)
    model = cloud.cfg.model("churn")
    execution = "nightly_2030-01-01"
    before = cloud.versions()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.93)),
                       {"model_name": "churn", "hyperparameters": {"max_depth": "6"}}, name=execution)
    assert result["status"] == "SUCCEEDED", result
    job = expected_job_name(cloud, execution)
    model_data = f"s3://{ARTIFACT_BUCKET}/churn/training/{job}/output/model.tar.gz"

    (version,) = [v for v in cloud.versions() if v not in before]
    assert version["ModelApprovalStatus"] == approval
    package = cloud.sagemaker.describe_model_package(ModelPackageName=version["ModelPackageArn"])
    (container,) = package["InferenceSpecification"]["Containers"]
    assert (container["Image"], container["ModelDataUrl"]) == (IMAGE, model_data)
    assert package["CustomerMetadataProperties"]["objective_value"] == "0.93"
    assert package["CustomerMetadataProperties"]["objective_metric"] == "validation:auc"
    assert package["CustomerMetadataProperties"]["training_job"] == job

    ((subject, message),) = cloud.notifications()
    assert subject == f"[mlops-platform/{stack}] churn: new version registered"
    assert message["outcome"] == "registered" and message["model_name"] == "churn"
    assert (message["objective_metric"], message["objective_value"], message["threshold"]) == \
        ("validation:auc", 0.93, model.threshold)
    assert message["model_package_arn"] == version["ModelPackageArn"]
    assert message["approval_status"] == approval and message["training_job"] == job

    # What the deployed Train state asked SageMaker for: held to botocore's CreateTrainingJob.
    training = json.loads(result["output"])["training"]
    request = {k: v for k, v in training.items() if k not in DESCRIBE_ONLY}
    check_against_botocore("CreateTrainingJob", request)
    assert request["TrainingJobName"] == job and len(job) <= 63
    assert request["HyperParameters"] == {**model.hyperparameters, "max_depth": "6"}
    assert request["AlgorithmSpecification"]["MetricDefinitions"] == METRIC_DEFINITIONS
    assert request["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == cloud.key_arn
    assert request["OutputDataConfig"] == {"S3OutputPath": f"s3://{ARTIFACT_BUCKET}/churn/training", "KmsKeyId": cloud.key_arn}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]}
    assert channels == {"train": f"s3://{DATA_BUCKET}/churn/train/", "validation": f"s3://{DATA_BUCKET}/churn/validation/"}
    assert (request["ResourceConfig"]["InstanceType"], request["StoppingCondition"]["MaxRuntimeInSeconds"]) == \
        (model.training_instance_type, model.max_runtime_seconds)
    assert {"Key": "Model", "Value": "churn"} in request["Tags"]


def test_omitted_hyperparameters_train_with_the_models_defaults(cloud_for):
    cloud = cloud_for()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.93)), {"model_name": "churn"})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["training"]["HyperParameters"] == dict(cloud.cfg.model("churn").hyperparameters)


def test_a_model_below_its_threshold_is_not_registered_but_announced(cloud_for):
    cloud = cloud_for()
    before = cloud.versions()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.61, train_auc=0.99)),
                       {"model_name": "churn", "hyperparameters": {}})
    assert result["status"] == "SUCCEEDED", result
    assert cloud.versions() == before
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] churn: below threshold, not registered"
    assert message["outcome"] == "below_threshold"
    # The objective is validation:auc, not the higher train:auc.
    assert (message["objective_metric"], message["objective_value"], message["threshold"]) == ("validation:auc", 0.61, 0.8)
    assert message["model_artifacts"].endswith("/output/model.tar.gz")
    assert "error" not in message


def test_a_model_exactly_at_its_threshold_is_registered(cloud_for):
    cloud = cloud_for()
    before = cloud.versions()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.8)), {"model_name": "churn"})
    assert result["status"] == "SUCCEEDED", result
    assert len(cloud.versions()) == len(before) + 1
    ((_, message),) = cloud.notifications()
    assert (message["outcome"], message["objective_value"], message["threshold"]) == ("registered", 0.8, 0.8)


def test_a_failed_training_job_is_announced_with_its_cause_and_fails_the_execution(cloud_for):
    cloud = cloud_for()
    before = cloud.versions()
    result = cloud.run(with_failed_training(cloud.definition), {"model_name": "churn"}, name="broken-run")
    assert result["status"] == "FAILED"
    assert result["error"] == "TrainingFailed"
    assert FAILURE_REASON in result["cause"]
    assert cloud.versions() == before
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] churn: training failed"
    assert message["outcome"] == "training_failed" and message["error"] == "TrainingFailed"
    assert FAILURE_REASON in message["cause"] and message["caught_error"] == "TrainingJobFailed"
    assert message["training_job"] == expected_job_name(cloud, "broken-run")
    assert "RegisterModelVersion" not in result["entered"]


@pytest.mark.parametrize("payload", [
    {"model_name": "fraud"},
    {"model_name": ["churn"]},
    {"hyperparameters": {"max_depth": "6"}},
])
def test_an_unknown_model_fails_before_anything_runs(cloud_for, payload):
    cloud = cloud_for()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.93)), payload)
    assert result["status"] == "FAILED"
    assert (result["error"], result["cause"]) == ("UnknownModel", "model_name must be one of: churn")
    assert TRAIN_STATE not in result["entered"]
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] training run rejected: unknown model"
    assert message["outcome"] == "unknown_model" and message["input"] == payload


@pytest.mark.parametrize("hyperparameters", [
    {"max_depth": 6},               # a number: SageMaker takes strings only
    {"eta": {"value": "0.1"}},      # a nested object
    ["max_depth", "6"],             # an array
    [],                             # an empty array (JsonMerge would fail uncatchably)
    "max_depth=6",                  # a string
    True,
])
def test_bad_hyperparameters_fail_before_a_training_job(cloud_for, hyperparameters):
    cloud = cloud_for()
    payload = {"model_name": "churn", "hyperparameters": hyperparameters}
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.93)), payload)
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidHyperparameters"
    assert 'e.g. {"max_depth": "6"}' in result["cause"]
    assert TRAIN_STATE not in result["entered"]
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] churn: invalid hyperparameters"
    assert message["input"] == payload


@pytest.mark.parametrize("final_metrics", [None, [], metrics()[:1]], ids=["absent", "empty", "objective-missing"])
def test_a_job_without_the_objective_metric_is_a_failure_not_a_silent_pass(cloud_for, final_metrics):
    cloud = cloud_for()
    before = cloud.versions()
    result = cloud.run(with_completed_training(cloud.definition, final_metrics), {"model_name": "churn"})
    assert result["status"] == "FAILED"
    assert result["error"] == "ObjectiveMetricNotReported"
    assert "reported no validation:auc metric" in result["cause"]
    assert cloud.versions() == before
    ((_, message),) = cloud.notifications()
    assert message["outcome"] == "objective_not_reported"


def test_a_registration_error_is_announced_and_fails_the_execution(cloud_for):
    cloud = cloud_for()
    # A group the registry never created: CreateModelPackage fails.
    definition = training_workflow.definition(cloud.spec_with({"churn": "mlops-platform-dev-missing"}))
    result = cloud.run(with_completed_training(definition, metrics(validation_auc=0.95)), {"model_name": "churn"})
    assert result["status"] == "FAILED"
    assert result["error"] == "RegistrationFailed"
    assert "Model Package Group does not exist" in result["cause"]
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] churn: registration failed"
    assert message["outcome"] == "registration_failed" and message["objective_value"] == 0.95


def test_moto_parses_the_definition_exactly_as_deployed(cloud_for):
    """No swap here: the deployed document, `.sync` task included, is valid ASL syntax."""
    cloud = cloud_for("prod")
    arn = cloud.sfn.create_state_machine(name="as-deployed", definition=json.dumps(cloud.definition),
                                         roleArn=f"arn:aws:iam::{offline.ACCOUNT_ID}:role/pipeline")["stateMachineArn"]
    assert json.loads(cloud.sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == cloud.definition
