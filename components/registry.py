"""The model registry: one SageMaker model package group per configured model, and the alert
that tells people when a version's approval status changes.

Groups hold every registered version and its approval history, so they are stateful: protected
and retained in prod. Versions arrive `Approved` in dev and preview (the training pipeline
registers them so) and `PendingManualApproval` in prod, where `automation/models.py` approves or
rejects them with a reason. Each of those changes, and each new version, reaches the alert topic
through an EventBridge rule on this stack's groups (registry_events.py has the pattern and the
message). Archiving of old versions joins it in a later issue.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import options, registry_events
from components.config import PlatformConfig
from components.documents import json_of


def package_group_name(cfg: PlatformConfig, model: str) -> str:
    """`<project>-<stack>-<model>`: config guarantees it fits SageMaker's 63 characters unshortened."""
    return cfg.namer.name(model, "sagemaker")


@dataclass
class ModelRegistryArgs:
    # Where approval changes are announced; its policy lets this stack's EventBridge rules publish
    # (monitoring_policies.py) and the platform key lets EventBridge encrypt for it (kms.py).
    alert_topic_arn: pulumi.Input[str]


class ModelRegistry(pulumi.ComponentResource):
    groups: dict[str, aws.sagemaker.ModelPackageGroup]
    group_names: dict[str, pulumi.Output[str]]
    group_arns: dict[str, pulumi.Output[str]]
    approval_rule: aws.cloudwatch.EventRule

    def __init__(self, name: str, cfg: PlatformConfig, args: ModelRegistryArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:ModelRegistry", name, None, opts)
        self.groups = {
            model.name: aws.sagemaker.ModelPackageGroup(
                f"{name}-{model.name}-versions",
                model_package_group_name=package_group_name(cfg, model.name),
                model_package_group_description=(
                    f"Versions of model '{model.name}' registered by the {cfg.project} {cfg.stack} training pipeline"),
                # SageMaker cannot change a group's description: a new one replaces the group, and
                # a group holding versions cannot be deleted. So the text is set once, and holds
                # nothing that changes (stacks created before say the threshold they began with).
                opts=options.stateful(self, cfg, aliases=options.formerly(f"{model.name}-versions"),
                                      ignore_changes=["model_package_group_description"]),
            )
            for model in cfg.models
        }
        self.group_names = {model: group.model_package_group_name for model, group in self.groups.items()}
        self.group_arns = {model: group.arn for model, group in self.groups.items()}
        self.approval_rule = self._create_approval_alert(name, cfg, args.alert_topic_arn)
        self.register_outputs({"group_names": self.group_names, "group_arns": self.group_arns,
                               "approval_rule": self.approval_rule.name})

    def _create_approval_alert(self, name: str, cfg: PlatformConfig,
                               alert_topic_arn: pulumi.Input[str]) -> aws.cloudwatch.EventRule:
        """One rule for every group of this stack, publishing a readable message to the alert topic.

        Named by the namer like every rule of the stack, so the topic policy's
        `rule/<project>-<stack>-*` condition lets it publish.
        """
        rule = aws.cloudwatch.EventRule(
            f"{name}-approvals",
            name=cfg.namer.name("model-approvals", "events_rule"),
            description=f"Approval status changes of {cfg.project} {cfg.stack} model versions, to the alert topic",
            event_pattern=json_of(registry_events.approval_event_pattern,
                                  group_names=pulumi.Output.all(*self.group_names.values())),
            opts=options.child(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-approvals-alert",
            rule=rule.name,
            arn=alert_topic_arn,
            input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                input_paths=registry_events.INPUT_PATHS,
                input_template=registry_events.input_template(f"{cfg.project}/{cfg.stack}"),
            ),
            opts=options.child(self),
        )
        return rule
