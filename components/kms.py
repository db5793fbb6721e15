"""The platform's customer-managed KMS key: everything at rest is encrypted with it."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import options
from components.config import PlatformConfig
from components.documents import Account, account_of, json_of

# Services that publish to this stack's encrypted topics as themselves: SNS encrypts what they
# publish with the topic's key on their behalf, so the key policy (not IAM) must let them use it
# (SNS Developer Guide, "Key management", "Enable compatibility between event sources from AWS
# services and encrypted topics": kms:GenerateDataKey* and kms:Decrypt for the service principal).
# Step Functions and every other IAM principal of the account use the key through their IAM
# policies, which the first statement makes count; SageMaker and S3 likewise act with the
# caller's or the job role's permissions.
#
# The only condition is the encryption context SNS itself sends with every data key request
# for a topic, `aws:sns:topicArn` (used the same way in the GameLift guide's key policy for
# its encrypted notification topics): it confines the services to this stack's topics.
# aws:SourceAccount / aws:SourceArn are deliberately absent: the SNS guide states they are
# not supported in a key policy for EventBridge-to-encrypted-topic delivery (the request
# carries no such keys, so a condition on them silently drops every event), and CloudWatch's
# own guide (Using Amazon CloudWatch alarms, "Amazon SNS topic" with a customer managed key)
# documents the key statement without them. Who may publish is decided by the topic policy
# (monitoring_policies.py), where both services do send aws:SourceArn.
TOPIC_PUBLISHERS = {
    "EventBridgeRules": "events.amazonaws.com",
    "CloudWatchAlarms": "cloudwatch.amazonaws.com",
}


def key_policy(account: Account, name_pattern: str) -> dict:
    """The key policy: the account administers it through IAM; services may only use it, each
    for what it encrypts (`name_pattern` matches this stack's topic names)."""
    publishers = [
        {
            "Sid": f"{label}PublishToThisStacksTopics",
            "Effect": "Allow",
            "Principal": {"Service": principal},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringLike": {"kms:EncryptionContext:aws:sns:topicArn": account.arn("sns", name_pattern)}},
        }
        for label, principal in TOPIC_PUBLISHERS.items()
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # Without this the key becomes unmanageable: IAM policies grant access on top.
                "Sid": "AccountAdministersKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": account.root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                # CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS",
                # without the guide's "kms:Describe*": DescribeKey and DescribeCustomKeyStores
                # carry no encryption context (AWS's Service Authorization Reference lists no
                # kms:EncryptionContext key for them), so under this condition that grant could
                # never match; dropping it changes nothing (automation/guardrails/iam.py found it).
                "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{account.region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": account.arn("logs", "log-group:*")}},
            },
            *publishers,
        ],
    }


class PlatformKey(pulumi.ComponentResource):
    """A rotating customer-managed key with an alias named after the stack."""

    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, cfg: PlatformConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:PlatformKey", name, None, opts)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{cfg.project} {cfg.stack}: encrypts buckets, logs, topics and SageMaker volumes",
            enable_key_rotation=True,
            # A longer window in prod gives time to notice and cancel an accidental deletion.
            deletion_window_in_days=30 if cfg.is_prod else 7,
            policy=json_of(key_policy, account=account_of(self, cfg.region), name_pattern=cfg.namer.pattern()),
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
