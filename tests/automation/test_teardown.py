"""Teardown of dev and pr-N stacks after model versions were registered.

SageMaker refuses to delete a model package group that still holds versions (DeleteModelPackageGroup
answers ConflictException), so before destroying a non-production stack the driver deletes the
versions in the groups that stack exported, and only those.

What moto (5.2.5) proves here: CreateModelPackageGroup, CreateModelPackage into a group (with any
approval status), DescribeModelPackageGroup (ValidationException for a missing group) and
ListModelPackages filtered by group and paginated by 100, as the real API pages. What it cannot:
moto has no DeleteModelPackage and no DeleteModelPackageGroup, so the `aws` fixture teaches moto's
SageMaker responses a DeleteModelPackage (`delete_model_package` below: the version leaves moto's
state; botocore still validates and serializes the real request against SageMaker's own service
model first); and the refusal to delete a non-empty group is played by `FakeAutomation`'s destroy
hook below, the rule as AWS documents it, not AWS itself. Whether the real API accepts deletion of every approval status is AWS's; nothing
here can show it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core.botocore_stubber import MockRawResponse
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse
from pulumi.automation import OutputValue
from test_deploy import ROOT, TODAY, FakeAutomation, cli_error, diagnostic, failed_event, make_system, request

from automation import driver, stacks, teardown
from automation.driver import ExitCode, Operation, run

REGION = "eu-west-1"  # not the template's us-east-1: the teardown must follow the stack's aws:region
PR7 = ["mlops-platform-pr-7-churn", "mlops-platform-pr-7-fraud"]
OTHERS = ["mlops-platform-pr-70-churn", "mlops-platform-dev-churn"]  # pr-70's name starts like pr-7's
STATUSES = ["Approved", "Rejected", "PendingManualApproval"]


# -- moto, and what moto lacks ----------------------------------------------------------------
def aws_answer(status: int, body: dict[str, Any]) -> AWSResponse:
    """An HTTP answer in SageMaker's JSON protocol, as botocore would receive it."""
    headers = {"x-amzn-requestid": "test", "content-type": "application/x-amz-json-1.1"}
    return AWSResponse("https://api.sagemaker", status, headers, MockRawResponse(json.dumps(body).encode()))


def delete_model_package(self: SageMakerResponse) -> str:
    """DeleteModelPackage for moto's SageMaker, which has none: remove the version from moto's state."""
    arn = self._get_param("ModelPackageName")
    if self.sagemaker_backend.model_packages.pop(arn, None) is None:
        raise ValidationError(f"Model package {arn} not found")
    return "{}"


def moto_client(service: str, region: str | None) -> Any:
    return boto3.client(service, region_name=region)


def create_versions(region: str, group: str, count: int = 3) -> None:
    sagemaker = boto3.client("sagemaker", region_name=region)
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    for number in range(count):
        sagemaker.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus=STATUSES[number % 3])


def versions(region: str, group: str) -> int:
    pages = boto3.client("sagemaker", region_name=region).get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group)
    return sum(len(page["ModelPackageSummaryList"]) for page in pages)


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    monkeypatch.setattr(SageMakerResponse, "delete_model_package", delete_model_package, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A work dir with the project's own Pulumi.yaml and stack files (never the checkout)."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


# -- which groups -----------------------------------------------------------------------------
@pytest.mark.parametrize("outputs, expected", [
    ({}, []),
    ({"model_package_groups": None}, []),
    ({"model_package_groups": "mlops-platform-pr-7-churn"}, []),
    ({"model_package_groups": ["mlops-platform-pr-7-churn"]}, []),
    ({"model_package_groups": {"churn": PR7[0], "fraud": PR7[1]}}, PR7),
    ({"model_package_groups": {"a": PR7[1], "b": PR7[0], "c": PR7[0]}}, PR7),
    ({"model_package_groups": {"churn": "mlops-platform-pr-70-churn", "x": "mlops-platform-dev-churn",
                               "y": "mlops-platform-pr-7", "z": "other-mlops-platform-pr-7-churn", "n": 7}}, []),
])
def test_only_groups_the_stack_exported_with_its_own_prefix(outputs, expected):
    assert teardown.owned_groups("pr-7", outputs) == expected


# -- emptying (pure logic, moto) --------------------------------------------------------------
def test_every_version_of_the_stacks_groups_goes_whatever_its_status_and_nothing_else(aws):
    create_versions(REGION, PR7[0], count=103)  # more than one page of ListModelPackages
    create_versions(REGION, PR7[1], count=3)
    for group in OTHERS:
        create_versions(REGION, group, count=2)
    sagemaker = moto_client("sagemaker", REGION)

    emptied = teardown.empty_model_package_groups("pr-7", PR7, sagemaker)

    assert [(e.group, e.deleted, e.existed) for e in emptied] == [(PR7[0], 103, True), (PR7[1], 3, True)]
    assert [versions(REGION, group) for group in PR7] == [0, 0]
    assert [versions(REGION, group) for group in OTHERS] == [2, 2]
    # Idempotent: a second run finds empty groups; a group that is gone is fine too.
    again = teardown.empty_model_package_groups("pr-7", [*PR7, "mlops-platform-pr-7-gone"], sagemaker)
    assert [e.describe() for e in again] == [
        "model package group mlops-platform-pr-7-churn: deleted 0 version(s)",
        "model package group mlops-platform-pr-7-fraud: deleted 0 version(s)",
        "model package group mlops-platform-pr-7-gone: does not exist, nothing to delete",
    ]


class FailsOnAnyCall:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"production stack's client was used: {name}")


@pytest.mark.parametrize("stack, groups", [("prod", ["mlops-platform-prod-churn"]), ("pr-7", OTHERS[:1]),
                                           ("pr-7", ["mlops-platform-dev-churn"])])
def test_refuses_production_and_other_stacks_groups_before_any_call(stack, groups):
    with pytest.raises(ValueError, match="refusing to empty|is not stack"):
        teardown.empty_model_package_groups(stack, groups, FailsOnAnyCall())


# -- through the driver -----------------------------------------------------------------------
def pr7_project(project: Path, region: str = REGION) -> None:
    """Pulumi.pr-7.yaml as the driver writes it, in another region."""
    text = stacks.render_pr_config(stacks.parse_stack_name("pr-7"), TODAY)
    document = yaml.safe_load(text)
    document["config"]["aws:region"] = region
    (project / "Pulumi.pr-7.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def exported(*groups: str) -> dict[str, OutputValue]:
    return {"environment": OutputValue("preview", False),
            "model_package_groups": OutputValue({group.rsplit("-", 1)[-1] + str(i): group
                                                 for i, group in enumerate(groups)}, False)}


GROUP_URN = ("urn:pulumi:pr-7::mlops-platform::mlops:components:ModelRegistry$aws:sagemaker/modelPackageGroup:"
             "ModelPackageGroup::{model}-versions")


def sagemaker_refuses_full_groups(automation: FakeAutomation, groups: list[str], region: str) -> None:
    """The destroy fails as the engine reports SageMaker's refusal, while any group still holds a version."""
    def check() -> None:
        full = [group for group in groups if versions(region, group)]
        if full:
            urn = GROUP_URN.format(model=full[0].rsplit("-", 1)[-1])
            automation.events["destroy"] = [
                diagnostic(f"deleting SageMaker Model Package Group ({full[0]}): operation error SageMaker: "
                           "DeleteModelPackageGroup, ConflictException: Model Package Group cannot be deleted because "
                           "it contains model packages", urn=urn),
                failed_event(urn)]
            automation.errors["destroy"] = cli_error("error: update failed")
    automation.hooks["destroy"] = check


def test_pr_destroy_empties_its_own_groups_then_destroys_and_removes(project, aws):
    pr7_project(project)
    for group in [*PR7, *OTHERS]:
        create_versions(REGION, group)
    create_versions("us-east-1", PR7[0])  # same name in the template's region: not this stack's
    automation = FakeAutomation(backend={"pr-7"})
    automation.outputs = exported(*PR7, *OTHERS)  # an output naming another stack's group is ignored
    sagemaker_refuses_full_groups(automation, PR7, REGION)
    system = make_system(project, automation, aws_client=moto_client)

    assert run(request("pr-7", Operation.DESTROY, yes=True, remove=True), system) == ExitCode.OK, system.err.getvalue()

    assert automation.ops() == ["select_stack", "outputs", "get_config", "destroy", "remove_stack"]
    assert [versions(REGION, group) for group in PR7] == [0, 0]
    assert [versions(REGION, group) for group in OTHERS] == [3, 3]
    assert versions("us-east-1", PR7[0]) == 3
    out = system.out.getvalue()
    assert (f"Emptying 2 model package group(s) of stack 'pr-7' in {REGION} before destroy...\n"
            f"  model package group {PR7[0]}: deleted 3 version(s)\n"
            f"  model package group {PR7[1]}: deleted 3 version(s)\n") in out
    assert not (project / "Pulumi.pr-7.yaml").exists()


def test_without_the_teardown_sagemaker_would_stop_the_destroy(project, aws):
    """The destroy hook is able to fail: with versions left, the destroy is refused."""
    pr7_project(project)
    create_versions(REGION, PR7[0])
    automation = FakeAutomation(backend={"pr-7"})
    automation.outputs = {}  # the driver cannot know the groups: no teardown
    sagemaker_refuses_full_groups(automation, PR7, REGION)
    system = make_system(project, automation, aws_client=moto_client)
    assert run(request("pr-7", Operation.DESTROY, yes=True), system) == ExitCode.FAILED
    assert system.err.getvalue().splitlines() == [
        "error: destroy of stack 'pr-7' failed: 1 resource(s) failed",
        "  aws:sagemaker/modelPackageGroup:ModelPackageGroup churn-versions: deleting SageMaker Model Package Group "
        f"({PR7[0]}): operation error SageMaker: DeleteModelPackageGroup, ConflictException: Model Package Group cannot "
        "be deleted because it contains model packages"]


def test_json_keeps_stdout_for_the_json_document(project, aws):
    pr7_project(project)
    create_versions(REGION, PR7[0])
    automation = FakeAutomation(backend={"pr-7"})
    automation.outputs = exported(PR7[0])
    system = make_system(project, automation, aws_client=moto_client)
    assert run(request("pr-7", Operation.DESTROY, yes=True, remove=True, json=True), system) == ExitCode.OK
    assert json.loads(system.out.getvalue()) == {}
    assert f"model package group {PR7[0]}: deleted 3 version(s)" in system.err.getvalue()


@pytest.mark.parametrize("outputs", [{}, {"model_package_groups": OutputValue({}, False)},
                                     {"environment": OutputValue("dev", False)}])
def test_a_stack_that_exported_no_group_needs_no_aws_call(project, outputs):
    automation = FakeAutomation(backend={"dev"})
    automation.outputs = outputs
    system = make_system(project, automation)  # its AWS client factory fails the test if called
    assert run(request("dev", Operation.DESTROY, yes=True), system) == ExitCode.OK
    assert automation.ops() == ["select_stack", "outputs", "destroy"]


@pytest.mark.parametrize("stack", ["prod", "live"])
def test_production_never_gets_a_teardown(project, aws, monkeypatch, stack):
    """Not even a client: the factory fails the test when called, and the groups keep every version.
    `live` is production because PRODUCTION_STACKS (components/environments.py) says so."""
    from components import environments

    monkeypatch.setattr(environments, "PRODUCTION_STACKS", frozenset({"prod", "live"}))
    shutil.copy(project / "Pulumi.prod.yaml", project / "Pulumi.live.yaml")
    group = f"mlops-platform-{stack}-churn"
    create_versions("us-east-1", group)
    automation = FakeAutomation(backend={stack})
    automation.outputs = exported(group)
    system = make_system(project, automation)
    flags = {"yes": True, "confirm": stack, "secrets_provider": "awskms://alias/k"}

    assert run(request(stack, Operation.DESTROY, **flags), system) == ExitCode.OK, system.err.getvalue()

    assert automation.ops() == ["select_stack", "destroy"]
    assert versions("us-east-1", group) == 3


def test_nothing_is_emptied_when_the_destroy_is_not_confirmed(project, aws):
    pr7_project(project)
    create_versions(REGION, PR7[0])
    automation = FakeAutomation(backend={"pr-7"})
    automation.outputs = exported(PR7[0])
    system = make_system(project, automation, interactive=True, answers=["n"])
    assert run(request("pr-7", Operation.DESTROY), system) == ExitCode.NOT_CONFIRMED
    assert automation.calls == [] and versions(REGION, PR7[0]) == 3


@pytest.mark.parametrize("config_left_behind", [True, False])
def test_destroy_remove_of_a_pr_stack_never_deployed_still_succeeds(project, config_left_behind):
    automation = FakeAutomation(backend=set())
    if config_left_behind:
        pr7_project(project)
    system = make_system(project, automation)  # no AWS client may be made
    assert run(request("pr-7", Operation.DESTROY, yes=True, remove=True), system) == ExitCode.OK
    assert automation.ops() == ["select_stack"]
    assert not (project / "Pulumi.pr-7.yaml").exists()


# -- failures: one line, exit 12, nothing destroyed --------------------------------------------
def refusing(operation: str, error_type: str, message: str, counter: list[str]) -> Callable[..., Any]:
    """A client factory (the driver's real one, retries included) whose `operation` AWS always refuses."""
    def make(service: str, region: str | None) -> Any:
        client = driver.aws_client(service, region)

        def refuse(request: Any, **kwargs: Any) -> AWSResponse:
            counter.append(operation)
            return aws_answer(400, {"__type": error_type, "message": message})

        client.meta.events.register_first(f"before-send.sagemaker.{operation}", refuse)
        return client
    return make


@pytest.mark.parametrize("operation, error_type, message, attempts", [
    ("ListModelPackages", "AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/preview/ci is not "
     "authorized to perform: sagemaker:ListModelPackages", 1),
    ("DeleteModelPackage", "AccessDeniedException", "not authorized to perform: sagemaker:DeleteModelPackage", 1),
    ("ListModelPackages", "ThrottlingException", "Rate exceeded", 8),  # botocore's standard retries, then stop
])
def test_aws_refusing_the_teardown_is_exit_12_and_nothing_is_destroyed(project, aws, monkeypatch, operation,
                                                                       error_type, message, attempts):
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)  # the backoff, without the wait
    pr7_project(project)
    create_versions(REGION, PR7[0])
    automation = FakeAutomation(backend={"pr-7"})
    automation.outputs = exported(PR7[0])
    calls: list[str] = []
    system = make_system(project, automation, aws_client=refusing(operation, error_type, message, calls))

    assert run(request("pr-7", Operation.DESTROY, yes=True, remove=True), system) == ExitCode.TEARDOWN

    assert len(calls) == attempts
    assert system.err.getvalue() == (
        f"error: emptying model package group {PR7[0]}: {error_type}: {message}; nothing was destroyed. The deploying "
        "identity needs sagemaker:DescribeModelPackageGroup, sagemaker:ListModelPackages and "
        "sagemaker:DeleteModelPackage on this stack's groups (docs/runbook.md, Teardown); run the same command again "
        "once it has them\n")
    assert automation.ops() == ["select_stack", "outputs", "get_config"]
    assert (project / "Pulumi.pr-7.yaml").exists()


def test_a_throttle_that_passes_is_retried_and_the_teardown_goes_on(project, aws, monkeypatch):
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)
    pr7_project(project)
    create_versions(REGION, PR7[0])
    automation = FakeAutomation(backend={"pr-7"})
    automation.outputs = exported(PR7[0])
    throttled: list[str] = []

    def make(service: str, region: str | None) -> Any:
        client = driver.aws_client(service, region)

        def throttle_twice(request: Any, **kwargs: Any) -> AWSResponse | None:
            if len(throttled) < 2:
                throttled.append("ListModelPackages")
                return aws_answer(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
            return None  # moto answers

        client.meta.events.register_first("before-send.sagemaker.ListModelPackages", throttle_twice)
        return client

    system = make_system(project, automation, aws_client=make)
    assert run(request("pr-7", Operation.DESTROY, yes=True), system) == ExitCode.OK, system.err.getvalue()
    assert len(throttled) == 2 and versions(REGION, PR7[0]) == 0


def test_a_region_botocore_cannot_use_is_a_teardown_error():
    """Config validation refuses such a region first; should one get through, it is still one line."""
    with pytest.raises(teardown.TeardownError, match=r"^no SageMaker client for region 'not a region': "):
        teardown.connect(driver.aws_client, "not a region")
