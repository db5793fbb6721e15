"""The training pipeline: training data and artifact buckets, the training image and its
repository, least-privilege roles, the Step Functions state machine around SageMaker training
jobs (components/training_workflow.py builds its definition), and scheduled retraining."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from components import options, training_policies, training_workflow
from components.bucket import SecureBucket, SecureBucketArgs
from components.config import PlatformConfig
from components.training_policies import Account

ROOT = Path(__file__).resolve().parent.parent
# Relative to the project directory, where `pulumi up` and the Automation API run the program:
# an absolute path would differ between machines and show up as a diff. The context is
# containers/ so the image reaches containers/contracts/ (shared with the inference image);
# containers/training/Dockerfile.dockerignore says what of it is sent.
TRAINING_CONTEXT = "containers"
TRAINING_DOCKERFILE = "containers/training/Dockerfile"
IMAGE_PLATFORM = "linux/amd64"  # SageMaker training hosts are x86_64


@dataclass
class TrainingPipelineArgs:
    kms_key_arn: pulumi.Input[str]
    # The Monitoring component's topic: every run's outcome is published there.
    alert_topic_arn: pulumi.Input[str]
    # model name -> model package group name (ModelRegistry.group_names).
    model_package_groups: Mapping[str, pulumi.Input[str]]


def ignore_file(context: Path, dockerfile: Path) -> Path:
    """The ignore file Docker applies: `<Dockerfile>.dockerignore` if present, else the context's.

    The same precedence as BuildKit and the docker-build provider (its getIgnorePatterns).
    """
    specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
    return specific if specific.exists() else context / ".dockerignore"


def build_context_tag(context: Path, dockerfile: Path, platform: str = IMAGE_PLATFORM) -> str:
    """An image tag that changes whenever the provider would rebuild the image.

    The repository's tags are immutable, so a tag must never be pushed twice (the push would
    fail) and should not change when nothing did (a needless new image and state machine
    update). The docker-build provider rebuilds when its context hash changes: the Dockerfile's
    content, and every file Docker would send with its path, content and full mode string. So
    this hash covers at least that (a superset: whatever changes the provider's hash changes the
    tag): the Dockerfile and the ignore file, every file that might be sent (patterns are read
    generously: one that might include a file includes it), with its path, permission bits and
    content, and the target platform (a different platform is a different image).
    """
    ignore = ignore_file(context, dockerfile)
    patterns = _dockerignore(ignore)
    digest = hashlib.sha256(f"platform={platform}\0".encode())
    for special in (dockerfile, ignore):
        if special.exists():
            digest.update(special.name.encode() + b"\0" + special.read_bytes() + b"\0")
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        relative = path.relative_to(context).as_posix()
        if not _sent_to_docker(relative, patterns):
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        digest.update(f"{relative}\0{mode:o}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return f"src-{digest.hexdigest()[:16]}"


def _dockerignore(path: Path) -> list[tuple[bool, str]]:
    if not path.exists():
        return []
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, line.lstrip("!").lstrip("/").rstrip("/")))
    return rules


def _sent_to_docker(relative: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also matches a file's folders."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negated, pattern in rules:
        alternatives = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(c, p) for c in candidates for p in alternatives):
            included = negated
    return included


def lifecycle_policy(images_to_keep: int) -> dict:
    return {"rules": [{
        "rulePriority": 1,
        "description": f"Keep the newest {images_to_keep} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": images_to_keep},
        "action": {"type": "expire"},
    }]}


class TrainingPipeline(pulumi.ComponentResource):
    data_bucket: SecureBucket
    artifact_bucket: SecureBucket
    repository: aws.ecr.Repository
    image: docker_build.Image
    image_uri: pulumi.Output[str]
    state_machine: aws.sfn.StateMachine
    state_machine_arn: pulumi.Output[str]

    def __init__(self, name: str, cfg: PlatformConfig, args: TrainingPipelineArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:TrainingPipeline", name, None, opts)
        key_arn = pulumi.Output.from_input(args.kms_key_arn)
        namer = cfg.namer
        models = [m.name for m in cfg.models]
        job_prefixes = [training_workflow.job_prefix(cfg, m) for m in models]

        self.data_bucket = SecureBucket("data", cfg, SecureBucketArgs(kms_key_arn=args.kms_key_arn),
                                        opts=options.child(self))
        self.artifact_bucket = SecureBucket("artifacts", cfg, SecureBucketArgs(kms_key_arn=args.kms_key_arn),
                                            opts=options.child(self))

        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        account = pulumi.Output.all(partition.partition, identity.account_id).apply(
            lambda v: Account(partition=v[0], region=cfg.region, account_id=v[1]))

        # --- Training image: repository, lifecycle, build and push ---------------------------
        # Stateful: registered model versions point at these images.
        self.repository = aws.ecr.Repository(
            "training-images",
            name=namer.name("training", "ecr"),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": key_arn}],
            force_delete=cfg.force_destroy,
            opts=options.stateful(self, cfg),
        )
        aws.ecr.LifecyclePolicy(
            "training-images-lifecycle",
            repository=self.repository.name,
            policy=json.dumps(lifecycle_policy(cfg.retention.images_to_keep)),
            opts=options.child(self),
        )
        self.image_tag = build_context_tag(ROOT / TRAINING_CONTEXT, ROOT / TRAINING_DOCKERFILE)
        self.image_uri = pulumi.Output.concat(self.repository.repository_url, ":", self.image_tag)
        token = aws.ecr.get_authorization_token_output(registry_id=self.repository.registry_id, opts=invoke)
        self.image = docker_build.Image(
            "training-image",
            context={"location": TRAINING_CONTEXT},
            dockerfile={"location": TRAINING_DOCKERFILE},
            platforms=[IMAGE_PLATFORM],
            tags=[self.image_uri],
            push=True,
            registries=[{
                "address": self.repository.repository_url.apply(lambda url: url.split("/", 1)[0]),
                "username": token.user_name,
                "password": pulumi.Output.secret(token.password),
            }],
            # Previews (every pull request) must not need a Docker daemon; `up` builds and pushes.
            build_on_preview=False,
            opts=options.child(self),
        )

        # --- Roles -------------------------------------------------------------------------
        training_role = aws.iam.Role(
            "training-job-role",
            name=namer.name("training-job", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: SageMaker training jobs of the training pipeline",
            # No aws:SourceAccount condition: SageMaker assumes the role for the job itself.
            assume_role_policy=json.dumps(training_policies.trust_policy("sagemaker.amazonaws.com")),
            opts=options.child(self),
        )
        aws.iam.RolePolicy(
            "training-job-access",
            role=training_role.id,
            policy=pulumi.Output.all(
                account=account, data=self.data_bucket.arn, artifacts=self.artifact_bucket.arn, key=key_arn,
                repository=self.repository.arn,
            ).apply(lambda v: json.dumps(training_policies.training_role_policy(
                account=v["account"], models=models, job_prefixes=job_prefixes, data_bucket_arn=v["data"],
                artifact_bucket_arn=v["artifacts"], key_arn=v["key"], repository_arn=v["repository"]))),
            opts=options.child(self),
        )

        state_machine_name = namer.name("training", "state_machine")
        pipeline_role = aws.iam.Role(
            "training-pipeline-role",
            name=namer.name("training-pipeline", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: the training pipeline state machine",
            assume_role_policy=account.apply(lambda a: json.dumps(training_policies.trust_policy(
                "states.amazonaws.com", a, [a.arn("states", f"stateMachine:{state_machine_name}")]))),
            opts=options.child(self),
        )
        groups = pulumi.Output.all(**dict(args.model_package_groups))
        pipeline_access = aws.iam.RolePolicy(
            "training-pipeline-access",
            role=pipeline_role.id,
            policy=pulumi.Output.all(
                account=account, training_role=training_role.arn, groups=groups, topic=args.alert_topic_arn,
                key=key_arn,
            ).apply(lambda v: json.dumps(training_policies.state_machine_policy(
                account=v["account"], job_prefixes=job_prefixes, training_role_arn=v["training_role"],
                package_groups=[v["groups"][m] for m in models], topic_arn=v["topic"], key_arn=v["key"]))),
            opts=options.child(self),
        )

        # --- State machine -------------------------------------------------------------------
        # Stateful: execution logs are the history of every training run.
        log_group = aws.cloudwatch.LogGroup(
            "training-pipeline-logs",
            # /aws/vendedlogs/ keeps CloudWatch Logs' resource policy small (AWS's advice for
            # Step Functions logging).
            name=f"/aws/vendedlogs/states/{namer.name('training', 'log_group')}",
            retention_in_days=cfg.retention.log_retention_days,
            kms_key_id=key_arn,
            opts=options.stateful(self, cfg),
        )
        definition = pulumi.Output.all(
            image_uri=self.image_uri, training_role_arn=training_role.arn, kms_key_arn=key_arn,
            topic_arn=args.alert_topic_arn, data_bucket=self.data_bucket.name,
            artifact_bucket=self.artifact_bucket.name, package_groups=groups,
        ).apply(lambda v: json.dumps(training_workflow.definition(training_workflow.spec_for(cfg, **v)), indent=2))
        self.state_machine = aws.sfn.StateMachine(
            "training-pipeline",
            name=state_machine_name,
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
            # image must be pushed before any run can pull it.
            opts=options.child(self, depends_on=[pipeline_access, self.image]),
        )
        self.state_machine_arn = self.state_machine.arn

        # --- Scheduled retraining --------------------------------------------------------------
        scheduled = [m for m in cfg.models if m.retrain_schedule]
        self.schedules: dict[str, aws.cloudwatch.EventRule] = {}
        if scheduled:
            rule_names = {m.name: namer.name(f"{m.name}-retrain", "events_rule") for m in scheduled}
            scheduler_role = aws.iam.Role(
                "training-schedule-role",
                name=namer.name("training-schedule", "iam_role"),
                description=f"{cfg.project} {cfg.stack}: EventBridge schedules that start the training pipeline",
                assume_role_policy=account.apply(lambda a: json.dumps(training_policies.trust_policy(
                    "events.amazonaws.com", a, [a.arn("events", f"rule/{n}") for n in rule_names.values()]))),
                opts=options.child(self),
            )
            scheduler_access = aws.iam.RolePolicy(
                "training-schedule-access",
                role=scheduler_role.id,
                policy=self.state_machine.arn.apply(lambda arn: json.dumps(training_policies.scheduler_policy(arn))),
                opts=options.child(self),
            )
            for model in scheduled:
                rule = aws.cloudwatch.EventRule(
                    f"{model.name}-retrain",
                    name=rule_names[model.name],
                    description=f"Retrain model '{model.name}' on its schedule ({model.retrain_schedule})",
                    schedule_expression=model.retrain_schedule,
                    opts=options.child(self),
                )
                aws.cloudwatch.EventTarget(
                    f"{model.name}-retrain-target",
                    rule=rule.name,
                    arn=self.state_machine.arn,
                    role_arn=scheduler_role.arn,
                    # The model's defaults, exactly what an operator gets with no hyperparameters.
                    input=json.dumps({"model_name": model.name, "hyperparameters": {}}),
                    opts=options.child(self, depends_on=[scheduler_access]),
                )
                self.schedules[model.name] = rule

        self.register_outputs({
            "data_bucket": self.data_bucket.name,
            "artifact_bucket": self.artifact_bucket.name,
            "repository_url": self.repository.repository_url,
            "image_uri": self.image_uri,
            "state_machine_arn": self.state_machine_arn,
        })
