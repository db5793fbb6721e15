"""IAM documents of the training pipeline, as pure functions of names and ARNs.

Least privilege, checked by tests/program/test_training_pipeline.py: no wildcard actions, and
`"Resource": "*"` only where the service has no resource-level permissions at all or AWS's
documented policy for the integration grants it so; each such statement says which, and its Sid
is listed in `UNSCOPED_STATEMENTS`. Sources, cited at each statement:
- SageMaker Developer Guide, "How to use SageMaker AI execution roles", CreateTrainingJob API:
  Execution Role Permissions (the training role), and the OutputDataConfig.KmsKeyId reference.
- Step Functions Developer Guide, "IAM policies for Amazon SageMaker AI" (CreateTrainingJob, Run
  a Job .sync), "Create and manage Amazon SageMaker AI jobs", and the logging and X-Ray pages
  (the pipeline role).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.documents import Account

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
    "ReadTrainingJobTags", # sagemaker:ListTags: Step Functions' documented .sync policy grants it on "*"
    "Trace",               # X-Ray segments and sampling
})


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
    """What a training job may do: read its model's data, write and read back its model's
    artifacts, pull the training image, write its own log streams and metrics, and use the
    platform key for all of it (execution role permissions of CreateTrainingJob)."""
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
        # The guide scopes s3:GetObject to the input URIs and OutputDataConfig.S3OutputPath alike:
        # the job reads back what it writes under its model's prefix.
        {"Sid": "ReadArtifacts", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{artifact_bucket_arn}/{p}" for p in prefixes]},
        # Data is SSE-KMS (kms:Decrypt); output names a KMS key, which needs kms:Encrypt
        # (OutputDataConfig.KmsKeyId: "the SageMaker execution role must include permissions to
        # call kms:Encrypt"); S3 asks for data keys on the role's behalf when it writes.
        {"Sid": "UsePlatformKey", "Effect": "Allow",
         "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": [key_arn]},
        # The encrypted training volume (ResourceConfig.VolumeKmsKeyId needs kms:CreateGrant):
        # SageMaker creates a grant for the EC2/EBS service only.
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
        # The .sync policy's CreateTrainingJob, DescribeTrainingJob and StopTrainingJob (the Stop
        # state's aws-sdk:sagemaker:stopTrainingJob is the same action); AddTags because the job
        # is created with Tags (SageMaker authorizes tag-on-create as AddTags).
        {"Sid": "RunTrainingJobs", "Effect": "Allow",
         "Action": ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags"],
         "Resource": jobs},
        # The .sync policy grants sagemaker:ListTags on "*": the integration reads the tags of
        # the job it watches. Read-only, and tags hold no secrets here.
        {"Sid": "ReadTrainingJobTags", "Effect": "Allow", "Action": ["sagemaker:ListTags"], "Resource": "*"},
        # How `createTrainingJob.sync` learns the job ended: Step Functions manages this rule.
        {"Sid": "FollowTrainingJobEvents", "Effect": "Allow",
         "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
         "Resource": [account.arn("events", f"rule/{SYNC_EVENTS_RULE}")]},
        {"Sid": "PassTrainingRoleToSageMaker", "Effect": "Allow", "Action": ["iam:PassRole"],
         "Resource": [training_role_arn],
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        # The job's volume is encrypted with the platform key. SageMaker's API permissions
        # reference asks the caller of CreateTrainingJob for kms:CreateGrant when a
        # VolumeKmsKeyId is given and the execution role lacks it; the training role has it, so
        # this is the documented fallback, confined to requests that come through SageMaker.
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
