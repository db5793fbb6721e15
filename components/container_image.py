"""A platform image: its ECR repository and the image, built from this repository and pushed.

The training and inference images are made the same way: an encrypted repository with immutable
tags, scan on push and a lifecycle that never expires a tagged image, and a docker-build image
whose tag hashes everything that makes it (components/build_context.py), so a rebuild always
pushes a new tag. Created as children of the component that owns them (no component of their
own), so the training image kept its URNs when this was factored out of the training pipeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from components import options
from components.build_context import build_context_tag
from components.config import PlatformConfig

ROOT = Path(__file__).resolve().parent.parent
# Both images build from containers/ so they reach containers/contracts/ (what training and
# serving share); each Dockerfile's .dockerignore says what of it is sent. Relative to the project
# directory, where `pulumi up` and the Automation API run the program: an absolute path would
# differ between machines and show up as a diff.
CONTEXT = "containers"
IMAGE_PLATFORM = "linux/amd64"  # SageMaker training and hosting instances are x86_64
# Days an untagged image stays in the repository (see lifecycle_policy).
UNTAGGED_IMAGE_DAYS = 7


def build_settings(dockerfile: str) -> dict:
    """Every input of an image but its tags and registry.

    A change to any of them makes the docker-build provider rebuild and push (its Image.Diff
    compares them all), so the tag hashes them with the files the context sends: a rebuild always
    pushes a new tag, which the repository's immutable tags require. `pull` stays unset: with it
    the provider rebuilds on every deploy, which no content tag can follow. `exec_` stays off: the
    provider's embedded buildx client disables provenance attestations (its client.go), so a push
    is one image manifest, with no untagged index children for the lifecycle policy to weigh.
    """
    return {
        "context": {"location": CONTEXT},
        "dockerfile": {"location": dockerfile},
        "platforms": [IMAGE_PLATFORM],
        "push": True,
        # Previews (every pull request) must not need a Docker daemon; `up` builds and pushes.
        "build_on_preview": False,
        "exec_": False,
        # The SDK's default, stated so the tag covers it.
        "network": "default",
    }


def lifecycle_policy() -> dict:
    """Expire untagged images only, never a tagged one, whatever its age or count.

    A registered model version names its images by tag (the training image that made it, the
    inference image that serves it), so an expired image would leave that version undeployable;
    and which tags registered versions use is beyond what a lifecycle rule can select. Tags are
    immutable and never move, so nothing becomes untagged by a push; the rule clears leftovers of
    interrupted or manual pushes. Images that an image index references are kept while the index
    is, and reference artifacts follow their subject (ECR User Guide, "Automate the cleanup of
    images by using lifecycle policies", lifecycle policy evaluation rules).
    """
    return {"rules": [{
        "rulePriority": 1,
        "description": f"Expire untagged images {UNTAGGED_IMAGE_DAYS} days after their push; tagged images are kept",
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                      "countNumber": UNTAGGED_IMAGE_DAYS},
        "action": {"type": "expire"},
    }]}


@dataclass
class ContainerImage:
    repository: aws.ecr.Repository
    image: docker_build.Image
    tag: str
    uri: pulumi.Output[str]  # <repository url>:<tag>


def create(parent: pulumi.Resource, cfg: PlatformConfig, *, resource_name: str, purpose: str, dockerfile: str,
           kms_key_arn: pulumi.Input[str]) -> ContainerImage:
    """The repository `<project>-<stack>-<purpose>` (stateful: registered versions point at its
    images), its lifecycle policy, and the image; children of `parent` named `resource_name`-*."""
    repository = aws.ecr.Repository(
        f"{resource_name}-images",
        name=cfg.namer.name(purpose, "ecr"),
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "KMS", "kms_key": kms_key_arn}],
        force_delete=cfg.force_destroy,
        opts=options.stateful(parent, cfg),
    )
    aws.ecr.LifecyclePolicy(
        f"{resource_name}-images-lifecycle",
        repository=repository.name,
        policy=json.dumps(lifecycle_policy()),
        opts=options.child(parent),
    )
    settings = build_settings(dockerfile)
    tag = build_context_tag(ROOT / CONTEXT, ROOT / dockerfile, settings)
    uri = pulumi.Output.concat(repository.repository_url, ":", tag)
    # The token expires after 12 hours; the provider's Diff ignores registry password changes, so
    # a new token never rebuilds. (ignore_changes on it would be harmful: the engine would then
    # hand a rebuild the old, expired password.)
    token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id,
                                                   opts=pulumi.InvokeOutputOptions(parent=parent))
    image = docker_build.Image(
        f"{resource_name}-image",
        tags=[uri],
        registries=[{
            "address": repository.repository_url.apply(lambda url: url.split("/", 1)[0]),
            "username": token.user_name,
            "password": pulumi.Output.secret(token.password),
        }],
        **settings,
        opts=options.child(parent),
    )
    return ContainerImage(repository=repository, image=image, tag=tag, uri=uri)
