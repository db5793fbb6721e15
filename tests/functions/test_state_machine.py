"""The training pipeline's state machine, executed in moto's Step Functions interpreter.

The definition is built by the same function the component deploys with
(`training_workflow.definition(training_workflow.spec_for(cfg, ...))`) from the shipped dev and
prod stack configs, with moto's topic, key and model package groups. It then runs as deployed,
with ONE swap, which every test here depends on:

    moto cannot run `arn:aws:states:::sagemaker:createTrainingJob.sync` (it has no `.sync`
    callback for SageMaker and cannot run a training job). `with_training` swaps the `Train`
    state for a Choice that plays one scripted attempt per visit (it reads the deployed retry
    counter). A completing attempt is a Pass that evaluates the deployed state's own Parameters
    (the job name, merged hyperparameters, channels, KMS keys...) and adds what
    DescribeTrainingJob returns for a completed job (status, model artifacts where SageMaker
    writes them, the final metrics). A failing attempt is a Parallel whose branch fails with the
    error name and cause `.sync` reports (see training_workflow's error names), optionally after
    creating the job in moto first (a job that exists and must be stopped); it keeps the deployed
    Catch, so the retry loop and the stop are the deployed ones. The request the Pass evaluated
    is checked against botocore's CreateTrainingJob model, patterns included, so the part moto
    cannot run is still held to AWS's API.

Registration (`aws-sdk:sagemaker:createModelPackage`) runs against moto's SageMaker backend,
notifications (`sns:publish`) against moto's SNS, read back through an SQS subscription.

Where moto 5.2 differs from AWS in a way these tests depend on, `faithful_moto` corrects it,
each correction following AWS's documentation:
- `$$.Execution.StartTime` is the ISO 8601 string of the context object ("2019-03-26T20:14:13.192Z",
  developer guide, "Context object"); moto hands the interpreter a datetime no intrinsic can format.
- AWS SDK integration errors are prefixed with the service's name as the developer guide's
  exception prefix table gives it ("SageMaker", which is botocore's serviceId; LocalStack derives
  it the same way); moto uses the lowercase resource name ("sagemaker.sagemakerException").
- StopTrainingJob, which moto's SageMaker lacks, answers as SageMaker does: ResourceNotFound for a
  job that does not exist, otherwise the job is Stopped.
- Wait states and Retry intervals are recorded instead of slept, so the backoff can be asserted
  and the module stays fast.

Not exercised here: a Train timeout (States.Timeout; moto forbids "States." names in Fail states
and the stand-in cannot run out of time). Train catches it with the same catcher as every other
non-transient error, and tests/program/test_asl.py checks that every catcher's path stops the job.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import hashlib
import json
import re
import time
import types
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
import pytest
import regex
import yaml
from botocore.validate import ParamValidator
from moto import mock_aws
from moto.sagemaker import exceptions as sagemaker_errors
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sns import exceptions as sns_errors
from moto.sns.models import SNSBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from automation import offline
from components import config, training_workflow
from components.training_workflow import (
    NOTIFICATION_FAILED_STATE,
    REGISTER_STATE,
    RETRY_WAIT_SECONDS,
    STOP_STATE,
    TRAIN_STATE,
)
from containers.contracts.metrics import METRIC_DEFINITIONS

# SageMaker's API model declares neither ThrottlingException nor ValidationException (the reason
# the tests raise them); moto warns when it serialises such an error.
pytestmark = pytest.mark.filterwarnings("ignore:Exception\\(SagemakerClientError\\) with code:UserWarning")

REGION = "us-east-1"
PROJECT = "mlops-platform"
IMAGE = f"{offline.ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/mlops-platform-test-training:src-0123456789abcdef"
INFERENCE_IMAGE = f"{offline.ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/mlops-platform-test-inference:src-fedcba9876543210"
DATA_BUCKET = "mlops-platform-test-data-bucket"
ARTIFACT_BUCKET = "mlops-platform-test-artifacts-bucket"
TRAINING_ROLE = f"arn:aws:iam::{offline.ACCOUNT_ID}:role/mlops-platform-test-training-job"
FAILURE_REASON = "AlgorithmError: hyperparameter max_depth=99 is out of range [1, 20]"
# Keys the stand-in adds to the evaluated request, as DescribeTrainingJob would.
DESCRIBE_ONLY = ("TrainingJobArn", "TrainingJobStatus", "ModelArtifacts", "FinalMetricDataList")
# Causes as the optimized integration words them (the AWS SDK for Java 1.x message format).
SYNC_CAUSE = "{message} (Service: AmazonSageMaker; Status Code: {status}; Error Code: {code}; Request ID: 1; Proxy: null)"


def stack_config(stack: str, **model_settings: Any) -> config.PlatformConfig:
    """A shipped stack's config; `model_settings` override fields of its first model."""
    document = yaml.safe_load((offline.ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in document.items() if k.startswith(f"{PROJECT}:")}
    if model_settings:
        values["models"] = [{**values["models"][0], **model_settings}, *values["models"][1:]]
    return config.parse(PROJECT, stack, values, document["aws:region"])


def metrics(**values: float) -> list[dict[str, Any]]:
    """A FinalMetricDataList: every declared metric (per-round curves included) at 0.5, overridden
    by `values` ("validation_auc", "iteration_validation_auc")."""
    named = {name.replace(":", "_"): name for name in (d["Name"] for d in METRIC_DEFINITIONS)}
    result = {d["Name"]: 0.5 for d in METRIC_DEFINITIONS}
    result.update({named[key]: value for key, value in values.items()})
    return [{"MetricName": name, "Value": value, "Timestamp": "2030-01-01T00:00:00Z"} for name, value in result.items()]


@dataclass(frozen=True)
class Attempt:
    """One visit of the Train state: it completes with these final metrics, or fails with
    `error` and `cause` (after creating the job in moto when `creates_job`)."""

    final_metrics: list[dict] | None = None
    error: str | None = None
    cause: str = ""
    creates_job: bool = False


def completes(final_metrics: list[dict] | None) -> Attempt:
    return Attempt(final_metrics=final_metrics)


def fails(error: str, code: str = "", message: str = "", status: int = 400, creates_job: bool = False) -> Attempt:
    cause = SYNC_CAUSE.format(message=message, status=status, code=code) if code else message
    return Attempt(error=error, cause=cause, creates_job=creates_job)


THROTTLED = fails("SageMaker.AmazonSageMakerException", "ThrottlingException", "Rate exceeded")


def with_training(definition: dict, *attempts: Attempt) -> dict:
    """The one swap (see the module docstring): visit n of Train plays attempts[n] (the last
    one repeats), keeping the deployed Catch and Next."""
    swapped = copy.deepcopy(definition)
    train = swapped["States"][TRAIN_STATE]
    count = f"$.job.retries.{training_workflow.RETRIED_TASKS[TRAIN_STATE]}.count"
    names = [f"{TRAIN_STATE}Attempt{index}" for index in range(len(attempts))]
    swapped["States"][TRAIN_STATE] = {
        "Type": "Choice", "Comment": "stand-in for createTrainingJob.sync (moto cannot run it)",
        "Choices": [{"Variable": count, "NumericEquals": index, "Next": name} for index, name in enumerate(names)],
        "Default": names[-1],
    }
    for name, attempt in zip(names, attempts, strict=True):
        swapped["States"][name] = _failed(train, attempt) if attempt.error else _completed(train, attempt.final_metrics)
    return swapped


def _completed(train: dict, final_metrics: list[dict] | None = None) -> dict:
    job_name = "$.job.training_job_name"
    describe: dict[str, Any] = {
        "TrainingJobArn.$": f"States.Format('arn:aws:sagemaker:{REGION}:{offline.ACCOUNT_ID}:training-job/{{}}', {job_name})",
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts.$": f"States.Format('{{}}/{{}}/output/model.tar.gz', $.run.output_uri, {job_name})"},
    }
    if final_metrics is not None:
        describe["FinalMetricDataList"] = final_metrics
    return {"Type": "Pass", "Parameters": {**train["Parameters"], **describe},
            "ResultPath": train["ResultPath"], "Next": train["Next"]}


def _failed(train: dict, attempt: Attempt) -> dict:
    # AWS reports a failed job as States.TaskFailed; moto forbids "States." names in Fail states.
    branch: dict[str, Any] = {"StartAt": "Fails", "States": {
        "Fails": {"Type": "Fail", "Error": attempt.error, "Cause": attempt.cause}}}
    if attempt.creates_job:
        branch["StartAt"] = "CreateJob"
        branch["States"]["CreateJob"] = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:createTrainingJob",
                                         "Parameters": train["Parameters"], "ResultPath": None, "Next": "Fails"}
    retry = {"Retry": train["Retry"]} if "Retry" in train else {}  # none is deployed; kept if one ever is
    return {"Type": "Parallel", "Branches": [branch], "ResultPath": train["ResultPath"], **retry,
            "Catch": train["Catch"], "Next": train["Next"]}


def with_completed_training(definition: dict, final_metrics: list[dict] | None) -> dict:
    return with_training(definition, completes(final_metrics))


def with_failed_training(definition: dict) -> dict:
    """A job that was created and failed: the cause is the job description, as `.sync` gives it."""
    cause = json.dumps({"TrainingJobStatus": "Failed", "FailureReason": FAILURE_REASON})
    return with_training(definition, Attempt(error="TrainingJobFailed", cause=cause, creates_job=True))


class Recorder:
    """What the corrected parts of moto saw during one run, and the errors they are to raise."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.stops: list[str] = []
        self.registrations = 0
        # Errors the next calls of a backend method raise, first to last, by method name.
        self.failures: dict[str, list[Exception]] = {"create_model_package": [], "publish": []}

    def reset(self) -> None:
        self.__init__()


def iso_start(start: datetime.datetime) -> str:
    """A start time as the context object writes it: ISO 8601, milliseconds, Z."""
    return start.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"


def _aws_error_prefix(service_name: str) -> str:
    known = {"dynamodb": "DynamoDb", "sfn": "Sfn"}  # moto's own bindings, kept
    return known.get(service_name.lower()) or \
        botocore.session.get_session().get_service_model(service_name).service_id.replace(" ", "")


@pytest.fixture(scope="module")
def faithful_moto():
    """The corrections listed in the module docstring, for the whole module."""
    recorder = Recorder()
    patch = pytest.MonkeyPatch()
    original_details = Execution.get_start_execution_details

    def start_execution_details(self):
        details = original_details(self)
        details.start_time = iso_start(self.start_date)
        return details

    def stop_training_job(self):
        name = self._get_param("TrainingJobName")
        recorder.stops.append(name)
        job = self.sagemaker_backend.training_jobs.get(name)
        if job is None:
            raise sagemaker_errors.ResourceNotFound(f"Requested resource not found: training job {name}")
        job.training_job_status = "Stopped"
        return "{}"

    def wait(self, env, wait_seconds):
        recorder.waits.append(wait_seconds)

    def failing_first(original):
        def call(*args, **kwargs):
            recorder.registrations += original.__name__ == "create_model_package"
            if failures := recorder.failures[original.__name__]:
                raise failures.pop(0)
            return original(*args, **kwargs)
        return call

    patch.setattr(Execution, "get_start_execution_details", start_execution_details)
    patch.setattr(StateTaskServiceAwsSdk, "_normalise_service_error_name", staticmethod(_aws_error_prefix))
    patch.setattr(SageMakerResponse, "stop_training_job", stop_training_job, raising=False)
    patch.setattr(WaitFunction, "_wait_interval", wait)
    patch.setattr(retrier_decl, "time", types.SimpleNamespace(sleep=lambda seconds: recorder.waits.append(seconds)))
    # Not corrections: how a test makes SageMaker or SNS answer with an error (Cloud.run).
    patch.setattr(SageMakerModelBackend, "create_model_package", failing_first(SageMakerModelBackend.create_model_package))
    patch.setattr(SNSBackend, "publish", failing_first(SNSBackend.publish))
    yield recorder
    patch.undo()


class Cloud:
    """moto's side of a deployed stack: key, alert topic (read through SQS), package groups.

    One per stack config for the whole module: moto parses a definition in about a second, so
    each distinct definition becomes one state machine that every test needing it reuses.
    """

    def __init__(self, cfg: config.PlatformConfig, recorder: Recorder):
        self.cfg = cfg
        self.recorder = recorder
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        self.key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        self.topic_arn = sns.create_topic(Name=cfg.namer.name("alerts", "sns"),
                                          Attributes={"KmsMasterKeyId": self.key_arn})["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName=f"alerts-inbox-{cfg.stack}-{id(self)}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self.groups = {m.name: cfg.namer.name(m.name, "sagemaker") for m in cfg.models}
        existing = {g["ModelPackageGroupName"] for g in self.sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]}
        for group in set(self.groups.values()) - existing:
            self.sagemaker.create_model_package_group(ModelPackageGroupName=group)
        self.spec = self.spec_with(self.groups)
        self.definition = training_workflow.definition(self.spec)
        self._machines: dict[str, str] = {}
        self._runs = 0

    def spec_with(self, package_groups: dict[str, str]) -> training_workflow.WorkflowSpec:
        return training_workflow.spec_for(
            self.cfg, image_uri=IMAGE, inference_image_uri=INFERENCE_IMAGE, training_role_arn=TRAINING_ROLE, kms_key_arn=self.key_arn,
            topic_arn=self.topic_arn, data_bucket=DATA_BUCKET, artifact_bucket=ARTIFACT_BUCKET,
            package_groups=package_groups)

    def machine(self, definition: dict) -> str:
        text = json.dumps(definition)
        if text not in self._machines:
            self._machines[text] = self.sfn.create_state_machine(
                name=f"{self.cfg.stack}-training-{id(self)}-{len(self._machines)}", definition=text,
                roleArn=f"arn:aws:iam::{offline.ACCOUNT_ID}:role/pipeline")["stateMachineArn"]
        return self._machines[text]

    def run(self, definition: dict, payload: Any, name: str | None = None,
            registration_errors: tuple[Exception, ...] = (), publish_errors: tuple[Exception, ...] = ()) -> dict[str, Any]:
        """Execute to the end, the first CreateModelPackage and Publish calls raising the errors
        given. The result also lists the states entered, in order, and the history's events."""
        self.notifications()  # drain: only this run's notifications count
        self.recorder.reset()
        self.recorder.failures["create_model_package"].extend(registration_errors)
        self.recorder.failures["publish"].extend(publish_errors)
        self._runs += 1
        execution = self.sfn.start_execution(stateMachineArn=self.machine(definition), name=name or f"run-{self._runs}",
                                             input=json.dumps(payload))["executionArn"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                events = self.sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
                described["events"] = events
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

    def job_status(self, name: str) -> str | None:
        job = sagemaker_backends[offline.ACCOUNT_ID][REGION].training_jobs.get(name)
        return job.training_job_status if job else None

    def forget(self, execution_arn: str) -> None:
        """Drop a finished execution, as Step Functions does 90 days after it ends."""
        prefix, machine_name, _ = execution_arn.rsplit(":", 2)  # names never contain ':'
        machine_arn = f"{prefix.removesuffix(':execution')}:stateMachine:{machine_name}"
        machine = stepfunctions_parser_backends[offline.ACCOUNT_ID][REGION].describe_state_machine(machine_arn)
        machine.executions = [e for e in machine.executions if e.execution_arn != execution_arn]


@pytest.fixture(scope="module")
def cloud_for(faithful_moto):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        clouds: dict[tuple, Cloud] = {}

        def get(stack: str = "dev", **model_settings: Any) -> Cloud:
            key = (stack, tuple(sorted(model_settings.items())))
            if key not in clouds:
                clouds[key] = Cloud(stack_config(stack, **model_settings), faithful_moto)
            return clouds[key]

        yield get


def expected_job_name(cloud: Cloud, result: dict, model: str = "churn") -> str:
    """`<prefix>-<md5 of "<execution ARN> <start time>">`, the start time as the context object has it."""
    run_id = hashlib.md5(f"{result['executionArn']} {iso_start(result['startDate'])}".encode()).hexdigest()
    return f"{training_workflow.job_prefix(cloud.cfg, model)}-{run_id}"


def training_request(result: dict) -> dict:
    """The CreateTrainingJob request the deployed Train state built (the stand-in kept it)."""
    return {k: v for k, v in json.loads(result["output"])["training"].items() if k not in DESCRIBE_ONLY}


def task_requests(result: dict, api: str) -> list[dict]:
    """The parameters of every `api` task the execution scheduled, in order."""
    return [json.loads(e["taskScheduledEventDetails"]["parameters"]) for e in result["events"]
            if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resource"] == api]


def _pattern(shape) -> str | None:
    # SageMaker's models end some patterns in a Java-ism, "${1,256}" (the anchor repeated): the
    # length bound it means is checked separately.
    pattern = shape.metadata.get("pattern")
    return re.sub(r"\$\{\d+,\d+\}$", "", pattern) if pattern else None


def sagemaker_problems(operation: str, request: dict) -> list[str]:
    """Everything SageMaker would refuse in `request`: types and required members (botocore's
    validator), plus lengths and patterns, which botocore leaves to the service. Patterns use
    Unicode classes (\\p{L} letters, \\p{N} digits, \\p{Z} spaces...), hence the `regex` module."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(operation).input_shape
    report = ParamValidator().validate(request, shape)
    problems: list[str] = [report.generate_report()] if report.has_errors() else []

    def walk(value: Any, shape, where: str) -> None:
        if shape.type_name == "structure":
            for key, member in value.items():
                walk(member, shape.members[key], f"{where}.{key}")
        elif shape.type_name == "list":
            for index, item in enumerate(value):
                walk(item, shape.member, f"{where}[{index}]")
        elif shape.type_name == "map":
            for key, item in value.items():
                walk(key, shape.key, f"{where} key {key!r}")
                walk(item, shape.value, f"{where}[{key}]")
        elif shape.type_name == "string":
            problems.extend(_string_problems(value, shape, where))

    walk(request, shape, operation)
    return problems


def _string_problems(value: str, shape, where: str) -> list[str]:
    low, high, pattern = shape.metadata.get("min", 0), shape.metadata.get("max"), _pattern(shape)
    problems = []
    if len(value) < low or (high is not None and len(value) > high):
        problems.append(f"{where}: {len(value)} characters, not within [{low}, {high}]")
    if pattern and not regex.fullmatch(pattern, value):
        problems.append(f"{where}: {value!r} does not match {pattern}")
    return problems


# --- Registration, threshold, direction ------------------------------------------------------------

@pytest.mark.parametrize("stack,approval", [("dev", "Approved"), ("prod", "PendingManualApproval")])
def test_a_model_meeting_its_threshold_is_registered_and_announced(cloud_for, stack, approval):
    cloud = cloud_for(stack)
    model = cloud.cfg.model("churn")
    before = cloud.versions()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.93)),
                       {"model_name": "churn", "hyperparameters": {"max_depth": "6"}}, name="nightly_2030-01-01")
    assert result["status"] == "SUCCEEDED", result
    job = expected_job_name(cloud, result)
    model_data = f"s3://{ARTIFACT_BUCKET}/churn/training/{job}/output/model.tar.gz"

    (version,) = [v for v in cloud.versions() if v not in before]
    assert version["ModelApprovalStatus"] == approval
    package = cloud.sagemaker.describe_model_package(ModelPackageName=version["ModelPackageArn"])
    (container,) = package["InferenceSpecification"]["Containers"]
    # The version names the inference image (what its endpoints run) and both types it serves.
    assert (container["Image"], container["ModelDataUrl"]) == (INFERENCE_IMAGE, model_data)
    inference = package["InferenceSpecification"]
    assert inference["SupportedContentTypes"] == inference["SupportedResponseMIMETypes"] == ["text/csv", "application/json"]
    assert package["ModelPackageDescription"] == f"validation:auc = 0.93 (>= threshold {model.threshold}), training job {job}"
    metadata = package["CustomerMetadataProperties"]
    assert (metadata["objective_metric"], metadata["objective_direction"], metadata["objective_value"]) == \
        ("validation:auc", "Maximize", "0.93")
    assert metadata["training_job"] == job and job.endswith(metadata["pipeline_run"])

    ((subject, message),) = cloud.notifications()
    assert subject == f"[mlops-platform/{stack}] churn: new version registered"
    assert message["outcome"] == "registered" and message["model_name"] == "churn"
    assert (message["objective_metric"], message["objective_value"], message["comparison"], message["threshold"]) == \
        ("validation:auc", 0.93, ">=", model.threshold)
    assert message["model_package_arn"] == version["ModelPackageArn"]
    assert message["approval_status"] == approval and message["training_job"] == job

    # What the deployed Train state asked SageMaker for: held to botocore's CreateTrainingJob.
    request = training_request(result)
    assert sagemaker_problems("CreateTrainingJob", request) == []
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
    assert cloud.recorder.stops == []  # a completed job is never stopped


def test_omitted_hyperparameters_train_with_the_models_defaults(cloud_for):
    cloud = cloud_for()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.93)), {"model_name": "churn"})
    assert result["status"] == "SUCCEEDED", result
    assert training_request(result)["HyperParameters"] == dict(cloud.cfg.model("churn").hyperparameters)


# A score must reach its threshold from above (>=), a loss from below (<=); equality passes both.
DIRECTIONS = [
    # objective, threshold, final value, registered
    ("validation:auc", 0.8, 0.93, True),
    ("validation:auc", 0.8, 0.8, True),
    ("validation:auc", 0.8, 0.61, False),
    ("validation:logloss", 0.4, 0.25, True),
    ("validation:logloss", 0.4, 0.4, True),
    ("validation:logloss", 0.4, 0.55, False),
]


@pytest.mark.parametrize("objective,threshold,value,registered", DIRECTIONS,
                         ids=[f"{o}-{v}-vs-{t}" for o, t, v, _ in DIRECTIONS])
def test_the_threshold_is_compared_in_the_metrics_direction(cloud_for, objective, threshold, value, registered):
    cloud = cloud_for("dev", objectiveMetric=objective, threshold=threshold)
    before = cloud.versions()
    final = metrics(**{objective.replace(":", "_"): value})
    result = cloud.run(with_completed_training(cloud.definition, final), {"model_name": "churn"})
    assert result["status"] == "SUCCEEDED", result
    assert len(cloud.versions()) == len(before) + registered
    ((subject, message),) = cloud.notifications()
    comparison = ">=" if objective.endswith("auc") else "<="
    assert (message["outcome"], message["objective_value"], message["comparison"], message["threshold"]) == \
        ("registered" if registered else "threshold_not_met", value, comparison, threshold)
    assert subject.endswith("new version registered" if registered else "threshold not met, not registered")
    assert message["objective_direction"] == ("Maximize" if comparison == ">=" else "Minimize")


@pytest.mark.parametrize("objective,threshold,final,per_round", [
    ("validation:auc", 0.8, 0.6, 0.99),
    ("validation:logloss", 0.4, 0.55, 0.1),
])
def test_the_final_value_decides_never_the_per_round_curve(cloud_for, objective, threshold, final, per_round):
    """FinalMetricDataList also holds iteration:<objective> (the last round's value, which may
    beat the saved model's): only the [final] line's metric is compared."""
    cloud = cloud_for("dev", objectiveMetric=objective, threshold=threshold)
    before = cloud.versions()
    name = objective.replace(":", "_")
    result = cloud.run(with_completed_training(cloud.definition, metrics(**{name: final, f"iteration_{name}": per_round})),
                       {"model_name": "churn"})
    assert result["status"] == "SUCCEEDED", result
    assert cloud.versions() == before
    ((_, message),) = cloud.notifications()
    assert (message["outcome"], message["objective_metric"], message["objective_value"]) == \
        ("threshold_not_met", objective, final)


# --- Job names and the values derived from the execution -------------------------------------------

# Names Step Functions accepts (1-80 characters; no whitespace, brackets, ? *, " # % \ ^ | ~ ` $ & , ; : /
# or control characters), chosen for what SageMaker's patterns refuse: punctuation, symbols,
# format and private-use characters, non-Latin letters, the full length.
EXECUTION_NAMES = {
    "plain": "scheduled_2030-01-08",
    "punctuation": "retry!(manual)'s.v2",
    "letters": "café-ünïcødé-Ωμέγα",
    "symbol": "check✓-done",
    "emoji": "rocket-🚀",
    "zero-width-joiner": "dev-👩‍💻",
    "private-use": "private-\ue000",
    "operators": "a+b=c@d",
    "longest": "x" * 80,
    "longest-non-ascii": "Ω" * 80,
}


@pytest.mark.parametrize("execution_name", EXECUTION_NAMES.values(), ids=EXECUTION_NAMES.keys())
def test_any_execution_name_yields_requests_sagemaker_accepts(cloud_for, execution_name):
    cloud = cloud_for()
    before = cloud.versions()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.93)), {"model_name": "churn"},
                       name=execution_name)
    assert result["status"] == "SUCCEEDED", result
    assert len(cloud.versions()) == len(before) + 1
    assert training_request(result)["TrainingJobName"] == expected_job_name(cloud, result)
    assert sagemaker_problems("CreateTrainingJob", training_request(result)) == []
    (registration,) = task_requests(result, "createModelPackage")
    assert sagemaker_problems("CreateModelPackage", registration) == []


@pytest.mark.parametrize("operation,request_", [
    ("CreateTrainingJob", {"Tags": [{"Key": "Run", "Value": "retry!(manual)"}]}),
    ("CreateTrainingJob", {"Tags": [{"Key": "Run", "Value": "check✓"}]}),
    ("CreateTrainingJob", {"TrainingJobName": "churn_1"}),
    ("CreateModelPackage", {"CustomerMetadataProperties": {"comparison": ">="}}),
    ("CreateModelPackage", {"ModelPackageDescription": "dev-👩‍💻"}),
    ("CreateModelPackage", {"ClientToken": "x" * 37}),
], ids=["tag-punctuation", "tag-symbol", "job-underscore", "metadata-operator", "description-zwj", "token-length"])
def test_the_request_check_refuses_what_sagemaker_refuses(operation, request_):
    """The check above can fail: the raw execution names it is given would be refused."""
    assert any(key in problem for problem in sagemaker_problems(operation, request_) for key in request_)


def test_a_reused_execution_name_gets_a_new_job(cloud_for):
    """90 days after an execution ends Step Functions forgets it and accepts its name again: same
    ARN, new start time. The job name must differ, or CreateTrainingJob would refuse it."""
    cloud = cloud_for()
    definition = with_completed_training(cloud.definition, metrics(validation_auc=0.93))
    first = cloud.run(definition, {"model_name": "churn"}, name="weekly-retrain")
    cloud.forget(first["executionArn"])
    second = cloud.run(definition, {"model_name": "churn"}, name="weekly-retrain")
    assert first["executionArn"] == second["executionArn"] and first["startDate"] != second["startDate"]
    first_job, second_job = (training_request(r)["TrainingJobName"] for r in (first, second))
    assert first_job != second_job
    assert (first_job, second_job) == (expected_job_name(cloud, first), expected_job_name(cloud, second))


# --- Training errors: retried only when the job was not created, stopped whenever it may run ------

def test_a_failed_training_job_is_stopped_announced_and_fails_the_execution(cloud_for):
    cloud = cloud_for()
    before = cloud.versions()
    result = cloud.run(with_failed_training(cloud.definition), {"model_name": "churn"}, name="broken-run")
    job = expected_job_name(cloud, result)
    assert result["status"] == "FAILED"
    assert result["error"] == "TrainingFailed"
    assert FAILURE_REASON in result["cause"]
    assert cloud.versions() == before
    assert cloud.recorder.stops == [job] and cloud.job_status(job) == "Stopped"
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] churn: training failed"
    assert message["outcome"] == "training_failed" and message["error"] == "TrainingFailed"
    assert FAILURE_REASON in message["cause"] and message["caught_error"] == "TrainingJobFailed"
    assert message["training_job"] == job and message["job_stop"] == {"stop_requested": True}
    assert REGISTER_STATE not in result["entered"]


SERVER_ERROR = fails("SageMaker.AmazonSageMakerException", "InternalFailure", "We encountered an internal error", 500)
QUOTA = fails("SageMaker.ResourceLimitExceededException", "ResourceLimitExceeded",
              "The account-level service limit 'ml.m5.xlarge for training job usage' is 0 Instances")
REJECTED = fails("SageMaker.AmazonSageMakerException", "ValidationException", "1 validation error detected")
# The first attempt created the job, then watching it was throttled: the retry collides with it.
WATCH_THROTTLED = dataclasses.replace(THROTTLED, creates_job=True)
COLLISION = fails("SageMaker.ResourceInUseException", "ResourceInUse",
                  "Training job names must be unique within an AWS account and region")

TRAINING_ERRORS = {
    # attempts played, then: Train visits, waits, the job's status after the run (None: never created), registered
    "throttled-then-trained": ((THROTTLED, completes(metrics(validation_auc=0.93))), 2, [10], None, True),
    "server-error-then-trained": ((SERVER_ERROR, completes(metrics(validation_auc=0.93))), 2, [10], None, True),
    "throttled-until-out-of-attempts": ((THROTTLED,), 4, list(RETRY_WAIT_SECONDS), None, False),
    "quota": ((QUOTA,), 1, [], None, False),
    "rejected-request": ((REJECTED,), 1, [], None, False),
    "retry-collides-with-its-own-job": ((WATCH_THROTTLED, COLLISION), 2, [10], "Stopped", False),
}


@pytest.mark.parametrize("attempts,visits,waits,job_status,registered", TRAINING_ERRORS.values(), ids=TRAINING_ERRORS.keys())
def test_training_errors_are_retried_only_when_transient_and_never_leave_a_job_running(
        cloud_for, attempts, visits, waits, job_status, registered):
    cloud = cloud_for()
    result = cloud.run(with_training(cloud.definition, *attempts), {"model_name": "churn"})
    job = training_request(result)["TrainingJobName"] if registered else expected_job_name(cloud, result)
    assert len([s for s in result["entered"] if s.startswith(f"{TRAIN_STATE}Attempt")]) == visits
    assert cloud.recorder.waits == waits
    ((_, message),) = cloud.notifications()
    if registered:
        assert (result["status"], message["outcome"], cloud.recorder.stops) == ("SUCCEEDED", "registered", [])
        return
    assert (result["status"], result["error"], message["outcome"]) == ("FAILED", "TrainingFailed", "training_failed")
    assert message["caught_error"] == attempts[-1].error
    # Every failure path sends the stop; a job that never existed answers ResourceNotFound.
    assert cloud.recorder.stops == [job] and cloud.job_status(job) == job_status
    expected_stop = {"stop_requested": True} if job_status else {"Error": "SageMaker.ResourceNotFoundException"}
    assert expected_stop.items() <= message["job_stop"].items()


# --- Registration errors --------------------------------------------------------------------------

# SageMaker's answers, raised from moto's SageMaker backend (whose module tells moto the service).
RATE_EXCEEDED = sagemaker_errors.SagemakerClientError("ThrottlingException", "Rate exceeded")
REGISTRATION_ERRORS = {
    # raised by the first CreateModelPackage calls; then: calls, waits, outcome
    "throttled-once": ((RATE_EXCEEDED,), 2, [10], "registered"),
    "throttled-twice": ((RATE_EXCEEDED, RATE_EXCEEDED), 3, [10, 60], "registered"),
    "throttled-until-out-of-attempts": ((RATE_EXCEEDED,) * 4, 4, list(RETRY_WAIT_SECONDS), "registration_failed"),
    "rejected-request": ((sagemaker_errors.SagemakerClientError(
        "ValidationException", "1 validation error detected: Value at 'modelPackageDescription' failed to satisfy "
        "constraint"),), 1, [], "registration_failed"),
}


@pytest.mark.parametrize("raised,calls,waits,outcome", REGISTRATION_ERRORS.values(), ids=REGISTRATION_ERRORS.keys())
def test_registration_retries_throttles_but_never_a_rejected_request(cloud_for, raised, calls, waits, outcome):
    """What this proves: with CreateModelPackage answering as SageMaker does (ThrottlingException
    "Rate exceeded", ValidationException - both undeclared in SageMaker's API model, so both
    arrive as SageMaker.SageMakerException), the deployed definition tells them apart by their
    cause, tries a throttle again after a growing pause (counted attempts, recorded waits) and a
    rejected request never. What it cannot prove: that AWS words the cause exactly as moto and
    LocalStack do; the cause patterns (TRANSIENT_CAUSES) cover both SDK message formats."""
    cloud = cloud_for()
    before = cloud.versions()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.93)), {"model_name": "churn"},
                       registration_errors=raised)
    assert (cloud.recorder.registrations, cloud.recorder.waits) == (calls, waits)
    assert result["entered"].count(REGISTER_STATE) == calls
    assert len(cloud.versions()) == len(before) + (outcome == "registered")
    ((_, message),) = cloud.notifications()
    assert message["outcome"] == outcome
    if outcome == "registered":
        assert result["status"] == "SUCCEEDED"
        (token,) = {r["ClientToken"] for r in task_requests(result, "createModelPackage")}  # one version per run
        assert training_request(result)["TrainingJobName"].endswith(token)
    else:
        assert (result["status"], result["error"]) == ("FAILED", "RegistrationFailed")
        assert message["caught_error"] == "SageMaker.SageMakerException" and raised[-1].message in message["cause"]


def test_a_missing_package_group_fails_registration_without_retrying(cloud_for):
    cloud = cloud_for()
    # A group the registry never created: CreateModelPackage fails, for good.
    definition = training_workflow.definition(cloud.spec_with({"churn": "mlops-platform-dev-missing"}))
    result = cloud.run(with_completed_training(definition, metrics(validation_auc=0.95)), {"model_name": "churn"})
    assert result["status"] == "FAILED"
    assert result["error"] == "RegistrationFailed"
    assert "Model Package Group does not exist" in result["cause"]
    assert cloud.recorder.registrations == 1
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] churn: registration failed"
    assert message["outcome"] == "registration_failed" and message["objective_value"] == 0.95


# --- Notifications --------------------------------------------------------------------------------

@pytest.mark.parametrize("training,status,error", [
    (completes(metrics(validation_auc=0.93)), "SUCCEEDED", None),
    (fails("TrainingJobFailed", message=FAILURE_REASON), "FAILED", "TrainingFailed"),
], ids=["registered", "training-failed"])
def test_an_undeliverable_notification_keeps_the_runs_outcome(cloud_for, training, status, error):
    """A topic that does not exist (SNS.NotFoundException, not transient): one attempt, then the
    run keeps its status, error and cause and shows the notification's failure."""
    cloud = cloud_for()
    missing = f"arn:aws:sns:{REGION}:{offline.ACCOUNT_ID}:mlops-platform-dev-deleted-alerts"
    definition = training_workflow.definition(dataclasses.replace(cloud.spec, topic_arn=missing))
    before = cloud.versions()
    result = cloud.run(with_training(definition, training), {"model_name": "churn"})
    assert result["status"] == status
    assert result["entered"].count("Notify") == 1 and NOTIFICATION_FAILED_STATE in result["entered"]
    assert cloud.notifications() == []
    if error:
        assert result["error"] == error and FAILURE_REASON in result["cause"]
        assert STOP_STATE in result["entered"]
        return
    assert len(cloud.versions()) == len(before) + 1
    output = json.loads(result["output"])
    assert output["notification"]["message"]["outcome"] == "registered"
    assert output["notification_error"]["Error"] == "SNS.NotFoundException"


def test_a_transient_notification_error_is_retried(cloud_for):
    cloud = cloud_for()
    result = cloud.run(with_completed_training(cloud.definition, metrics(validation_auc=0.93)), {"model_name": "churn"},
                       publish_errors=(sns_errors.InternalError("Internal error"),))
    assert result["status"] == "SUCCEEDED"
    assert NOTIFICATION_FAILED_STATE not in result["entered"]
    assert cloud.recorder.waits == [5]  # the Retry's first interval
    ((_, message),) = cloud.notifications()
    assert message["outcome"] == "registered"


# --- Rejected input, missing metrics ---------------------------------------------------------------

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
    ((subject, message),) = cloud.notifications()
    assert subject == "[mlops-platform/dev] churn: objective metric not reported"
    assert message["outcome"] == "objective_not_reported"


def test_moto_parses_the_definition_exactly_as_deployed(cloud_for):
    """No swap here: the deployed document, `.sync` task included, is valid ASL syntax."""
    cloud = cloud_for("prod")
    arn = cloud.sfn.create_state_machine(name="as-deployed", definition=json.dumps(cloud.definition),
                                         roleArn=f"arn:aws:iam::{offline.ACCOUNT_ID}:role/pipeline")["stateMachineArn"]
    assert json.loads(cloud.sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == cloud.definition
