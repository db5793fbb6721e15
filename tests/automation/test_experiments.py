"""automation/experiments.py: start an experiment, read its evidence, apply its decision or stop it.

The registry, the live endpoint and the decision record are moto's (SageMaker model packages with
their approval status; an endpoint whose weights UpdateEndpointWeightsAndCapacities moves; an SSM
parameter holding a record the decision function itself made, functions/promotion/handler.py).
AWS refusals come from botocore's Stubber, checked against each service's model. The driver is
tests/automation/test_models.py's double, which records the request and the stack file as the
deploy would read it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from test_deploy import ROOT, FakeAutomation, make_system, no_aws_client
from test_models import DeployDouble

from automation import experiments, stackfile, stacks
from automation.driver import Operation, Request
from automation.exit_codes import EXIT_CODE_HELP, ExitCode
from automation.models import read_config
from automation.stackfile import ItemWith
from components import promotion_workflow
from components.promotion import NO_DECISION_YET
from functions.promotion.evidence import query_id
from functions.promotion.handler import evaluate

REGION = "us-east-1"
NOW = dt.datetime(2030, 3, 6, 10, 17, 42, tzinfo=dt.UTC)
STARTED_AT = "2030-03-06T12:00:00Z"  # the first whole hour at least an hour after NOW
ENDPOINT = ("config", ("mlops-platform:models", "models"), ItemWith("name", "churn"), "endpoint")
# Versions 1..5 of each stack's churn group.
STATUSES = ["Approved", "Approved", "Approved", "PendingManualApproval", "Rejected"]
# Experiments run on instance endpoints (serverless ones serve one variant): dev is switched to them.
SERVING_3 = {"mode": "instances",
             "variants": [{"name": "champion", "weight": 1.0, "modelVersion": 3, "previousModelVersion": 2}]}
IN_EXPERIMENT = {"mode": "instances",
                 "variants": [{"name": "champion", "weight": 0.9, "modelVersion": 3, "previousModelVersion": 2},
                              {"name": "challenger", "weight": 0.1, "modelVersion": 2}],
                 "experiment": {"startedAt": STARTED_AT}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        for stack in ("dev", "prod"):
            sagemaker.create_model_package_group(ModelPackageGroupName=f"mlops-platform-{stack}-churn")
            for status in STATUSES:
                sagemaker.create_model_package(ModelPackageGroupName=f"mlops-platform-{stack}-churn",
                                               ModelApprovalStatus=status)
        yield sagemaker


def moto_client(service: str, region: str | None) -> Any:
    return boto3.client(service, region_name=region)


def serve(project: Path, stack: str, endpoint: dict[str, Any]) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    for key, value in endpoint.items():
        text = stackfile.set_value(text, path.name, (*ENDPOINT, key), value)
    path.write_text(text)


def endpoint_in(text: str) -> dict[str, Any]:
    return stackfile._value_at(stackfile.parse(text, "Pulumi.x.yaml"), ENDPOINT)


def invoke(project: Path, *argv: str, deploy: DeployDouble | None = None, aws_client: Any = moto_client
           ) -> tuple[int, str, str]:
    system = make_system(project, FakeAutomation(), aws_client=aws_client)
    code = experiments.main(list(argv), system=system, deploy=deploy or DeployDouble(), now=lambda: NOW)
    return code, system.out.getvalue(), system.err.getvalue()


def live_endpoint(stack: str, weights: dict[str, float]) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    role = boto3.client("iam", region_name=REGION).create_role(RoleName=f"{stack}-endpoint", AssumeRolePolicyDocument="{}")
    variants = []
    for variant, weight in weights.items():
        sagemaker.create_model(ModelName=f"{stack}-{variant}", ExecutionRoleArn=role["Role"]["Arn"],
                               PrimaryContainer={"Image": "image", "ModelDataUrl": "s3://bucket/model.tar.gz"})
        variants.append({"VariantName": variant, "ModelName": f"{stack}-{variant}", "InitialVariantWeight": weight,
                         "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"})
    sagemaker.create_endpoint_config(EndpointConfigName=f"{stack}-config", ProductionVariants=variants)
    sagemaker.create_endpoint(EndpointName=f"mlops-platform-{stack}-churn-endpoint", EndpointConfigName=f"{stack}-config")


def record_decision(project: Path, stack: str, champion: tuple[int, int], challenger: tuple[int, int],
                    weights: dict[str, float] | None = None) -> dict[str, Any]:
    """What the pipeline records: the decision function's own record for these counts (p99 42 ms)."""
    cfg = read_config(stacks.parse_stack_name(stack), project)
    experiment = promotion_workflow.experiment_of(cfg, cfg.models[0], f"mlops-platform-{stack}-churn-endpoint")
    metrics = []
    for role, (invocations, errors) in (("champion", champion), ("challenger", challenger)):
        for key, value in (("invocations", invocations), ("errors_4xx", errors), ("model_latency_p99", 42_000.0)):
            metrics.append({"Id": query_id(role, key), "Values": [value], "StatusCode": "Complete"})
    live = [{"VariantName": name, "CurrentWeight": weight}
            for name, weight in (weights or {"champion": 0.9, "challenger": 0.1}).items()]
    record = evaluate({"experiment": experiment.to_event(), "window": {"start": STARTED_AT, "end": "2030-03-07T09:00:00.123Z"},
                       "endpoint": {"status": "InService", "variants": live}, "metrics": metrics,
                       "execution": "arn:aws:states:us-east-1:123456789012:execution:p:run-1"})["record"]
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=f"/mlops-platform/{stack}/experiments/churn", Value=json.dumps(record), Type="String", Overwrite=True)
    return record


# -- start --------------------------------------------------------------------------------------
def test_start_writes_the_challenger_and_the_experiment_then_deploys(project, aws):
    serve(project, "prod", SERVING_3)
    before = (project / "Pulumi.prod.yaml").read_text()
    deploy = DeployDouble()
    code, out, err = invoke(project, "prod", "start", "churn", "--challenger", "2", "--weight", "0.2", "--yes",
                            deploy=deploy)
    assert code == ExitCode.OK, err
    ((request, deployed),) = deploy.calls
    assert request == Request(stack=stacks.parse_stack_name("prod"), operation=Operation.UP, yes=True, json=False)
    assert endpoint_in(deployed)["variants"] == [
        {"name": "champion", "weight": 0.8, "modelVersion": 3, "previousModelVersion": 2},
        {"name": "challenger", "weight": 0.2, "modelVersion": 2}]
    assert endpoint_in(deployed)["experiment"] == {"startedAt": STARTED_AT}
    config = read_config(stacks.parse_stack_name("prod"), project)
    experiment = config.models[0].endpoint.experiment
    assert (experiment.started_at, experiment.min_invocations_per_variant, experiment.schedule) == \
        (STARTED_AT, 1000, "rate(1 hour)")
    assert deployed.splitlines()[:2] == before.splitlines()[:2]  # the file's own comments
    assert ("Pulumi.prod.yaml: churn: experiment started: challenger version 2 at weight 0.2 beside champion version "
            f"3; evidence counts from {STARTED_AT}") in out.splitlines()


@pytest.mark.parametrize("now,started_at", [
    (dt.datetime(2030, 3, 6, 10, 17, 42, tzinfo=dt.UTC), "2030-03-06T12:00:00Z"),
    (dt.datetime(2030, 3, 6, 10, 0, 0, tzinfo=dt.UTC), "2030-03-06T11:00:00Z"),
    (dt.datetime(2030, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC), "2031-01-01T01:00:00Z"),
    (dt.datetime(2030, 3, 6, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), "2030-03-06T12:00:00Z"),
])
def test_the_window_starts_on_the_first_whole_hour_an_hour_away(now, started_at):
    assert experiments._window_start(now).strftime("%Y-%m-%dT%H:%M:%SZ") == started_at


def test_start_takes_the_rule_from_its_flags(project, aws):
    serve(project, "dev", SERVING_3)
    deploy = DeployDouble()
    code, _, err = invoke(project, "dev", "start", "churn", "--challenger", "1", "--min-invocations", "5000",
                          "--significance", "0.01", "--latency-tolerance-percent", "5", "--schedule", "rate(30 minutes)",
                          "--business-metric", "PredictionCorrect", "--business-min-samples", "800", "--yes", deploy=deploy)
    assert code == ExitCode.OK, err
    assert endpoint_in(deploy.calls[0][1])["experiment"] == {
        "startedAt": STARTED_AT, "minInvocationsPerVariant": 5000, "errorRateSignificance": 0.01,
        "p99LatencyTolerancePercent": 5.0, "schedule": "rate(30 minutes)",
        "businessMetric": {"metricName": "PredictionCorrect", "minSamplesPerVariant": 800}}


@pytest.mark.parametrize("stack,endpoint,argv,expected,message", [
    ("dev", SERVING_3, ["--challenger", "3"], ExitCode.SAME_VERSION,
     "error: version 3 already serves as churn's champion: pick another version to compare it with"),
    ("dev", IN_EXPERIMENT, ["--challenger", "1"], ExitCode.EXPERIMENT_RUNNING,
     "error: churn's endpoint already runs an experiment (challenger version 2 since 2030-03-06T12:00:00Z): apply its "
     "decision or stop it first (`python automation/experiments.py dev status churn`)"),
    ("dev", {"mode": "instances", "variants": [{"name": "champion", "weight": 0.5, "modelVersion": 3},
                          {"name": "blue", "weight": 0.5, "modelVersion": 1}]}, ["--challenger", "2"],
     ExitCode.EXPERIMENT_RUNNING, "error: churn's endpoint already splits its traffic between champion, blue"),
    ("dev", {"variants": [{"name": "champion", "weight": 1.0}]}, ["--challenger", "2"], ExitCode.NO_CHAMPION,
     "error: churn's endpoint has no variant named champion serving a version (it has champion, version none)"),
    ("dev", {"variants": [{"name": "blue", "weight": 1.0, "modelVersion": 3}]}, ["--challenger", "2"],
     ExitCode.NO_CHAMPION, "(it has blue, version 3)"),
    ("prod", SERVING_3, ["--challenger", "4"], ExitCode.NOT_APPROVED,
     "error: churn version 4 is PendingManualApproval: 'prod' is a production stack and serves Approved versions only"),
    ("dev", SERVING_3, ["--challenger", "5"], ExitCode.NOT_APPROVED, "error: churn version 5 is Rejected"),
    ("dev", SERVING_3, ["--challenger", "9"], ExitCode.UNKNOWN_VERSION,
     "error: model package group mlops-platform-dev-churn (us-east-1) has no version 9"),
    ("dev", SERVING_3, ["--challenger", "2", "--min-invocations", "5"], ExitCode.CONFIG,
     "mlops-platform:models[0].endpoint.experiment.minInvocationsPerVariant: got 5; must be between 10 and 1000000000"),
    ("dev", SERVING_3, ["--challenger", "2", "--schedule", "hourly"], ExitCode.CONFIG,
     "mlops-platform:models[0].endpoint.experiment.schedule: got 'hourly'"),
    ("dev", {"variants": SERVING_3["variants"]}, ["--challenger", "2"], ExitCode.CONFIG,  # dev's serverless endpoint
     "a serverless endpoint serves one variant (SageMaker's serverless feature exclusions); A/B variants need mode: "
     "instances"),
    ("dev", SERVING_3, ["--challenger", "2", "--weight", "1"], ExitCode.USAGE,
     "argument --weight: '1': the challenger's share of traffic, above 0 and below 1"),
    ("dev", SERVING_3, ["--challenger", "2", "--business-min-samples", "9"], ExitCode.USAGE,
     "--business-min-samples goes with --business-metric"),
])
def test_start_refuses_what_cannot_be_an_experiment_and_changes_nothing(project, aws, capsys, stack, endpoint, argv,
                                                                         expected, message):
    serve(project, stack, endpoint)
    path = project / f"Pulumi.{stack}.yaml"
    before = path.read_text()
    deploy = DeployDouble()
    code, out, err = invoke(project, stack, "start", "churn", *argv, "--yes", deploy=deploy)
    assert code == expected
    assert message in err + capsys.readouterr().err
    assert deploy.calls == [] and path.read_text() == before


def test_start_offline_plans_it_and_writes_asks_and_deploys_nothing(project, monkeypatch):
    serve(project, "dev", SERVING_3)
    before = (project / "Pulumi.dev.yaml").read_text()
    planned: list[str] = []
    monkeypatch.setattr(experiments, "_plan_offline", lambda session, text: planned.append(text) or ExitCode.OK)
    deploy = DeployDouble()
    code, _, err = invoke(project, "dev", "start", "churn", "--challenger", "4", "--offline", deploy=deploy,
                          aws_client=no_aws_client)
    assert code == ExitCode.OK, err
    assert [endpoint_in(text)["experiment"] for text in planned] == [{"startedAt": STARTED_AT}]
    assert deploy.calls == [] and (project / "Pulumi.dev.yaml").read_text() == before


@pytest.mark.parametrize("deploy_code,restored", [(ExitCode.NOT_CONFIRMED, True), (ExitCode.CONCURRENT_UPDATE, True),
                                                  (ExitCode.FAILED, False)])
def test_the_file_goes_back_only_when_nothing_was_deployed(project, aws, deploy_code, restored):
    serve(project, "dev", SERVING_3)
    path = project / "Pulumi.dev.yaml"
    before = path.read_text()
    code, out, _ = invoke(project, "dev", "start", "churn", "--challenger", "2", deploy=DeployDouble(deploy_code))
    assert code == deploy_code
    assert (path.read_text() == before) is restored
    assert ("is back as it was: nothing was deployed" if restored else "keeps the change, but the deploy failed") in out


# -- status -------------------------------------------------------------------------------------
def test_status_shows_the_experiment_live_weights_and_the_recorded_evidence(project, aws):
    serve(project, "dev", IN_EXPERIMENT)
    live_endpoint("dev", {"champion": 0.9, "challenger": 0.1})
    record_decision(project, "dev", champion=(5412, 11), challenger=(612, 2))
    code, out, err = invoke(project, "dev", "status", "churn")
    assert code == ExitCode.OK, err
    assert out.splitlines() == [
        "Experiment on churn (stack 'dev', endpoint mlops-platform-dev-churn-endpoint): evidence from "
        "2030-03-06T12:00:00Z, judged rate(1 hour) by mlops-platform-dev-churn-promotion",
        "  champion    version 3      weight 0.9   live 0.9",
        "  challenger  version 2      weight 0.1   live 0.1",
        "  rule: 1000 invocations a variant; error rates by a one-sided exact test at 0.05; p99 model latency within 10%",
        "Latest decision (rule 1, window 2030-03-06T12:00:00Z to 2030-03-07T09:00:00.123Z): not enough evidence",
        "  not enough evidence: the challenger has 612 invocations; each variant needs 1000 before anything is decided",
        "              invocations  errors  error rate  p99 model latency",
        "  champion    5412         11      0.20%       42 ms",
        "  challenger  612          2       0.33%       42 ms",
    ]


def test_status_as_json_and_after_a_promotion(project, aws):
    serve(project, "dev", IN_EXPERIMENT)
    live_endpoint("dev", {"champion": 0.0, "challenger": 1.0})
    record = record_decision(project, "dev", champion=(9000, 180), challenger=(1000, 9))
    code, out, _ = invoke(project, "dev", "status", "churn", "--json")
    assert code == ExitCode.OK
    shown = json.loads(out)
    assert shown["record"] == record and record["outcome"] == "promote_challenger"
    assert shown["experiment"]["variants"] == {"champion": {"model_version": 3, "weight": 0.9, "live_weight": 0.0},
                                               "challenger": {"model_version": 2, "weight": 0.1, "live_weight": 1.0}}
    code, out, _ = invoke(project, "dev", "status", "churn")
    assert out.splitlines()[-1] == ("Live traffic follows it. Write it into Pulumi.dev.yaml and end the experiment: "
                                    "`python automation/experiments.py dev apply churn`")


def test_status_before_the_first_decision_and_before_the_deploy(project, aws):
    serve(project, "dev", IN_EXPERIMENT)
    code, out, _ = invoke(project, "dev", "status", "churn")
    assert code == ExitCode.OK
    assert "  champion    version 3      weight 0.9   live not deployed" in out.splitlines()
    assert out.splitlines()[-1].startswith("No decision recorded yet")


# -- apply --------------------------------------------------------------------------------------
@pytest.mark.parametrize("champion,challenger,variants,line", [
    ((9000, 180), (1000, 9), [{"name": "champion", "weight": 1.0, "modelVersion": 2, "previousModelVersion": 3}],
     "Pulumi.dev.yaml: churn: decision applied (promote challenger): version 2 serves as champion (previously 3); "
     "experiment ended"),
    ((9000, 45), (1000, 14), [{"name": "champion", "weight": 1.0, "modelVersion": 3, "previousModelVersion": 2}],
     "Pulumi.dev.yaml: churn: decision applied (keep champion): version 3 serves alone, challenger version 2 removed; "
     "experiment ended"),
])
def test_apply_writes_the_winner_as_the_one_champion_and_ends_the_experiment(project, aws, champion, challenger,
                                                                             variants, line):
    serve(project, "dev", IN_EXPERIMENT)
    record_decision(project, "dev", champion, challenger)
    deploy = DeployDouble()
    code, out, err = invoke(project, "dev", "apply", "churn", "--yes", deploy=deploy)
    assert code == ExitCode.OK, err
    ((request, deployed),) = deploy.calls
    assert request.operation is Operation.UP and request.yes
    endpoint = endpoint_in(deployed)
    assert endpoint["variants"] == variants and "experiment" not in endpoint
    assert (endpoint["mode"], endpoint["serverlessMaxConcurrency"]) == ("instances", 5)  # its other settings stay
    assert line in out.splitlines()
    assert read_config(stacks.parse_stack_name("dev"), project).models[0].endpoint.experiment is None


def test_apply_from_a_record_file_offline_plans_without_asking_aws(project, tmp_path, monkeypatch):
    serve(project, "dev", IN_EXPERIMENT)
    with mock_aws():
        record = record_decision(project, "dev", champion=(9000, 180), challenger=(1000, 9))
    saved = tmp_path / "decision.json"
    saved.write_text(json.dumps(record))
    planned: list[str] = []
    monkeypatch.setattr(experiments, "_plan_offline", lambda session, text: planned.append(text) or ExitCode.OK)
    code, _, err = invoke(project, "dev", "apply", "churn", "--from-record", str(saved), "--offline",
                          aws_client=no_aws_client)
    assert code == ExitCode.OK, err
    assert [endpoint_in(text)["variants"][0]["modelVersion"] for text in planned] == [2]


def placeholder(project: Path) -> None:
    """The parameter as the program creates it, before the pipeline's first run."""
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/mlops-platform/dev/experiments/churn", Value=json.dumps(NO_DECISION_YET), Type="String")


@pytest.mark.parametrize("prepare,expected,message", [
    (lambda project: None, ExitCode.NO_DECISION, "error: no decision of churn's experiment is recorded yet: "
                                                 "`python automation/experiments.py dev status churn` shows"),
    (placeholder, ExitCode.NO_DECISION, "error: no decision of churn's experiment is recorded yet"),
    (lambda project: record_decision(project, "dev", (5412, 11), (612, 2)), ExitCode.NO_DECISION,
     'error: the latest decision is "not enough evidence: the challenger has 612 invocations; each variant needs 1000 '
     'before anything is decided": nothing to apply yet'),
])
def test_apply_refuses_without_a_decision_of_this_experiment(project, aws, prepare, expected, message):
    serve(project, "dev", IN_EXPERIMENT)
    prepare(project)
    before = (project / "Pulumi.dev.yaml").read_text()
    deploy = DeployDouble()
    code, _, err = invoke(project, "dev", "apply", "churn", "--yes", deploy=deploy)
    assert (code, deploy.calls, (project / "Pulumi.dev.yaml").read_text()) == (expected, [], before)
    assert message in err


def test_a_record_of_another_experiment_is_never_applied_or_shown(project, aws):
    serve(project, "dev", IN_EXPERIMENT)
    record_decision(project, "dev", (9000, 180), (1000, 9))
    serve(project, "dev", {"experiment": {"startedAt": "2030-04-01T00:00:00Z"}})  # a later experiment, same versions
    code, _, err = invoke(project, "dev", "apply", "churn", "--yes")
    assert code == ExitCode.NO_DECISION
    assert err == ("error: the recorded decision is of another experiment than the one Pulumi.dev.yaml configures "
                   f"(started {STARTED_AT}): nothing to apply\n")
    code, out, _ = invoke(project, "dev", "status", "churn", "--json")
    assert json.loads(out)["record"] is None


# -- stop ---------------------------------------------------------------------------------------
def test_stop_ends_the_experiment_with_the_champion_alone_and_says_what_it_discards(project, aws):
    serve(project, "dev", IN_EXPERIMENT)
    record_decision(project, "dev", (9000, 180), (1000, 9))
    deploy = DeployDouble()
    code, out, err = invoke(project, "dev", "stop", "churn", "--yes", deploy=deploy)
    assert code == ExitCode.OK, err
    endpoint = endpoint_in(deploy.calls[0][1])
    assert endpoint["variants"] == [{"name": "champion", "weight": 1.0, "modelVersion": 3, "previousModelVersion": 2}]
    assert "experiment" not in endpoint
    assert out.splitlines()[0].startswith("warning: the pipeline promoted the challenger live (promote challenger: ")
    assert "stopping returns all traffic to version 3" in out


def test_stop_goes_on_when_the_record_cannot_be_read(project):
    serve(project, "dev", IN_EXPERIMENT)
    ssm = boto3.client("ssm", region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")
    stubber = Stubber(ssm)
    stubber.add_client_error("get_parameter", service_error_code="AccessDeniedException", service_message="denied",
                             expected_params={"Name": "/mlops-platform/dev/experiments/churn"})
    deploy = DeployDouble()
    with stubber:
        code, out, err = invoke(project, "dev", "stop", "churn", "--yes", deploy=deploy,
                                aws_client=lambda service, region: {"ssm": ssm}[service])
    assert code == ExitCode.OK, err
    assert out.splitlines()[0] == ("note: reading the decision record /mlops-platform/dev/experiments/churn failed: "
                                   "AccessDeniedException: denied; stopping without knowing the pipeline's decision")
    assert "experiment" not in endpoint_in(deploy.calls[0][1])


def test_a_full_experiment_round_trip_leaves_a_file_that_can_start_the_next(project, aws):
    serve(project, "dev", SERVING_3)
    assert invoke(project, "dev", "start", "churn", "--challenger", "1", "--yes")[0] == ExitCode.OK
    record_decision(project, "dev", (9000, 180), (1000, 9))
    assert invoke(project, "dev", "apply", "churn", "--yes")[0] == ExitCode.OK
    code, _, err = invoke(project, "dev", "start", "churn", "--challenger", "2", "--yes")
    assert code == ExitCode.OK, err
    assert endpoint_in((project / "Pulumi.dev.yaml").read_text())["variants"] == [
        {"name": "champion", "weight": 0.9, "modelVersion": 1, "previousModelVersion": 3},
        {"name": "challenger", "weight": 0.1, "modelVersion": 2}]


# -- what cannot be done, and AWS refusals ------------------------------------------------------
@pytest.mark.parametrize("command", ["status", "apply", "stop"])
def test_without_an_experiment_there_is_nothing_to_show_apply_or_stop(project, command):
    serve(project, "dev", SERVING_3)
    code, _, err = invoke(project, "dev", command, "churn", aws_client=no_aws_client)
    assert code == ExitCode.NO_EXPERIMENT
    assert err == ("error: churn's endpoint runs no experiment (Pulumi.dev.yaml, endpoint.experiment): start one with "
                   "`python automation/experiments.py dev start churn --challenger VERSION`\n")


def test_an_unknown_model_and_apply_offline_without_a_record(project, capsys):
    assert invoke(project, "dev", "status", "fraud", aws_client=no_aws_client)[0] == ExitCode.UNKNOWN_MODEL
    assert invoke(project, "dev", "apply", "churn", "--offline", aws_client=no_aws_client)[0] == ExitCode.USAGE
    assert "apply --offline reads no decision from AWS: give it with --from-record FILE" in capsys.readouterr().err


@pytest.mark.parametrize("code_,expected", [("AccessDeniedException", ExitCode.EXPERIMENT_AWS),
                                            ("ExpiredTokenException", ExitCode.NO_AWS_CREDENTIALS)])
def test_aws_refusals_are_one_line_with_their_code(project, code_, expected):
    serve(project, "dev", IN_EXPERIMENT)
    ssm = boto3.client("ssm", region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")
    stubber = Stubber(ssm)
    stubber.add_client_error("get_parameter", service_error_code=code_, service_message="not authorized",
                             expected_params={"Name": "/mlops-platform/dev/experiments/churn"})
    with stubber:
        code, _, err = invoke(project, "dev", "apply", "churn", aws_client=lambda service, region: {"ssm": ssm}[service])
    assert code == expected
    assert err == (f"error: reading the decision record /mlops-platform/dev/experiments/churn failed: {code_}: "
                   "not authorized\n")


def test_troubleshooting_lists_each_code_of_experiments_py_by_value_and_name():
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    section = text[text.index("## A/B experiments (automation/experiments.py)"):]
    section = section[:section.index("\n## ", 3)] if "\n## " in section[3:] else section
    rows = {(int(value), name) for value, name in re.findall(r"^\| (\d+) \| (\w+) \|", section, re.MULTILINE)}
    own = {code for code in ExitCode if EXIT_CODE_HELP[code].startswith("experiments.py: ")}
    assert rows == {(code.value, code.name.lower()) for code in own} and len(own) == 6


def test_the_record_a_status_reads_is_where_the_program_puts_it(project):
    """One name for the parameter: the component's, which the pipeline writes to."""
    from components.promotion import parameter_name

    cfg = read_config(stacks.parse_stack_name("dev"), project)
    session = experiments.Session(stacks.parse_stack_name("dev"), cfg, cfg.models[0],
                                  make_system(project, FakeAutomation()), DeployDouble(), False)
    assert experiments.Live(session).parameter == parameter_name(cfg, "churn") == "/mlops-platform/dev/experiments/churn"
