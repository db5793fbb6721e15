"""Serving: one SageMaker endpoint per model, made from the registered versions config names.

Config is the single source of truth for what serves (`endpoint.variants[].modelVersion`,
written by `automation/models.py rollout`): each variant gets a SageMaker model created from its
model package, so the image and artifact are exactly the ones that were evaluated and
registered. A model with no version configured yet has no endpoint at all (a new environment
has nothing trained); it appears once a version is set.

Instance endpoints (prod) roll out blue/green: a canary of the new fleet takes traffic first and
SageMaker rolls back by itself if the endpoint's own alarms (5xx answers, p99 model latency, one
pair per variant with EndpointName and VariantName dimensions) fire while it bakes; then the rest
shifts, and the old fleet goes after a final bake. Each variant scales on invocations per
instance. Serverless endpoints (dev, previews) have none of this: deployment guardrails apply to
real-time and asynchronous endpoints only (SageMaker Developer Guide, "Deployment guardrails for
updating models in production"), and a serverless endpoint scales by itself. It updates the
default way, the new configuration made healthy before all traffic moves to it. It also cannot
capture data, serve several variants or run network-isolated (Serverless Inference, "Feature
exclusions"): config refuses the first two (components/config.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import inference_policies, options, training_policies
from components.config import ModelConfig, PlatformConfig, VariantConfig
from components.documents import Account, account_of, json_of
from components.metrics_catalogue import CATALOGUE
from containers.contracts.serving import CSV, JSON

# Blue/green with a canary: one small step exposes a bad version to a tenth of the fleet while
# the alarms watch, then the rest shifts at once; linear steps would keep a bad version exposed
# longer before the same alarms catch it. SageMaker sizes the canary from the new fleet, at most
# half of it (BlueGreenUpdatePolicy, TrafficRoutingConfig.CanarySize).
CANARY_PERCENT = 10
BAKE_SECONDS = 600  # the canary's bake, then the final bake (TerminationWaitInSeconds)
# Within the provider's own 60-minute wait for the endpoint (its waitEndpointInService), so a
# rollout that SageMaker gives up on is reported by the deploy, not by a provider timeout.
ROLLOUT_TIMEOUT_SECONDS = 3600
# Rollback alarms judge one-minute periods so a bad canary is caught within its bake. The
# server answers 4xx for anything a client sends (containers/inference/), so a 5xx is the
# version failing.
ROLLBACK_METRICS = ("endpoint.invocation_5xx_errors", "endpoint.model_latency")  # metrics_catalogue.py keys
ROLLBACK_PERIOD_SECONDS = 60
ROLLBACK_5XX_ERRORS = 1
ROLLBACK_P99_LATENCY_MS = 500
ROLLBACK_PERIODS = 2
# Target tracking: scale out within a minute of a burst, scale in slowly so a short lull does not
# drop capacity the next burst needs.
SCALE_OUT_COOLDOWN_SECONDS = 60
SCALE_IN_COOLDOWN_SECONDS = 600
# An experiment's challenger is removed when the experiment ends, and SageMaker refuses an update
# that removes a variant registered for autoscaling ("Update endpoints that use auto scaling"); it
# runs at its configured count. Changing a scaled variant's model is allowed.
UNSCALED_VARIANTS = frozenset({"challenger"})
# What the server reads and answers (containers/contracts/serving.py): captured as text, not base64.
CAPTURE_CONTENT_TYPES = {"csv_content_types": [CSV], "json_content_types": [JSON]}


def endpoint_name(cfg: PlatformConfig, model: str) -> str:
    """`<project>-<stack>-<model>-endpoint`: config checks it fits SageMaker's 63 characters."""
    return cfg.namer.name(f"{model}-endpoint", "sagemaker")


def rollback_alarm_names(cfg: PlatformConfig, model: str, variant: str) -> tuple[str, str]:
    """(5xx errors, p99 model latency) alarms that roll a deployment of `variant` back."""
    return (cfg.namer.name(f"{model}-{variant}-rollback-5xx", "alarm"),
            cfg.namer.name(f"{model}-{variant}-rollback-latency", "alarm"))


def model_name(model: str, variant: VariantConfig, serverless: bool) -> str:
    """A variant's SageMaker model, before the namer adds project and stack. It changes with
    everything that replaces the model (its version; network isolation, which serverless
    endpoints refuse), so a replacement is created under a new name before the old one goes."""
    return f"{model}-{variant.name}-v{variant.model_version}" + ("-serverless" if serverless else "")


def package_arn(account: Account, group: str, version: int) -> str:
    """A registered version's ARN (model package group names appear lowercased in ARNs)."""
    return account.arn("sagemaker", f"model-package/{group.lower()}/{version}")


def serves(model: ModelConfig) -> bool:
    """Whether `model` has an endpoint: every variant names a registered version (config makes
    that all or none)."""
    return all(v.model_version is not None for v in model.endpoint.variants)


@dataclass
class InferenceEndpointArgs:
    kms_key_arn: pulumi.Input[str]
    model_package_group: pulumi.Input[str]  # the model's group name (ModelRegistry.group_names)
    artifact_bucket_arn: pulumi.Input[str]
    inference_repository_arn: pulumi.Input[str]
    # The stack's capture bucket; None when the endpoint captures nothing (serverless).
    capture_bucket_name: pulumi.Input[str] | None = None
    capture_bucket_arn: pulumi.Input[str] | None = None


class InferenceEndpoint(pulumi.ComponentResource):
    endpoint: aws.sagemaker.Endpoint
    endpoint_name: pulumi.Output[str]
    # DataCaptureConfig.DestinationS3Uri (`s3://<capture bucket>/capture`; SageMaker appends
    # `<endpoint>/<variant>/yyyy/mm/dd/hh/`), this endpoint's key prefix under it
    # (`capture/<endpoint>/`) and the two as one location; all None when it captures nothing.
    capture_uri: pulumi.Output[str] | None
    capture_prefix: str | None
    capture_location: pulumi.Output[str] | None

    def __init__(self, name: str, cfg: PlatformConfig, model: ModelConfig, args: InferenceEndpointArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:InferenceEndpoint", name, None, opts)
        if not serves(model):
            raise ValueError(f"model {model.name!r} has no modelVersion configured: it has no endpoint yet")
        self._name, self._cfg, self._model, self._args = name, cfg, model, args
        self._endpoint = model.endpoint
        self._physical_name = endpoint_name(cfg, model.name)
        self._account = account_of(self, cfg.region)
        self._captures = not self._endpoint.serverless and self._endpoint.data_capture_percent > 0
        if self._captures and args.capture_bucket_name is None:
            raise ValueError(f"model {model.name!r}: an instance endpoint captures data, so it needs the capture bucket")
        self._describe_capture()

        role = self._create_role()
        models = {variant.name: self._create_model(variant, role) for variant in self._endpoint.variants}
        config = self._create_configuration(models)
        alarms = [] if self._endpoint.serverless else self._create_rollback_alarms()
        self.endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=self._physical_name,
            endpoint_config_name=config.name,
            deployment_config=None if self._endpoint.serverless else self._deployment_config(),
            # The rollback alarms must exist before SageMaker is told to watch them.
            opts=options.child(self, depends_on=alarms),
        )
        self.endpoint_name = self.endpoint.name
        if not self._endpoint.serverless:
            self._create_autoscaling()
        self.register_outputs({"endpoint_name": self.endpoint_name, "capture_uri": self.capture_uri,
                               "capture_prefix": self.capture_prefix, "capture_location": self.capture_location})

    def _describe_capture(self) -> None:
        if not self._captures:
            self.capture_uri = self.capture_prefix = self.capture_location = None
            return
        self.capture_uri = pulumi.Output.from_input(self._args.capture_bucket_name).apply(inference_policies.capture_uri)
        self.capture_prefix = inference_policies.capture_prefix(self._physical_name)
        self.capture_location = pulumi.Output.from_input(self._args.capture_bucket_name).apply(
            lambda bucket: f"s3://{bucket}/{self.capture_prefix}")

    def _create_role(self) -> aws.iam.Role:
        cfg, name, args = self._cfg, self._name, self._args
        role = aws.iam.Role(
            f"{name}-role",
            name=cfg.namer.name(f"{self._model.name}-endpoint", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: SageMaker hosting of model '{self._model.name}'",
            # No aws:SourceAccount condition: SageMaker assumes the role for the model itself.
            assume_role_policy=json.dumps(training_policies.trust_policy("sagemaker.amazonaws.com")),
            opts=options.child(self),
        )
        self._access = aws.iam.RolePolicy(
            f"{name}-access",
            role=role.id,
            policy=json_of(inference_policies.endpoint_role_policy, account=self._account, model=self._model.name,
                           endpoint_name=self._physical_name, artifact_bucket_arn=args.artifact_bucket_arn,
                           repository_arn=args.inference_repository_arn, key_arn=args.kms_key_arn,
                           rollback_alarm_names=self._rollback_alarm_names(),
                           capture_bucket_arn=args.capture_bucket_arn if self._captures else None),
            opts=options.child(self),
        )
        return role

    def _create_model(self, variant: VariantConfig, role: aws.iam.Role) -> aws.sagemaker.Model:
        package = pulumi.Output.all(self._account, self._args.model_package_group).apply(
            lambda v, version=variant.model_version: package_arn(v[0], v[1], version))
        return aws.sagemaker.Model(
            f"{self._name}-{variant.name}-model",
            name=self._cfg.namer.name(model_name(self._model.name, variant, self._endpoint.serverless), "sagemaker"),
            execution_role_arn=role.arn,
            primary_container={"model_package_name": package},
            # The server needs no network; serverless endpoints refuse isolation.
            enable_network_isolation=not self._endpoint.serverless,
            opts=options.child(self, depends_on=[self._access]),
        )

    def _production_variant(self, variant: VariantConfig, model: aws.sagemaker.Model) -> dict:
        endpoint = self._endpoint
        shared = {"variant_name": variant.name, "model_name": model.name, "initial_variant_weight": variant.weight}
        if endpoint.serverless:
            return {**shared, "serverless_config": {"memory_size_in_mb": endpoint.serverless_memory_mb,
                                                    "max_concurrency": endpoint.serverless_max_concurrency}}
        return {**shared, "instance_type": endpoint.instance_type, "initial_instance_count": endpoint.instance_count}

    def _create_configuration(self, models: dict[str, aws.sagemaker.Model]) -> aws.sagemaker.EndpointConfiguration:
        endpoint, args = self._endpoint, self._args
        capture = None
        if self._captures:
            capture = {
                "enable_capture": True,
                "initial_sampling_percentage": endpoint.data_capture_percent,
                "destination_s3_uri": self.capture_uri,
                "kms_key_id": args.kms_key_arn,
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
                "capture_content_type_header": CAPTURE_CONTENT_TYPES,
            }
        # Endpoint configurations cannot change in AWS: every change is a new one, created before
        # the old is deleted, so the name is a prefix the provider completes uniquely.
        return aws.sagemaker.EndpointConfiguration(
            f"{self._name}-config",
            name_prefix=self._cfg.namer.name(f"{self._model.name}-", "sagemaker_prefix"),
            production_variants=[self._production_variant(v, models[v.name]) for v in endpoint.variants],
            data_capture_config=capture,
            # Encrypts the instances' ML storage volumes; serverless endpoints have none.
            kms_key_arn=None if endpoint.serverless else args.kms_key_arn,
            opts=options.child(self),
        )

    def _create_rollback_alarms(self) -> list[aws.cloudwatch.MetricAlarm]:
        errors, latency = CATALOGUE[ROLLBACK_METRICS[0]], CATALOGUE[ROLLBACK_METRICS[1]]
        alarms = []
        for variant in self._endpoint.variants:
            where = {"EndpointName": self._physical_name, "VariantName": variant.name}
            errors_name, latency_name = rollback_alarm_names(self._cfg, self._model.name, variant.name)
            shared = {
                "period": ROLLBACK_PERIOD_SECONDS, "evaluation_periods": ROLLBACK_PERIODS,
                # No traffic while a fleet bakes is not a failure of the new version.
                "treat_missing_data": "notBreaching",
                # SageMaker reads their state (cloudwatch:DescribeAlarms with the execution role);
                # they need no action, and one 5xx minute is no reason to email anyone. People hear
                # from Monitoring's alarms on the same metrics, which judge a sustained rate, and
                # from the deploy that rolled back (docs/architecture.md, "Serving").
                "actions_enabled": False,
            }
            alarms.append(aws.cloudwatch.MetricAlarm(
                f"{self._name}-{variant.name}-rollback-5xx",
                name=errors_name,
                alarm_description=f"Rolls back a deployment of {self._physical_name}: variant {variant.name} answered 5xx "
                                  "(docs/troubleshooting.md, 'When a rollout rolls back')",
                namespace=errors.namespace, metric_name=errors.name, dimensions=errors.dimensioned(**where), statistic="Sum",
                threshold=ROLLBACK_5XX_ERRORS, comparison_operator="GreaterThanOrEqualToThreshold",
                datapoints_to_alarm=1, **shared, opts=options.child(self)))
            alarms.append(aws.cloudwatch.MetricAlarm(
                f"{self._name}-{variant.name}-rollback-latency",
                name=latency_name,
                alarm_description=f"Rolls back a deployment of {self._physical_name}: variant {variant.name}'s p99 model "
                                  f"latency above {ROLLBACK_P99_LATENCY_MS} ms (docs/troubleshooting.md, 'When a rollout rolls back')",
                namespace=latency.namespace, metric_name=latency.name, dimensions=latency.dimensioned(**where),
                extended_statistic="p99",
                threshold=ROLLBACK_P99_LATENCY_MS * 1000,  # ModelLatency is in microseconds
                comparison_operator="GreaterThanThreshold", datapoints_to_alarm=ROLLBACK_PERIODS, **shared,
                opts=options.child(self)))
        return alarms

    def _rollback_alarm_names(self) -> list[str]:
        """Two per variant (5xx errors, p99 latency); none on a serverless endpoint."""
        if self._endpoint.serverless:
            return []
        return [name for v in self._endpoint.variants for name in rollback_alarm_names(self._cfg, self._model.name, v.name)]

    def _deployment_config(self) -> dict:
        return {
            "blue_green_update_policy": {
                "traffic_routing_configuration": {
                    "type": "CANARY",
                    "canary_size": {"type": "CAPACITY_PERCENT", "value": CANARY_PERCENT},
                    "wait_interval_in_seconds": BAKE_SECONDS,
                },
                "termination_wait_in_seconds": BAKE_SECONDS,
                "maximum_execution_timeout_in_seconds": ROLLOUT_TIMEOUT_SECONDS,
            },
            "auto_rollback_configuration": {"alarms": [{"alarm_name": n} for n in self._rollback_alarm_names()]},
        }

    def _create_autoscaling(self) -> None:
        scaling = self._endpoint.autoscaling
        for variant in self._endpoint.variants:
            if variant.name in UNSCALED_VARIANTS:
                continue
            target = aws.appautoscaling.Target(
                f"{self._name}-{variant.name}-scaling",
                service_namespace="sagemaker",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                resource_id=self.endpoint.name.apply(lambda n, v=variant.name: f"endpoint/{n}/variant/{v}"),
                min_capacity=scaling.min_capacity,
                max_capacity=scaling.max_capacity,
                opts=options.child(self),
            )
            aws.appautoscaling.Policy(
                f"{self._name}-{variant.name}-scaling-policy",
                name=self._cfg.namer.name(f"{self._model.name}-{variant.name}-invocations", "sagemaker"),
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={
                    "target_value": scaling.target_invocations_per_instance,
                    "predefined_metric_specification": {"predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
                    "scale_in_cooldown": SCALE_IN_COOLDOWN_SECONDS,
                    "scale_out_cooldown": SCALE_OUT_COOLDOWN_SECONDS,
                },
                opts=options.child(self),
            )
