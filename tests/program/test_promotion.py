"""The promotion pipeline as the program plans it: it exists exactly where an experiment is
configured, its definition is the builder's, and its roles hold least privilege. Every plan runs
the real program (`__main__.py`) through the offline engine, with the stack's models overridden.
"""

from __future__ import annotations

import copy
import json
import os
import re

import pytest
import yaml

from automation import offline
from automation.guardrails import states as states_module
from automation.offline import Plan
from components import config, promotion_workflow
from components.promotion import NO_DECISION_YET, parameter_name
from components.promotion_policies import UNSCOPED_STATEMENTS

PROJECT = "mlops-platform"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PARAMETER = "aws:ssm/parameter:Parameter"
FUNCTION = "aws:lambda/function:Function"
COMPONENT = "mlops:components:Promotion"

EXPERIMENT = {"startedAt": "2030-03-06T11:00:00Z", "schedule": "rate(30 minutes)",
              "businessMetric": {"metricName": "PredictionCorrect"}}


def models_with(stack: str, experiments: dict[str, dict | None]) -> list[dict]:
    """The stack file's models; each named in `experiments` (a copy of the first model when the
    file lacks it) serves champion v3 and challenger v4 with that experiment, or v3 alone with None."""
    document = yaml.safe_load((offline.ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    models = {m["name"]: m for m in copy.deepcopy(document[f"{PROJECT}:models"])}
    first = next(iter(models.values()))
    for name, experiment in experiments.items():
        model = models.setdefault(name, {**copy.deepcopy(first), "name": name})
        endpoint = model["endpoint"]
        if experiment is None:
            endpoint["variants"] = [{"name": "champion", "weight": 1.0, "modelVersion": 3}]
            endpoint.pop("experiment", None)
        else:
            # SageMaker serverless endpoints serve one variant: an experiment runs on instances.
            endpoint.update(mode="instances", instanceCount=2)
            endpoint["variants"] = [{"name": "champion", "weight": 0.9, "modelVersion": 3},
                                    {"name": "challenger", "weight": 0.1, "modelVersion": 4}]
            endpoint["experiment"] = experiment
    return list(models.values())


def plan(stack: str, experiments: dict[str, dict | None], **overrides) -> Plan:
    return offline.plan(stack, config_overrides={"models": models_with(stack, experiments), **overrides})


def function_arn(plan_: Plan, model: str = "churn") -> str:
    return plan_.get(FUNCTION, f"promotion-{model}-decision-function").outputs["arn"]


def policy(plan_: Plan, name: str) -> dict:
    return json.loads(plan_.get(ROLE_POLICY, name).inputs["policy"])


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def unsecret(value):
    """pulumi-aws marks every SSM parameter value secret; plan inputs keep the secret envelope."""
    if isinstance(value, dict) and "value" in value and "4dabf18193072939515e22adb298388d" in value:
        return value["value"]
    return value


def promotion_resources(plan_: Plan) -> list:
    components = plan_.of_type(COMPONENT)
    return components + [r for component in components for r in plan_.descendants(component)]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_an_experiment_there_is_no_pipeline_schedule_or_role(plan_for, stack):
    for planned in (plan(stack, {"churn": None}), plan_for(stack)):
        assert promotion_resources(planned) == []
        assert not [r for r in planned.of_type(STATE_MACHINE) if "promotion" in r.inputs["name"]]
        assert not [r for r in planned.of_type(ROLE) if "promotion" in r.inputs["name"]]
        assert not [r for r in planned.of_type(RULE) if "promotion" in r.inputs["name"]]
        assert "promotion_state_machines" not in planned.outputs


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_experiment_brings_its_pipeline_schedule_roles_and_record(stack):
    planned = plan(stack, {"churn": EXPERIMENT})
    names = {(r.type, r.name) for r in promotion_resources(planned)}
    assert {(COMPONENT, "promotion-churn"), (STATE_MACHINE, "promotion-churn-pipeline"),
            (ROLE, "promotion-churn-pipeline-role"), (ROLE, "promotion-churn-schedule-role"),
            (RULE, "promotion-churn-schedule"), (TARGET, "promotion-churn-schedule-target"),
            (PARAMETER, "promotion-churn-record"), (FUNCTION, "promotion-churn-decision-function")} <= names
    machine = planned.get(STATE_MACHINE, "promotion-churn-pipeline")
    assert machine.inputs["name"] == f"mlops-platform-{stack}-churn-promotion"
    rule = planned.get(RULE, "promotion-churn-schedule")
    assert rule.inputs["scheduleExpression"] == "rate(30 minutes)"
    target = planned.get(TARGET, "promotion-churn-schedule-target")
    assert (target.inputs["arn"], target.inputs["roleArn"]) == \
        (machine.outputs["arn"], planned.get(ROLE, "promotion-churn-schedule-role").outputs["arn"])
    record = planned.get(PARAMETER, "promotion-churn-record")
    assert (record.inputs["name"], record.inputs["type"], json.loads(unsecret(record.inputs["value"]))) == \
        (f"/mlops-platform/{stack}/experiments/churn", "String", NO_DECISION_YET)
    assert record.ignore_changes == ("value",)  # a deploy never puts the placeholder back over a decision


def test_experiments_on_two_models_get_two_pipelines_without_a_clash():
    planned = plan("dev", {"churn": EXPERIMENT, "upsell": {"startedAt": "2030-03-07T00:00:00Z"}})
    machines = {r.name: r.inputs["name"] for r in promotion_resources(planned) if r.type == STATE_MACHINE}
    assert machines == {"promotion-churn-pipeline": "mlops-platform-dev-churn-promotion",
                        "promotion-upsell-pipeline": "mlops-platform-dev-upsell-promotion"}
    assert planned.outputs["promotion_state_machines"] == {
        model: planned.get(STATE_MACHINE, f"promotion-{model}-pipeline").outputs["arn"] for model in ("churn", "upsell")}
    only_one = plan("dev", {"churn": None, "upsell": EXPERIMENT})
    assert [r.name for r in promotion_resources(only_one) if r.type == STATE_MACHINE] == ["promotion-upsell-pipeline"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_deployed_definition_is_exactly_the_builders(stack):
    """What tests/functions/test_promotion_workflow.py executes in moto is what deploys."""
    planned = plan(stack, {"churn": EXPERIMENT})
    cfg = config.parse_cli_config(PROJECT, stack, {**offline.load_stack_config(stack)[0],
                                                   f"{PROJECT}:models": json.dumps(models_with(stack, {"churn": EXPERIMENT}))})
    expected = promotion_workflow.definition(promotion_workflow.spec_for(
        cfg, cfg.models[0], endpoint_name=planned.outputs["endpoints"]["churn"],
        function_arn=function_arn(planned), parameter_name=parameter_name(cfg, "churn"),
        topic_arn=planned.outputs["alert_topic_arn"]))
    assert json.loads(planned.get(STATE_MACHINE, "promotion-churn-pipeline").inputs["definition"]) == expected


def test_the_pipeline_role_may_do_exactly_what_the_pipeline_does():
    planned = plan("dev", {"churn": EXPERIMENT})
    account, region = offline.ACCOUNT_ID, "us-east-1"
    statements = {s["Sid"]: s for s in policy(planned, "promotion-churn-pipeline-access")["Statement"]}
    granted = {(action, resource) for s in statements.values() for action in as_list(s["Action"])
               for resource in as_list(s["Resource"])}
    endpoint = f"arn:aws:sagemaker:{region}:{account}:endpoint/mlops-platform-dev-churn-endpoint"
    assert granted == {
        ("cloudwatch:GetMetricData", "*"),
        ("sagemaker:DescribeEndpoint", endpoint),
        ("sagemaker:UpdateEndpointWeightsAndCapacities", endpoint),
        ("lambda:InvokeFunction", function_arn(planned)),
        ("ssm:PutParameter", f"arn:aws:ssm:{region}:{account}:parameter/mlops-platform/dev/experiments/churn"),
        ("sns:Publish", planned.outputs["alert_topic_arn"]),
        ("kms:GenerateDataKey", planned.outputs["kms_key_arn"]),
        ("kms:Decrypt", planned.outputs["kms_key_arn"]),
    }
    assert statements["EncryptNotifications"]["Condition"] == {"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}}
    schedule = policy(planned, "promotion-churn-schedule-access")["Statement"]
    assert [(s["Action"], s["Resource"]) for s in schedule] == \
        [(["states:StartExecution"], [planned.outputs["promotion_state_machines"]["churn"]])]


def test_no_promotion_policy_uses_wildcard_actions_or_unscoped_resources():
    planned = plan("prod", {"churn": EXPERIMENT})
    documents = [json.loads(p.inputs["policy"]) for p in promotion_resources(planned) if p.type == ROLE_POLICY]
    assert len(documents) == 3  # the pipeline, its schedule, the decision function
    for document in documents:
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            assert not [a for a in as_list(statement["Action"]) if "*" in a], statement
            if "*" in as_list(statement["Resource"]):
                assert statement["Sid"] in UNSCOPED_STATEMENTS and statement["Action"] == ["cloudwatch:GetMetricData"]


def test_trust_is_pinned_to_this_account_and_the_pipelines_own_machine_and_rule():
    planned = plan("dev", {"churn": EXPERIMENT})
    for role, service, source in (
            ("promotion-churn-pipeline-role", "states.amazonaws.com", "stateMachine:mlops-platform-dev-churn-promotion"),
            ("promotion-churn-schedule-role", "events.amazonaws.com", "rule/mlops-platform-dev-churn-promotion")):
        (statement,) = json.loads(planned.get(ROLE, role).inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Service": service}
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": offline.ACCOUNT_ID}
        assert statement["Condition"]["ArnLike"]["aws:SourceArn"][0].endswith(source)


def test_policies_and_integrations_follow_the_partition():
    planned = plan("dev", {"churn": EXPERIMENT}, **{"aws:region": "cn-north-1"})
    text = json.dumps([p.inputs["policy"] for p in promotion_resources(planned) if p.type == ROLE_POLICY])
    definition = planned.get(STATE_MACHINE, "promotion-churn-pipeline").inputs["definition"]
    assert "arn:aws:" not in text and "arn:aws:" not in definition
    assert "arn:aws-cn:states:::aws-sdk:cloudwatch:getMetricData" in definition


def builder_definition(experiment: dict) -> dict:
    cfg = config.parse_cli_config(PROJECT, "dev", {**offline.load_stack_config("dev")[0],
                                                   f"{PROJECT}:models": json.dumps(models_with("dev", {"churn": experiment}))})
    return promotion_workflow.definition(promotion_workflow.spec_for(
        cfg, cfg.models[0], endpoint_name="mlops-platform-dev-churn-endpoint",
        function_arn=f"arn:aws:lambda:us-east-1:{offline.ACCOUNT_ID}:function:mlops-platform-dev-churn-promotion-decision",
        parameter_name="/mlops-platform/dev/experiments/churn",
        topic_arn=f"arn:aws:sns:us-east-1:{offline.ACCOUNT_ID}:mlops-platform-dev-alerts"))


def test_every_failure_is_caught_announced_and_ends_the_execution_failed():
    """Each Task's errors end in a failure state that builds the notification and goes to Notify;
    moto runs two of these ways (tests/functions/test_promotion_workflow.py), this checks them all."""
    states = builder_definition(EXPERIMENT)["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert set(tasks) == {"DescribeEndpoint", "ReadMetrics", "Decide", "ShiftTraffic", "RecordDecision", "Notify"}
    for name, task in tasks.items():
        assert task["Retry"], name
        (catch,) = task["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        if name == "Notify":
            assert states[catch["Next"]]["Next"] == "Finish"
            continue
        failure = states[catch["Next"]]
        assert (failure["Next"], failure["Parameters"]["succeeded"]) == ("Notify", False), name
        assert failure["Parameters"]["message"]["error"] in {f.error for f in promotion_workflow.FAILURES.values()}
    assert states["Failed"] == {"Type": "Fail", "Comment": "See the notification's error and cause",
                                "ErrorPath": "$.notification.message.error", "CausePath": "$.notification.message.cause"}


missing_validator = states_module.asl_validator_available()


@pytest.mark.skipif(missing_validator is not None and os.environ.get("CI") != "true",
                    reason=f"asl-validator cannot run here: {missing_validator} (CI always runs it)")
@pytest.mark.parametrize("experiment", [EXPERIMENT, {"startedAt": "2030-03-06T11:00:00Z"}])
def test_asl_validator_finds_the_definition_valid(experiment):
    """The ASL schema, every transition target, reachability, terminal states and path syntax
    (automation/guardrails/states.py runs the npm package)."""
    assert states_module.asl_validator_problems({"promotion": builder_definition(experiment)}) == {"promotion": []}


def test_troubleshooting_lists_every_way_the_pipeline_fails():
    text = (offline.ROOT / "docs" / "troubleshooting.md").read_text()
    section = text.split("## A/B experiments (automation/experiments.py)", 1)[1]
    listed = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert listed == {failure.error for failure in promotion_workflow.FAILURES.values()}


def test_subjects_fit_sns_with_the_longest_names_config_allows():
    """A 35-character model on a long pull-request stack, and versions up to a million."""
    from functions.promotion.decision import Rule
    from functions.promotion.experiment import Arm, Experiment

    experiment = Experiment(model="m" * 35, stack="pr-12345678", endpoint="e", started_at="2030-03-06T11:00:00Z",
                            champion=Arm("champion", 999_999, 0.9), challenger=Arm("challenger", 1_000_000, 0.1),
                            rule=Rule(1000, 0.05, 0.1))
    spec = promotion_workflow.PromotionSpec(label="mlops-platform/pr-12345678", experiment=experiment, function_arn="f",
                                            parameter_name="/p", topic_arn="t", metric_queries=[])
    subjects = [s["Parameters"]["subject"] for s in promotion_workflow.definition(spec)["States"].values()
                if "subject" in s.get("Parameters", {})]
    assert len(subjects) == 2 + len(promotion_workflow.FAILURES)
    assert all(len(text) < 100 and text.startswith("[mlops-platform/pr-12345678] mmmmmmmm") for text in subjects)
    assert any(text.endswith("...: A/B decision: promote challenger (version 1000000)") for text in subjects)
    assert any(text.endswith(": promotion: traffic shifted, record failed") for text in subjects)


def test_the_policy_pack_lets_an_experiment_deploy_in_prod_and_only_notes_the_metrics_read():
    """No mandatory rule refuses the pipeline; the advisory one on reads notes GetMetricData on
    "*", which has to be (components/promotion_policies.py)."""
    from policy import rules

    planned = plan("prod", {"churn": EXPERIMENT})
    resources, stack = rules.resources_of(planned), rules.resources_of(planned, stack_view=True)
    assert rules.violations(resources, stack, mandatory=True) == {}
    ours = {r.name for r in promotion_resources(planned)}
    advisories = {rule: [m for m in messages if m.split(":", 1)[0] in ours]
                  for rule, messages in rules.violations(resources, stack, mandatory=False).items()}
    assert {rule: found for rule, found in advisories.items() if found} == {"iam-read-actions-scoped": [
        "promotion-churn-pipeline-access: statement ReadVariantMetrics: cloudwatch:GetMetricData on '*': the action "
        "has resource-level permissions"]}
