"""A private, KMS-encrypted, versioned S3 bucket: the only kind of bucket the platform makes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import options
from components.config import PlatformConfig


@dataclass
class SecureBucketArgs:
    kms_key_arn: pulumi.Input[str]
    # What the bucket holds, for its physical name (`<project>-<stack>-<purpose>-<suffix>`); the
    # component's name when not given.
    purpose: str | None = None
    # Objects under these prefixes expire after the given number of days (e.g. captured data).
    expire_prefixes: dict[str, int] = field(default_factory=dict)
    # Old versions of overwritten objects are kept this long, then removed.
    noncurrent_version_days: int = 30


def tls_only_policy(bucket_arn: str) -> dict:
    """Deny every request that does not arrive over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }


class SecureBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, cfg: PlatformConfig, args: SecureBucketArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:SecureBucket", name, None, opts)
        self.bucket = aws.s3.Bucket(
            name,
            bucket_prefix=cfg.namer.bucket_prefix(args.purpose or name),
            force_destroy=cfg.force_destroy,
            opts=options.stateful(self, cfg),
        )
        bucket_id = self.bucket.id
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=options.child(self),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=options.child(self),
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration={"status": "Enabled"},
            opts=options.child(self),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[{
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                            "kms_master_key_id": args.kms_key_arn},
                # Bucket keys cut KMS request costs for busy buckets (training data, capture).
                "bucket_key_enabled": True,
            }],
            opts=options.child(self),
        )
        rules = [
            {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {"prefix": ""},
             "abort_incomplete_multipart_upload": {"days_after_initiation": 7}},
            {"id": "expire-old-versions", "status": "Enabled", "filter": {"prefix": ""},
             "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days}},
        ]
        for prefix, days in sorted(args.expire_prefixes.items()):
            rules.append({"id": f"expire-{prefix.strip('/').replace('/', '-')}", "status": "Enabled",
                          "filter": {"prefix": prefix}, "expiration": {"days": days}})
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=bucket_id, rules=rules,
                                            opts=options.child(self))
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket_id,
            policy=self.bucket.arn.apply(lambda arn: json.dumps(tls_only_policy(arn))),
            # S3 rejects policy changes while the public access block is being applied.
            opts=options.child(self, depends_on=[public_access]),
        )
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
