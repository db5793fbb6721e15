"""deploy.py warns when an endpoint's live weights differ from the stack file's, and goes on.

The live endpoint is moto's SageMaker (CreateEndpoint with weighted variants, and
UpdateEndpointWeightsAndCapacities as the promotion pipeline calls it); an AWS refusal comes from
botocore's Stubber, which checks the request against SageMaker's service model. The Automation
API is tests/automation/test_deploy.py's double, so the deploy itself is not run.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from test_deploy import ROOT, FakeAutomation, make_system, no_aws_client

from automation import deploy, stackfile
from automation.exit_codes import ExitCode
from automation.stackfile import ItemWith

REGION = "us-east-1"
ENDPOINT = "mlops-platform-dev-churn-endpoint"
EXPERIMENT_ENDPOINT = ("config", ("mlops-platform:models", "models"), ItemWith("name", "churn"), "endpoint")
IN_EXPERIMENT = {"mode": "instances",  # serverless endpoints serve one variant
                 "variants": [{"name": "champion", "weight": 0.9, "modelVersion": 3},
                              {"name": "challenger", "weight": 0.1, "modelVersion": 4}],
                 "experiment": {"startedAt": "2030-03-06T11:00:00Z"}}
WARNING = ("warning: endpoint mlops-platform-dev-churn-endpoint serves with live weights challenger=1 champion=0, but "
           "Pulumi.dev.yaml says challenger=0.1 champion=0.9; a deploy that updates this endpoint's configuration puts "
           "the file's weights back. If the promotion pipeline moved them, write its decision into the file first: "
           "`python automation/experiments.py dev apply churn`")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def serve(project: Path, endpoint: dict[str, Any]) -> None:
    """Pulumi.dev.yaml's churn endpoint with these variants (and experiment)."""
    path = project / "Pulumi.dev.yaml"
    text = path.read_text()
    for key, value in endpoint.items():
        text = stackfile.set_value(text, path.name, (*EXPERIMENT_ENDPOINT, key), value)
    path.write_text(text)


@pytest.fixture
def sagemaker():
    with mock_aws():
        yield boto3.client("sagemaker", region_name=REGION)


def live_endpoint(sagemaker: Any, weights: dict[str, float], name: str = ENDPOINT) -> None:
    role = boto3.client("iam", region_name=REGION).create_role(RoleName="endpoint", AssumeRolePolicyDocument="{}")
    variants = []
    for variant, weight in weights.items():
        sagemaker.create_model(ModelName=f"churn-{variant}", ExecutionRoleArn=role["Role"]["Arn"],
                               PrimaryContainer={"Image": "image", "ModelDataUrl": "s3://bucket/model.tar.gz"})
        variants.append({"VariantName": variant, "ModelName": f"churn-{variant}", "InitialVariantWeight": weight,
                         "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"})
    sagemaker.create_endpoint_config(EndpointConfigName="churn-config", ProductionVariants=variants)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="churn-config")


def moto_client(service: str, region: str | None) -> Any:
    return boto3.client(service, region_name=region)


def deploy_with(project: Path, *argv: str, aws_client: Any = moto_client) -> tuple[int, str, str, FakeAutomation]:
    automation = FakeAutomation(backend={"dev"})
    system = make_system(project, automation, aws_client=aws_client)
    code = deploy.main(["dev", *argv], system=system)
    return code, system.out.getvalue(), system.err.getvalue(), automation


@pytest.mark.parametrize("argv,operation", [(("--yes",), "up"), (("--preview",), "preview")])
def test_weights_a_promotion_moved_are_warned_about_and_the_deploy_goes_on(project, sagemaker, argv, operation):
    serve(project, IN_EXPERIMENT)
    live_endpoint(sagemaker, {"champion": 0.9, "challenger": 0.1})
    sagemaker.update_endpoint_weights_and_capacities(EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[
        {"VariantName": "champion", "DesiredWeight": 0.0}, {"VariantName": "challenger", "DesiredWeight": 1.0}])

    code, out, err, automation = deploy_with(project, *argv)

    assert code == ExitCode.OK, err
    lines = out.splitlines()
    assert lines[1] == WARNING  # after the line naming the stack and backend, before anything is previewed
    assert [call[0] for call in automation.calls if call[0] in ("up", "preview")] == [operation]


def test_with_json_the_warning_goes_to_stderr_and_stdout_keeps_the_json(project, sagemaker):
    serve(project, IN_EXPERIMENT)
    live_endpoint(sagemaker, {"champion": 0.0, "challenger": 1.0})
    code, out, err, _ = deploy_with(project, "--yes", "--json")
    assert code == ExitCode.OK
    assert WARNING in err.splitlines() and WARNING not in out


@pytest.mark.parametrize("live,endpoint", [
    pytest.param({"champion": 0.9, "challenger": 0.1}, IN_EXPERIMENT, id="as-configured"),
    pytest.param({"champion": 9.0, "challenger": 1.0}, IN_EXPERIMENT, id="same-shares"),
    # After `experiments.py apply`: the file's one champion replaces both variants on purpose.
    pytest.param({"champion": 0.0, "challenger": 1.0},
                 {"variants": [{"name": "champion", "weight": 1.0, "modelVersion": 4, "previousModelVersion": 3}]},
                 id="decision-applied"),
])
def test_no_warning_when_the_file_says_what_serves_or_changes_the_variants(project, sagemaker, live, endpoint):
    serve(project, endpoint)
    live_endpoint(sagemaker, live)
    code, out, err, _ = deploy_with(project, "--yes")
    assert code == ExitCode.OK, err
    assert "warning:" not in out + err


def test_an_endpoint_not_deployed_yet_is_not_a_difference(project, sagemaker):
    serve(project, IN_EXPERIMENT)
    code, out, err, _ = deploy_with(project, "--yes")
    assert code == ExitCode.OK and "warning:" not in out + err


def test_a_stack_serving_no_version_asks_aws_nothing(project):
    code, out, err, _ = deploy_with(project, "--yes", aws_client=no_aws_client)
    assert code == ExitCode.OK, err
    assert "warning:" not in out + err


@pytest.mark.parametrize("argv", [("--refresh", "--yes"), ("--destroy", "--yes"), ("--outputs",)])
def test_only_operations_that_run_the_program_compare(project, argv):
    serve(project, IN_EXPERIMENT)
    code, _, err, _ = deploy_with(project, *argv, aws_client=no_aws_client)
    assert code == ExitCode.OK, err


def test_weights_aws_will_not_show_are_one_warning_and_the_deploy_goes_on(project):
    serve(project, IN_EXPERIMENT)
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")
    stubber = Stubber(client)
    stubber.add_client_error("describe_endpoint", service_error_code="AccessDeniedException", http_status_code=403,
                             service_message="not authorized to perform: sagemaker:DescribeEndpoint",
                             expected_params={"EndpointName": ENDPOINT})
    with stubber:
        code, out, err, automation = deploy_with(project, "--yes", aws_client=lambda service, region: client)
    assert code == ExitCode.OK, err
    assert ("warning: could not compare live endpoint weights with Pulumi.dev.yaml (An error occurred "
            "(AccessDeniedException) when calling the DescribeEndpoint operation: not authorized to perform: "
            "sagemaker:DescribeEndpoint); if an experiment's promotion pipeline moved them, `python "
            "automation/experiments.py dev status MODEL` shows it") in out.splitlines()
    assert [call[0] for call in automation.calls if call[0] == "up"] == ["up"]
    stubber.assert_no_pending_responses()
