"""Archiving old model versions (functions/archive) against a moto registry and moto S3.

moto 5.2 accepts UpdateModelPackage's `ModelLifeCycle` but does not keep it (its backend ignores
the parameter), so what the function asks SageMaker for is read where botocore sends it: a
`provide-client-params` hook records every UpdateModelPackage request, after botocore validated it
against SageMaker's API model. Everything else (versions, customer metadata, objects and their
storage class) is read back from moto.

One correction makes moto's UpdateModelPackage behave as SageMaker's (`faithful_update`): moto
replaces the version's customer metadata with the request's and clears the approval status and
description a request leaves out; SageMaker updates the keys the request names and removes those
in `CustomerMetadataPropertiesToRemove` (a separate list exists because an update never drops
keys it does not name), and leaves out fields unchanged (API Reference, UpdateModelPackage).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from drift_support import ARTIFACT_BUCKET, GROUP, REGION, register_version, tar_of
from moto import mock_aws
from moto.sagemaker.models import SageMakerModelBackend

from functions.archive import archive
from functions.archive import handler as archive_handler

NOW = dt.datetime(2030, 5, 6, 14, 30, tzinfo=dt.UTC)


def faithful_update(self, model_package_arn, model_approval_status, approval_description, customer_metadata_properties,
                    customer_metadata_properties_to_remove, additional_inference_specifications_to_add):
    package = self.describe_model_package(model_package_arn)
    if model_approval_status is not None:
        package.set_model_approval_status(model_approval_status)
    if approval_description is not None:
        package.approval_description = approval_description
    merged = {**(package.customer_metadata_properties or {}), **(customer_metadata_properties or {})}
    package.customer_metadata_properties = {k: v for k, v in merged.items() if k not in (customer_metadata_properties_to_remove or [])}
    package.add_additional_inference_specifications(additional_inference_specifications_to_add)
    package.modifications_done()
    return package.arn


@pytest.fixture(scope="module")
def moto_clients():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setattr(SageMakerModelBackend, "update_model_package", faithful_update)
        mock = mock_aws()
        mock.start()
        try:
            clients = {name: boto3.client(name, region_name=REGION) for name in ("s3", "sagemaker")}
            requests: list[dict[str, Any]] = []
            clients["sagemaker"].meta.events.register(
                "provide-client-params.sagemaker.UpdateModelPackage", lambda params, **_: requests.append(dict(params)))
            yield mock, clients, requests
        finally:
            mock.stop()


@pytest.fixture
def aws(moto_clients):
    mock, clients, requests = moto_clients
    mock.reset()
    requests.clear()
    clients["s3"].create_bucket(Bucket=ARTIFACT_BUCKET)
    clients["s3"].put_bucket_versioning(Bucket=ARTIFACT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    clients["sagemaker"].create_model_package_group(ModelPackageGroupName=GROUP)
    return {**clients, "requests": requests}


def registered(aws: dict[str, Any], count: int) -> dict[int, str]:
    """Versions 1..count, each with its model and output archives."""
    return {v: register_version(aws["sagemaker"], aws["s3"], job=f"job-{v}", output_archive=tar_of({"baseline.json": b"{}"}),
                                model_archive=tar_of({"xgboost-model.json": b"{}"})) for v in range(1, count + 1)}


def storage_class(s3: Any, version: int, name: str) -> str:
    head = s3.head_object(Bucket=ARTIFACT_BUCKET, Key=f"churn/training/job-{version}/output/{name}")
    return head.get("StorageClass", "STANDARD")


def metadata(sagemaker: Any, arn: str) -> dict[str, str]:
    return sagemaker.describe_model_package(ModelPackageName=arn).get("CustomerMetadataProperties", {})


def request(keep: int, protected: set[int] = frozenset(), dry_run: bool = False) -> archive.Request:
    return archive.Request(GROUP, keep, frozenset(protected), dry_run)


@pytest.mark.parametrize("count, keep, protected, archived", [
    (6, 2, set(), {1, 2, 3, 4}),
    (6, 2, {1, 3}, {2, 4}),  # served (or the rollback target) though old
    (6, 1, {6}, {1, 2, 3, 4, 5}),  # the newest is kept either way
    (3, 5, set(), set()),  # fewer versions than kept
    (4, 4, set(), set()),
    (5, 1, {1, 2, 3, 4}, set()),
])
def test_keeps_the_newest_and_every_served_version_and_archives_the_rest(aws, count, keep, protected, archived):
    arns = registered(aws, count)
    decisions = archive.archive(aws["sagemaker"], aws["s3"], request(keep, protected), NOW)

    assert {d.version for d in decisions if d.action == "archive"} == archived
    assert {d.version for d in decisions if d.action == "keep-served"} == protected - set(range(count - keep + 1, count + 1))
    for version, arn in arns.items():
        expected = "GLACIER_IR" if version in archived else "STANDARD"
        assert storage_class(aws["s3"], version, "model.tar.gz") == storage_class(aws["s3"], version, "output.tar.gz") == expected
        assert ("archived_at" in metadata(aws["sagemaker"], arn)) == (version in archived)
    assert sorted(r["ModelPackageArn"] for r in aws["requests"]) == sorted(arns[v] for v in archived)
    for sent in aws["requests"]:
        assert sent["ModelLifeCycle"]["Stage"] == "Archived" and sent["ModelLifeCycle"]["StageStatus"] == "Retired"
        assert sent["CustomerMetadataProperties"] == {"archived_at": "2030-05-06T14:30:00Z", "stage_before_archive": "none"}


def test_a_dry_run_lists_the_same_decisions_and_changes_nothing(aws):
    arns = registered(aws, 5)
    planned = archive.archive(aws["sagemaker"], aws["s3"], request(2, {1}, dry_run=True), NOW)

    assert [(d.version, d.action) for d in planned] == [
        (5, "keep-newest"), (4, "keep-newest"), (3, "archive"), (2, "archive"), (1, "keep-served")]
    assert [d.artifacts for d in planned if d.action == "archive"][0] == [
        f"s3://{ARTIFACT_BUCKET}/churn/training/job-3/output/model.tar.gz",
        f"s3://{ARTIFACT_BUCKET}/churn/training/job-3/output/output.tar.gz"]
    assert aws["requests"] == []
    assert all(storage_class(aws["s3"], v, "model.tar.gz") == "STANDARD" for v in arns)
    assert all("archived_at" not in metadata(aws["sagemaker"], arn) for arn in arns.values())
    real = archive.archive(aws["sagemaker"], aws["s3"], request(2, {1}), NOW)
    assert [(d.version, d.action) for d in real] == [(d.version, d.action) for d in planned]


def test_a_second_run_finds_them_archived_and_copies_nothing(aws):
    registered(aws, 4)
    archive.archive(aws["sagemaker"], aws["s3"], request(2), NOW)
    aws["requests"].clear()
    again = archive.archive(aws["sagemaker"], aws["s3"], request(2), NOW + dt.timedelta(days=1))
    assert [(d.version, d.action) for d in again] == [(4, "keep-newest"), (3, "keep-newest"),
                                                      (2, "already-archived"), (1, "already-archived")]
    assert aws["requests"] == []


def test_a_run_that_stopped_after_moving_the_artifacts_finishes_the_version(aws):
    registered(aws, 3)
    archive.set_storage_class(aws["s3"], f"s3://{ARTIFACT_BUCKET}/churn/training/job-1/output/model.tar.gz", "GLACIER_IR")
    (decision,) = [d for d in archive.archive(aws["sagemaker"], aws["s3"], request(2), NOW) if d.action == "archive"]
    assert decision.moved == [f"s3://{ARTIFACT_BUCKET}/churn/training/job-1/output/output.tar.gz"]
    assert "archived_at" in metadata(aws["sagemaker"], decision.arn)


def test_archived_artifacts_stay_readable_and_restore_puts_everything_back(aws):
    arns = registered(aws, 3)
    archive.archive(aws["sagemaker"], aws["s3"], request(2), NOW)
    body = aws["s3"].get_object(Bucket=ARTIFACT_BUCKET, Key="churn/training/job-1/output/model.tar.gz")["Body"].read()
    assert body == tar_of({"xgboost-model.json": b"{}"})  # Glacier Instant Retrieval: no restore to read it
    aws["requests"].clear()

    restored = archive.restore(aws["sagemaker"], aws["s3"], arns[1])
    assert restored.moved == [f"s3://{ARTIFACT_BUCKET}/churn/training/job-1/output/model.tar.gz",
                              f"s3://{ARTIFACT_BUCKET}/churn/training/job-1/output/output.tar.gz"]
    assert storage_class(aws["s3"], 1, "model.tar.gz") == storage_class(aws["s3"], 1, "output.tar.gz") == "STANDARD"
    assert set(metadata(aws["sagemaker"], arns[1])) == {"training_job", "output_data"}
    (sent,) = aws["requests"]
    assert sent["CustomerMetadataPropertiesToRemove"] == ["archived_at", "stage_before_archive"]
    assert (sent["ModelLifeCycle"]["Stage"], sent["ModelLifeCycle"]["StageStatus"]) == ("Restored", "Active")


def test_restore_returns_to_the_stage_the_version_had(aws):
    arns = registered(aws, 2)
    aws["sagemaker"].update_model_package(ModelPackageArn=arns[1], CustomerMetadataProperties={
        "archived_at": "2030-01-01T00:00:00Z", "stage_before_archive": "Production/Approved"})
    aws["requests"].clear()
    archive.restore(aws["sagemaker"], aws["s3"], arns[1])
    (sent,) = aws["requests"]
    assert (sent["ModelLifeCycle"]["Stage"], sent["ModelLifeCycle"]["StageStatus"]) == ("Production", "Approved")


def test_artifacts_already_deleted_are_reported_and_the_version_still_marked(aws):
    registered(aws, 2)
    aws["s3"].delete_object(Bucket=ARTIFACT_BUCKET, Key="churn/training/job-1/output/output.tar.gz")
    (decision,) = [d for d in archive.archive(aws["sagemaker"], aws["s3"], request(1), NOW) if d.action == "archive"]
    assert decision.missing == [f"s3://{ARTIFACT_BUCKET}/churn/training/job-1/output/output.tar.gz"]
    assert "archived_at" in metadata(aws["sagemaker"], decision.arn)


def test_the_handler_runs_as_lambda_runs_it_and_a_hand_invoked_dry_run_changes_nothing(aws, monkeypatch):
    monkeypatch.setattr(archive_handler, "_clients", lambda: aws)
    registered(aws, 4)
    event = {"model_package_group": GROUP, "keep": 2, "protected_versions": [1], "dry_run": True}
    answer = archive_handler.handler(event, None)
    assert answer["versions"] == {"keep-newest": [4, 3], "archive": [2], "keep-served": [1]} and answer["dry_run"]
    assert aws["requests"] == []
    answer = archive_handler.handler({**event, "dry_run": False}, None)
    assert [d["moved"] for d in answer["decisions"] if d["action"] == "archive"][0]
    restored = archive_handler.handler({"restore": answer["decisions"][2]["arn"]}, None)
    assert restored["restored"]["version"] == 2


@pytest.mark.parametrize("event", [
    {}, {"model_package_group": GROUP}, {"model_package_group": GROUP, "keep": 0},
    {"model_package_group": GROUP, "keep": "x"}, {"model_package_group": GROUP, "keep": 2, "protected_versions": ["a"]},
    {"model_package_group": GROUP, "keep": 2, "dry_run": "yes"},
])
def test_a_request_it_cannot_act_on_is_refused_before_anything_changes(event):
    with pytest.raises(ValueError):
        archive.Request.from_event(event)
