"""The model registry: one SageMaker model package group per configured model.

This is its minimal form: the groups the training pipeline registers versions in. Approval
reactions and archiving of old versions join it in a later issue. Groups hold every registered
version and its approval history, so they are stateful: protected and retained in prod.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import options
from components.config import PlatformConfig


def package_group_name(cfg: PlatformConfig, model: str) -> str:
    """`<project>-<stack>-<model>`: config guarantees it fits SageMaker's 63 characters unshortened."""
    return cfg.namer.name(model, "sagemaker")


class ModelRegistry(pulumi.ComponentResource):
    groups: dict[str, aws.sagemaker.ModelPackageGroup]
    group_names: dict[str, pulumi.Output[str]]
    group_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, cfg: PlatformConfig, opts: pulumi.ResourceOptions | None = None):
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
        self.register_outputs({"group_names": self.group_names, "group_arns": self.group_arns})
