"""Empty what a non-production stack owns in AWS that `pulumi destroy` cannot delete while it is full.

SageMaker refuses to delete a model package group that still holds versions
(DeleteModelPackageGroup answers ConflictException), and the versions are not Pulumi resources:
the training pipeline registers them at run time. So once a dev or pr-N stack has trained a
model, its destroy fails on the groups. Before destroying such a stack, the driver deletes every
version in the groups the stack itself exported (`model_package_groups`, model -> group name),
whatever their approval status, and then Pulumi deletes the empty groups.

Never for production: a prod group is the record of every approved model (protected and retained
by the program); emptying it is a decision for a person, not a side effect of a destroy.

Pure logic over a SageMaker client handed in by the caller (boto3, moto or a Stubber in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components.environments import is_production

PROJECT = "mlops-platform"
GROUPS_OUTPUT = "model_package_groups"
# What DescribeModelPackageGroup answers for a group that does not exist ("ModelPackageGroup
# arn:... does not exist." is a ValidationException).
MISSING_GROUP_CODES = frozenset({"ValidationException", "ResourceNotFound"})


class TeardownError(Exception):
    """A call to AWS failed (after botocore's retries); nothing may be destroyed."""


@dataclass(frozen=True)
class Emptied:
    """What emptying one group did."""

    group: str
    deleted: int
    existed: bool

    def describe(self) -> str:
        if not self.existed:
            return f"model package group {self.group}: does not exist, nothing to delete"
        return f"model package group {self.group}: deleted {self.deleted} version(s)"


def group_prefix(stack: str) -> str:
    """Every physical name of a stack starts with this (components/naming.py, Namer.name)."""
    return f"{PROJECT}-{stack}-"


def owned_groups(stack: str, outputs: Mapping[str, Any]) -> list[str]:
    """The groups a stack exported that carry its own name prefix; [] when it exported none.

    The prefix check is the guard against ever touching another stack's group, whatever an
    output says (a hand-edited state, a renamed project).
    """
    exported = outputs.get(GROUPS_OUTPUT)
    if not isinstance(exported, Mapping):
        return []
    prefix = group_prefix(stack)
    return sorted({name for name in exported.values() if isinstance(name, str) and name.startswith(prefix)})


def connect(make_client: Callable[[str, str | None], Any], region: str) -> Any:
    """A SageMaker client for `region` from the caller's factory; TeardownError when botocore cannot make one."""
    try:
        return make_client("sagemaker", region)
    except (BotoCoreError, ValueError) as error:  # an unknown or malformed region name
        raise TeardownError(f"no SageMaker client for region {region!r}: {_describe(error)}") from error


def empty_model_package_groups(stack: str, groups: Iterable[str], sagemaker: Any) -> list[Emptied]:
    """Delete every version in `groups` (owned by non-production `stack`); idempotent.

    Raises ValueError for a production stack (the caller must never ask) and TeardownError when
    AWS refuses or keeps throttling.
    """
    if is_production(stack):
        raise ValueError(f"refusing to empty the model package groups of production stack '{stack}'")
    prefix = group_prefix(stack)
    results = []
    for group in groups:
        if not group.startswith(prefix):
            raise ValueError(f"model package group {group} is not stack '{stack}''s (names start with {prefix})")
        try:
            results.append(_empty_group(group, sagemaker))
        except (ClientError, BotoCoreError) as error:
            raise TeardownError(f"emptying model package group {group}: {_describe(error)}") from error
    return results


def _empty_group(group: str, sagemaker: Any) -> Emptied:
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_GROUP_CODES:
            return Emptied(group, 0, existed=False)
        raise
    # Every page first, then delete: deleting while paginating shifts the pages under the token.
    pages = sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
    arns = [summary["ModelPackageArn"] for page in pages for summary in page.get("ModelPackageSummaryList", [])]
    for arn in arns:
        # A versioned package is addressed by its ARN (its name is the group's).
        sagemaker.delete_model_package(ModelPackageName=arn)
    return Emptied(group, len(arns), existed=True)


def _describe(error: Exception) -> str:
    """One line: AWS's error code and message, or botocore's own text."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        message = " ".join(str(details.get("Message", "")).split())
        return f"{details.get('Code', 'error')}: {message}" if message else str(details.get("Code", error))
    return " ".join(str(error).split()) or type(error).__name__
