"""The training pipeline's state machine, built as data.

`definition(spec)` is a pure function from plain names and ARNs to the Amazon States Language
document: the component calls it inside one `apply` once the ARNs are known, and the tests call
it with moto's ARNs and execute the result, so what is tested is what deploys.

The input is `{"model_name": "<configured model>", "hyperparameters": {"name": "value", ...}}`
(hyperparameters optional). In order, the machine:

1. picks the model's run settings (instance, threshold, data locations...) from the definition;
   an unknown `model_name` ends in the `UnknownModel` failure before anything runs;
2. checks the hyperparameters (absent, or an object; the model's configured names must have
   string values) and overlays them on the model's defaults; anything else ends in
   `InvalidHyperparameters`, again before a training job exists;
3. runs the SageMaker training job and waits for it (`createTrainingJob.sync`);
4. reads the model's objective metric from the job's `FinalMetricDataList` and compares it with
   the threshold;
5. registers a model package version when the metric reaches the threshold;
6. publishes the outcome to the alert topic, and ends Succeeded (registered, below threshold) or
   Failed with the outcome's error and cause.

Everything is JSONPath ASL with intrinsic functions only: no JSONata, no Lambda. Two choices are
made to behave identically in AWS and in local interpreters (moto/LocalStack):
- Paths that might match nothing are never evaluated unguarded: a missing path is a
  `States.Runtime` error, which no `Catch` can catch, so the execution would fail silently.
  Hence the JSON-text check of the hyperparameters before `States.JsonMerge`, the `IsPresent`
  guard on the metric list's first item, and the Map that proves the objective metric is there
  before the JSONPath filter reads it.
- Hyperparameter values are checked by name (the model's configured names) because JSONPath ASL
  cannot iterate an object's keys; other names go to the container, which rejects unknown ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.config import PlatformConfig
from components.naming import shorten
from containers.contracts.metrics import METRIC_DEFINITIONS

# The only service integrations the machine uses (the tests hold it to this list).
TRAIN_RESOURCE = "arn:aws:states:::sagemaker:createTrainingJob.sync"
REGISTER_RESOURCE = "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
PUBLISH_RESOURCE = "arn:aws:states:::sns:publish"
RESOURCES = (TRAIN_RESOURCE, REGISTER_RESOURCE, PUBLISH_RESOURCE)

# State names other code refers to (tests, the runbook).
TRAIN_STATE = "Train"
REGISTER_STATE = "RegisterModelVersion"
NOTIFY_STATE = "Notify"

# The md5 of the execution name (32 hex characters) ends every job name: deterministic per
# execution, always valid, and it leaves 30 characters (63 - 1 - 32) for the job prefix.
JOB_NAME_LIMIT = 63
JOB_HASH_LENGTH = 32
JOB_PREFIX_LIMIT = JOB_NAME_LIMIT - JOB_HASH_LENGTH - 1

# Training can queue for capacity and upload artifacts after MaxRuntimeInSeconds; the task waits
# this much longer before Step Functions gives up (and stops the job).
TRAINING_WAIT_MARGIN_SECONDS = 3600

# The execution's Error for each failure outcome: short, stable names operators can search for.
FAILURE_ERRORS = {
    "unknown_model": "UnknownModel",
    "invalid_hyperparameters": "InvalidHyperparameters",
    "training_failed": "TrainingFailed",
    "objective_not_reported": "ObjectiveMetricNotReported",
    "registration_failed": "RegistrationFailed",
}

SUBJECT_LIMIT = 100  # SNS Subject
_LONGEST_SUBJECT_TEXT = "objective metric not reported"
_INTRINSIC_SAFE = re.compile(r"[A-Za-z0-9 ._:/@=+,-]*")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ModelRun:
    """Everything the machine needs to train and judge one configured model."""

    name: str
    job_prefix: str  # training job names are "<job_prefix>-<md5 of execution name>"
    instance_type: str
    instance_count: int
    volume_gb: int
    max_runtime_seconds: int
    hyperparameters: Mapping[str, str]
    objective_metric: str
    threshold: float
    model_package_group: str
    train_uri: str
    validation_uri: str
    output_uri: str  # S3OutputPath, no trailing slash: the job writes <output_uri>/<job>/output/


@dataclass(frozen=True)
class WorkflowSpec:
    """The deployed names and ARNs the definition refers to."""

    label: str  # "<project>/<stack>": prefixes notification subjects
    image_uri: str
    training_role_arn: str
    kms_key_arn: str
    topic_arn: str
    approval_status: str  # "Approved" (auto-approval) or "PendingManualApproval"
    models: tuple[ModelRun, ...]
    metric_definitions: Sequence[Mapping[str, str]]
    job_tags: Mapping[str, str] = field(default_factory=dict)


def definition(spec: WorkflowSpec) -> dict[str, Any]:
    """The ASL document for `spec` (see the module docstring for the flow)."""
    if not spec.models:
        raise ValueError("the training pipeline needs at least one model")
    # The label is spliced into States.Format literals, where quotes and braces would need
    # escaping; project and stack names never contain them.
    if not _INTRINSIC_SAFE.fullmatch(spec.label):
        raise ValueError(f"{spec.label!r} cannot be used inside a States.Format literal")
    longest_subject = max(len(f"[{spec.label}] {m.name}: {_LONGEST_SUBJECT_TEXT}") for m in spec.models)
    if longest_subject > SUBJECT_LIMIT:
        raise ValueError(f"notification subjects would reach {longest_subject} characters; SNS allows {SUBJECT_LIMIT}")
    for model in spec.models:
        if len(model.job_prefix) > JOB_PREFIX_LIMIT or not re.fullmatch(r"[a-z0-9](-*[a-z0-9])*", model.job_prefix):
            raise ValueError(f"job prefix {model.job_prefix!r}: at most {JOB_PREFIX_LIMIT} of [a-z0-9-]")

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
        "Default": "UnknownModel",
    }
    for model in spec.models:
        states[_configure_state(model)] = {
            "Type": "Pass",
            "Comment": f"Run settings of model '{model.name}', from the stack config",
            "Result": _run_settings(model, spec),
            "ResultPath": "$.run",
            "Next": "CheckHyperparametersGiven",
        }
    states.update(_hyperparameter_states(spec))
    states[TRAIN_STATE] = _train_state(spec)
    states.update(_evaluation_states())
    states[REGISTER_STATE] = _register_state(spec)
    states.update(_outcome_states(spec))
    states[NOTIFY_STATE] = {
        "Type": "Task",
        "Comment": "Tell the alert topic how the run ended",
        "Resource": PUBLISH_RESOURCE,
        "Parameters": {
            "TopicArn": spec.topic_arn,
            "Subject.$": "$.notification.subject",
            "Message.$": "States.JsonToString($.notification.message)",
        },
        "ResultPath": None,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2.0}],
        "Next": "Finish",
    }
    states["Finish"] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.notification.succeeded", "BooleanEquals": True, "Next": "Succeeded"}],
        "Default": "Failed",
    }
    states["Succeeded"] = {"Type": "Succeed", "Comment": "Registered, or trained but below the threshold"}
    states["Failed"] = {
        "Type": "Fail",
        "Comment": "Error and cause of the outcome (see docs/runbook.md, Training pipelines)",
        "ErrorPath": "$.notification.message.error",
        "CausePath": "$.notification.message.cause",
    }
    return {
        "Comment": f"{spec.label} training pipeline: validate, train, evaluate, register, notify",
        "StartAt": "SelectModel",
        "States": states,
    }


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
        "threshold": model.threshold,
        "model_package_group": model.model_package_group,
        "train_uri": model.train_uri,
        "validation_uri": model.validation_uri,
        "output_uri": model.output_uri,
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
            "Next": "InvalidHyperparameters",
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
                {"Not": {"Variable": "$.inspection.json", "StringMatches": "{*"}, "Next": "InvalidHyperparameters"},
                *value_rules,
            ],
            "Default": "MergeHyperparameters",
        },
        "MergeHyperparameters": {
            "Type": "Pass",
            "Comment": "Input hyperparameters overlay the model's defaults; the job name derives from the execution",
            "Parameters": {
                "hyperparameters.$": "States.JsonMerge($.run.default_hyperparameters, $.hyperparameters, false)",
                "training_job_name.$": "States.Format('{}-{}', $.run.job_prefix, States.Hash($$.Execution.Name, 'MD5'))",
            },
            "ResultPath": "$.job",
            "Next": TRAIN_STATE,
        },
    }


def _train_state(spec: WorkflowSpec) -> dict[str, Any]:
    channel = lambda name, uri_path: {  # noqa: E731
        "ChannelName": name,
        "ContentType": "text/csv",
        "CompressionType": "None",
        "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri.$": uri_path, "S3DataDistributionType": "FullyReplicated",
        }},
    }
    tags = [{"Key": key, "Value": value} for key, value in sorted(spec.job_tags.items())]
    tags += [{"Key": "Model", "Value.$": "$.run.model_name"},
             {"Key": "StateMachineExecution", "Value.$": "$$.Execution.Name"}]
    return {
        "Type": "Task",
        "Comment": "Run the training job and wait for it to end",
        "Resource": TRAIN_RESOURCE,
        "Parameters": {
            "TrainingJobName.$": "$.job.training_job_name",
            "RoleArn": spec.training_role_arn,
            "AlgorithmSpecification": {
                "TrainingImage": spec.image_uri,
                "TrainingInputMode": "File",
                "MetricDefinitions": [dict(d) for d in spec.metric_definitions],
            },
            "HyperParameters.$": "$.job.hyperparameters",
            "InputDataConfig": [channel("train", "$.run.train_uri"), channel("validation", "$.run.validation_uri")],
            "OutputDataConfig": {"S3OutputPath.$": "$.run.output_uri", "KmsKeyId": spec.kms_key_arn},
            "ResourceConfig.$": "$.run.resource_config",
            "StoppingCondition": {"MaxRuntimeInSeconds.$": "$.run.max_runtime_seconds"},
            # The container needs no network: data and model move through SageMaker.
            "EnableNetworkIsolation": True,
            "Tags": tags,
        },
        "TimeoutSecondsPath": "$.run.timeout_seconds",
        "ResultPath": "$.training",
        # Only request-level errors (throttling, quota) are retried; a failed job is not.
        "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "IntervalSeconds": 30,
                   "MaxAttempts": 2, "BackoffRate": 2.0}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "TrainingFailed"}],
        "Next": "CheckMetricsReported",
    }


def _evaluation_states() -> dict[str, Any]:
    return {
        "CheckMetricsReported": {
            "Type": "Choice",
            # [0]: absent and empty lists alike go to ObjectiveNotReported.
            "Choices": [{"Variable": "$.training.FinalMetricDataList[0]", "IsPresent": True, "Next": "FindObjectiveMetric"}],
            "Default": "ObjectiveNotReported",
        },
        # Marks each reported metric as the objective or not. The flags prove the objective is
        # there before the filter below reads it (an empty filter result is not portable).
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
            "Default": "ObjectiveNotReported",
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
                "threshold.$": "$.run.threshold",
            },
            "ResultPath": "$.score",
            "Next": "CompareWithThreshold",
        },
        "CompareWithThreshold": {
            "Type": "Choice",
            "Comment": "Register when the objective metric reaches the model's threshold",
            "Choices": [{"Variable": "$.score.value", "NumericGreaterThanEqualsPath": "$.score.threshold",
                         "Next": REGISTER_STATE}],
            "Default": "BelowThreshold",
        },
    }


def _register_state(spec: WorkflowSpec) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": "Register the trained model as a new version of the model's package group",
        "Resource": REGISTER_RESOURCE,
        "Parameters": {
            "ModelPackageGroupName.$": "$.run.model_package_group",
            "ModelPackageDescription.$": (
                "States.Format('{} = {} (threshold {}), training job {}', "
                "$.score.metric, $.score.value, $.score.threshold, $.job.training_job_name)"
            ),
            "ModelApprovalStatus": spec.approval_status,
            # The inference image is a later issue: until then the training image stands in,
            # so a version records exactly the code that produced it (docs/architecture.md).
            "InferenceSpecification": {
                "Containers": [{"Image": spec.image_uri, "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "CustomerMetadataProperties": {
                "objective_metric.$": "$.score.metric",
                "objective_value.$": "States.Format('{}', $.score.value)",
                "threshold.$": "States.Format('{}', $.score.threshold)",
                "training_job.$": "$.job.training_job_name",
                "execution.$": "$$.Execution.Id",
                # evaluation.json and baseline.json: what SageMaker uploads from /opt/ml/output/data.
                "output_data.$": "States.Format('{}/{}/output/output.tar.gz', $.run.output_uri, $.job.training_job_name)",
            },
        },
        "ResultPath": "$.registration",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RegistrationFailed"}],
        "Next": "Registered",
    }


def _outcome_states(spec: WorkflowSpec) -> dict[str, Any]:
    """One Pass state per outcome, each building `$.notification` for the one Notify state."""
    label = spec.label
    names = ", ".join(m.name for m in spec.models)

    def outcome(name: str, succeeded: bool, subject: str | dict, message: dict, comment: str) -> dict[str, Any]:
        body = {"outcome": name, "stack": label, "execution.$": "$$.Execution.Id", **message}
        if not succeeded:
            body.setdefault("error", FAILURE_ERRORS[name])
        notification = {"succeeded": succeeded, "message": body}
        notification.update({"subject.$": subject["path"]} if isinstance(subject, dict) else {"subject": subject})
        return {"Type": "Pass", "Comment": comment, "Parameters": notification,
                "ResultPath": "$.notification", "Next": NOTIFY_STATE}

    def subject_for(text: str) -> dict:
        return {"path": f"States.Format('[{label}] {{}}: {text}', $.run.model_name)"}

    run = {"model_name.$": "$.run.model_name"}
    job = {**run, "training_job.$": "$.job.training_job_name"}
    score = {"objective_metric.$": "$.score.metric", "objective_value.$": "$.score.value",
             "threshold.$": "$.score.threshold"}
    # A caught error always has "Error" but "Cause" is optional in ASL, and a missing path is an
    # uncatchable runtime error: the cause is the whole caught error as JSON text instead.
    caught = {"cause.$": "States.JsonToString($.error)", "caught_error.$": "$.error.Error"}
    return {
        "UnknownModel": outcome(
            "unknown_model", False, f"[{label}] training run rejected: unknown model",
            {"cause": f"model_name must be one of: {names}", "input.$": "$$.Execution.Input"},
            "model_name is missing or not a configured model: nothing ran"),
        "InvalidHyperparameters": outcome(
            "invalid_hyperparameters", False, subject_for("invalid hyperparameters"),
            {**run, "input.$": "$$.Execution.Input",
             "cause": ('hyperparameters must be an object of name: string value (SageMaker passes them as strings), '
                       'e.g. {"max_depth": "6"}')},
            "hyperparameters is not an object of strings: nothing ran"),
        "TrainingFailed": outcome(
            "training_failed", False, subject_for("training failed"), {**job, **caught},
            "The training job failed, was stopped, timed out, or could not start"),
        "ObjectiveNotReported": outcome(
            "objective_not_reported", False, subject_for("objective metric not reported"),
            {**job, "objective_metric.$": "$.run.objective_metric",
             "cause.$": ("States.Format('training job {} reported no {} metric: check its log lines against "
                         "the MetricDefinitions', $.job.training_job_name, $.run.objective_metric)")},
            "The job succeeded but its final metrics lack the objective"),
        "BelowThreshold": outcome(
            "below_threshold", True, subject_for("below threshold, not registered"),
            {**job, **score, "model_artifacts.$": "$.training.ModelArtifacts.S3ModelArtifacts"},
            "Trained, but the objective metric is below the threshold: no version"),
        "Registered": outcome(
            "registered", True, subject_for("new version registered"),
            {**job, **score, "model_package_arn.$": "$.registration.ModelPackageArn",
             "approval_status": spec.approval_status,
             "model_artifacts.$": "$.training.ModelArtifacts.S3ModelArtifacts"},
            "A new model package version exists"),
        "RegistrationFailed": outcome(
            "registration_failed", False, subject_for("registration failed"),
            {**job, **score, **caught, "model_artifacts.$": "$.training.ModelArtifacts.S3ModelArtifacts"},
            "The model passed but CreateModelPackage failed"),
    }


def job_prefix(cfg: PlatformConfig, model: str) -> str:
    """`<project>-<stack>-<model>` in lowercase, cut (with a hash) to leave room for the md5.

    Lowercase because SageMaker writes names in lowercase into ARNs, which the state machine's
    IAM policy matches (`training-job/<prefix>-*`).
    """
    return shorten(cfg.namer.name(model, "sagemaker").lower(), JOB_PREFIX_LIMIT)


def spec_for(cfg: PlatformConfig, *, image_uri: str, training_role_arn: str, kms_key_arn: str, topic_arn: str,
             data_bucket: str, artifact_bucket: str, package_groups: Mapping[str, str]) -> WorkflowSpec:
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
        training_role_arn=training_role_arn,
        kms_key_arn=kms_key_arn,
        topic_arn=topic_arn,
        approval_status="Approved" if cfg.auto_approve else "PendingManualApproval",
        models=models,
        metric_definitions=tuple(METRIC_DEFINITIONS),
        job_tags=tags,
    )
