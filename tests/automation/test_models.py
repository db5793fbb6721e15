"""automation/models.py: list, approve, reject, roll out and roll back model versions.

The registry is moto's SageMaker (5.2.5), which keeps model package groups, versioned packages
with their approval status, ApprovalDescription and CustomerMetadataProperties, and pages
ListModelPackages; STS's GetCallerIdentity is moto's too. One gap: moto's UpdateModelPackage
drops CustomerMetadataProperties it is not sent (SageMaker keeps them), so no test reads the
objective of a version after approving it. AWS errors (a refusal, expired credentials) come from
botocore's Stubber, which validates the requests against SageMaker's service model. The driver
is a test double that records the request and the stack file as the deploy would read it; the
driver's own behaviour is tests/automation/test_deploy.py's.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from test_deploy import BARE_PYTHON, ROOT, FakeAutomation, checkout_copy, make_system, no_aws_client, starts

from automation import models, offline, stackfile, stacks
from automation.driver import Operation, Request
from automation.exit_codes import EXIT_CODE_HELP, ExitCode
from automation.stackfile import ItemWith
from components import registry_events
from components.config import VariantConfig

REGION = "us-east-1"  # the shipped stack files' aws:region
CALLER = "arn:aws:sts::123456789012:user/moto"  # moto's GetCallerIdentity
VARIANTS = ("config", ("mlops-platform:models", "models"), ItemWith("name", "churn"), "endpoint", "variants")
# Versions 1..4 of each stack's churn group: (status, objective value).
VERSIONS = [("Approved", "0.87"), ("Approved", "0.89"), ("PendingManualApproval", "0.91"), ("Rejected", "0.85")]


class DeployDouble:
    """The driver: records each request and the stack file as the deploy would have read it."""

    def __init__(self, code: ExitCode = ExitCode.OK):
        self.code = code
        self.calls: list[tuple[Request, str]] = []

    def __call__(self, request: Request, system: Any) -> int:
        self.calls.append((request, request.stack.config_path(system.work_dir).read_text()))
        return self.code


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A work dir with the project's own Pulumi.yaml, stack files and program (never the checkout)."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        for stack in ("dev", "prod"):
            group = f"mlops-platform-{stack}-churn"
            sagemaker.create_model_package_group(ModelPackageGroupName=group)
            for number, (status, value) in enumerate(VERSIONS, start=1):
                sagemaker.create_model_package(
                    ModelPackageGroupName=group, ModelApprovalStatus=status,
                    ModelPackageDescription=f"validation:auc = {value} (>= threshold 0.8), training job churn-{number}",
                    CustomerMetadataProperties={"objective_metric": "validation:auc", "objective_value": value,
                                                "threshold": "0.8", "training_job": f"churn-{number}"})
        yield sagemaker


def moto_client(service: str, region: str | None) -> Any:
    return boto3.client(service, region_name=region)


def invoke(project: Path, *argv: str, deploy: DeployDouble | None = None, aws_client: Any = moto_client,
           interactive: bool = False) -> tuple[int, str, str]:
    system = make_system(project, FakeAutomation(), aws_client=aws_client, interactive=interactive)
    code = models.main(list(argv), system=system, deploy=deploy or DeployDouble())
    return code, system.out.getvalue(), system.err.getvalue()


def set_variants(project: Path, stack: str, variants: list[dict[str, Any]]) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(stackfile.set_value(path.read_text(), path.name, VARIANTS, variants))


def variants_in(text: str) -> list[dict[str, Any]]:
    return stackfile._value_at(stackfile.parse(text, "Pulumi.x.yaml"), VARIANTS)


def status_of(sagemaker: Any, stack: str, number: int) -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/mlops-platform-{stack}-churn/{number}"
    return sagemaker.describe_model_package(ModelPackageName=arn)


# -- list ---------------------------------------------------------------------------------------
def test_list_shows_each_version_with_status_objective_and_what_it_serves(project, aws):
    set_variants(project, "prod", [{"name": "champion", "weight": 1.0, "modelVersion": 2, "previousModelVersion": 1}])
    code, out, err = invoke(project, "prod", "list", "churn", "--json")
    assert code == ExitCode.OK, err
    listed = json.loads(out)
    assert listed["model_package_group"] == "mlops-platform-prod-churn"
    assert [(v["version"], v["status"], v["objective_metric"], v["objective_value"]) for v in listed["versions"]] == [
        (4, "Rejected", "validation:auc", "0.85"), (3, "PendingManualApproval", "validation:auc", "0.91"),
        (2, "Approved", "validation:auc", "0.89"), (1, "Approved", "validation:auc", "0.87")]
    assert [(v["serves"], v["previous_of"]) for v in listed["versions"]] == [
        ([], []), ([], []), ([{"variant": "champion", "weight": 1.0}], []), ([], ["champion"])]


def test_list_as_a_table_names_the_serving_variant(project, aws):
    set_variants(project, "dev", [{"name": "champion", "weight": 1.0, "modelVersion": 2}])
    code, out, _ = invoke(project, "dev", "list", "churn")
    assert code == ExitCode.OK
    lines = out.splitlines()
    assert lines[0] == ("Model churn of stack 'dev': mlops-platform-dev-churn (us-east-1), objective validation:auc, "
                        "threshold 0.8")
    assert lines[1].split() == ["version", "status", "objective", "registered", "serves"]
    row = next(line for line in lines if line.startswith("2 "))
    assert row.split()[:3] == ["2", "Approved", "validation:auc"] and row.endswith("champion (weight 1)")


# -- approve, reject ----------------------------------------------------------------------------
def test_approve_records_the_reason_and_who_gave_it(project, aws):
    code, out, err = invoke(project, "prod", "approve", "churn", "3", "--reason", "auc 0.91 on March data; risk ok")
    assert code == ExitCode.OK, err
    version = status_of(aws, "prod", 3)
    description = f"auc 0.91 on March data; risk ok (by {CALLER} via automation/models.py)"
    assert (version["ModelApprovalStatus"], version["ApprovalDescription"]) == ("Approved", description)
    assert out == f"churn version 3: PendingManualApproval -> Approved: {description}\n"
    assert status_of(aws, "dev", 3)["ModelApprovalStatus"] == "PendingManualApproval"  # another stack's group


def test_rejecting_a_serving_version_says_it_still_serves(project, aws):
    set_variants(project, "prod", [{"name": "champion", "weight": 1.0, "modelVersion": 2}])
    code, out, _ = invoke(project, "prod", "reject", "churn", "2", "--reason", "drifted on the April segment")
    assert code == ExitCode.OK
    assert status_of(aws, "prod", 2)["ModelApprovalStatus"] == "Rejected"
    assert "warning: version 2 still serves variant champion (Pulumi.prod.yaml); rejecting does not stop it" in out


@pytest.mark.parametrize("reason", ["fine", "ok: auc 0.91, logloss 0.30 (n=12,000) — reviewed by ana@example.com",
                                    "x" * models.MAX_REASON, "'single' quotes & <angle> {braces}"])
def test_an_accepted_reason_keeps_the_approval_alert_valid_json(reason):
    """EventBridge inserts the description into the quoted placeholder unescaped: whatever the
    command accepts must leave the alert parseable, with the text intact."""
    description = f"{models.reason_text(reason)} (by {CALLER} via automation/models.py)"
    template = registry_events.input_template("mlops-platform/prod")
    alert = json.loads(template.replace("<description>", description))
    assert alert["approval_description"] == description


# -- refusals -----------------------------------------------------------------------------------
TWO_VARIANTS = [{"name": "champion", "weight": 0.9, "modelVersion": 1}, {"name": "challenger", "weight": 0.1,
                                                                          "modelVersion": 2}]
SERVING_2 = [{"name": "champion", "weight": 1.0, "modelVersion": 2}]


@pytest.mark.parametrize("stack, variants, argv, code, message", [
    ("prod", None, ["list", "fraud"], ExitCode.UNKNOWN_MODEL, "stack 'prod' has no model 'fraud'; its models: churn"),
    ("prod", None, ["rollout", "fraud", "1"], ExitCode.UNKNOWN_MODEL, "stack 'prod' has no model 'fraud'"),
    ("prod", None, ["rollout", "churn", "9"], ExitCode.UNKNOWN_VERSION,
     "model package group mlops-platform-prod-churn (us-east-1) has no version 9; its versions: 1, 2, 3, 4"),
    ("prod", None, ["approve", "churn", "9", "--reason", "r"], ExitCode.UNKNOWN_VERSION, "has no version 9"),
    ("prod", None, ["rollout", "churn", "3"], ExitCode.NOT_APPROVED,
     "churn version 3 is PendingManualApproval: 'prod' is a production stack and serves Approved versions only"),
    ("prod", None, ["rollout", "churn", "4"], ExitCode.NOT_APPROVED, "churn version 4 is Rejected: it was rejected"),
    ("dev", None, ["rollout", "churn", "4"], ExitCode.NOT_APPROVED, "churn version 4 is Rejected"),
    ("prod", [{"name": "champion", "weight": 1.0, "modelVersion": 2, "previousModelVersion": 3}],
     ["rollback", "churn"], ExitCode.NOT_APPROVED, "churn version 3 is PendingManualApproval"),
    ("prod", None, ["rollout", "churn", "2", "--variant", "blue"], ExitCode.UNKNOWN_VARIANT,
     "churn's endpoint has no variant 'blue'; its variants: champion"),
    ("prod", None, ["rollback", "churn", "--variant", "blue"], ExitCode.UNKNOWN_VARIANT, "no variant 'blue'"),
    ("prod", None, ["rollout", "churn", "2", "--variant", "challenger", "--weights", "champion=0.5,blue=0.5"],
     ExitCode.UNKNOWN_VARIANT, "--weights names 'blue', not a variant of churn's endpoint"),
    ("prod", None, ["rollout", "churn", "2", "--variant", "challenger", "--weights", "champion=0.8,challenger=0.1"],
     ExitCode.BAD_WEIGHTS, "summing to 1: they sum to 0.9, not 1"),
    ("prod", None, ["rollout", "churn", "2", "--variant", "challenger", "--weights", "challenger=1"],
     ExitCode.BAD_WEIGHTS, "summing to 1: champion has none"),
    ("prod", None, ["rollout", "churn", "2", "--variant", "challenger", "--weights", "champion=1.5,challenger=-0.5"],
     ExitCode.BAD_WEIGHTS, "champion=1.5 is outside 0..1; challenger=-0.5 is outside 0..1"),
    ("prod", TWO_VARIANTS, ["rollout", "churn", "2", "--weights", "champion=0.5,challenger=0.6"], ExitCode.USAGE,
     "churn's endpoint has variants champion, challenger: name one with --variant"),
    ("prod", TWO_VARIANTS, ["rollout", "churn", "2", "--variant", "challenger", "--weights", "champion=0.5,challenger=0.6"],
     ExitCode.BAD_WEIGHTS, "they sum to 1.1, not 1"),
    ("prod", SERVING_2, ["rollback", "churn"], ExitCode.NOTHING_TO_ROLL_BACK,
     "variant champion of churn records no previous version in Pulumi.prod.yaml"),
    ("dev", None, ["rollback", "churn", "--offline"], ExitCode.NOTHING_TO_ROLL_BACK, "records no previous version"),
])
def test_each_refusal_is_one_line_with_its_own_code_and_changes_nothing(project, aws, stack, variants, argv, code,
                                                                        message):
    if variants is not None:
        set_variants(project, stack, variants)
    files = {path.name: path.read_text() for path in project.glob("Pulumi.*.yaml")}
    deploy = DeployDouble()
    result, out, err = invoke(project, stack, *argv, deploy=deploy)
    assert (result, out) == (code, "")
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert deploy.calls == []
    assert {path.name: path.read_text() for path in project.glob("Pulumi.*.yaml")} == files
    assert [status_of(aws, stack, n)["ModelApprovalStatus"] for n in (1, 2, 3, 4)] == [s for s, _ in VERSIONS]


def stubbed(operation: str, error_code: str, message: str) -> Any:
    """An AWS client factory whose SageMaker answers `operation` with an error, as AWS would."""
    def make(service: str, region: str | None) -> Any:
        client = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
        stubber = Stubber(client)
        stubber.add_client_error(operation, service_error_code=error_code, service_message=message, http_status_code=400)
        stubber.activate()
        return client
    return make


@pytest.mark.parametrize("error_code, code", [("AccessDeniedException", ExitCode.REGISTRY),
                                              ("ThrottlingException", ExitCode.REGISTRY),
                                              ("ExpiredTokenException", ExitCode.NO_AWS_CREDENTIALS)])
def test_aws_refusals_are_one_line_naming_the_error(project, error_code, code):
    deploy = DeployDouble()
    result, _, err = invoke(project, "prod", "rollout", "churn", "2", deploy=deploy,
                            aws_client=stubbed("list_model_packages", error_code, "no, because"))
    assert result == code and deploy.calls == []
    assert err == f"error: listing the versions of mlops-platform-prod-churn failed: {error_code}: no, because\n"


# -- rollout ------------------------------------------------------------------------------------
def test_rollout_writes_the_version_to_the_stack_file_then_deploys_it(project, aws):
    before = (project / "Pulumi.dev.yaml").read_text()
    deploy = DeployDouble()
    code, out, err = invoke(project, "dev", "rollout", "churn", "2", "--yes", deploy=deploy)
    assert code == ExitCode.OK, err
    ((request, deployed),) = deploy.calls
    assert request == Request(stack=stacks.parse_stack_name("dev"), operation=Operation.UP, yes=True, json=False)
    assert variants_in(deployed) == [{"name": "champion", "weight": 1.0, "modelVersion": 2}]
    assert (project / "Pulumi.dev.yaml").read_text() == deployed
    # Read back as the program reads it, and nothing else in the file moved.
    config = models.read_config(stacks.parse_stack_name("dev"), project)
    assert config.models[0].endpoint.variants == (VariantConfig("champion", 1.0, 2, None),)
    assert _without_variants(deployed) == _without_variants(before)
    assert deployed.splitlines()[:2] == before.splitlines()[:2]  # the file's own comments
    assert "Pulumi.dev.yaml: churn/champion: version none -> 2\n" in out
    assert "Deployed. Commit Pulumi.dev.yaml" in out

    # The next rollout records the version it replaces, so it can be rolled back to.
    code, out, _ = invoke(project, "dev", "rollout", "churn", "1", "--yes", deploy=deploy)
    assert code == ExitCode.OK
    assert variants_in(deploy.calls[-1][1]) == [{"name": "champion", "weight": 1.0, "modelVersion": 1,
                                                 "previousModelVersion": 2}]


def _without_variants(text: str) -> dict[str, Any]:
    document = stackfile.parse(text, "Pulumi.x.yaml")
    for model in document["config"]["mlops-platform:models"]:
        model["endpoint"].pop("variants")
    return document


def test_rollout_to_prod_needs_an_approved_version_and_passes_the_flags_on(project, aws):
    deploy = DeployDouble()
    code, out, err = invoke(project, "prod", "rollout", "churn", "2", "--json", deploy=deploy)
    assert code == ExitCode.OK, err
    ((request, deployed),) = deploy.calls
    assert (request.stack.name, request.operation, request.yes, request.json) == ("prod", Operation.UP, False, True)
    assert variants_in(deployed) == [{"name": "champion", "weight": 1.0, "modelVersion": 2}]
    assert out == "" and "Pulumi.prod.yaml: churn/champion: version none -> 2" in err  # stdout is the driver's JSON


def test_rollout_with_weights_adds_a_challenger_beside_the_champion(project, aws):
    set_variants(project, "prod", SERVING_2)
    deploy = DeployDouble()
    code, _, err = invoke(project, "prod", "rollout", "churn", "1", "--variant", "challenger",
                          "--weights", "champion=0.9,challenger=0.1", "--yes", deploy=deploy)
    assert code == ExitCode.OK, err
    assert variants_in(deploy.calls[0][1]) == [{"name": "champion", "weight": 0.9, "modelVersion": 2},
                                               {"name": "challenger", "weight": 0.1, "modelVersion": 1}]


@pytest.mark.parametrize("deploy_code, restored", [(ExitCode.NOT_CONFIRMED, True), (ExitCode.NO_CLI, True),
                                                   (ExitCode.CONCURRENT_UPDATE, True), (ExitCode.FAILED, False),
                                                   (ExitCode.NO_AWS_CREDENTIALS, False), (ExitCode.INTERRUPTED, False)])
def test_the_file_goes_back_only_when_the_driver_deployed_nothing(project, aws, deploy_code, restored):
    path = project / "Pulumi.dev.yaml"
    before = path.read_text()
    deploy = DeployDouble(deploy_code)
    code, out, _ = invoke(project, "dev", "rollout", "churn", "2", deploy=deploy)
    assert code == deploy_code
    assert variants_in(deploy.calls[0][1])[0]["modelVersion"] == 2
    assert (path.read_text() == before) is restored
    hint = "is back as it was: nothing was deployed" if restored else "keeps the change, but the deploy failed"
    assert hint in out


def test_offline_plans_the_change_and_writes_asks_and_deploys_nothing(project, monkeypatch):
    before = {path.name: path.read_text() for path in project.glob("Pulumi.*.yaml")}
    planned: list[str] = []
    real_plan = offline.plan

    def plan(stack: str, work_dir: Path, stack_file: Path | None = None, **kwargs: Any) -> offline.Plan:
        planned.append(stack_file.read_text())
        return real_plan(stack, work_dir, stack_file=stack_file, **kwargs)

    monkeypatch.setattr(models.offline, "plan", plan)
    deploy = DeployDouble()
    code, out, err = invoke(project, "dev", "rollout", "churn", "5", "--offline", "--json", deploy=deploy,
                            aws_client=no_aws_client)
    assert code == ExitCode.OK, err
    assert [variants_in(text) for text in planned] == [[{"name": "champion", "weight": 1.0,
                                                         "modelVersion": 5}]]
    assert json.loads(out)["model_package_groups"] == {"churn": "mlops-platform-dev-churn"}
    assert "nothing was written or deployed" in err
    assert deploy.calls == [] and {path.name: path.read_text() for path in project.glob("Pulumi.*.yaml")} == before


# -- rollback -----------------------------------------------------------------------------------
def test_rollback_returns_to_the_replaced_version_and_clears_it(project, aws):
    set_variants(project, "prod", [{"name": "champion", "weight": 1.0, "modelVersion": 2, "previousModelVersion": 1}])
    deploy = DeployDouble()
    code, out, err = invoke(project, "prod", "rollback", "churn", "--yes", deploy=deploy)
    assert code == ExitCode.OK, err
    ((request, deployed),) = deploy.calls
    assert request.operation is Operation.UP and request.yes
    assert variants_in(deployed) == [{"name": "champion", "weight": 1.0, "modelVersion": 1}]
    assert "Pulumi.prod.yaml: churn/champion: version 2 -> 1 (rollback)" in out
    # One step only: a second rollback has nothing to go back to.
    code, _, err = invoke(project, "prod", "rollback", "churn", deploy=deploy)
    assert code == ExitCode.NOTHING_TO_ROLL_BACK and len(deploy.calls) == 1


def test_rollout_then_rollback_restores_the_file_exactly(project, aws):
    set_variants(project, "dev", SERVING_2)
    path = project / "Pulumi.dev.yaml"
    serving_2 = path.read_text()
    for argv in (["rollout", "churn", "1"], ["rollback", "churn"]):
        assert invoke(project, "dev", *argv, "--yes")[0] == ExitCode.OK
    assert path.read_text() == serving_2


# -- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: ENV, COMMAND"),
    (["dev"], "the following arguments are required: COMMAND"),
    (["dev", "deploy", "churn"], "argument COMMAND: invalid choice: 'deploy'"),
    (["dev", "roll", "churn", "1"], "invalid choice: 'roll'"),
    (["dev", "list"], "the following arguments are required: MODEL"),
    (["dev", "rollout", "churn"], "the following arguments are required: VERSION"),
    (["dev", "rollout", "churn", "0"], "argument VERSION: '0' is not a version number"),
    (["dev", "rollout", "churn", "-1"], "'-1' is not a version number"),
    (["dev", "rollout", "churn", "1.5"], "'1.5' is not a version number"),
    (["dev", "rollout", "churn", "1000001"], "'1000001' is not a version number"),
    (["dev", "rollout", "churn", "٣"], "'٣' is not a version number"),  # a digit, but not ASCII
    (["dev", "rollout", "churn", "9" * 5000], "is not a version number"),
    (["dev", "approve", "churn", "1"], "the following arguments are required: --reason"),
    (["dev", "approve", "churn", "1", "--reason", "  "], "argument --reason: empty: say why"),
    (["dev", "approve", "churn", "1", "--reason", 'say "yes"'], "leave out double quotes, backslashes and control"),
    (["dev", "approve", "churn", "1", "--reason", "a\\b"], "leave out double quotes"),
    (["dev", "approve", "churn", "1", "--reason", "line\nbreak"], "leave out double quotes"),
    (["dev", "approve", "churn", "1", "--reason", "r" * 501], "501 characters; at most 500"),
    (["dev", "approve", "churn", "1", "--reas", "x"], "the following arguments are required: --reason"),
    (["dev", "rollout", "churn", "1", "--off"], "unrecognized arguments: --off"),
    (["dev", "rollout", "churn", "1", "--var", "x"], "unrecognized arguments: --var"),
    (["dev", "rollout", "churn", "1", "--weights", "champion"], "expected variant=weight pairs"),
    (["dev", "rollout", "churn", "1", "--weights", "champion=nan"], "expected variant=weight pairs"),
    (["dev", "rollout", "churn", "1", "--weights", "champion=inf"], "expected variant=weight pairs"),
    (["dev", "rollout", "churn", "1", "--weights", "=1"], "expected variant=weight pairs"),
    (["dev", "rollout", "churn", "1", "--weights", "a=0.5,a=0.5"], "'a' is given twice"),
    (["dev", "rollback", "churn", "3"], "unrecognized arguments: 3"),
    (["dev", "list", "churn", "--yes"], "unrecognized arguments: --yes"),
    (["dev", "approve", "churn", "1", "--reason", "r", "--offline"], "unrecognized arguments: --offline"),
    (["dev\x1b[31m", "list", "churn"], "stack name 'dev\\x1b[31m': expected dev, prod, pr-<number>"),
    (["pr7", "list", "churn"], "pull-request stacks are named pr-<number>"),
    (["x" * 100_000, "list", "churn"], "(100000 characters)"),
    (["dev", "list", "churn", "\x00"], "unrecognized arguments: \\x00"),
])
def test_malformed_command_lines_are_one_usage_line(project, argv, message):
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        code, system_out, system_err = invoke(project, *argv, aws_client=no_aws_client)
    assert code == ExitCode.USAGE
    assert system_out == system_err == out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("models.py") and message in lines[0], lines
    assert lines[0].isprintable() and len(lines[0]) < 800


def test_help_lists_every_exit_code_and_the_commands(capsys):
    assert models.main(["--help"]) == ExitCode.OK
    out = capsys.readouterr().out
    for code in ExitCode:
        assert f"{code.value:>3}  {code.name.lower()}" in out
    for command in models.COMMANDS:
        assert f"    {command} " in out


TOKENS = ["dev", "prod", "pr-7", "churn", "fraud", "list", "approve", "reject", "rollout", "rollback", "1", "3", "0",
          "--reason", "--variant", "--weights", "champion=1", "a=0.5,b=0.5", "--yes", "--json", "--offline", "--help",
          "-h", "--", "-"]
ANY_CHARACTER = st.characters(exclude_categories=())


@settings(max_examples=200, deadline=None, derandomize=True)
@given(argv=st.lists(st.one_of(st.sampled_from(TOKENS), st.text(ANY_CHARACTER, max_size=10)), max_size=7))
def test_no_command_line_ever_ends_in_a_traceback(tmp_path_factory, argv):
    """Whatever argv holds: an ExitCode and printable lines. AWS answers nothing (every call is a
    botocore error), the driver double deploys nothing, and an offline plan is not run here."""
    project = tmp_path_factory.getbasetemp() / "models-argv"
    if not project.exists():
        project.mkdir()
        for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
            shutil.copy(ROOT / name, project / name)

    def silent_client(service: str, region: str | None) -> Any:
        client = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
        Stubber(client).activate()  # nothing queued: every call fails as a botocore error
        return client

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "_plan_offline", lambda session, text: ExitCode.OK)
        code, system_out, system_err = invoke(project, *argv, aws_client=silent_client)
    assert isinstance(code, ExitCode)
    printed = out.getvalue() + err.getvalue() + system_out + system_err
    assert "Traceback" not in printed and all(line.isprintable() for line in printed.splitlines())


def test_troubleshooting_lists_each_code_of_models_py_by_value_and_name():
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    section = text[text.index("## Model commands (automation/models.py)"):text.index("## When a rollout rolls back")]
    rows = {(int(value), name) for value, name in re.findall(r"^\| (\d+) \| (\w+) \|", section, re.MULTILINE)}
    own = {code for code in ExitCode if EXIT_CODE_HELP[code].startswith("models.py: ")}
    assert rows == {(code.value, code.name.lower()) for code in own} and len(own) == 7


def test_a_python_without_the_dependencies_gets_the_setup_line_or_the_venv(tmp_path):
    """models.py starts like deploy.py (automation/bootstrap.py): under the project's venv when the
    running Python lacks the dependencies, else one line saying how to set up."""
    for venv_python, code in ((None, ExitCode.SETUP), (sys.executable, ExitCode.OK)):
        root = checkout_copy(tmp_path / str(code.value), venv_python=venv_python)
        shutil.copytree(ROOT / "containers", root / "containers", ignore=shutil.ignore_patterns("__pycache__"))
        result = subprocess.run([*BARE_PYTHON, str(root / "automation" / "models.py"), "--help"], capture_output=True,
                                text=True, timeout=120, env={"PATH": os.environ["PATH"]}, cwd=root)
        assert result.returncode == code, result.stderr
        if code == ExitCode.SETUP:
            assert result.stderr == (f"models.py: error: this Python ({sys.executable}) lacks the project's dependencies "
                                     "(yaml, pulumi, pulumi_aws, boto3, botocore not found) and there is no usable venv/ "
                                     "to run instead; set up from the repository root with `python3 -m venv venv && "
                                     "venv/bin/pip install -r requirements-dev.txt` (README, Quick start), then run "
                                     "`venv/bin/python automation/models.py ...`\n")
        else:
            assert " 19  registry " in result.stdout and starts(root) == 1


@pytest.mark.parametrize("variant, problem", [
    ({"name": "champion", "weight": 1.0, "modelVersion": 2, "previousModelVersion": 0},
     "variants[0].previousModelVersion: got 0; must be between 1 and 1000000"),
    ({"name": "champion", "weight": 1.0, "previousModelVersion": "2"}, "variants[0].previousModelVersion: got '2'; expected an integer"),
    ({"name": "champion", "weight": 1.0, "lastModelVersion": 2}, "variants[0].lastModelVersion: got 2; unknown field"),
])
def test_a_stack_file_the_program_would_refuse_is_code_3_with_every_problem(project, variant, problem):
    set_variants(project, "dev", [variant])
    code, out, err = invoke(project, "dev", "list", "churn", aws_client=no_aws_client)
    assert (code, out) == (ExitCode.CONFIG, "")
    assert err.startswith("error: Stack 'dev' has 1 config problem(s)") and problem in err
