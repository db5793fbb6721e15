"""IAM documents of an inference endpoint, as pure functions of names and ARNs.

The execution role SageMaker hosting assumes for one model's endpoint: what the SageMaker
Developer Guide lists for it ("How to use SageMaker AI execution roles", CreateModel API:
Execution Role Permissions: read the model artifact, pull the image, write the container's logs
and metrics) scoped to this model and endpoint, plus reading the state of the endpoint's rollback
alarms (deployment guardrails, "Auto-Rollback Configuration and Monitoring": the execution role
needs cloudwatch:DescribeAlarms on them) and writing the endpoint's data capture
(DataCaptureConfig: s3:PutObject and the KMS key, "Capture data from real-time endpoint").
`"Resource": "*"` only where the API has no resource-level permissions: the Sids in
`UNSCOPED_STATEMENTS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.documents import Account

# Where SageMaker writes an endpoint's container logs (one group per endpoint, made on first use).
ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints"
# The namespace of the container metrics SageMaker hosting publishes with the role.
ENDPOINT_METRICS_NAMESPACE = "/aws/sagemaker/Endpoints"
# Under the capture bucket, SageMaker writes <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl.
CAPTURE_PREFIX = "capture"

UNSCOPED_STATEMENTS = frozenset({
    "AuthenticateToEcr",  # ecr:GetAuthorizationToken: the token is for the whole registry
    "PublishMetrics",     # cloudwatch:PutMetricData: scoped by the namespace condition instead
})


def capture_uri(bucket: str) -> str:
    """DataCaptureConfig.DestinationS3Uri of every endpoint of the stack."""
    return f"s3://{bucket}/{CAPTURE_PREFIX}"


def capture_prefix(endpoint_name: str) -> str:
    """The key prefix under which SageMaker writes one endpoint's captures (then
    `<variant>/yyyy/mm/dd/hh/<file>.jsonl`; Model Monitor, "Capture data")."""
    return f"{CAPTURE_PREFIX}/{endpoint_name}/"


def endpoint_role_policy(*, account: Account, model: str, endpoint_name: str, artifact_bucket_arn: str,
                         repository_arn: str, key_arn: str, rollback_alarm_names: Sequence[str],
                         capture_bucket_arn: str | None) -> dict[str, Any]:
    """What one model's endpoint may do; `capture_bucket_arn` None for an endpoint that captures
    nothing and `rollback_alarm_names` empty for one that rolls nothing back (serverless: SageMaker
    can do neither there)."""
    log_group = account.arn("logs", f"log-group:{ENDPOINT_LOG_GROUP}/{endpoint_name}")
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadModelArtifacts", "Effect": "Allow", "Action": "s3:GetObject",
         # Registered versions point at s3://<artifacts>/<model>/training/<job>/output/model.tar.gz.
         "Resource": f"{artifact_bucket_arn}/{model}/training/*"},
        {"Sid": "PullInferenceImage", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": repository_arn},
        {"Sid": "AuthenticateToEcr", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        # The artifact bucket and the repository are encrypted with the platform key.
        {"Sid": "DecryptArtifactsAndImage", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn},
        {"Sid": "WriteLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
         "Resource": [log_group, f"{log_group}:log-stream:*"]},
        {"Sid": "PublishMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringEquals": {"cloudwatch:namespace": ENDPOINT_METRICS_NAMESPACE}}},
    ]
    if rollback_alarm_names:
        statements.append({"Sid": "ReadRollbackAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
                           "Resource": [account.arn("cloudwatch", f"alarm:{name}") for name in rollback_alarm_names]})
    if capture_bucket_arn is not None:
        statements += [
            {"Sid": "WriteCapture", "Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"{capture_bucket_arn}/{capture_prefix(endpoint_name)}*"},
            {"Sid": "EncryptCapture", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
             "Resource": key_arn},
        ]
    return {"Version": "2012-10-17", "Statement": statements}
