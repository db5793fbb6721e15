"""The training pipeline: training data and artifact buckets, the training and inference images
and their repositories, least-privilege roles, the Step Functions state machine around SageMaker training
jobs (components/training_workflow.py builds its definition), and scheduled retraining."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from components import container_image, options, training_policies, training_workflow
from components.bucket import SecureBucket, SecureBucketArgs
from components.config import PlatformConfig
from components.documents import account_of, json_of

# The training image's build inputs (components/container_image.py makes both platform images).
TRAINING_CONTEXT = container_image.CONTEXT
TRAINING_DOCKERFILE = "containers/training/Dockerfile"
TRAINING_BUILD = container_image.build_settings(TRAINING_DOCKERFILE)
# The image registered with every model version and run by its endpoints (containers/inference/).
INFERENCE_DOCKERFILE = "containers/inference/Dockerfile"
ROOT = container_image.ROOT


@dataclass
class TrainingPipelineArgs:
    kms_key_arn: pulumi.Input[str]
    # The Monitoring component's topic: every run's outcome is published there.
    alert_topic_arn: pulumi.Input[str]
    # model name -> model package group name (ModelRegistry.group_names).
    model_package_groups: Mapping[str, pulumi.Input[str]]


class TrainingPipeline(pulumi.ComponentResource):
    data_bucket: SecureBucket
    artifact_bucket: SecureBucket
    repository: aws.ecr.Repository
    image: docker_build.Image
    image_uri: pulumi.Output[str]
    state_machine: aws.sfn.StateMachine
    state_machine_arn: pulumi.Output[str]
    schedules: dict[str, aws.cloudwatch.EventRule]

    def __init__(self, name: str, cfg: PlatformConfig, args: TrainingPipelineArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:TrainingPipeline", name, None, opts)
        self._name, self._cfg = name, cfg
        self._key_arn = pulumi.Output.from_input(args.kms_key_arn)
        self._account = account_of(self, cfg.region)
        self._job_prefixes = [training_workflow.job_prefix(cfg, m.name) for m in cfg.models]
        self._groups = pulumi.Output.all(**dict(args.model_package_groups))

        self.data_bucket = self._create_bucket("data")
        self.artifact_bucket = self._create_bucket("artifacts")
        self._create_images()
        training_role = self._create_training_role()
        pipeline_role, pipeline_access = self._create_pipeline_role(training_role, args.alert_topic_arn)
        self._create_state_machine(training_role, pipeline_role, pipeline_access, args.alert_topic_arn)
        self.schedules = self._create_schedules()

        self.register_outputs({
            "data_bucket": self.data_bucket.name,
            "artifact_bucket": self.artifact_bucket.name,
            "repository_url": self.repository.repository_url,
            "image_uri": self.image_uri,
            "inference_image_uri": self.inference.uri,
            "state_machine_arn": self.state_machine_arn,
        })

    def _create_bucket(self, purpose: str) -> SecureBucket:
        # Named `purpose` alone before children were named after their component.
        return SecureBucket(f"{self._name}-{purpose}", self._cfg,
                            SecureBucketArgs(kms_key_arn=self._key_arn, purpose=purpose),
                            opts=options.child(self, aliases=options.formerly(purpose)))

    def _create_images(self) -> None:
        """The training image, and the inference image every registered version names."""
        training = container_image.create(self, self._cfg, resource_name=self._name, purpose="training",
                                          dockerfile=TRAINING_DOCKERFILE, kms_key_arn=self._key_arn)
        self.repository, self.image, self.image_tag, self.image_uri = (
            training.repository, training.image, training.tag, training.uri)
        self.inference = container_image.create(self, self._cfg, resource_name=f"{self._name}-inference",
                                                purpose="inference", dockerfile=INFERENCE_DOCKERFILE,
                                                kms_key_arn=self._key_arn)

    def _create_training_role(self) -> aws.iam.Role:
        cfg, name = self._cfg, self._name
        role = aws.iam.Role(
            f"{name}-job-role",
            name=cfg.namer.name("training-job", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: SageMaker training jobs of the training pipeline",
            # No aws:SourceAccount condition: SageMaker assumes the role for the job itself.
            assume_role_policy=json.dumps(training_policies.trust_policy("sagemaker.amazonaws.com")),
            opts=options.child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-job-access",
            role=role.id,
            policy=json_of(training_policies.training_role_policy, account=self._account,
                           models=[m.name for m in cfg.models], job_prefixes=self._job_prefixes,
                           data_bucket_arn=self.data_bucket.arn, artifact_bucket_arn=self.artifact_bucket.arn,
                           key_arn=self._key_arn, repository_arn=self.repository.arn),
            opts=options.child(self),
        )
        return role

    def _create_pipeline_role(self, training_role: aws.iam.Role,
                              topic_arn: pulumi.Input[str]) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        cfg, name = self._cfg, self._name
        machine_name = cfg.namer.name("training", "state_machine")
        role = aws.iam.Role(
            f"{name}-pipeline-role",
            name=cfg.namer.name("training-pipeline", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: the training pipeline state machine",
            assume_role_policy=self._account.apply(lambda a: json.dumps(training_policies.trust_policy(
                "states.amazonaws.com", a, [a.arn("states", f"stateMachine:{machine_name}")]))),
            opts=options.child(self),
        )
        models = [m.name for m in cfg.models]
        access = aws.iam.RolePolicy(
            f"{name}-pipeline-access",
            role=role.id,
            policy=json_of(training_policies.state_machine_policy, account=self._account,
                           job_prefixes=self._job_prefixes, training_role_arn=training_role.arn,
                           package_groups=self._groups.apply(lambda groups: [groups[m] for m in models]),
                           topic_arn=topic_arn, key_arn=self._key_arn),
            opts=options.child(self),
        )
        return role, access

    def _create_state_machine(self, training_role: aws.iam.Role, pipeline_role: aws.iam.Role,
                              pipeline_access: aws.iam.RolePolicy, topic_arn: pulumi.Input[str]) -> None:
        cfg, name = self._cfg, self._name
        # Stateful: execution logs are the history of every training run.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-pipeline-logs",
            # /aws/vendedlogs/ keeps CloudWatch Logs' resource policy small (AWS's advice for
            # Step Functions logging).
            name=f"/aws/vendedlogs/states/{cfg.namer.name('training', 'log_group')}",
            retention_in_days=cfg.retention.log_retention_days,
            kms_key_id=self._key_arn,
            opts=options.stateful(self, cfg),
        )
        definition = pulumi.Output.all(
            image_uri=self.image_uri, inference_image_uri=self.inference.uri,
            training_role_arn=training_role.arn, kms_key_arn=self._key_arn,
            topic_arn=topic_arn, data_bucket=self.data_bucket.name,
            artifact_bucket=self.artifact_bucket.name, package_groups=self._groups,
            partition=self._account.apply(lambda account: account.partition),
        ).apply(lambda v: json.dumps(training_workflow.definition(training_workflow.spec_for(cfg, **v)), indent=2))
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-pipeline",
            name=cfg.namer.name("training", "state_machine"),
            type="STANDARD",  # `.sync` waits need standard workflows
            role_arn=pipeline_role.arn,
            definition=definition,
            logging_configuration={
                "log_destination": pulumi.Output.concat(log_group.arn, ":*"),
                "include_execution_data": True,
                "level": "ALL",
            },
            tracing_configuration={"enabled": True},
            # Step Functions checks the role can deliver logs when the machine is created; the
            # images must be pushed before any run can pull or register them.
            opts=options.child(self, depends_on=[pipeline_access, self.image, self.inference.image]),
        )
        self.state_machine_arn = self.state_machine.arn

    def _create_schedules(self) -> dict[str, aws.cloudwatch.EventRule]:
        """One EventBridge rule per model with a retraining schedule, and the role they start
        the state machine with (none when no model has a schedule)."""
        cfg, name = self._cfg, self._name
        scheduled = [m for m in cfg.models if m.retrain_schedule]
        if not scheduled:
            return {}
        rule_names = {m.name: cfg.namer.name(f"{m.name}-retrain", "events_rule") for m in scheduled}
        role = aws.iam.Role(
            f"{name}-schedule-role",
            name=cfg.namer.name("training-schedule", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: EventBridge schedules that start the training pipeline",
            assume_role_policy=self._account.apply(lambda a: json.dumps(training_policies.trust_policy(
                "events.amazonaws.com", a, [a.arn("events", f"rule/{n}") for n in rule_names.values()]))),
            opts=options.child(self),
        )
        access = aws.iam.RolePolicy(
            f"{name}-schedule-access",
            role=role.id,
            policy=json_of(training_policies.scheduler_policy, state_machine_arn=self.state_machine_arn),
            opts=options.child(self),
        )
        rules = {}
        for model in scheduled:
            rules[model.name] = rule = aws.cloudwatch.EventRule(
                f"{name}-{model.name}-retrain",
                name=rule_names[model.name],
                description=f"Retrain model '{model.name}' on its schedule ({model.retrain_schedule})",
                schedule_expression=model.retrain_schedule,
                opts=options.child(self, aliases=options.formerly(f"{model.name}-retrain")),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{model.name}-retrain-target",
                rule=rule.name,
                arn=self.state_machine_arn,
                role_arn=role.arn,
                # The model's defaults, exactly what an operator gets with no hyperparameters.
                input=json.dumps({"model_name": model.name, "hyperparameters": {}}),
                opts=options.child(self, depends_on=[access],
                                   aliases=options.formerly(f"{model.name}-retrain-target")),
            )
        return rules

