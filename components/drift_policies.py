"""IAM of drift detection and archiving, as pure functions of names and ARNs.

Each statement is what one call of the functions needs (Service Authorization Reference for S3,
SageMaker, CloudWatch and KMS); the rest of a function's role (its logs, its failure queue) comes
from components/lambda_function_policies.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.documents import Account


def _model_packages(account: Account, groups: Sequence[str]) -> list[str]:
    # Versioned packages are `model-package/<group>/<version>`, the group lowercased as SageMaker
    # writes names into ARNs (the training pipeline's policy matches them the same way).
    return [account.arn("sagemaker", f"model-package/{group.lower()}/*") for group in groups]


def _use_key_through_s3(account: Account, key_arn: str, actions: Sequence[str]) -> dict[str, Any]:
    """Objects are SSE-KMS with the platform key: reading needs Decrypt, writing a data key."""
    return {"Sid": "PlatformKeyThroughS3", "Effect": "Allow", "Action": list(actions), "Resource": [key_arn],
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{account.region}.amazonaws.com"}}}


def drift_statements(*, account: Account, capture_prefixes: Sequence[tuple[str, str]], report_bucket_arn: str,
                     report_prefix: str, artifact_bucket_arn: str, models: Sequence[str], groups: Sequence[str],
                     key_arn: str, namespace: str) -> list[dict[str, Any]]:
    """Read the endpoints' captures and the served versions' baselines, write reports, publish metrics.

    `capture_prefixes` are (bucket ARN, key prefix) pairs, one per endpoint
    (`<capture path>/<endpoint>/`)."""
    capture_buckets = sorted({bucket for bucket, _ in capture_prefixes})
    return [
        {"Sid": "ListCaptures", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": capture_buckets,
         "Condition": {"StringLike": {"s3:prefix": sorted({f"{prefix}*" for _, prefix in capture_prefixes})}}},
        {"Sid": "ReadCaptures", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": sorted({f"{bucket}/{prefix}*" for bucket, prefix in capture_prefixes})},
        {"Sid": "WriteReports", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": [f"{report_bucket_arn}/{report_prefix.strip('/')}/*"]},
        # Without ListBucket, HeadObject on a missing archive answers 403 instead of 404, and a
        # deleted baseline would read as "unreadable" instead of "missing".
        {"Sid": "FindBaselines", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [artifact_bucket_arn]},
        {"Sid": "ReadBaselines", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{artifact_bucket_arn}/{model}/training/*" for model in models]},
        {"Sid": "DescribeServedVersions", "Effect": "Allow", "Action": ["sagemaker:DescribeModelPackage"],
         "Resource": _model_packages(account, groups)},
        _use_key_through_s3(account, key_arn, ["kms:Decrypt", "kms:GenerateDataKey"]),
        # PutMetricData has no resource-level permissions; the namespace condition confines it.
        {"Sid": "PublishDriftMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": ["*"],
         "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}}},
    ]


def archive_statements(*, account: Account, artifact_bucket_arn: str, models: Sequence[str], groups: Sequence[str],
                       key_arn: str) -> list[dict[str, Any]]:
    """List and mark versions, and move their artifacts between storage classes (copy in place)."""
    objects = [f"{artifact_bucket_arn}/{model}/training/*" for model in models]
    return [
        # A listing is not of one package: the Service Authorization Reference lists model-package
        # as an optional resource type of ListModelPackages, but no ARN a listing of a group is
        # checked against, so "*" (as the preview role's policy has it, docs/ci-credentials.md).
        {"Sid": "ListVersions", "Effect": "Allow", "Action": ["sagemaker:ListModelPackages"], "Resource": ["*"]},
        {"Sid": "MarkVersions", "Effect": "Allow",
         "Action": ["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
         "Resource": _model_packages(account, groups)},
        {"Sid": "FindArtifacts", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [artifact_bucket_arn]},
        # CopyObject reads the source and writes the target (the same key); tags come along.
        {"Sid": "MoveArtifacts", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:GetObjectTagging", "s3:PutObjectTagging"], "Resource": objects},
        _use_key_through_s3(account, key_arn, ["kms:Decrypt", "kms:GenerateDataKey"]),
    ]
