"""The training pipeline's state machine, built as data.

`definition(spec)` is a pure function from plain names and ARNs to the Amazon States Language
document: the component calls it inside one `apply` once the ARNs are known, and the tests call
it with moto's ARNs and execute the result, so what is tested is what deploys.

The input is `{"model_name": "<configured model>", "hyperparameters": {"name": "value", ...}}`
(hyperparameters optional), and optionally `"training_set": "s3://<data>/<model>/training-sets/<name>/"`,
a training set automation/training_set.py built from the feature store: the run then trains on
its `train/` and `validation/` instead of the model's data prefix (`_training_set_states`; a value
that is not such a prefix ends in `InvalidTrainingSet`). In order, the machine:

1. picks the model's run settings (instance, threshold and the objective's direction, data
   locations...) from the definition; an unknown `model_name` ends in the `UnknownModel`
   failure before anything runs;
2. checks the hyperparameters (absent, or an object; the model's configured names must have
   string values) and overlays them on the model's defaults; anything else ends in
   `InvalidHyperparameters`, again before a training job exists. It also names the run: the
   md5 of the execution's ARN and start time, unique even when Step Functions lets an
   execution name be reused after 90 days, ends the job name;
3. runs the SageMaker training job and waits for it (`createTrainingJob.sync`). A throttled or
   failing-server request is tried again after a pause; any other error, or a job that failed,
   timed out or could not be watched, stops the job (if it exists) and ends in `TrainingFailed`:
   no job is left running unwatched;
4. reads the objective metric's FINAL value (the `[final]` line's metric, never an
   `iteration:*` one) from the job's `FinalMetricDataList` and compares it with the threshold
   in the metric's direction: `>=` for a score (Maximize), `<=` for a loss (Minimize);
5. registers a model package version when the threshold is met, trying again after throttles
   and server errors, never after a rejected request;
6. publishes the outcome to the alert topic, and ends Succeeded (registered, threshold not met)
   or Failed with the outcome's error and cause. A notification that cannot be delivered does
   not change that: the run passes through `NotificationFailed` and keeps its outcome.

Everything is JSONPath ASL with intrinsic functions only: no JSONata, no Lambda. Two choices are
made to behave identically in AWS and in local interpreters (moto/LocalStack):
- Paths that might match nothing are never evaluated unguarded: a missing path is a
  `States.Runtime` error, which no `Catch` can catch, so the execution would fail silently.
  Hence the JSON-text check of the hyperparameters before `States.JsonMerge`, the `IsPresent`
  guard on the metric list's first item and on a caught error's Cause, and the Map that proves
  the objective metric is there before the JSONPath filter reads it.
- Hyperparameter values are checked by name (the model's configured names) because JSONPath ASL
  cannot iterate an object's keys; other names go to the container, which rejects unknown ones.

Errors, and why retries are built by hand for SageMaker (see the error names below): Step
Functions gives every error SageMaker's API model does not declare one generic name per
integration, throttling and validation alike; only the error's Cause tells them apart, and a
`Retry` can only match names. So a SageMaker task catches its generic error into a Choice that
reads the Cause, and a throttle or server error loops back through a counted, growing Wait
(`RETRY_WAIT_SECONDS`); everything else goes on to the failure path at once. SNS names its
transient errors, so `Notify` uses an ordinary `Retry`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.config import PlatformConfig
from components.naming import shorten
from containers.contracts.metrics import MAXIMIZE, METRIC_DEFINITIONS, METRIC_SPECS, MINIMIZE
from containers.contracts.serving import CONTENT_TYPES

# The only service integrations the machine uses (the tests hold it to this list). StopTrainingJob
# is not one of SageMaker's optimized APIs (developer guide, "Create and manage Amazon SageMaker
# AI jobs with Step Functions"), so it goes through the AWS SDK integration.
TRAIN_INTEGRATION = "sagemaker:createTrainingJob.sync"
STOP_INTEGRATION = "aws-sdk:sagemaker:stopTrainingJob"
REGISTER_INTEGRATION = "aws-sdk:sagemaker:createModelPackage"
# What the inference server reads and answers (containers/contracts/serving.py; the program
# cannot import the server itself, which needs numpy); registered with each version so an
# endpoint, a batch transform or a reviewer knows what it accepts.
INFERENCE_CONTENT_TYPES = CONTENT_TYPES
PUBLISH_INTEGRATION = "sns:publish"
INTEGRATIONS = (TRAIN_INTEGRATION, STOP_INTEGRATION, REGISTER_INTEGRATION, PUBLISH_INTEGRATION)


def integration_arn(partition: str, integration: str) -> str:
    """A service integration's `Resource`: `arn:<partition>:states:::<integration>` (aws-cn and
    aws-us-gov have their own partition in it, like every other ARN)."""
    return f"arn:{partition}:states:::{integration}"


# State names other code refers to (tests, the runbook).
TRAIN_STATE = "Train"
STOP_STATE = "StopTrainingJob"
REGISTER_STATE = "RegisterModelVersion"
NOTIFY_STATE = "Notify"
NOTIFICATION_FAILED_STATE = "NotificationFailed"

# --- Error names: what Retry and Catch can match -------------------------------------------------
# createTrainingJob.sync (optimized integration) reports "SageMaker." + the AWS SDK for Java's
# exception class: errors SageMaker's API model declares keep their names
# (SageMaker.ResourceLimitExceededException for a quota, SageMaker.ResourceInUseException for a
# job name that exists), everything else - ThrottlingException, ValidationException, internal
# errors - is the SDK's base class, with the real code only in the Cause ("... Error Code:
# ThrottlingException ..."). Sources: the developer guide's SageMaker training job example
# (connect-sagemaker: Retry on SageMaker.AmazonSageMakerException and
# SageMaker.ResourceLimitExceededException) and aws/aws-step-functions-data-science-sdk-python
# issue #191 (a throttle arrives as SageMaker.AmazonSageMakerException, told apart only by its cause).
TRAIN_GENERIC_ERROR = "SageMaker.AmazonSageMakerException"
# AWS SDK integrations (aws-sdk:sagemaker:*) report "<ServiceName>.<ErrorName>", always with the
# Exception suffix (developer guide, "AWS SDK service integrations": the exception prefix table
# gives SageMaker). Errors botocore's sagemaker model declares keep their names
# (SageMaker.ConflictException, SageMaker.ResourceLimitExceededException,
# SageMaker.ResourceNotFoundException); undeclared ones (ThrottlingException, ValidationException,
# InternalFailure) are the service's base exception "<ServiceName>.<ServiceName>Exception", as
# undeclared errors are DynamoDb.DynamoDbException, S3.S3Exception or Rds.RdsException for those
# services (reported from executions; LocalStack's aws-sdk task names them the same way).
SDK_GENERIC_ERROR = "SageMaker.SageMakerException"

# A generic error's Cause is SageMaker's message plus the SDK's details: "Rate exceeded (Service:
# AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException; ...)" from the optimized
# integration, "Rate exceeded (Service: SageMaker, Status Code: 400, Request ID: ...)" from the
# AWS SDK one. Throttles and server errors (5xx) deserve another attempt; anything else (a
# rejected request, missing access) would fail the same way again.
TRANSIENT_CAUSES = ("*ThrottlingException*", "*Rate exceeded*", "*Status Code: 5*")
# The pause before each new attempt; its length is the number of attempts after the first.
RETRY_WAIT_SECONDS = (10, 60, 300)
# The counters of those attempts, one per retried task, under "$.job.retries.<key>.count".
RETRIED_TASKS = {TRAIN_STATE: "train", STOP_STATE: "stop", REGISTER_STATE: "registration"}

# The optimized SNS integration names errors after the SDK's exception classes, "SNS.<Code>Exception"
# (moto and LocalStack build them the same way). Retried: the transient errors SNS's API model
# declares (InternalError and KMSThrottling for Publish, Throttled), and, by analogy with
# SageMaker.AmazonSageMakerException, the SDK's base class for undeclared ones (throttling,
# unavailable). A rejected message, a missing topic or a disabled key is not retried.
NOTIFY_RETRY_ERRORS = ("SNS.InternalErrorException", "SNS.KMSThrottlingException", "SNS.ThrottledException",
                       "SNS.AmazonSNSException")

# The run's id, the md5 of the execution's ARN and start time: Step Functions purges an execution
# 90 days after it ends and then accepts its name again, giving the same ARN; the start time
# differs. 32 hex characters are always a valid job name suffix, client token and tag value.
RUN_ID = "States.Hash(States.Format('{} {}', $$.Execution.Id, $$.Execution.StartTime), 'MD5')"
JOB_NAME_LIMIT = 63
JOB_HASH_LENGTH = 32
JOB_PREFIX_LIMIT = JOB_NAME_LIMIT - JOB_HASH_LENGTH - 1

# Training can queue for capacity and upload artifacts after MaxRuntimeInSeconds; the task waits
# this much longer before Step Functions gives up (and the machine stops the job).
TRAINING_WAIT_MARGIN_SECONDS = 3600


@dataclass(frozen=True)
class Outcome:
    """How a run can end: its state, whether the execution succeeds, and its notification subject
    (after "[<project>/<stack>] <model>: ", or after "[<project>/<stack>] " when `per_model` is
    False because no model was chosen)."""

    state: str
    succeeded: bool
    subject: str
    error: str | None = None  # the execution's Error when it fails
    per_model: bool = True


OUTCOMES: dict[str, Outcome] = {
    "unknown_model": Outcome("UnknownModel", False, "training run rejected: unknown model", "UnknownModel",
                             per_model=False),
    "invalid_hyperparameters": Outcome("InvalidHyperparameters", False, "invalid hyperparameters",
                                       "InvalidHyperparameters"),
    "invalid_training_set": Outcome("InvalidTrainingSet", False, "invalid training set", "InvalidTrainingSet"),
    "training_failed": Outcome("TrainingFailed", False, "training failed", "TrainingFailed"),
    "objective_not_reported": Outcome("ObjectiveNotReported", False, "objective metric not reported",
                                      "ObjectiveMetricNotReported"),
    "threshold_not_met": Outcome("ThresholdNotMet", True, "threshold not met, not registered"),
    "registered": Outcome("Registered", True, "new version registered"),
    "registration_failed": Outcome("RegistrationFailed", False, "registration failed", "RegistrationFailed"),
}
# The execution's Error for each failure outcome: short, stable names operators can search for.
FAILURE_ERRORS = {name: outcome.error for name, outcome in OUTCOMES.items() if outcome.error}

# A threshold is a floor for a score and a ceiling for a loss: the Choice operator comparing the
# value with it, and how docs, the registry and notifications write that comparison.
COMPARISONS = {
    MAXIMIZE: ("NumericGreaterThanEqualsPath", ">="),
    MINIMIZE: ("NumericLessThanEqualsPath", "<="),
}

SUBJECT_LIMIT = 100  # SNS Subject
_INTRINSIC_SAFE = re.compile(r"[A-Za-z0-9 ._:/@=+,-]*")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ModelRun:
    """Everything the machine needs to train and judge one configured model."""

    name: str
    job_prefix: str  # training job names are "<job_prefix>-<run id>"
    instance_type: str
    instance_count: int
    volume_gb: int
    max_runtime_seconds: int
    hyperparameters: Mapping[str, str]
    objective_metric: str  # a final metric of containers/contracts/metrics.py
    objective_direction: str  # "Maximize" (register when value >= threshold) or "Minimize" (<=)
    threshold: float
    model_package_group: str
    train_uri: str
    validation_uri: str
    output_uri: str  # S3OutputPath, no trailing slash: the job writes <output_uri>/<job>/output/


@dataclass(frozen=True)
class WorkflowSpec:
    """The deployed names and ARNs the definition refers to."""

    label: str  # "<project>/<stack>": prefixes notification subjects
    image_uri: str  # the training image
    inference_image_uri: str  # registered with every version: what its endpoints run
    training_role_arn: str
    kms_key_arn: str
    topic_arn: str
    approval_status: str  # "Approved" (auto-approval) or "PendingManualApproval"
    models: tuple[ModelRun, ...]
    metric_definitions: Sequence[Mapping[str, str]]
    job_tags: Mapping[str, str] = field(default_factory=dict)
    partition: str = "aws"  # of the integration ARNs: aws, aws-cn, aws-us-gov


def definition(spec: WorkflowSpec) -> dict[str, Any]:
    """The ASL document for `spec` (see the module docstring for the flow)."""
    _check(spec)
    states: dict[str, Any] = {}
    states["SelectModel"] = {
        "Type": "Choice",
        "Comment": "model_name must name a configured model",
        "Choices": [
            {
                "And": [
                    {"Variable": "$.model_name", "IsPresent": True},
                    {"Variable": "$.model_name", "IsString": True},
                    {"Variable": "$.model_name", "StringEquals": model.name},
                ],
                "Next": _configure_state(model),
            }
            for model in spec.models
        ],
        "Default": OUTCOMES["unknown_model"].state,
    }
    for model in spec.models:
        states[_configure_state(model)] = {
            "Type": "Pass",
            "Comment": f"Run settings of model '{model.name}', from the stack config",
            "Result": _run_settings(model, spec),
            "ResultPath": "$.run",
            "Next": TRAINING_SET_CHECK_STATE,
        }
    states.update(_training_set_states(spec))
    states.update(_hyperparameter_states(spec))
    states[TRAIN_STATE] = _train_state(spec)
    states[STOP_STATE] = _stop_state(spec)
    states.update(_evaluation_states())
    states[REGISTER_STATE] = _register_state(spec)
    for task in RETRIED_TASKS:
        states.update(_retry_states(task, states[task]))
    states.update(_outcome_states(spec))
    states.update(_notification_states(spec))
    return {
        "Comment": f"{spec.label} training pipeline: validate, train, evaluate, register, notify",
        "StartAt": "SelectModel",
        "States": states,
    }


def _check(spec: WorkflowSpec) -> None:
    """Refuse a spec the machine could not run correctly, before anything deploys."""
    if not spec.models:
        raise ValueError("the training pipeline needs at least one model")
    # The label is spliced into States.Format literals, where quotes and braces would need
    # escaping; project and stack names never contain them.
    if not _INTRINSIC_SAFE.fullmatch(spec.label):
        raise ValueError(f"{spec.label!r} cannot be used inside a States.Format literal")
    longest_subject = max(len(subject(spec.label, name, model.name)) for name in OUTCOMES for model in spec.models)
    if longest_subject > SUBJECT_LIMIT:
        raise ValueError(f"notification subjects would reach {longest_subject} characters; SNS allows {SUBJECT_LIMIT}")
    for model in spec.models:
        if len(model.job_prefix) > JOB_PREFIX_LIMIT or not re.fullmatch(r"[a-z0-9](-*[a-z0-9])*", model.job_prefix):
            raise ValueError(f"job prefix {model.job_prefix!r}: at most {JOB_PREFIX_LIMIT} of [a-z0-9-]")
        # Only a final metric has a direction; iteration:* curves are never compared.
        spec_of_metric = METRIC_SPECS.get(model.objective_metric)
        if spec_of_metric is None or spec_of_metric.direction != model.objective_direction:
            raise ValueError(f"model {model.name!r}: objective {model.objective_metric!r} with direction "
                             f"{model.objective_direction!r} is not a final metric of containers/contracts/metrics.py")


def subject(label: str, outcome: str, model: str) -> str:
    """The notification subject of `outcome` for `model`, as the machine builds it."""
    found = OUTCOMES[outcome]
    return f"[{label}] {model}: {found.subject}" if found.per_model else f"[{label}] {found.subject}"


def _configure_state(model: ModelRun) -> str:
    return f"Configure-{model.name}"


# Instance families whose training volume is local NVMe storage, encrypted by the instance's
# own hardware: SageMaker rejects a VolumeKmsKeyId for them ("You can't request a
# VolumeKmsKeyId when using an instance type with local storage", CreateTrainingJob's
# ResourceConfig). Families with a 'd' after the generation (m5d, c6id, g4dn, p3dn, p4d) have
# it; these newer ones have it without the letter. A family missing here still gets the key and
# fails at job start with SageMaker's own error naming it: loud, never silently unencrypted.
_LOCAL_STORAGE_FAMILIES = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "p6-b200", "p6-b300",
                                     "p6e-gb200", "trn1", "trn1n", "trn2"})
_LOCAL_STORAGE_PATTERN = re.compile(r"[a-z]+[0-9]+[a-z]*d[a-z]*")


def has_local_storage(instance_type: str) -> bool:
    """True for training instance types whose volume SageMaker will not encrypt with a KMS key."""
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else instance_type
    return family in _LOCAL_STORAGE_FAMILIES or bool(_LOCAL_STORAGE_PATTERN.fullmatch(family))


def resource_config(model: ModelRun, kms_key_arn: str) -> dict[str, Any]:
    """CreateTrainingJob's ResourceConfig for a model: the platform key on EBS volumes only."""
    config: dict[str, Any] = {
        "InstanceType": model.instance_type,
        "InstanceCount": model.instance_count,
        "VolumeSizeInGB": model.volume_gb,
    }
    if not has_local_storage(model.instance_type):
        config["VolumeKmsKeyId"] = kms_key_arn
    return config


def train_distribution(instance_count: int) -> str:
    """The train channel's S3DataDistributionType: each host its own objects when several hosts
    train one model together (the container trains on its shard; containers/training/README.md),
    every object on the one host otherwise.

    The validation channel stays FullyReplicated: every host evaluates the whole validation set,
    so the per-round metrics XGBoost reduces over the hosts are exact (its AUC across hosts is a
    weighted mean of each host's AUC, not the AUC of the union) and the leader's final metrics,
    which the threshold check reads, are computed on all of it.
    """
    return "ShardedByS3Key" if instance_count > 1 else "FullyReplicated"


def _run_settings(model: ModelRun, spec: WorkflowSpec) -> dict[str, Any]:
    return {
        "model_name": model.name,
        "job_prefix": model.job_prefix,
        # Per model, not in the Train state: whether the volume takes a KMS key depends on the
        # instance type, and ASL cannot leave a field out conditionally.
        "resource_config": resource_config(model, spec.kms_key_arn),
        "max_runtime_seconds": model.max_runtime_seconds,
        "timeout_seconds": model.max_runtime_seconds + TRAINING_WAIT_MARGIN_SECONDS,
        "default_hyperparameters": dict(sorted(model.hyperparameters.items())),
        "objective_metric": model.objective_metric,
        "objective_direction": model.objective_direction,
        "comparison": COMPARISONS[model.objective_direction][1],
        "threshold": model.threshold,
        "model_package_group": model.model_package_group,
        "train_uri": model.train_uri,
        "train_distribution": train_distribution(model.instance_count),
        "validation_uri": model.validation_uri,
        "output_uri": model.output_uri,
    }


TRAINING_SET_CHECK_STATE = "CheckTrainingSet"
USE_TRAINING_SET_STATE = "UseTrainingSet"


def _training_set_states(spec: WorkflowSpec) -> dict[str, Any]:
    """An optional `training_set` input replaces the model's channels with the set's.

    ASL cannot overwrite two fields of an object in one Pass, so `UseTrainingSet` rebuilds `$.run`
    from its own keys with the two URIs replaced. The training role reads only `<data>/<model>/*`:
    a prefix elsewhere fails the job with SageMaker's access error (TrainingFailed).
    """
    keys = _run_settings(spec.models[0], spec)
    run = {f"{key}.$": f"$.run.{key}" for key in keys}
    run["train_uri.$"] = "States.Format('{}train/', $.training_set)"
    run["validation_uri.$"] = "States.Format('{}validation/', $.training_set)"
    return {
        TRAINING_SET_CHECK_STATE: {
            "Type": "Choice",
            "Comment": "Train on a feature store training set when the input names one",
            "Choices": [
                {"Or": [{"Not": {"Variable": "$.training_set", "IsPresent": True}},
                        {"Variable": "$.training_set", "IsNull": True}],
                 "Next": "CheckHyperparametersGiven"},
                {"And": [{"Variable": "$.training_set", "IsString": True},
                         {"Variable": "$.training_set", "StringMatches": "s3://*/"}],
                 "Next": USE_TRAINING_SET_STATE},
            ],
            "Default": OUTCOMES["invalid_training_set"].state,
        },
        USE_TRAINING_SET_STATE: {
            "Type": "Pass",
            "Comment": "The training set's train/ and validation/ become the run's channels",
            "Parameters": run,
            "ResultPath": "$.run",
            "Next": "CheckHyperparametersGiven",
        },
    }


def _json_path(root: str, key: str) -> str:
    """`$.a.b` for plain keys, `$.a['b:c']` for names with ':', '.', '-' (allowed in config)."""
    return f"{root}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{root}['{key}']"


def _hyperparameter_states(spec: WorkflowSpec) -> dict[str, Any]:
    known = sorted({name for model in spec.models for name in model.hyperparameters})
    value_rules = [
        {
            "And": [
                {"Variable": _json_path("$.hyperparameters", name), "IsPresent": True},
                {"Not": {"Variable": _json_path("$.hyperparameters", name), "IsString": True}},
            ],
            "Next": OUTCOMES["invalid_hyperparameters"].state,
        }
        for name in known
    ]
    return {
        "CheckHyperparametersGiven": {
            "Type": "Choice",
            "Choices": [{
                "Or": [
                    {"Not": {"Variable": "$.hyperparameters", "IsPresent": True}},
                    {"Variable": "$.hyperparameters", "IsNull": True},
                ],
                "Next": "UseDefaultHyperparameters",
            }],
            "Default": "InspectHyperparameters",
        },
        "UseDefaultHyperparameters": {
            "Type": "Pass",
            "Result": {},
            "ResultPath": "$.hyperparameters",
            "Next": "MergeHyperparameters",
        },
        # Choice rules cannot tell an object from an array, and States.JsonMerge fails
        # uncatchably on anything but objects: look at the JSON text instead.
        "InspectHyperparameters": {
            "Type": "Pass",
            "Parameters": {"json.$": "States.JsonToString($.hyperparameters)"},
            "ResultPath": "$.inspection",
            "Next": "CheckHyperparameters",
        },
        "CheckHyperparameters": {
            "Type": "Choice",
            "Comment": "An object; the values of configured names must be strings",
            "Choices": [
                {"Not": {"Variable": "$.inspection.json", "StringMatches": "{*"},
                 "Next": OUTCOMES["invalid_hyperparameters"].state},
                *value_rules,
            ],
            "Default": "MergeHyperparameters",
        },
        "MergeHyperparameters": {
            "Type": "Pass",
            "Comment": "Input hyperparameters overlay the model's defaults; the run id names the job",
            "Parameters": {
                "hyperparameters.$": "States.JsonMerge($.run.default_hyperparameters, $.hyperparameters, false)",
                "run_id.$": RUN_ID,
                "training_job_name.$": f"States.Format('{{}}-{{}}', $.run.job_prefix, {RUN_ID})",
                "retries": {key: {"count": 0} for key in RETRIED_TASKS.values()},
            },
            "ResultPath": "$.job",
            "Next": TRAIN_STATE,
        },
    }


def _train_state(spec: WorkflowSpec) -> dict[str, Any]:
    channel = lambda name, uri_path, distribution: {  # noqa: E731
        "ChannelName": name,
        "ContentType": "text/csv",
        "CompressionType": "None",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri.$": uri_path, **distribution}},
    }
    # The train channel's distribution depends on the model's instance count (train_distribution).
    train = channel("train", "$.run.train_uri", {"S3DataDistributionType.$": "$.run.train_distribution"})
    validation = channel("validation", "$.run.validation_uri", {"S3DataDistributionType": "FullyReplicated"})
    # Tag values come from the config (checked there) and from the run, never from the raw
    # execution name: Step Functions accepts names (!, ', (, emoji...) that SageMaker tags refuse.
    tags = [{"Key": key, "Value": value} for key, value in sorted(spec.job_tags.items())]
    tags += [{"Key": "Model", "Value.$": "$.run.model_name"},
             {"Key": "PipelineRun", "Value.$": "$.job.run_id"}]
    return {
        "Type": "Task",
        "Comment": "Run the training job and wait for it to end",
        "Resource": integration_arn(spec.partition, TRAIN_INTEGRATION),
        "Parameters": {
            "TrainingJobName.$": "$.job.training_job_name",
            "RoleArn": spec.training_role_arn,
            "AlgorithmSpecification": {
                "TrainingImage": spec.image_uri,
                "TrainingInputMode": "File",
                "MetricDefinitions": [dict(d) for d in spec.metric_definitions],
            },
            "HyperParameters.$": "$.job.hyperparameters",
            "InputDataConfig": [train, validation],
            "OutputDataConfig": {"S3OutputPath.$": "$.run.output_uri", "KmsKeyId": spec.kms_key_arn},
            "ResourceConfig.$": "$.run.resource_config",
            "StoppingCondition": {"MaxRuntimeInSeconds.$": "$.run.max_runtime_seconds"},
            # The container needs no network: data and model move through SageMaker.
            "EnableNetworkIsolation": True,
            "Tags": tags,
        },
        "TimeoutSecondsPath": "$.run.timeout_seconds",
        "ResultPath": "$.training",
        # No Retry: a `.sync` retry sends CreateTrainingJob again with the same name. The caught
        # error goes to _retry_states: throttles and server errors try again (a job already
        # created then collides, SageMaker.ResourceInUseException, and is stopped); everything
        # else (a failed or timed-out job, a quota, a rejected request) stops the job, if any.
        "Catch": _catchers(TRAIN_GENERIC_ERROR, "$.error", TRAIN_STATE, STOP_STATE),
        "Next": "CheckMetricsReported",
    }


def _stop_state(spec: WorkflowSpec) -> dict[str, Any]:
    """Stop the run's job on the way to TrainingFailed, so nothing runs unwatched.

    Harmless when there is nothing to stop: a job that was never created answers
    SageMaker.ResourceNotFoundException, one that already ended a validation error; both are
    caught and the run goes on to TrainingFailed, whose notification carries `job_stop`.
    """
    return {
        "Type": "Task",
        "Comment": "Stop the training job if it exists and still runs",
        "Resource": integration_arn(spec.partition, STOP_INTEGRATION),
        "Parameters": {"TrainingJobName.$": "$.job.training_job_name"},
        "ResultSelector": {"stop_requested": True},
        "ResultPath": "$.stop",
        "Catch": _catchers(SDK_GENERIC_ERROR, "$.stop", STOP_STATE, OUTCOMES["training_failed"].state),
        "Next": OUTCOMES["training_failed"].state,
    }


def _catchers(generic_error: str, result_path: str, task: str, give_up: str) -> list[dict[str, Any]]:
    """A SageMaker task's Catch: its generic error to the cause check, the rest to `give_up`."""
    return [
        {"ErrorEquals": [generic_error], "ResultPath": result_path, "Next": _retry_check_state(task)},
        {"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": give_up},
    ]


def _retry_check_state(task: str) -> str:
    return f"Is{task}ErrorTransient"


def _retry_states(task: str, state: dict[str, Any]) -> dict[str, Any]:
    """Try `task` again after a transient error, as a Retry would if names told them apart.

    The Choice reads the Cause the task's Catch stored (see `_catchers`), in rule order, first
    match wins: no Cause or no attempts left gives up; a transient cause backs off and loops
    back to the task.
    """
    caught, give_up = state["Catch"][0]["ResultPath"], state["Catch"][1]["Next"]
    counter = f"$.job.retries.{RETRIED_TASKS[task]}"
    back_off, wait = f"BackOff{task}", f"WaitToRetry{task}"
    return {
        _retry_check_state(task): {
            "Type": "Choice",
            "Comment": "Throttles and server errors are tried again; anything else fails now",
            "Choices": [
                {"Not": {"Variable": f"{caught}.Cause", "IsPresent": True}, "Next": give_up},
                {"Variable": f"{counter}.count", "NumericGreaterThanEquals": len(RETRY_WAIT_SECONDS), "Next": give_up},
                *({"Variable": f"{caught}.Cause", "StringMatches": pattern, "Next": back_off}
                  for pattern in TRANSIENT_CAUSES),
            ],
            "Default": give_up,
        },
        back_off: {
            "Type": "Pass",
            "Parameters": {
                "count.$": f"States.MathAdd({counter}.count, 1)",
                "wait_seconds.$": (f"States.ArrayGetItem(States.Array({', '.join(map(str, RETRY_WAIT_SECONDS))}), "
                                   f"{counter}.count)"),
            },
            "ResultPath": counter,
            "Next": wait,
        },
        wait: {"Type": "Wait", "SecondsPath": f"{counter}.wait_seconds", "Next": task},
    }


def _evaluation_states() -> dict[str, Any]:
    threshold_met = [
        {
            "And": [
                {"Variable": "$.score.direction", "StringEquals": direction},
                {"Variable": "$.score.value", operator: "$.score.threshold"},
            ],
            "Next": REGISTER_STATE,
        }
        for direction, (operator, _) in COMPARISONS.items()
    ]
    return {
        "CheckMetricsReported": {
            "Type": "Choice",
            # [0]: absent and empty lists alike go to ObjectiveNotReported.
            "Choices": [{"Variable": "$.training.FinalMetricDataList[0]", "IsPresent": True, "Next": "FindObjectiveMetric"}],
            "Default": OUTCOMES["objective_not_reported"].state,
        },
        # Marks each reported metric as the objective or not. The name must equal the objective
        # exactly, so the per-round curve iteration:<objective> never stands in for the final
        # value. The flags prove the objective is there before the filter below reads it (an
        # empty filter result is not portable).
        "FindObjectiveMetric": {
            "Type": "Map",
            "ItemsPath": "$.training.FinalMetricDataList",
            "ItemSelector": {"metric.$": "$$.Map.Item.Value", "objective.$": "$.run.objective_metric"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "IsObjective",
                "States": {
                    "IsObjective": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.metric.MetricName", "StringEqualsPath": "$.objective",
                                     "Next": "Objective"}],
                        "Default": "OtherMetric",
                    },
                    "Objective": {"Type": "Pass", "Parameters": {"objective": True, "value.$": "$.metric.Value"},
                                  "End": True},
                    "OtherMetric": {"Type": "Pass", "Result": {"objective": False}, "End": True},
                },
            },
            "ResultSelector": {"flags.$": "$[*].objective", "checks.$": "$"},
            "ResultPath": "$.evaluation",
            "Next": "SummarizeObjectiveMetric",
        },
        "SummarizeObjectiveMetric": {
            "Type": "Pass",
            "Parameters": {"reported.$": "States.ArrayContains($.evaluation.flags, true)"},
            "ResultPath": "$.evaluation.summary",
            "Next": "CheckObjectiveReported",
        },
        "CheckObjectiveReported": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.evaluation.summary.reported", "BooleanEquals": True, "Next": "ReadObjectiveMetric"}],
            "Default": OUTCOMES["objective_not_reported"].state,
        },
        "ReadObjectiveMetric": {
            "Type": "Pass",
            "Parameters": {"values.$": "$.evaluation.checks[?(@.objective == true)].value"},
            "ResultPath": "$.evaluation.objective",
            "Next": "ScoreObjectiveMetric",
        },
        "ScoreObjectiveMetric": {
            "Type": "Pass",
            "Parameters": {
                "metric.$": "$.run.objective_metric",
                "value.$": "States.ArrayGetItem($.evaluation.objective.values, 0)",
                "direction.$": "$.run.objective_direction",
                "comparison.$": "$.run.comparison",
                "threshold.$": "$.run.threshold",
            },
            "ResultPath": "$.score",
            "Next": "CompareWithThreshold",
        },
        "CompareWithThreshold": {
            "Type": "Choice",
            "Comment": "Register when the objective meets the threshold: value >= threshold (Maximize), <= (Minimize)",
            "Choices": threshold_met,
            "Default": OUTCOMES["threshold_not_met"].state,
        },
    }


def _register_state(spec: WorkflowSpec) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": "Register the trained model as a new version of the model's package group",
        "Resource": integration_arn(spec.partition, REGISTER_INTEGRATION),
        "Parameters": {
            "ModelPackageGroupName.$": "$.run.model_package_group",
            "ModelPackageDescription.$": (
                "States.Format('{} = {} ({} threshold {}), training job {}', "
                "$.score.metric, $.score.value, $.score.comparison, $.score.threshold, $.job.training_job_name)"
            ),
            "ModelApprovalStatus": spec.approval_status,
            # One version per run, however often a throttled request is sent again.
            "ClientToken.$": "$.job.run_id",
            # The inference image built by this deploy with the artifact this run evaluated: an
            # endpoint made from the version runs exactly these two (containers/inference/).
            "InferenceSpecification": {
                "Containers": [{"Image": spec.inference_image_uri,
                                "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts"}],
                "SupportedContentTypes": list(INFERENCE_CONTENT_TYPES),
                "SupportedResponseMIMETypes": list(INFERENCE_CONTENT_TYPES),
            },
            # Values SageMaker's metadata pattern accepts (letters, digits, _ . : / = + - @):
            # the direction, not ">=", and the run id and job name, not the execution's name.
            "CustomerMetadataProperties": {
                "objective_metric.$": "$.score.metric",
                "objective_direction.$": "$.score.direction",
                "objective_value.$": "States.Format('{}', $.score.value)",
                "threshold.$": "States.Format('{}', $.score.threshold)",
                "training_job.$": "$.job.training_job_name",
                "pipeline_run.$": "$.job.run_id",
                # evaluation.json and baseline.json: what SageMaker uploads from /opt/ml/output/data.
                "output_data.$": "States.Format('{}/{}/output/output.tar.gz', $.run.output_uri, $.job.training_job_name)",
            },
        },
        "ResultPath": "$.registration",
        "Catch": _catchers(SDK_GENERIC_ERROR, "$.error", REGISTER_STATE, OUTCOMES["registration_failed"].state),
        "Next": OUTCOMES["registered"].state,
    }


def _outcome_states(spec: WorkflowSpec) -> dict[str, Any]:
    """One Pass state per outcome, each building `$.notification` for the one Notify state."""
    names = ", ".join(m.name for m in spec.models)
    run = {"model_name.$": "$.run.model_name"}
    job = {**run, "training_job.$": "$.job.training_job_name"}
    score = {"objective_metric.$": "$.score.metric", "objective_value.$": "$.score.value",
             "objective_direction.$": "$.score.direction", "comparison.$": "$.score.comparison",
             "threshold.$": "$.score.threshold"}
    artifacts = {"model_artifacts.$": "$.training.ModelArtifacts.S3ModelArtifacts"}
    # A caught error always has "Error" but "Cause" is optional in ASL, and a missing path is an
    # uncatchable runtime error: the cause is the whole caught error as JSON text instead.
    caught = {"cause.$": "States.JsonToString($.error)", "caught_error.$": "$.error.Error"}
    messages = {
        "unknown_model": ({"cause": f"model_name must be one of: {names}", "input.$": "$$.Execution.Input"},
                          "model_name is missing or not a configured model: nothing ran"),
        "invalid_hyperparameters": (
            {**run, "input.$": "$$.Execution.Input",
             "cause": ('hyperparameters must be an object of name: string value (SageMaker passes them as strings), '
                       'e.g. {"max_depth": "6"}')},
            "hyperparameters is not an object of strings: nothing ran"),
        "invalid_training_set": (
            {**run, "input.$": "$$.Execution.Input",
             "cause": "training_set must be the s3:// prefix (ending in /) of a training set built by automation/training_set.py"},
            "training_set is not an S3 prefix: nothing ran"),
        "training_failed": ({**job, **caught, "job_stop.$": "$.stop"},
                            "The job failed, timed out, could not start or could not be watched; it was stopped"),
        "objective_not_reported": (
            {**job, "objective_metric.$": "$.run.objective_metric",
             "cause.$": ("States.Format('training job {} reported no {} metric: check its log lines against "
                         "the MetricDefinitions', $.job.training_job_name, $.run.objective_metric)")},
            "The job succeeded but its final metrics lack the objective"),
        "threshold_not_met": ({**job, **score, **artifacts},
                              "Trained, but the objective does not meet the threshold: no version"),
        "registered": ({**job, **score, **artifacts, "model_package_arn.$": "$.registration.ModelPackageArn",
                        "approval_status": spec.approval_status},
                       "A new model package version exists"),
        "registration_failed": ({**job, **score, **caught, **artifacts},
                                "The model met the threshold but CreateModelPackage failed"),
    }
    return {OUTCOMES[name].state: _outcome_state(spec.label, name, message, comment)
            for name, (message, comment) in messages.items()}


def _outcome_state(label: str, name: str, message: dict[str, Any], comment: str) -> dict[str, Any]:
    outcome = OUTCOMES[name]
    body = {"outcome": name, "stack": label, "execution.$": "$$.Execution.Id", **message}
    if outcome.error:
        body.setdefault("error", outcome.error)
    notification: dict[str, Any] = {"succeeded": outcome.succeeded, "message": body}
    if outcome.per_model:
        notification["subject.$"] = f"States.Format('[{label}] {{}}: {outcome.subject}', $.run.model_name)"
    else:
        notification["subject"] = subject(label, name, "")
    return {"Type": "Pass", "Comment": comment, "Parameters": notification,
            "ResultPath": "$.notification", "Next": NOTIFY_STATE}


def _notification_states(spec: WorkflowSpec) -> dict[str, Any]:
    """Publish the outcome, then end as the outcome says, whether or not the topic got it."""
    return {
        NOTIFY_STATE: {
            "Type": "Task",
            "Comment": "Tell the alert topic how the run ended",
            "Resource": integration_arn(spec.partition, PUBLISH_INTEGRATION),
            "Parameters": {
                "TopicArn": spec.topic_arn,
                "Subject.$": "$.notification.subject",
                "Message.$": "States.JsonToString($.notification.message)",
            },
            "ResultPath": None,
            "Retry": [{"ErrorEquals": list(NOTIFY_RETRY_ERRORS), "IntervalSeconds": 5, "MaxAttempts": 3,
                       "BackoffRate": 2.0}],
            # An undelivered notification must not replace the outcome: keep the error next to it.
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.notification_error",
                       "Next": NOTIFICATION_FAILED_STATE}],
            "Next": "Finish",
        },
        NOTIFICATION_FAILED_STATE: {
            "Type": "Pass",
            "Comment": "The alert topic did not get the outcome (see notification_error); the outcome stands",
            "Next": "Finish",
        },
        "Finish": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.notification.succeeded", "BooleanEquals": True, "Next": "Succeeded"}],
            "Default": "Failed",
        },
        "Succeeded": {"Type": "Succeed", "Comment": "Registered, or trained but the threshold was not met"},
        "Failed": {
            "Type": "Fail",
            "Comment": "Error and cause of the outcome (see docs/runbook.md, Training pipelines)",
            "ErrorPath": "$.notification.message.error",
            "CausePath": "$.notification.message.cause",
        },
    }


def job_prefix(cfg: PlatformConfig, model: str) -> str:
    """`<project>-<stack>-<model>` in lowercase, cut (with a hash) to leave room for the run id.

    Lowercase because SageMaker writes names in lowercase into ARNs, which the state machine's
    IAM policy matches (`training-job/<prefix>-*`).
    """
    return shorten(cfg.namer.name(model, "sagemaker").lower(), JOB_PREFIX_LIMIT)


def spec_for(cfg: PlatformConfig, *, image_uri: str, inference_image_uri: str, training_role_arn: str, kms_key_arn: str, topic_arn: str,
             data_bucket: str, artifact_bucket: str, package_groups: Mapping[str, str],
             partition: str = "aws") -> WorkflowSpec:
    """The spec of a stack's pipeline once its resources' names and ARNs are known.

    Data lives under `s3://<data>/<model>/{train,validation}/` (CSV with a header, label first);
    jobs write to `s3://<artifacts>/<model>/training/<job>/output/{model,output}.tar.gz`.
    """
    models = tuple(
        ModelRun(
            name=model.name,
            job_prefix=job_prefix(cfg, model.name),
            instance_type=model.training_instance_type,
            instance_count=model.training_instance_count,
            volume_gb=model.training_volume_gb,
            max_runtime_seconds=model.max_runtime_seconds,
            hyperparameters=dict(model.hyperparameters),
            objective_metric=model.objective_metric,
            objective_direction=METRIC_SPECS[model.objective_metric].direction,
            threshold=model.threshold,
            model_package_group=package_groups[model.name],
            train_uri=f"s3://{data_bucket}/{model.name}/train/",
            validation_uri=f"s3://{data_bucket}/{model.name}/validation/",
            output_uri=f"s3://{artifact_bucket}/{model.name}/training",
        )
        for model in cfg.models
    )
    # The platform's tags, so training jobs show up in the same cost reports; ManagedBy says
    # who started them (the pipeline, not Pulumi).
    tags = {key: value for key, value in cfg.tags.items() if key != "ManagedBy"}
    tags["ManagedBy"] = "training-pipeline"
    return WorkflowSpec(
        label=f"{cfg.project}/{cfg.stack}",
        image_uri=image_uri,
        inference_image_uri=inference_image_uri,
        training_role_arn=training_role_arn,
        kms_key_arn=kms_key_arn,
        topic_arn=topic_arn,
        approval_status="Approved" if cfg.auto_approve else "PendingManualApproval",
        models=models,
        metric_definitions=tuple(METRIC_DEFINITIONS),
        job_tags=tags,
        partition=partition,
    )
