"""IAM documents of the feature store, as pure functions of names and ARNs.

Sources, cited at each statement:
- the offline store role: the AWS managed policy AmazonSageMakerFeatureStoreAccess (S3 writes,
  manifest reads, glue:GetTable and glue:UpdateTable in the sagemaker_featurestore database)
  scoped to this stack's bucket prefix and groups' tables, plus kms:GenerateDataKey for a KMS
  key on the offline store (SageMaker Developer Guide, Feature Store "Security and access
  control": "Authorizing Use of a Customer Managed Key for your Offline Store");
- the functions: PutRecord and DescribeFeatureGroup on this stack's groups, kms:Decrypt for
  data plane calls on an online store under a customer managed key (same page, "Accessing Data
  in Your Online Store"), S3 under the ingest prefix, and CloudWatch metrics in the platform's
  namespace only (PutMetricData and GetMetricStatistics have no resource-level permissions).
`"Resource": "*"` appears only in the statements listed in UNSCOPED_STATEMENTS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.documents import Account

# Where SageMaker creates the offline store's Glue tables when no DataCatalogConfig is given.
GLUE_DATABASE = "sagemaker_featurestore"
UNSCOPED_STATEMENTS = frozenset({"PublishIngestionMetrics", "ReadIngestionMetrics", "PublishFreshness"})


def feature_group_arn(account: Account, name: str) -> str:
    # SageMaker ARNs carry names in lowercase.
    return account.arn("sagemaker", f"feature-group/{name.lower()}")


def glue_table_pattern(group: str) -> str:
    """The tables SageMaker names for a group: `<group with - as _>_<creation time>` (Athena's
    naming rules, OfflineStoreConfig.DisableGlueTableCreation)."""
    return f"{group.replace('-', '_').lower()}_*"


def offline_store_trust_policy() -> dict[str, Any]:
    """SageMaker assumes the role for the feature group itself (as for a training job's role):
    no aws:SourceAccount or aws:SourceArn condition, which its requests are not documented to carry."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def offline_store_policy(*, account: Account, bucket_arn: str, offline_prefix: str, groups: Sequence[str],
                         key_arn: str) -> dict[str, Any]:
    """What SageMaker may do with the role while it writes the groups' offline stores."""
    objects = f"{bucket_arn}/{offline_prefix}*"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteOfflineStore", "Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectAcl"],
         "Resource": [objects]},
        # The managed policy reads manifests under metadata/; this role reads nothing else anywhere.
        {"Sid": "ReadOfflineStoreManifests", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [objects]},
        {"Sid": "CheckBucketOwner", "Effect": "Allow", "Action": ["s3:GetBucketAcl"], "Resource": [bucket_arn]},
        {"Sid": "MaintainOfflineStoreTables", "Effect": "Allow", "Action": ["glue:GetTable", "glue:UpdateTable"],
         "Resource": [account.arn("glue", "catalog"), account.arn("glue", f"database/{GLUE_DATABASE}")]
         + [account.arn("glue", f"table/{GLUE_DATABASE}/{glue_table_pattern(g)}") for g in groups]},
        {"Sid": "EncryptOfflineStore", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": [key_arn]},
    ]}


def ingest_statements(*, account: Account, bucket_arn: str, ingest_prefix: str, groups: Sequence[str],
                      key_arn: str, namespace: str, dead_letter_suffix: str) -> list[dict[str, Any]]:
    """Ingestion reads objects under the ingest prefix, writes their dead letters beside them,
    and puts records into this stack's groups."""
    arns = [feature_group_arn(account, g) for g in groups]
    return [
        {"Sid": "ReadIngestObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": [f"{bucket_arn}/{ingest_prefix}*"]},
        {"Sid": "WriteDeadLetters", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": [f"{bucket_arn}/{ingest_prefix}*{dead_letter_suffix}"]},
        {"Sid": "ReadGroupDefinitions", "Effect": "Allow", "Action": ["sagemaker:DescribeFeatureGroup"], "Resource": arns},
        {"Sid": "PutRecords", "Effect": "Allow", "Action": ["sagemaker:PutRecord"], "Resource": arns},
        # Decrypt: SSE-KMS objects and the online store; GenerateDataKey: dead letters written SSE-KMS.
        {"Sid": "UsePlatformKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": [key_arn]},
        _put_metrics("PublishIngestionMetrics", namespace),
    ]


def freshness_statements(*, namespace: str) -> list[dict[str, Any]]:
    return [
        {"Sid": "ReadIngestionMetrics", "Effect": "Allow", "Action": ["cloudwatch:GetMetricStatistics"], "Resource": "*"},
        _put_metrics("PublishFreshness", namespace),
    ]


def _put_metrics(sid: str, namespace: str) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}}}
