"""AWS, emulated in this process: moto's backends, seeded from a plan of the real program.

`EmulatedAws.apply(plan)` is the rehearsal's `pulumi up`: it creates in moto what the offline plan
(automation/offline.py, the program run under Pulumi's mocks) says the stack has, with the plan's
names, definitions, patterns, inputs and environments, and updates what changed since the last
apply. Only resource types with behaviour the rehearsal exercises are created (`APPLIED`); the rest
(IAM policies, KMS, log groups, ECR, autoscaling...) are counted and left out: moto would not
enforce them, and the rehearsal deploys no image.

What moto cannot do, and what stands in for it (documented in docs/runbook.md, "Try it without AWS"):
- Lambda runs functions in Docker. `_invoke_lambda` is swapped for the deployed handler run in this
  process with the function's planned environment (`invoke_function`): the platform's code, not a
  double. The ingestion function's Feature Store runtime client is the recorder of
  automation/rehearsal/feature_store.py (moto has no Feature Store runtime).
- EventBridge delivers only to SQS and logs in moto, and never runs schedules. Deliveries to Step
  Functions, Lambda and SNS targets are added (the planned Input or InputTransformer applied by moto's
  own template parser), and `fire_schedule` delivers a schedule's "Scheduled Event" when a step
  wants the schedule to have come round.
- S3 notifications to Lambda: `put_object` delivers the S3 event the planned notification's filters
  select (S3 User Guide, "Event message structure").
- SageMaker has no UpdateEndpoint in moto: `_update_endpoint` moves the endpoint to its new
  configuration as a finished blue/green update would.
- The training state machine's `Train` state (`createTrainingJob.sync`) calls a stand-in function
  that runs the training image's entry point locally (automation/rehearsal/training.py).
- Step Functions, SageMaker's registry, SNS, SQS, S3, SSM, CloudWatch metrics and alarms are moto's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib
import io
import json
import logging
import os
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.cloudwatch.models import cloudwatch_backends
from moto.events.models import EventTemplateParser, Rule, events_backends
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.utilities.arns import parse_arn

from automation.offline import ACCOUNT_ID, Plan, PlannedResource
from automation.rehearsal import moto_fixes, training
from automation.rehearsal.feature_store import RecordingFeatureStore
from components.training_workflow import TRAIN_INTEGRATION, TRAIN_STATE

TRAINING_COMPUTE = "rehearsal-sagemaker-training-compute"
ALERTS_QUEUE = "rehearsal-alert-subscriber"
EXECUTION_TIMEOUT_SECONDS = 300
# What an alarm's state is in moto's backend: all of it survives PutMetricAlarm in CloudWatch.
ALARM_STATE = ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history")

# The resource types the rehearsal creates in moto, in dependency order.
APPLIED = (
    "aws:iam/role:Role",
    "aws:s3/bucket:Bucket",
    "aws:sqs/queue:Queue",
    "aws:sns/topic:Topic",
    "aws:ssm/parameter:Parameter",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    "aws:sagemaker/featureGroup:FeatureGroup",
    "aws:lambda/function:Function",
    "aws:sfn/stateMachine:StateMachine",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:s3/bucketNotification:BucketNotification",
    "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/endpoint:Endpoint",
)


class RehearsalError(RuntimeError):
    """An outcome of the rehearsal that is wrong; the message says which and why."""


@dataclass
class Invocation:
    """One run of a function: what it was given and what it answered (or the error it raised)."""

    function: str
    event: Any
    result: Any = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Applied:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)  # resource type -> count


def _secret_free(value: Any) -> Any:
    """A planned input's plain value (the offline engine keeps secrets as Pulumi's secret signature)."""
    if isinstance(value, Mapping) and "4dabf18193072939515e22adb298388d" in value:
        return value.get("value")
    return value


def _pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


def _api_shape(value: Any) -> Any:
    """Pulumi's camelCase inputs as the AWS API's PascalCase (keys only; values kept)."""
    if isinstance(value, Mapping):
        return {_pascal(k): _api_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_api_shape(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _without_missing_paths(transformer: Mapping[str, Any], event: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The transformer with each variable whose path the event lacks put in as nothing, as EventBridge
    does (tests/program/test_registry_events.py); moto's parser would leave its `<name>` in the text."""
    template, paths = transformer.get("InputTemplate", ""), dict(transformer.get("InputPathsMap", {}))
    for name, path in list(paths.items()):
        value: Any = event
        for key in path.removeprefix("$.").split("."):
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            template = template.replace(f"<{name}>", "")
            del paths[name]
    return template, paths


def _package_detail(package: Any) -> dict[str, Any]:
    """The event's detail: the version as DescribeModelPackage shows it (tests/program/data has AWS's example)."""
    stamp = lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(moment, "strftime") else moment  # noqa: E731
    detail = {
        "ModelPackageGroupName": package.model_package_group_name, "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn, "ModelPackageDescription": package.model_package_description,
        "CreationTime": stamp(package.creation_time),
        # A new version has no LastModifiedTime in moto; SageMaker's event carries one.
        "LastModifiedTime": stamp(getattr(package, "last_modified_time", None) or package.creation_time),
        "InferenceSpecification": package.inference_specification, "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": package.model_approval_status, "ApprovalDescription": package.approval_description,
        "CustomerMetadataProperties": package.customer_metadata_properties,
    }
    return {key: value for key, value in detail.items() if value is not None}


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """A Pulumi `metricQueries` entry as PutMetricAlarm's `Metrics` entry (the provider nests it differently)."""
    entry = {_pascal(k): v for k, v in query.items() if k in ("id", "expression", "label", "returnData")}
    if "metric" in query:
        metric = query["metric"]
        entry["MetricStat"] = {
            "Metric": {"Namespace": metric["namespace"], "MetricName": metric["metricName"],
                       "Dimensions": [{"Name": k, "Value": v} for k, v in metric.get("dimensions", {}).items()]},
            "Period": int(metric["period"]), "Stat": metric["stat"], **({"Unit": metric["unit"]} if "unit" in metric else {})}
    return entry


class EmulatedAws:
    """moto started in this process, with the stand-ins of the module docstring, for one rehearsal."""

    def __init__(self, region: str, work_dir: Path):
        self.region = region
        self.work_dir = work_dir
        self.account = ACCOUNT_ID
        self.feature_store = RecordingFeatureStore()
        self.functions: dict[str, Mapping[str, Any]] = {}  # planned inputs by function name
        self.notifications: list[Mapping[str, Any]] = []  # planned S3 -> Lambda notification configs
        self.invocations: list[Invocation] = []
        self.executions: list[str] = []  # executions started by EventBridge deliveries
        self.alerts_queue_url = ""
        self._clients: dict[str, Any] = {}
        self._feature_groups: set[str] = set()
        self._config_names: dict[str, str] = {}  # planned endpoint config name -> the emulator's
        self._stack = contextlib.ExitStack()
        self._environment_lock = threading.RLock()

    # -- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> EmulatedAws:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        stack = self._stack
        environment = {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region, "AWS_ACCESS_KEY_ID": "rehearsal",
                       "AWS_SECRET_ACCESS_KEY": "rehearsal", "AWS_SESSION_TOKEN": "rehearsal"}
        stack.enter_context(mock.patch.dict(os.environ, environment))
        for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):  # restored with the rest when the block ends
            os.environ.pop(variable, None)
        # The interpreter logs every Choice that tests a missing path (ASL's IsPresent checks) as a warning.
        stack.enter_context(_quiet("moto.stepfunctions"))
        stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        stack.enter_context(moto_fixes.corrected())
        cloud = self
        stack.enter_context(mock.patch.object(LambdaFunction, "_invoke_lambda",
                                              lambda function, event=None: cloud._moto_invoke(function, event)))
        stack.enter_context(mock.patch.object(Rule, "send_to_targets", self._moto_send_to_targets()))
        for operation in ("create_model_package", "update_model_package"):
            stack.enter_context(mock.patch.object(SageMakerModelBackend, operation,
                                                  self._announcing(getattr(SageMakerModelBackend, operation))))
        self._create_training_compute()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    # -- apply a plan --------------------------------------------------------------------------------
    def apply(self, plan: Plan) -> Applied:
        """Create (or update) in moto what the plan has; see the module docstring."""
        applied = Applied()
        appliers = self._appliers()
        for type_ in APPLIED:
            for resource in plan.of_type(type_):
                outcome = appliers[type_](resource)
                if outcome:
                    (applied.created if outcome == "created" else applied.updated).append(f"{type_.split(':')[-1]} {resource.name}")
        for resource in plan.resources:
            if resource.custom and resource.type not in APPLIED:
                applied.left_out[resource.type] = applied.left_out.get(resource.type, 0) + 1
        return applied

    def _appliers(self) -> dict[str, Callable[[PlannedResource], str | None]]:
        return {
            "aws:iam/role:Role": self._role,
            "aws:s3/bucket:Bucket": self._bucket,
            "aws:sqs/queue:Queue": self._queue,
            "aws:sns/topic:Topic": self._topic,
            "aws:ssm/parameter:Parameter": self._parameter,
            "aws:sagemaker/modelPackageGroup:ModelPackageGroup": self._package_group,
            "aws:sagemaker/featureGroup:FeatureGroup": self._feature_group,
            "aws:lambda/function:Function": self._function,
            "aws:sfn/stateMachine:StateMachine": self._state_machine,
            "aws:cloudwatch/eventRule:EventRule": self._rule,
            "aws:cloudwatch/eventTarget:EventTarget": self._target,
            "aws:cloudwatch/metricAlarm:MetricAlarm": self._alarm,
            "aws:s3/bucketNotification:BucketNotification": self._notification,
            "aws:sagemaker/model:Model": self._model,
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration": self._endpoint_config,
            "aws:sagemaker/endpoint:Endpoint": self._endpoint,
        }

    def _role(self, r: PlannedResource) -> str | None:
        iam = self.client("iam")
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName=r.outputs["name"])
            return None
        iam.create_role(RoleName=r.outputs["name"], AssumeRolePolicyDocument=r.inputs["assumeRolePolicy"])
        return "created"

    def _bucket(self, r: PlannedResource) -> str | None:
        s3 = self.client("s3")
        name = r.outputs["bucket"]
        if name in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            return None
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return "created"

    def _queue(self, r: PlannedResource) -> str | None:
        self.client("sqs").create_queue(QueueName=r.outputs["name"])
        return None

    def _topic(self, r: PlannedResource) -> str | None:
        """The topic, and a queue subscribed to it: where the rehearsal reads what operators are emailed."""
        sns, sqs = self.client("sns"), self.client("sqs")
        arn = sns.create_topic(Name=r.outputs["name"])["TopicArn"]
        if not self.alerts_queue_url:
            self.alerts_queue_url = sqs.create_queue(QueueName=ALERTS_QUEUE)["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=self.alerts_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
            return "created"
        return None

    def _parameter(self, r: PlannedResource) -> str | None:
        ssm = self.client("ssm")
        with contextlib.suppress(ssm.exceptions.ParameterNotFound):
            ssm.get_parameter(Name=r.inputs["name"])
            return None  # ignore_changes=["value"]: the pipeline owns the value once it exists
        ssm.put_parameter(Name=r.inputs["name"], Value=_secret_free(r.inputs["value"]), Type=r.inputs.get("type", "String"))
        return "created"

    def _package_group(self, r: PlannedResource) -> str | None:
        sagemaker = self.client("sagemaker")
        name = r.inputs["modelPackageGroupName"]
        if any(g["ModelPackageGroupName"] == name for g in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]):
            return None
        sagemaker.create_model_package_group(ModelPackageGroupName=name,
                                             ModelPackageGroupDescription=r.inputs.get("modelPackageGroupDescription", ""))
        return "created"

    def _feature_group(self, r: PlannedResource) -> str | None:
        sagemaker = self.client("sagemaker")
        name = r.inputs["featureGroupName"]
        if name in self._feature_groups:  # moto has no ListFeatureGroups, and Describe of a missing one fails inside moto
            return None
        self._feature_groups.add(name)
        offline = r.inputs["offlineStoreConfig"]
        sagemaker.create_feature_group(
            FeatureGroupName=name, RecordIdentifierFeatureName=r.inputs["recordIdentifierFeatureName"],
            EventTimeFeatureName=r.inputs["eventTimeFeatureName"],
            FeatureDefinitions=[{"FeatureName": d["featureName"], "FeatureType": d["featureType"]}
                                for d in r.inputs["featureDefinitions"]],
            OnlineStoreConfig={"EnableOnlineStore": True},
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": offline["s3StorageConfig"]["s3Uri"]}},
            RoleArn=r.inputs["roleArn"], Description=r.inputs.get("description", ""))
        return "created"

    def _function(self, r: PlannedResource) -> str | None:
        name = r.inputs["name"]
        known = name in self.functions
        self.functions[name] = r.inputs
        if known:
            return None
        self._create_moto_function(name, r.inputs["role"], r.inputs["handler"])
        return "created"

    def _create_moto_function(self, name: str, role: str, handler: str) -> None:
        """moto keeps the function (for Step Functions' lambda:invoke); its code never runs there."""
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("README.txt", "the rehearsal runs the planned handler in process\n")
        self.client("lambda").create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler=handler,
                                              Code={"ZipFile": code.getvalue()}, Timeout=900)

    def _create_training_compute(self) -> None:
        iam = self.client("iam")
        role = iam.create_role(RoleName=TRAINING_COMPUTE, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self._create_moto_function(TRAINING_COMPUTE, role, "automation.rehearsal.training.run_job")

    def _state_machine(self, r: PlannedResource) -> str | None:
        sfn = self.client("stepfunctions")
        definition = json.loads(r.inputs["definition"])
        train = definition["States"].get(TRAIN_STATE, {})
        if train.get("Resource", "").endswith(TRAIN_INTEGRATION):
            definition = training.with_local_training(definition, self.arn("lambda", f"function:{TRAINING_COMPUTE}"))
        arn = self.arn("states", f"stateMachine:{r.inputs['name']}")
        text = json.dumps(definition)
        with contextlib.suppress(sfn.exceptions.StateMachineDoesNotExist):
            if sfn.describe_state_machine(stateMachineArn=arn)["definition"] == text:
                return None
            sfn.update_state_machine(stateMachineArn=arn, definition=text)
            return "updated"
        sfn.create_state_machine(name=r.inputs["name"], definition=text, roleArn=r.inputs["roleArn"])
        return "created"

    def _rule(self, r: PlannedResource) -> str | None:
        spec = {key: r.inputs[key] for key in ("eventPattern", "scheduleExpression", "description") if key in r.inputs}
        self.client("events").put_rule(Name=r.inputs["name"], State="ENABLED", **_api_shape(spec))
        return None

    def _target(self, r: PlannedResource) -> str | None:
        target: dict[str, Any] = {"Id": r.name[-64:], "Arn": r.inputs["arn"]}
        if "input" in r.inputs:
            target["Input"] = r.inputs["input"]
        if "inputTransformer" in r.inputs:
            transformer = r.inputs["inputTransformer"]
            target["InputTransformer"] = {"InputPathsMap": dict(transformer.get("inputPaths", {})),
                                          "InputTemplate": transformer["inputTemplate"]}
        if "roleArn" in r.inputs:
            target["RoleArn"] = r.inputs["roleArn"]
        self.client("events").put_targets(Rule=r.inputs["rule"], Targets=[target])
        return None

    def _alarm(self, r: PlannedResource) -> str | None:
        inputs = dict(r.inputs)
        irregular = {"okActions": "OKActions"}
        spec = {irregular.get(k, _pascal(k)): _api_shape(v) for k, v in inputs.items()
                if k not in ("name", "dimensions", "metricQueries", "tags")}
        if "dimensions" in inputs:
            spec["Dimensions"] = [{"Name": k, "Value": v} for k, v in inputs["dimensions"].items()]
        if "metricQueries" in inputs:
            spec["Metrics"] = [_metric_query(query) for query in inputs["metricQueries"]]
        cloudwatch = self.client("cloudwatch")
        alarms = cloudwatch_backends[self.account][self.region].alarms
        known = alarms.get(inputs["name"])
        state = {key: getattr(known, key) for key in ALARM_STATE} if known else None
        cloudwatch.put_metric_alarm(AlarmName=inputs["name"], **spec)
        # CloudWatch starts a new alarm in INSUFFICIENT_DATA and leaves an updated one's state
        # unchanged (PutMetricAlarm, API reference); moto makes both anew, in OK.
        if state is None:
            cloudwatch.set_alarm_state(AlarmName=inputs["name"], StateValue="INSUFFICIENT_DATA",
                                       StateReason="Unchecked: Initial alarm creation")
            return "created"
        for key, value in state.items():
            setattr(alarms[inputs["name"]], key, value)
        return None

    def _notification(self, r: PlannedResource) -> str | None:
        for config in r.inputs.get("lambdaFunctions", []):
            entry = {**config, "bucket": r.inputs["bucket"]}
            if entry not in self.notifications:
                self.notifications.append(entry)
        return None

    def _model(self, r: PlannedResource) -> str | None:
        sagemaker = self.client("sagemaker")
        with contextlib.suppress(sagemaker.exceptions.ClientError):
            sagemaker.describe_model(ModelName=r.inputs["name"])
            return None
        sagemaker.create_model(ModelName=r.inputs["name"], ExecutionRoleArn=r.inputs["executionRoleArn"],
                               PrimaryContainer=_api_shape(r.inputs["primaryContainer"]))
        return "created"

    def _endpoint_config(self, r: PlannedResource) -> str | None:
        """Endpoint configurations are immutable: a changed one is a new one, with a new name. The
        program names them by prefix only (Pulumi adds a random suffix on each replacement); the
        offline plan's name stays the same, so the emulator names each by its content."""
        variants = _api_shape(r.inputs["productionVariants"])
        for variant in variants:  # the one member whose API name is not the input's capitalised
            if "ServerlessConfig" in variant and "MemorySizeInMb" in variant["ServerlessConfig"]:
                variant["ServerlessConfig"]["MemorySizeInMB"] = variant["ServerlessConfig"].pop("MemorySizeInMb")
        spec: dict[str, Any] = {"ProductionVariants": variants}
        if "dataCaptureConfig" in r.inputs:
            capture = _api_shape(r.inputs["dataCaptureConfig"])
            capture.pop("KmsKeyId", None)
            spec["DataCaptureConfig"] = {"EnableCapture": True, **capture}
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
        name = f"{r.inputs.get('namePrefix', r.outputs['name'])}{digest}"
        self._config_names[r.outputs["name"]] = name
        sagemaker = self.client("sagemaker")
        with contextlib.suppress(sagemaker.exceptions.ClientError):
            sagemaker.describe_endpoint_config(EndpointConfigName=name)
            return None
        sagemaker.create_endpoint_config(EndpointConfigName=name, **spec)
        return "created"

    def _endpoint(self, r: PlannedResource) -> str | None:
        sagemaker = self.client("sagemaker")
        name, config = r.inputs["name"], self._config_names[r.inputs["endpointConfigName"]]
        try:
            current = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        except sagemaker.exceptions.ClientError:
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
            return "created"
        if current == config:
            return None
        self._update_endpoint(name, config)
        return "updated"

    def _update_endpoint(self, name: str, config: str) -> None:
        """UpdateEndpoint, finished: the new configuration's variants and weights serve (moto has no UpdateEndpoint)."""
        backend = sagemaker_backends[self.account][self.region]
        endpoint = backend.endpoints[name]
        described = backend.describe_endpoint_config(config)
        endpoint.endpoint_config_name = config
        endpoint.production_variants = endpoint._process_production_variants(described["ProductionVariants"])
        endpoint.endpoint_status = "InService"

    # -- functions -----------------------------------------------------------------------------------
    def invoke_function(self, name: str, event: Any) -> Any:
        """Run the planned function's handler here, with its planned environment; raise what it raises."""
        started = time.monotonic()
        record = Invocation(name, event)
        self.invocations.append(record)
        try:
            record.result = self._run_handler(name, event)
            return record.result
        except Exception as error:
            record.error = f"{type(error).__name__}: {error}"
            raise
        finally:
            record.seconds = time.monotonic() - started

    def _run_handler(self, name: str, event: Any) -> Any:
        if name == TRAINING_COMPUTE:
            return self._train(event)
        inputs = self.functions[name]
        module_name, function_name = inputs["handler"].rsplit(".", 1)
        module = importlib.import_module(module_name)
        variables = dict(inputs.get("environment", {}).get("variables", {}))
        variables.update(AWS_LAMBDA_FUNCTION_NAME=name, AWS_REGION=self.region, AWS_DEFAULT_REGION=self.region)
        deadline = time.monotonic() + float(inputs.get("timeout", 3))
        context = SimpleNamespace(function_name=name, aws_request_id=str(uuid.uuid4()),
                                  get_remaining_time_in_millis=lambda: max(0, int((deadline - time.monotonic()) * 1000)))
        with self._environment_lock, mock.patch.dict(os.environ, variables), self._swaps(module):
            cached = getattr(module, "_clients", None)
            if hasattr(cached, "cache_clear"):
                cached.cache_clear()  # clients made under an earlier rehearsal belong to its moto
            return getattr(module, function_name)(event, context)

    @contextlib.contextmanager
    def _swaps(self, module: Any) -> Iterator[None]:
        """The one client moto cannot answer: Feature Store's runtime, for the ingestion function."""
        if module.__name__ != "functions.feature_ingest.handler":
            yield
            return
        from functions.feature_ingest.ingest import Clients

        clients = Clients(s3=self.client("s3"), sagemaker=self.client("sagemaker"), featurestore=self.feature_store,
                          cloudwatch=self.client("cloudwatch"))
        with mock.patch.object(module, "_clients", lambda concurrency: clients):
            yield

    def _train(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """SageMaker's training compute (training.py), with the job recorded in moto's registry of jobs."""
        training.check_request(request)
        sagemaker = self.client("sagemaker")
        sagemaker.create_training_job(**request)
        job = sagemaker_backends[self.account][self.region].training_jobs[request["TrainingJobName"]]
        job.algorithm_specification = dict(request["AlgorithmSpecification"])  # moto overwrites the definitions
        try:
            described = training.run_job(request, s3=self.client("s3"), work_dir=self.work_dir / "training-jobs")
        except training.TrainingJobError as failure:
            job.training_job_status, job.failure_reason = "Failed", str(failure)
            raise
        job.model_artifacts = described["ModelArtifacts"]
        job.final_metric_data_list = described["FinalMetricDataList"]
        return described

    def _moto_invoke(self, function: Any, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        try:
            return json.dumps(self.invoke_function(function.function_name, payload), default=str), False, ""
        except Exception as error:  # Lambda reports a handler's exception as a function error
            return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}), True, str(error)

    def _announcing(self, operation: Callable[..., Any]) -> Callable[..., Any]:
        """SageMaker sends "SageMaker Model Package State Change" to EventBridge when a version is
        created or its approval changes (Developer Guide, "Model registry events"); moto sends nothing."""
        cloud = self

        def announced(backend: Any, *args: Any, **kwargs: Any) -> Any:
            result = operation(backend, *args, **kwargs)
            arn = result if isinstance(result, str) else result.arn
            package = backend.model_packages.get(backend.model_package_name_mapping.get(arn, arn))
            if package is not None:
                cloud._put_event("aws.sagemaker", "SageMaker Model Package State Change", [package.arn],
                                 _package_detail(package))
            return result

        return announced

    def _put_event(self, source: str, detail_type: str, resources: list[str], detail: Mapping[str, Any]) -> None:
        """An event an AWS service sends to the default bus (straight to moto's backend: this may run inside a request)."""
        events_backends[self.account][self.region].put_events([{
            "Source": source, "DetailType": detail_type, "Resources": resources, "Detail": json.dumps(detail, default=str)}])

    # -- EventBridge -----------------------------------------------------------------------------------
    def _moto_send_to_targets(self) -> Callable[..., None]:
        original = Rule.send_to_targets
        cloud = self

        def send_to_targets(rule: Any, event: Any, transform_input: bool = True) -> None:
            # A schedule's rule has no pattern, which moto matches with every event; EventBridge never does.
            if rule.scheduled_expression or not rule.event_pattern.matches_event(event):
                return
            ours = [t for t in rule.targets if parse_arn(t["Arn"]).service in ("states", "lambda", "sns")]
            for target in ours:
                cloud._deliver(target, event)
            others = [t for t in rule.targets if t not in ours]
            if others:
                with mock.patch.object(rule, "targets", others):
                    original(rule, event, transform_input)

        return send_to_targets

    def _deliver(self, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """One target's delivery: its constant Input, its InputTransformer's output, or the event."""
        if isinstance(event.get("time"), int | float):  # moto keeps epoch seconds; EventBridge sends ISO 8601
            event = {**event, "time": dt.datetime.fromtimestamp(event["time"], dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if "Input" in target:
            payload: Any = json.loads(target["Input"])
        elif "InputTransformer" in target:
            template, paths = _without_missing_paths(target["InputTransformer"], event)
            payload = EventTemplateParser.parse(input_template=template, input_paths_map=paths, event=dict(event))
        else:
            payload = event
        arn = parse_arn(target["Arn"])
        if arn.service == "states":
            self.executions.append(self.start_execution(target["Arn"], payload))
        elif arn.service == "lambda":
            self.invoke_function(arn.resource_id, payload)
        else:
            self.client("sns").publish(TopicArn=target["Arn"], Message=json.dumps(payload))

    def fire_schedule(self, rule_name: str) -> None:
        """The rule's schedule comes round: its targets get EventBridge's "Scheduled Event"."""
        events = self.client("events")
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": self.account, "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "region": self.region, "resources": [self.arn("events", f"rule/{rule_name}")], "detail": {}}
        for target in events.list_targets_by_rule(Rule=rule_name)["Targets"]:
            self._deliver(target, event)

    # -- S3 ---------------------------------------------------------------------------------------------
    def put_object(self, bucket: str, key: str, body: bytes) -> int:
        """PutObject, then the S3 event each matching planned notification sends; the functions run."""
        s3 = self.client("s3")
        put = s3.put_object(Bucket=bucket, Key=key, Body=body)
        delivered = 0
        for config in self.notifications:
            if config["bucket"] == bucket and key.startswith(config.get("filterPrefix", "")) \
                    and key.endswith(config.get("filterSuffix", "")):
                self.invoke_function(parse_arn(config["lambdaFunctionArn"]).resource_id,
                                     self._s3_event(bucket, key, len(body), put))
                delivered += 1
        return delivered

    def _s3_event(self, bucket: str, key: str, size: int, put: Mapping[str, Any]) -> dict[str, Any]:
        from urllib.parse import quote_plus

        obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size, "eTag": put["ETag"].strip('"'),
                               "sequencer": f"{time.time_ns():X}"}
        if put.get("VersionId"):
            obj["versionId"] = put["VersionId"]
        return {"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": self.region,
            "eventTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "rehearsal",
                   "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}, "object": obj}}]}

    # -- Step Functions and the alert topic ---------------------------------------------------------
    def start_execution(self, state_machine_arn: str, payload: Any) -> str:
        """StartExecution with a name, as AWS makes one when none is given (moto names such executions None,
        so a second one would collide with the first)."""
        return self.client("stepfunctions").start_execution(stateMachineArn=state_machine_arn, name=str(uuid.uuid4()),
                                                            input=json.dumps(payload))["executionArn"]

    def wait_for_execution(self, arn: str, timeout: float = EXECUTION_TIMEOUT_SECONDS) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise RehearsalError(f"execution {arn} still RUNNING after {timeout:.0f} s")
            time.sleep(0.05)

    def alerts(self) -> list[dict[str, Any]]:
        """The notifications the alert topic delivered since the last call (what operators are emailed)."""
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.alerts_queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                envelope = json.loads(message["Body"])
                try:
                    body = json.loads(envelope["Message"])
                except json.JSONDecodeError:
                    body = {"message": envelope["Message"]}
                found.append({"subject": envelope.get("Subject", ""), **(body if isinstance(body, dict) else {"message": body})})
                sqs.delete_message(QueueUrl=self.alerts_queue_url, ReceiptHandle=message["ReceiptHandle"])
