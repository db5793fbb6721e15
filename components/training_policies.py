"""IAM documents of the training pipeline, as pure functions of names and ARNs.

Least privilege, checked by tests/program/test_training_pipeline.py: no wildcard actions, and
`"Resource": "*"` only where the service has no resource-level permissions at all; each such
statement says so, and its Sid is listed in `UNSCOPED_STATEMENTS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# SageMaker's own log group for every training job in the account (SageMaker creates it).
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# The namespace SageMaker publishes MetricDefinitions values to.
TRAINING_METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
# The managed rule Step Functions creates to learn when a `.sync` training job ends.
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"

# Statements allowed to use "Resource": "*" (the APIs have no resource-level permissions).
UNSCOPED_STATEMENTS = frozenset({
    "AuthenticateToEcr",   # ecr:GetAuthorizationToken: the token is for the whole registry
    "PublishJobMetrics",   # cloudwatch:PutMetricData: scoped by the namespace condition instead
    "DeliverLogs",         # CloudWatch Logs vended-log delivery (how Step Functions logs)
    "Trace",               # X-Ray segments and sampling
})


@dataclass(frozen=True)
class Account:
    partition: str
    region: str
    account_id: str

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if regional else ''}:{self.account_id}:{resource}"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def trust_policy(service: str, account: Account | None = None, source_arns: Sequence[str] = ()) -> dict[str, Any]:
    """Who may assume a role: one service, optionally only on behalf of this account's resources
    (`aws:SourceAccount` / `aws:SourceArn` stop the confused-deputy problem)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    conditions: dict[str, Any] = {}
    if account:
        conditions["StringEquals"] = {"aws:SourceAccount": account.account_id}
    if source_arns:
        conditions["ArnLike"] = {"aws:SourceArn": list(source_arns)}
    if conditions:
        statement["Condition"] = conditions
    return _policy(statement)


def training_role_policy(*, account: Account, models: Sequence[str], job_prefixes: Sequence[str],
                         data_bucket_arn: str, artifact_bucket_arn: str, key_arn: str,
                         repository_arn: str) -> dict[str, Any]:
    """What a training job may do: read its model's data, write its model's artifacts, pull the
    training image, write its own log streams and metrics, and use the platform key for both."""
    prefixes = [f"{model}/*" for model in models]
    log_group = account.arn("logs", f"log-group:{TRAINING_LOG_GROUP}")
    return _policy(
        {"Sid": "ReadTrainingData", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{data_bucket_arn}/{p}" for p in prefixes]},
        {"Sid": "ListTrainingData", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": [data_bucket_arn, artifact_bucket_arn],
         "Condition": {"StringLike": {"s3:prefix": prefixes}}},
        {"Sid": "LocateBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation"],
         "Resource": [data_bucket_arn, artifact_bucket_arn]},
        {"Sid": "WriteArtifacts", "Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
         "Resource": [f"{artifact_bucket_arn}/{p}" for p in prefixes]},
        {"Sid": "UsePlatformKey", "Effect": "Allow",
         "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": [key_arn]},
        # The encrypted training volume: SageMaker creates a grant for the EC2/EBS service only.
        {"Sid": "GrantKeyToTrainingVolume", "Effect": "Allow", "Action": ["kms:CreateGrant"], "Resource": [key_arn],
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
        {"Sid": "PullTrainingImage", "Effect": "Allow",
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
         "Resource": [repository_arn]},
        # GetAuthorizationToken has no resource-level permissions: the token is registry-wide.
        # Pulls are still limited to this repository by the statement above.
        {"Sid": "AuthenticateToEcr", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "CreateTrainingLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogGroup"],
         "Resource": [log_group, f"{log_group}:*"]},
        {"Sid": "DescribeTrainingLogStreams", "Effect": "Allow", "Action": ["logs:DescribeLogStreams"],
         "Resource": [f"{log_group}:*"]},
        {"Sid": "WriteTrainingLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"{log_group}:log-stream:{prefix}-*" for prefix in job_prefixes]},
        # PutMetricData has no resource-level permissions; the namespace condition confines it to
        # the training job metrics.
        {"Sid": "PublishJobMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
         "Condition": {"StringEquals": {"cloudwatch:namespace": TRAINING_METRICS_NAMESPACE}}},
    )


def state_machine_policy(*, account: Account, job_prefixes: Sequence[str], training_role_arn: str,
                         package_groups: Sequence[str], topic_arn: str, key_arn: str) -> dict[str, Any]:
    """What the pipeline may do: its own training jobs, its registry groups, its alert topic."""
    jobs = [account.arn("sagemaker", f"training-job/{prefix}-*") for prefix in job_prefixes]
    # SageMaker ARNs carry names in lowercase.
    groups = [name.lower() for name in package_groups]
    return _policy(
        {"Sid": "RunTrainingJobs", "Effect": "Allow",
         "Action": ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags"],
         "Resource": jobs},
        # How `createTrainingJob.sync` learns the job ended: Step Functions manages this rule.
        {"Sid": "FollowTrainingJobEvents", "Effect": "Allow",
         "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
         "Resource": [account.arn("events", f"rule/{SYNC_EVENTS_RULE}")]},
        {"Sid": "PassTrainingRoleToSageMaker", "Effect": "Allow", "Action": ["iam:PassRole"],
         "Resource": [training_role_arn],
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        # The job's volume and output are encrypted with the platform key, requested by this role.
        {"Sid": "GrantKeyToTrainingJobs", "Effect": "Allow", "Action": ["kms:CreateGrant", "kms:DescribeKey"],
         "Resource": [key_arn],
         "Condition": {"StringEquals": {"kms:ViaService": f"sagemaker.{account.region}.amazonaws.com"}}},
        {"Sid": "RegisterModelVersions", "Effect": "Allow", "Action": ["sagemaker:CreateModelPackage"],
         "Resource": [account.arn("sagemaker", f"model-package-group/{g}") for g in groups]
         + [account.arn("sagemaker", f"model-package/{g}/*") for g in groups]},
        {"Sid": "NotifyOutcome", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic_arn]},
        # The alert topic is encrypted with the platform key: publishing needs a data key.
        {"Sid": "EncryptNotifications", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": [key_arn],
         "Condition": {"StringEquals": {"kms:ViaService": f"sns.{account.region}.amazonaws.com"}}},
        # Log delivery APIs have no resource-level permissions (AWS's documented policy for
        # Step Functions logging); the log group itself is chosen in the state machine config.
        {"Sid": "DeliverLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"],
         "Resource": "*"},
        # X-Ray has no resource-level permissions.
        {"Sid": "Trace", "Effect": "Allow",
         "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                    "xray:GetSamplingTargets"],
         "Resource": "*"},
    )


def scheduler_policy(state_machine_arn: str) -> dict[str, Any]:
    """EventBridge schedules may start this state machine and nothing else."""
    return _policy({"Sid": "StartTrainingPipeline", "Effect": "Allow", "Action": ["states:StartExecution"],
                    "Resource": [state_machine_arn]})
