"""The approval reaction's EventBridge documents, as pure functions of names.

SageMaker sends "SageMaker Model Package State Change" to the account's default event bus when a
version is created and whenever its approval status changes (SageMaker Developer Guide, "Events
that Amazon SageMaker sends to Amazon EventBridge", Model package state change; it may send more
than one event per change). AWS's sample event carries, under `detail`: ModelPackageGroupName,
ModelPackageVersion, ModelPackageArn, CreationTime, InferenceSpecification, ModelPackageStatus,
ModelPackageStatusDetails, CertifyForMarketplace, ModelApprovalStatus, MetadataProperties,
ModelMetrics and LastModifiedTime. It carries no identity: who changed a status is not in the
event. So `automation/models.py` writes the reason and the caller's ARN into the version's
ApprovalDescription (which the event then carries once set), and a change made elsewhere (console,
AWS CLI) is attributed by CloudTrail's UpdateModelPackage record.

The input transformer quotes every placeholder. EventBridge inserts extracted values without
escaping them, and a path missing from the event (ApprovalDescription of a version nobody has
reviewed yet) creates no variable (EventBridge User Guide, "Transforming target input", common
issues): inside quotes both still leave valid JSON, as long as a value holds no quote or
backslash. The group name, version, status, ARN and time cannot; models.py refuses them in a
reason for that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
OUTCOME = "model_version_status_changed"

# Variable -> JSON path in the event (EventBridge's dot notation).
INPUT_PATHS = {
    "group": "$.detail.ModelPackageGroupName",
    "version": "$.detail.ModelPackageVersion",
    "status": "$.detail.ModelApprovalStatus",
    "description": "$.detail.ApprovalDescription",
    "arn": "$.detail.ModelPackageArn",
    "changed_at": "$.detail.LastModifiedTime",
}


def approval_event_pattern(group_names: Sequence[str]) -> dict[str, Any]:
    """Status changes of versions in these groups only: other stacks share the account's bus."""
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {"ModelPackageGroupName": sorted(group_names)},
    }


def input_template(label: str) -> str:
    """The alert's body: JSON like the training pipeline's notifications, with a one-line `message`.

    `label` is `<project>/<stack>`, the prefix of every notification subject of the stack.
    """
    return (
        "{"
        f'"outcome": "{OUTCOME}", '
        f'"message": "[{label}] <group> version <version> is now <status>", '
        '"model_package_group": "<group>", '
        '"model_version": "<version>", '
        '"approval_status": "<status>", '
        '"approval_description": "<description>", '
        '"model_package_arn": "<arn>", '
        '"changed_at": "<changed_at>"'
        "}"
    )
