"""The training pipeline: where training data and model artifacts live, and (growing) the
Step Functions pipeline around SageMaker training jobs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import options
from components.bucket import SecureBucket, SecureBucketArgs
from components.config import PlatformConfig


@dataclass
class TrainingPipelineArgs:
    kms_key_arn: pulumi.Input[str]


class TrainingPipeline(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: PlatformConfig, args: TrainingPipelineArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:TrainingPipeline", name, None, opts)
        self.data_bucket = SecureBucket("data", cfg, SecureBucketArgs(kms_key_arn=args.kms_key_arn),
                                        opts=options.child(self))
        self.artifact_bucket = SecureBucket("artifacts", cfg, SecureBucketArgs(kms_key_arn=args.kms_key_arn),
                                            opts=options.child(self))
        self.register_outputs({
            "data_bucket": self.data_bucket.name,
            "artifact_bucket": self.artifact_bucket.name,
        })
