"""Monitoring: for now the platform's alert topic; dashboards, alarms and drift detection join it
in later issues.

The topic is where every part of the platform tells people something happened: the training
pipeline's outcomes now, alarms and drift later. It is encrypted with the platform key, whose
policy lets EventBridge and CloudWatch encrypt for this stack's topics (kms.py); its topic policy
lets this stack's EventBridge rules and CloudWatch alarms publish, and this account's IAM
principals use it (monitoring_policies.py). It is stateful: a replaced topic loses its confirmed
email subscriptions, so prod protects and retains it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import monitoring_policies, options
from components.config import PlatformConfig
from components.documents import account_of, json_of


@dataclass
class MonitoringArgs:
    kms_key_arn: pulumi.Input[str]


class Monitoring(pulumi.ComponentResource):
    alert_topic: aws.sns.Topic
    alert_topic_arn: pulumi.Output[str]

    def __init__(self, name: str, cfg: PlatformConfig, args: MonitoringArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:Monitoring", name, None, opts)
        self.alert_topic = aws.sns.Topic(
            f"{name}-alerts",
            name=cfg.namer.name("alerts", "sns"),
            display_name=f"{cfg.project} {cfg.stack} alerts",
            kms_master_key_id=args.kms_key_arn,
            opts=options.stateful(self, cfg, aliases=options.formerly("alerts")),
        )
        self.alert_topic_policy = aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=self.alert_topic.arn,
            policy=json_of(monitoring_policies.alert_topic_policy, topic_arn=self.alert_topic.arn,
                           account=account_of(self, cfg.region), name_pattern=cfg.namer.pattern()),
            opts=options.child(self),
        )
        # Email subscriptions stay pending until the recipient clicks the confirmation link
        # SNS sends on creation. Each is named after a hash of its address (not its position),
        # so adding or removing one address never replaces the others' confirmed subscriptions.
        self.subscriptions = []
        for email in dict.fromkeys(cfg.alerting.emails):
            suffix = f"alerts-email-{hashlib.sha256(email.lower().encode()).hexdigest()[:8]}"
            self.subscriptions.append(aws.sns.TopicSubscription(
                f"{name}-{suffix}",
                topic=self.alert_topic.arn,
                protocol="email",
                endpoint=email,
                opts=options.child(self, aliases=options.formerly(suffix)),
            ))
        self.alert_topic_arn = self.alert_topic.arn
        self.register_outputs({"alert_topic_arn": self.alert_topic_arn})
