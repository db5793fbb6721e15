"""Monitoring: for now the platform's alert topic; dashboards, alarms and drift detection join it
in later issues.

The topic is where every part of the platform tells people something happened: the training
pipeline's outcomes now, alarms and drift later. It is encrypted with the platform key (the key
policy already lets SNS, EventBridge and CloudWatch use it for this account) and is stateful: a
replaced topic loses its confirmed email subscriptions, so prod protects and retains it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import options
from components.config import PlatformConfig


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
            "alerts",
            name=cfg.namer.name("alerts", "sns"),
            display_name=f"{cfg.project} {cfg.stack} alerts",
            kms_master_key_id=args.kms_key_arn,
            opts=options.stateful(self, cfg),
        )
        # Email subscriptions stay pending until the recipient clicks the confirmation link
        # SNS sends on creation. Each is named after a hash of its address (not its position),
        # so adding or removing one address never replaces the others' confirmed subscriptions.
        self.subscriptions = [
            aws.sns.TopicSubscription(
                f"alerts-email-{hashlib.sha256(email.lower().encode()).hexdigest()[:8]}",
                topic=self.alert_topic.arn,
                protocol="email",
                endpoint=email,
                opts=options.child(self),
            )
            for email in dict.fromkeys(cfg.alerting.emails)
        ]
        self.alert_topic_arn = self.alert_topic.arn
        self.register_outputs({"alert_topic_arn": self.alert_topic_arn})
