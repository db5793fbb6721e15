"""The platform's customer-managed KMS key: everything at rest is encrypted with it."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components import options
from components.config import PlatformConfig

# Services that encrypt with the key on the platform's behalf. SageMaker and S3 use it through
# the caller's IAM permissions (grants), so only services acting as themselves are listed.
SERVICE_PRINCIPALS = (
    "sns.amazonaws.com",
    "events.amazonaws.com",
    "cloudwatch.amazonaws.com",
    "states.amazonaws.com",
)


def key_policy(account_id: str, region: str) -> dict:
    """The key policy: the account administers it through IAM; services may only use it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # Without this the key becomes unmanageable: IAM policies grant access on top.
                "Sid": "AccountAdministersKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                           "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"}},
            },
            {
                "Sid": "PlatformServicesUseKey",
                "Effect": "Allow",
                "Principal": {"Service": list(SERVICE_PRINCIPALS)},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
        ],
    }


class PlatformKey(pulumi.ComponentResource):
    """A rotating customer-managed key with an alias named after the stack."""

    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, cfg: PlatformConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:PlatformKey", name, None, opts)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{cfg.project} {cfg.stack}: encrypts buckets, logs, topics and SageMaker volumes",
            enable_key_rotation=True,
            # A longer window in prod gives time to notice and cancel an accidental deletion.
            deletion_window_in_days=30 if cfg.is_prod else 7,
            policy=identity.account_id.apply(lambda account: json.dumps(key_policy(account, cfg.region))),
            opts=options.stateful(self, cfg),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{cfg.namer.name('platform', 'kms_alias')}",
            target_key_id=self.key.key_id,
            opts=options.child(self),
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn, "alias": self.alias.name})
