"""Archiving of old model versions: once a day per model package group, the archive function
(functions/archive) keeps the newest `retention.modelVersionsToKeep` versions and every version
an endpoint variant serves or would roll back to, and archives the others reversibly (their
artifacts to S3 Glacier Instant Retrieval, the version marked Archived in the registry; the
module docstring of functions/archive/archive.py has the details and the way back).

The protected versions come from the stack config (`endpoint.variants[].modelVersion` and
`previousModelVersion`), which is what endpoints serve (automation/models.py writes it on every
rollout and rollback): a rollout changes the config and this schedule's input in the same deploy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components import drift_policies, options
from components.config import ModelConfig, PlatformConfig
from components.documents import account_of
from components.lambda_function import LambdaFunction, LambdaFunctionArgs

SCHEDULE = "rate(1 day)"


def protected_versions(model: ModelConfig) -> list[int]:
    """Versions of `model` no run may archive: what its variants serve and would roll back to."""
    found = {v.model_version for v in model.endpoint.variants} | {v.previous_model_version for v in model.endpoint.variants}
    return sorted(version for version in found if version is not None)


def archive_request(cfg: PlatformConfig, model: ModelConfig, group: str, dry_run: bool = False) -> dict[str, object]:
    """The schedule's input: what functions/archive/archive.py `Request.from_event` reads."""
    return {"model_package_group": group, "keep": cfg.retention.model_versions_to_keep,
            "protected_versions": protected_versions(model), "dry_run": dry_run}


class Archiving(pulumi.ComponentResource):
    function: LambdaFunction
    schedules: dict[str, aws.cloudwatch.EventRule]

    def __init__(self, name: str, cfg: PlatformConfig, *, kms_key_arn: pulumi.Input[str],
                 artifact_bucket_arn: pulumi.Input[str], model_package_groups: Mapping[str, pulumi.Input[str]],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:Archiving", name, None, opts)
        models = [m.name for m in cfg.models]
        statements = pulumi.Output.all(
            account=account_of(self, cfg.region), artifact_bucket_arn=artifact_bucket_arn, key_arn=kms_key_arn,
            groups=pulumi.Output.all(*(model_package_groups[m] for m in models)),
        ).apply(lambda v: drift_policies.archive_statements(**v, models=models))
        self.function = LambdaFunction(f"{name}-run", cfg, LambdaFunctionArgs(
            purpose="model-archive", code="archive",
            description=f"Archives model versions beyond the newest {cfg.retention.model_versions_to_keep} that no variant serves",
            kms_key_arn=kms_key_arn, environment={}, statements=statements, timeout_seconds=300, memory_mb=256,
        ), opts=options.child(self))
        self.schedules = {}
        for model in cfg.models:
            self.schedules[model.name] = rule = aws.cloudwatch.EventRule(
                f"{name}-{model.name}-schedule",
                name=cfg.namer.name(f"{model.name}-archive", "events_rule"),
                description=f"Archive old versions of model '{model.name}' ({SCHEDULE})",
                schedule_expression=SCHEDULE,
                opts=options.child(self),
            )
            permission = aws.lambda_.Permission(
                f"{name}-{model.name}-invoke", action="lambda:InvokeFunction", function=self.function.name,
                principal="events.amazonaws.com", source_arn=rule.arn, opts=options.child(self))
            request = pulumi.Output.from_input(model_package_groups[model.name]).apply(
                lambda group, m=model: json.dumps(archive_request(cfg, m, group), sort_keys=True))
            aws.cloudwatch.EventTarget(f"{name}-{model.name}-target", rule=rule.name, arn=self.function.arn,
                                       input=request, opts=options.child(self, depends_on=[permission]))
        self.register_outputs({"function": self.function.name,
                               "schedules": {m: r.name for m, r in self.schedules.items()}})
