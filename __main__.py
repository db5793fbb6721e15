"""mlops-platform: one environment of the MLOps platform, composed from the stack's config.

`pulumi up --stack dev` and `python automation/deploy.py dev` both run this file.
"""

import pulumi
import pulumi_aws as aws

from components import config as platform_config
from components.bucket import SecureBucket, SecureBucketArgs
from components.drift import ObservedEndpoint, ObservedVariant
from components.feature_store import FeatureStore, FeatureStoreArgs
from components.inference_endpoint import InferenceEndpoint, InferenceEndpointArgs, serves
from components.kms import PlatformKey
from components.monitoring import Monitoring, MonitoringArgs, Observed
from components.promotion import Promotion
from components.registry import ModelRegistry, ModelRegistryArgs
from components.training_pipeline import TrainingPipeline, TrainingPipelineArgs

# Validates everything first: a bad config stops here, before any resource is registered.
cfg = platform_config.load()
CAPTURE_DAYS = 90  # captured requests are kept for drift analysis this long

# One provider for the whole stack, so every taggable resource carries the platform's tags.
provider = aws.Provider("aws", region=cfg.region, default_tags={"tags": cfg.tags})
platform_opts = pulumi.ResourceOptions(providers=[provider])

key = PlatformKey("platform", cfg, opts=platform_opts)
monitoring = Monitoring("monitoring", cfg, MonitoringArgs(kms_key_arn=key.arn), opts=platform_opts)
registry = ModelRegistry("registry", cfg, ModelRegistryArgs(alert_topic_arn=monitoring.alert_topic_arn),
                         opts=platform_opts)
training = TrainingPipeline(
    "training", cfg,
    TrainingPipelineArgs(kms_key_arn=key.arn, alert_topic_arn=monitoring.alert_topic_arn,
                         model_package_groups=registry.group_names),
    opts=platform_opts,
)
features = FeatureStore("features", cfg, FeatureStoreArgs(kms_key_arn=key.arn, alert_topic_arn=monitoring.alert_topic_arn),
                        opts=platform_opts)
# One endpoint per model with a registered version configured (none in a new environment).
serving = [model for model in cfg.models if serves(model)]
capturing = [model for model in serving if not model.endpoint.serverless and model.endpoint.data_capture_percent > 0]
# Captured requests of every endpoint (capture/<endpoint>/<variant>/...) and the drift reports.
capture = SecureBucket("capture", cfg, SecureBucketArgs(kms_key_arn=key.arn, purpose="capture",
                                                        expire_prefixes={"capture/": CAPTURE_DAYS}),
                       opts=platform_opts) if capturing else None
endpoints = {
    model.name: InferenceEndpoint(f"{model.name}-serving", cfg, model, InferenceEndpointArgs(
        kms_key_arn=key.arn,
        model_package_group=registry.group_names[model.name], artifact_bucket_arn=training.artifact_bucket.arn,
        inference_repository_arn=training.inference.repository.arn,
        capture_bucket_name=capture.name if capture and model in capturing else None,
        capture_bucket_arn=capture.arn if capture and model in capturing else None,
    ), opts=platform_opts)
    for model in serving
}
# The promotion pipeline of each endpoint that runs an A/B experiment (none without one).
promotions = Promotion.for_experiments(cfg, {name: endpoint.endpoint_name for name, endpoint in endpoints.items()},
                                       monitoring.alert_topic_arn, key.arn, opts=platform_opts)
# Dashboards, alarms, drift detection, archiving and scan alerts, once everything they watch exists.
monitoring.observe(Observed(
    training_state_machine_arn=training.state_machine_arn,
    artifact_bucket_arn=training.artifact_bucket.arn,
    model_package_groups=registry.group_names,
    image_repositories=[training.repository.name, training.inference.repository.name],
    feature_groups=features.group_names,
    endpoints=[ObservedEndpoint(
        model=model.name, endpoint_name=endpoints[model.name].endpoint_name,
        variants=[ObservedVariant(v.name, v.model_version) for v in model.endpoint.variants],
        serverless=model.endpoint.serverless, capture_uri=endpoints[model.name].capture_uri,
        capture_bucket_arn=capture.arn if capture and model in capturing else None,
    ) for model in serving],
    report_bucket_name=capture.name if capture else None,
    report_bucket_arn=capture.arn if capture else None,
))

pulumi.export("environment", cfg.environment)
pulumi.export("kms_key_arn", key.arn)
pulumi.export("data_bucket", training.data_bucket.name)
pulumi.export("artifact_bucket", training.artifact_bucket.name)
pulumi.export("training_repository_url", training.repository.repository_url)
pulumi.export("training_image_uri", training.image_uri)
pulumi.export("inference_repository_url", training.inference.repository.repository_url)
pulumi.export("inference_image_uri", training.inference.uri)
pulumi.export("training_state_machine_arn", training.state_machine_arn)
pulumi.export("alert_topic_arn", monitoring.alert_topic_arn)
pulumi.export("model_package_groups", registry.group_names)
pulumi.export("feature_groups", features.group_names)
if features.bucket:
    pulumi.export("feature_store_bucket", features.bucket.name)
    pulumi.export("feature_ingest_function", features.ingestion.name)
    pulumi.export("feature_freshness_function", features.freshness.name)
pulumi.export("endpoints", {model: endpoint.endpoint_name for model, endpoint in endpoints.items()})
if promotions:
    pulumi.export("promotion_state_machines", {model: p.state_machine_arn for model, p in promotions.items()})
# Said in every plan and `pulumi up`, so a missing endpoint is never a surprise.
pulumi.export("endpoints_not_deployed", {
    model.name: "no registered version configured: set endpoint.variants[].modelVersion (automation/models.py rollout)"
    for model in cfg.models if not serves(model)})
if capture:
    pulumi.export("capture_bucket", capture.name)
    # Where each capturing endpoint's requests land: s3://<capture_bucket>/capture/<endpoint>/<variant>/yyyy/mm/dd/hh/.
    pulumi.export("endpoint_captures", {model: e.capture_location for model, e in endpoints.items() if e.capture_location})
