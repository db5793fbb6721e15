"""The alert topic's access policy, as a pure function of names and ARNs.

A topic policy replaces the default one SNS gives a new topic, so it restates what the default
allowed (this account's principals, through their IAM policies) and adds the services that
publish as themselves, each only for this stack's sources:
- EventBridge rules (EventBridge User Guide, "Using resource-based policies", Amazon SNS
  permissions; the rule's ARN arrives as aws:SourceArn, as in that page's examples for the
  other targets). The ARN names the account, so aws:SourceAccount would add nothing.
- CloudWatch alarms (CloudWatch User Guide, "Using Amazon CloudWatch alarms", confused deputy
  prevention for SNS actions: aws:SourceArn is the alarm's ARN, aws:SourceAccount its account).
The key these services encrypt with is granted in kms.py.
"""

from __future__ import annotations

from typing import Any

from components.documents import Account

# What SNS's default topic policy lets the owning account do.
ACCOUNT_TOPIC_ACTIONS = [
    "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:AddPermission", "sns:RemovePermission",
    "sns:DeleteTopic", "sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:Publish",
]


def alert_topic_policy(*, topic_arn: str, account: Account, name_pattern: str) -> dict[str, Any]:
    """Who may use the alert topic; `name_pattern` matches this stack's rule and alarm names."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ThisAccountUsesTopicThroughIam", "Effect": "Allow", "Principal": {"AWS": account.root},
             "Action": ACCOUNT_TOPIC_ACTIONS, "Resource": topic_arn},
            {"Sid": "ThisStacksEventBridgeRulesPublish", "Effect": "Allow",
             "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic_arn,
             "Condition": {"ArnLike": {"aws:SourceArn": account.arn("events", f"rule/{name_pattern}")}}},
            {"Sid": "ThisStacksCloudWatchAlarmsPublish", "Effect": "Allow",
             "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic_arn,
             "Condition": {"ArnLike": {"aws:SourceArn": account.arn("cloudwatch", f"alarm:{name_pattern}")},
                           "StringEquals": {"aws:SourceAccount": account.account_id}}},
            # SNS Developer Guide, "Amazon SNS security best practices": enforce encryption of
            # data in transit. Service publishers call over TLS; a request without the key
            # (no aws:SecureTransport) does not match the condition.
            {"Sid": "DenyPublishWithoutTls", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
             "Resource": topic_arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    }
