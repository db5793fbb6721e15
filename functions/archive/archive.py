"""Archiving old model versions of one model package group, reversibly.

Kept, never archived: the newest `keep` versions (by version number: `retention.modelVersionsToKeep`),
and every version an endpoint variant serves or would roll back to (`modelVersion` and
`previousModelVersion` of the model's variants in the stack config; a champion/challenger A/B
experiment is variants too, so its versions are among them). The program passes those as
`protected_versions`.

Archiving a version does two things, both undone by `restore`:
1. Its artifacts (the `model.tar.gz` it names as ModelDataUrl, and the `output.tar.gz` its
   `output_data` metadata names) are copied onto themselves with the S3 Glacier Instant
   Retrieval storage class (S3 User Guide, "Using Amazon S3 storage classes": GLACIER_IR keeps
   millisecond reads, so an archived version can still be deployed without a restore; objects
   are billed for at least 90 days and 128 KB). The bucket is versioned: the copy is the new
   current version, the old STANDARD one becomes noncurrent and expires with the bucket's
   noncurrent-version rule. Restoring copies them back to STANDARD.
2. The version is marked in the registry with SageMaker's model life cycle (UpdateModelPackage
   `ModelLifeCycle`, "Staging construct for your model lifecycle" in the SageMaker Developer
   Guide, whose template stages end with Archived/Retired): stage `Archived`, status `Retired`,
   the previous stage kept in the description; and in its customer metadata: `archived_at` and
   the previous stage, so a restore puts back exactly what was there. The approval status is not
   touched (changing it would announce a review that never happened, registry_events.py).

A version is archived at most once (`archived_at` present: skipped). S3 first, then the registry:
a run that stops half-way leaves the version unmarked, and the next run copies again (a no-op
for objects already in GLACIER_IR) and marks it. Dry run: the same plan, nothing changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

ARCHIVE_STORAGE_CLASS = "GLACIER_IR"
RESTORED_STORAGE_CLASS = "STANDARD"
ARCHIVED_STAGE = {"Stage": "Archived", "StageStatus": "Retired"}
ARCHIVED_AT = "archived_at"
STAGE_BEFORE = "stage_before_archive"
NO_STAGE = "none"
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True)
class Request:
    group: str
    keep: int
    protected: frozenset[int]
    dry_run: bool = False

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Request:
        try:
            group, keep = str(event["model_package_group"]), int(event["keep"])
            protected = frozenset(int(v) for v in event.get("protected_versions", []))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not an archiving request: {event!r} ({type(error).__name__} {error})") from None
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        dry_run = event.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise ValueError(f"dry_run must be true or false, got {dry_run!r}")
        return cls(group, keep, protected, dry_run)


@dataclass
class Decision:
    version: int
    arn: str
    action: str  # "archive", "keep-newest", "keep-served", "already-archived"
    artifacts: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # artifacts copied to the archive class by this run
    missing: list[str] = field(default_factory=list)  # artifacts that no longer exist

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def versions(sagemaker: Any, group: str) -> list[dict[str, Any]]:
    """Every version of the group, newest first (by version number)."""
    pages = sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
    found = [summary for page in pages for summary in page.get("ModelPackageSummaryList", [])]
    return sorted(found, key=lambda s: s["ModelPackageVersion"], reverse=True)


def artifacts_of(package: Mapping[str, Any]) -> list[str]:
    uris = [c.get("ModelDataUrl") for c in package.get("InferenceSpecification", {}).get("Containers", [])]
    uris.append(package.get("CustomerMetadataProperties", {}).get("output_data"))
    return list(dict.fromkeys(u for u in uris if isinstance(u, str) and u.startswith("s3://")))


def decide(sagemaker: Any, request: Request) -> list[Decision]:
    decisions = []
    for rank, summary in enumerate(versions(sagemaker, request.group)):
        version, arn = int(summary["ModelPackageVersion"]), summary["ModelPackageArn"]
        if rank < request.keep:
            decisions.append(Decision(version, arn, "keep-newest"))
        elif version in request.protected:
            decisions.append(Decision(version, arn, "keep-served"))
        else:
            package = sagemaker.describe_model_package(ModelPackageName=arn)
            archived = ARCHIVED_AT in package.get("CustomerMetadataProperties", {})
            decisions.append(Decision(version, arn, "already-archived" if archived else "archive", artifacts_of(package)))
    return decisions


def set_storage_class(s3: Any, uri: str, storage_class: str) -> bool | None:
    """Copy an object onto itself in `storage_class`; False when it already is, None when it is gone."""
    location = urlparse(uri)
    bucket, key = location.netloc, location.path.lstrip("/")
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_OBJECT_CODES:
            return None
        raise
    if head.get("StorageClass", RESTORED_STORAGE_CLASS) == storage_class:
        return False
    # boto3's managed copy: one CopyObject up to its multipart threshold, a multipart copy above
    # (CopyObject itself stops at 5 GB). Metadata and tags come along (COPY directives); the
    # bucket's default encryption (SSE-KMS with the platform key) encrypts the new version.
    s3.copy({"Bucket": bucket, "Key": key}, bucket, key,
            ExtraArgs={"StorageClass": storage_class, "MetadataDirective": "COPY", "TaggingDirective": "COPY"})
    return True


def _stage_text(package: Mapping[str, Any]) -> str:
    stage = package.get("ModelLifeCycle")
    return f"{stage['Stage']}/{stage['StageStatus']}" if stage else NO_STAGE


def archive(sagemaker: Any, s3: Any, request: Request, now: dt.datetime) -> list[Decision]:
    """Archive what `decide` chose (nothing when dry_run); returns every decision."""
    decisions = decide(sagemaker, request)
    if request.dry_run:
        return decisions
    for decision in (d for d in decisions if d.action == "archive"):
        _move(s3, decision, ARCHIVE_STORAGE_CLASS)
        package = sagemaker.describe_model_package(ModelPackageName=decision.arn)
        before = _stage_text(package)
        sagemaker.update_model_package(
            ModelPackageArn=decision.arn,
            ModelLifeCycle={**ARCHIVED_STAGE, "StageDescription": (
                f"Archived by the platform on {now:%Y-%m-%d}: older than the newest {request.keep} versions and "
                f"served by no variant; artifacts in {ARCHIVE_STORAGE_CLASS}. Stage before: {before}.")},
            CustomerMetadataProperties={ARCHIVED_AT: now.strftime("%Y-%m-%dT%H:%M:%SZ"), STAGE_BEFORE: before},
        )
    return decisions


def _move(s3: Any, decision: Decision, storage_class: str) -> None:
    for uri in decision.artifacts:
        moved = set_storage_class(s3, uri, storage_class)
        if moved is None:
            decision.missing.append(uri)
        elif moved:
            decision.moved.append(uri)


def restore(sagemaker: Any, s3: Any, arn: str) -> Decision:
    """Undo `archive` for one version: artifacts back to STANDARD, the previous stage back, the marks removed."""
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    decision = Decision(int(package["ModelPackageVersion"]), arn, "restore", artifacts_of(package))
    _move(s3, decision, RESTORED_STORAGE_CLASS)
    metadata = package.get("CustomerMetadataProperties", {})
    before = metadata.get(STAGE_BEFORE, NO_STAGE)
    update: dict[str, Any] = {"ModelPackageArn": arn, "CustomerMetadataPropertiesToRemove": [
        key for key in (ARCHIVED_AT, STAGE_BEFORE) if key in metadata]}
    if before != NO_STAGE:
        stage, status = before.split("/", 1)
        update["ModelLifeCycle"] = {"Stage": stage, "StageStatus": status, "StageDescription": "Restored from the archive"}
    else:  # SageMaker has no way to clear a life cycle stage: say it was restored
        update["ModelLifeCycle"] = {"Stage": "Restored", "StageStatus": "Active",
                                    "StageDescription": "Restored from the archive; it had no stage before"}
    sagemaker.update_model_package(**update)
    return decision


def summary(decisions: Iterable[Decision], request: Request) -> dict[str, Any]:
    by_action: dict[str, list[int]] = {}
    for decision in decisions:
        by_action.setdefault(decision.action, []).append(decision.version)
    return {"model_package_group": request.group, "dry_run": request.dry_run, "keep": request.keep,
            "protected_versions": sorted(request.protected), "versions": by_action}
