"""mlops-platform: one environment of the MLOps platform, composed from the stack's config.

`pulumi up --stack dev` and `python automation/deploy.py dev` both run this file.
"""

import pulumi
import pulumi_aws as aws

from components import config as platform_config
from components.kms import PlatformKey
from components.monitoring import Monitoring, MonitoringArgs
from components.registry import ModelRegistry
from components.training_pipeline import TrainingPipeline, TrainingPipelineArgs

# Validates everything first: a bad config stops here, before any resource is registered.
cfg = platform_config.load()

# One provider for the whole stack, so every taggable resource carries the platform's tags.
provider = aws.Provider("aws", region=cfg.region, default_tags={"tags": cfg.tags})
platform_opts = pulumi.ResourceOptions(providers=[provider])

key = PlatformKey("platform", cfg, opts=platform_opts)
monitoring = Monitoring("monitoring", cfg, MonitoringArgs(kms_key_arn=key.arn), opts=platform_opts)
registry = ModelRegistry("registry", cfg, opts=platform_opts)
training = TrainingPipeline(
    "training", cfg,
    TrainingPipelineArgs(kms_key_arn=key.arn, alert_topic_arn=monitoring.alert_topic_arn,
                         model_package_groups=registry.group_names),
    opts=platform_opts,
)

pulumi.export("environment", cfg.environment)
pulumi.export("kms_key_arn", key.arn)
pulumi.export("data_bucket", training.data_bucket.name)
pulumi.export("artifact_bucket", training.artifact_bucket.name)
pulumi.export("training_repository_url", training.repository.repository_url)
pulumi.export("training_image_uri", training.image_uri)
pulumi.export("training_state_machine_arn", training.state_machine_arn)
pulumi.export("alert_topic_arn", monitoring.alert_topic_arn)
pulumi.export("model_package_groups", registry.group_names)
