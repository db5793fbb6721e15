"""The training state machine's structure: every target exists, every state is reachable, every
path ends in a terminal state after notifying, only the known integrations are used, errors are
retried and caught as the error names allow, and the runbook lists the subjects it sends.

Checked on the definitions the shipped stacks deploy and on a two-model config (per-model
routing, hyperparameter names that need bracket paths, a loss as objective). The checker itself
is shown to catch each kind of breakage, so a pass means something. tests/functions/
test_state_machine.py executes the same definitions.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections import deque
from typing import Any

import pytest
import yaml

from automation import offline
from components import config, training_workflow
from components.training_workflow import (
    COMPARISONS,
    INTEGRATIONS,
    NOTIFY_STATE,
    OUTCOMES,
    REGISTER_STATE,
    RETRIED_TASKS,
    STOP_STATE,
    TRAIN_STATE,
    TRANSIENT_CAUSES,
)
from containers.contracts.metrics import METRIC_SPECS

STATE_TYPES = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}
TERMINAL_TYPES = {"Succeed", "Fail"}


def targets(state: dict[str, Any]) -> list[str]:
    found = [c["Next"] for c in state.get("Choices", [])]
    found += [state[k] for k in ("Next", "Default") if k in state]
    found += [c["Next"] for c in state.get("Catch", [])]
    return found


def structure_problems(document: dict[str, Any], where: str = "$") -> list[str]:
    """Everything wrong with one States scope and, recursively, its Map and Parallel scopes."""
    problems: list[str] = []
    states: dict[str, Any] = document.get("States", {})
    start = document.get("StartAt")
    if start not in states:
        problems.append(f"{where}: StartAt {start!r} is not a state")
    for name, state in states.items():
        problems += _state_problems(state, states, f"{where}.{name}")
    problems += _graph_problems(states, start, where)
    return problems


def _state_problems(state: dict[str, Any], states: dict[str, Any], at: str) -> list[str]:
    """What is wrong with one state, its nested scopes included."""
    problems: list[str] = []
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        problems.append(f"{at}: unknown Type {kind!r}")
    if kind == "Choice" and not state.get("Choices"):
        problems.append(f"{at}: a Choice needs Choices")
    if kind not in TERMINAL_TYPES and kind != "Choice" and ("Next" in state) == bool(state.get("End")):
        problems.append(f"{at}: needs exactly one of Next and End")
    if kind == "Task" and state.get("Resource") not in {training_workflow.integration_arn("aws", i) for i in INTEGRATIONS}:
        problems.append(f"{at}: unexpected integration {state.get('Resource')!r}")
    problems += [f"{at}: goes to missing state {target!r}" for target in targets(state) if target not in states]
    problems += [f"{at}: a Catch without ErrorEquals" for catcher in state.get("Catch", []) if not catcher.get("ErrorEquals")]
    for field in ("Parameters", "ItemSelector", "ResultSelector"):
        problems += _dynamic_value_problems(state.get(field), f"{at}.{field}")
    if kind == "Map":
        problems += structure_problems(state.get("ItemProcessor") or state.get("Iterator") or {}, f"{at}.ItemProcessor")
    for index, branch in enumerate(state.get("Branches", [])):
        problems += structure_problems(branch, f"{at}.Branches[{index}]")
    return problems


def _graph_problems(states: dict[str, Any], start: str | None, where: str) -> list[str]:
    """States that cannot be reached from the start, or from which no end can be reached."""
    reachable = _reach(start, lambda name: targets(states.get(name, {})))
    problems = [f"{where}.{name}: unreachable" for name in states if name not in reachable]
    ends = {n for n, s in states.items() if s.get("Type") in TERMINAL_TYPES or s.get("End")}
    if not ends:
        problems.append(f"{where}: no terminal state")
    predecessors: dict[str, list[str]] = {}
    for name, state in states.items():
        for target in targets(state):
            predecessors.setdefault(target, []).append(name)
    can_finish = set()
    for end in ends:
        can_finish |= _reach(end, lambda name: predecessors.get(name, []))
    return problems + [f"{where}.{name}: can never finish" for name in states if name not in can_finish]


def _dynamic_value_problems(value: Any, where: str) -> list[str]:
    """A "key.$" must hold a path or an intrinsic function, or the service rejects the document."""
    problems = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$") and not (isinstance(item, str) and item.startswith(("$", "States."))):
                problems.append(f"{where}.{key}: {item!r} is neither a path nor an intrinsic")
            problems += _dynamic_value_problems(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += _dynamic_value_problems(item, f"{where}[{index}]")
    return problems


def _reach(start: str, step) -> set[str]:
    seen, queue = {start}, deque([start])
    while queue:
        for following in step(queue.popleft()):
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return seen


def definition_for(stack: str, extra_model: dict | None = None) -> dict[str, Any]:
    """The definition a shipped stack deploys (with stand-in ARNs), optionally with one more model."""
    document = yaml.safe_load((offline.ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in document.items() if k.startswith("mlops-platform:")}
    if extra_model:
        values["models"] = [*values["models"], extra_model]
    cfg = config.parse("mlops-platform", stack, values, document["aws:region"])
    spec = training_workflow.spec_for(
        cfg, image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:src-1",
        inference_image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/inference:src-1",
        training_role_arn="arn:aws:iam::123456789012:role/training", kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
        topic_arn="arn:aws:sns:us-east-1:123456789012:alerts", data_bucket="data", artifact_bucket="artifacts",
        package_groups={m.name: f"group-{m.name}" for m in cfg.models})
    return training_workflow.definition(spec)


TWO_MODELS = {"name": "fraud", "threshold": 0.7, "objectiveMetric": "validation:f1",
              "hyperparameters": {"max_depth": "3", "scale_pos_weight": "9"},
              "endpoint": {"mode": "instances", "instanceCount": 2, "autoscaling": {"minCapacity": 2}}}
LOSS_MODEL = {"name": "upsell", "threshold": 0.35, "objectiveMetric": "validation:logloss",
              "endpoint": {"mode": "instances", "instanceCount": 2, "autoscaling": {"minCapacity": 2}}}


@pytest.mark.parametrize("stack,extra", [("dev", None), ("prod", None), ("prod", TWO_MODELS), ("prod", LOSS_MODEL)],
                         ids=["dev", "prod", "two-models", "loss-objective"])
def test_shipped_definitions_are_structurally_sound(stack, extra):
    definition = definition_for(stack, extra)
    assert structure_problems(definition) == []
    assert json.loads(json.dumps(definition)) == definition  # plain JSON all the way down


def test_every_path_to_an_end_goes_through_the_notification():
    states = definition_for("dev")["States"]
    without_notify = _reach("SelectModel", lambda name: [] if name == NOTIFY_STATE else targets(states[name]))
    assert not {n for n in without_notify if states[n]["Type"] in TERMINAL_TYPES}
    # ...and every task that can fail, Notify included, is caught: its last catcher takes any error.
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name


def test_a_failed_notification_keeps_the_outcome():
    """Notify's catcher goes on to the same Finish as a delivered notification, with the error
    beside the outcome, never over it: $.notification decides Succeeded or Failed either way."""
    states = definition_for("dev")["States"]
    (catcher,) = states[NOTIFY_STATE]["Catch"]
    assert catcher["ResultPath"] not in ("$", "$.notification") and not catcher["ResultPath"].startswith("$.notification.")
    assert _reach(catcher["Next"], lambda name: targets(states[name])) >= {"Finish", "Succeeded", "Failed"}
    assert states[catcher["Next"]]["Next"] == states[NOTIFY_STATE]["Next"] == "Finish"


def test_sagemaker_tasks_retry_by_cause_and_never_by_a_generic_name():
    """Step Functions gives every SageMaker error its API model does not declare one generic name
    (throttles and rejected requests alike), and a `.sync` Retry would resend the same job name:
    so no SageMaker task has a Retry, and its generic error is judged by the cause-checking loop."""
    states = definition_for("dev")["States"]
    generic = {TRAIN_STATE: training_workflow.TRAIN_GENERIC_ERROR, STOP_STATE: training_workflow.SDK_GENERIC_ERROR,
               REGISTER_STATE: training_workflow.SDK_GENERIC_ERROR}
    sagemaker_tasks = {n for n, s in states.items() if s["Type"] == "Task" and ":sagemaker:" in s["Resource"]}
    assert sagemaker_tasks == set(RETRIED_TASKS) == set(generic)
    for task in sagemaker_tasks:
        state = states[task]
        assert "Retry" not in state, task
        assert state["Catch"][0]["ErrorEquals"] == [generic[task]]
        check = states[state["Catch"][0]["Next"]]
        matched = [rule["StringMatches"] for rule in check["Choices"] if "StringMatches" in rule]
        assert matched == list(TRANSIENT_CAUSES)
        # The loop goes back to the task after a Wait, and only there.
        loop = _reach(check["Choices"][-1]["Next"], lambda name, task=task: [] if name == task else targets(states[name]))
        assert task in loop and {states[n]["Type"] for n in loop - {task}} == {"Pass", "Wait"}


def test_every_way_out_of_a_failed_training_stops_the_job():
    """Nothing runs unwatched: from any error Train catches, TrainingFailed is reached only
    through StopTrainingJob (and the stop's own failure is caught on the way)."""
    states = definition_for("dev")["States"]
    starts = [catcher["Next"] for catcher in states[TRAIN_STATE]["Catch"]]
    avoiding_stop = set().union(*(_reach(start, lambda n: [] if n in (STOP_STATE, TRAIN_STATE) else targets(states[n]))
                                  for start in starts))
    training_failed = OUTCOMES["training_failed"].state
    assert training_failed not in avoiding_stop and STOP_STATE in avoiding_stop
    assert states[STOP_STATE]["Next"] == training_failed
    assert states[STOP_STATE]["Parameters"] == {"TrainingJobName.$": "$.job.training_job_name"}
    assert {c["ErrorEquals"][0] for c in states[STOP_STATE]["Catch"]} >= {"States.ALL"}


# Causes as the two SageMaker integrations word them: the optimized one (SDK for Java 1.x, with
# the error code) and the AWS SDK one (SDK for Java 2.x, message and status only).
CAUSES = {
    "throttle-sync": ("Rate exceeded (Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException; "
                      "Request ID: r; Proxy: null)", True),
    "throttle-sdk": ("Rate exceeded (Service: SageMaker, Status Code: 400, Request ID: r)", True),
    "server-error-sync": ("We encountered an internal error (Service: AmazonSageMaker; Status Code: 500; "
                          "Error Code: InternalFailure; Request ID: r; Proxy: null)", True),
    "unavailable-sdk": ("Service Unavailable (Service: SageMaker, Status Code: 503, Request ID: r)", True),
    "validation-sync": ("1 validation error detected: Value 'churn_1' at 'trainingJobName' failed to satisfy constraint "
                        "(Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; Request ID: r; "
                        "Proxy: null)", False),
    "validation-sdk": ("Model Package Group does not exist. (Service: SageMaker, Status Code: 400, Request ID: r)", False),
    "job-ended-sdk": ("The request was rejected because the training job is in status Completed. "
                      "(Service: SageMaker, Status Code: 400, Request ID: r)", False),
    "access-denied-sdk": ("User is not authorized to perform: sagemaker:CreateModelPackage "
                          "(Service: SageMaker, Status Code: 400, Request ID: r)", False),
}


def string_matches(value: str, pattern: str) -> bool:
    """ASL's StringMatches for patterns without escapes: '*' matches any run of characters."""
    assert "\\" not in pattern
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), value, re.S) is not None


@pytest.mark.parametrize("cause,transient", CAUSES.values(), ids=CAUSES.keys())
def test_only_throttles_and_server_errors_count_as_transient(cause, transient):
    assert any(string_matches(cause, pattern) for pattern in TRANSIENT_CAUSES) is transient


def test_notify_retries_only_transient_sns_errors():
    retried = {name for retrier in definition_for("dev")["States"][NOTIFY_STATE]["Retry"] for name in retrier["ErrorEquals"]}
    assert retried == set(training_workflow.NOTIFY_RETRY_ERRORS)
    assert not retried & {"States.ALL", "States.TaskFailed", "SNS.InvalidParameterException", "SNS.NotFoundException",
                          "SNS.ValidationException", "SNS.KMSDisabledException", "SNS.AuthorizationErrorException"}


@pytest.mark.parametrize("stack,extra", [("dev", None), ("prod", TWO_MODELS), ("prod", LOSS_MODEL)],
                         ids=["dev", "two-models", "loss-objective"])
def test_each_model_is_compared_in_its_metrics_direction(stack, extra):
    states = definition_for(stack, extra)["States"]
    for name, state in states.items():
        if name.startswith("Configure-"):
            run = state["Result"]
            spec = METRIC_SPECS[run["objective_metric"]]
            assert (run["objective_direction"], run["comparison"]) == (spec.direction, spec.comparison), name
    rules = {rule["And"][0]["StringEquals"]: rule["And"][1] for rule in states["CompareWithThreshold"]["Choices"]}
    assert rules == {"Maximize": {"Variable": "$.score.value", "NumericGreaterThanEqualsPath": "$.score.threshold"},
                     "Minimize": {"Variable": "$.score.value", "NumericLessThanEqualsPath": "$.score.threshold"}}
    assert set(COMPARISONS) == {spec.direction for spec in METRIC_SPECS.values()}


def test_nothing_sent_to_sagemaker_reads_the_execution_name():
    """Execution names may hold characters SageMaker's names, tags and metadata refuse; requests
    carry the run id (an md5 of the execution's ARN and start time) instead."""
    states = definition_for("dev")["States"]
    for name in (TRAIN_STATE, STOP_STATE, REGISTER_STATE):
        assert "$$.Execution" not in json.dumps(states[name]["Parameters"]), name
    job = states["MergeHyperparameters"]["Parameters"]
    assert job["run_id.$"] == training_workflow.RUN_ID
    assert "$$.Execution.Id" in job["run_id.$"] and "$$.Execution.StartTime" in job["run_id.$"]
    assert job["training_job_name.$"] == f"States.Format('{{}}-{{}}', $.run.job_prefix, {training_workflow.RUN_ID})"


def runbook_outcomes() -> dict[str, tuple[str, str]]:
    """The runbook's Outcomes table (docs/runbook.md, section 2): outcome -> (subject, execution)."""
    text = (offline.ROOT / "docs" / "runbook.md").read_text()
    section = text.split("### Outcomes", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    cells = [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    return {outcome.strip("`"): (subject.strip("`"), execution) for outcome, subject, execution, *_ in cells}


def definition_outcomes(stack: str = "dev") -> dict[str, tuple[str, str]]:
    """outcome -> (subject, execution) as the definition builds them, written as the runbook does."""
    found = {}
    for state in definition_for(stack)["States"].values():
        notification = state.get("Parameters", {})
        if "message" not in notification or "succeeded" not in notification:
            continue
        subject = notification.get("subject") or re.fullmatch(
            r"States\.Format\('(.*)', \$\.run\.model_name\)", notification["subject.$"]).group(1).replace("{}", "<model>")
        subject = subject.replace(f"[mlops-platform/{stack}]", "[mlops-platform/<stack>]")
        error = notification["message"].get("error")
        found[notification["message"]["outcome"]] = (subject, "Succeeded" if notification["succeeded"] else f"Failed, `{error}`")
    return found


def test_the_runbook_lists_every_outcome_with_the_subject_the_machine_sends():
    assert runbook_outcomes() == definition_outcomes()
    assert set(definition_outcomes()) == set(OUTCOMES)


def test_each_model_is_routed_to_its_own_settings():
    definition = definition_for("prod", TWO_MODELS)
    states = definition["States"]
    routes = {c["And"][2]["StringEquals"]: c["Next"] for c in states["SelectModel"]["Choices"]}
    assert routes == {"churn": "Configure-churn", "fraud": "Configure-fraud"}
    fraud = states["Configure-fraud"]["Result"]
    assert (fraud["objective_metric"], fraud["threshold"], fraud["model_package_group"]) == ("validation:f1", 0.7, "group-fraud")
    assert fraud["job_prefix"] == "mlops-platform-prod-fraud"
    # Every configured name of every model is type-checked.
    checked = {rule["And"][0]["Variable"] for rule in states["CheckHyperparameters"]["Choices"][1:]}
    assert "$.hyperparameters.scale_pos_weight" in checked and "$.hyperparameters.max_depth" in checked
    assert checked >= {f"$.hyperparameters.{n}" for n in ("eta", "num_round", "subsample", "early_stopping_rounds")}


def test_hyperparameter_names_that_are_not_plain_keys_get_bracket_paths():
    """The config accepts only the container's names today; the builder must not depend on it."""
    document = yaml.safe_load((offline.ROOT / "Pulumi.dev.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in document.items() if k.startswith("mlops-platform:")}
    cfg = config.parse("mlops-platform", "dev", values, document["aws:region"])
    spec = training_workflow.spec_for(
        cfg, image_uri="image", inference_image_uri="inference", training_role_arn="role", kms_key_arn="key",
        topic_arn="topic", data_bucket="data",
        artifact_bucket="artifacts", package_groups={m.name: m.name for m in cfg.models})
    (model,) = spec.models
    spec = dataclasses.replace(spec, models=(dataclasses.replace(model, hyperparameters={"sagemaker:stage": "blue"}),))
    rules = training_workflow.definition(spec)["States"]["CheckHyperparameters"]["Choices"][1:]
    assert [rule["And"][0]["Variable"] for rule in rules] == ["$.hyperparameters['sagemaker:stage']"]


def test_the_training_task_is_the_sync_integration_with_a_bounded_wait():
    train = definition_for("dev")["States"][TRAIN_STATE]
    assert train["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert train["TimeoutSecondsPath"] == "$.run.timeout_seconds"
    run = definition_for("dev")["States"]["Configure-churn"]["Result"]
    assert run["timeout_seconds"] == run["max_runtime_seconds"] + training_workflow.TRAINING_WAIT_MARGIN_SECONDS


BREAKAGES = {
    "dangling Next": (lambda d: d["States"][TRAIN_STATE].update(Next="Nowhere"), "goes to missing state 'Nowhere'"),
    "dangling Catch": (lambda d: d["States"][TRAIN_STATE]["Catch"][0].update(Next="Gone"), "goes to missing state 'Gone'"),
    "unknown integration": (lambda d: d["States"][TRAIN_STATE].update(Resource="arn:aws:states:::lambda:invoke"),
                            "unexpected integration"),
    "orphan state": (lambda d: d["States"].update(Orphan={"Type": "Succeed"}), "Orphan: unreachable"),
    "dead end": (lambda d: d["States"]["Finish"].update(Default="Loop", Choices=[{"Variable": "$.x", "IsNull": True,
                                                                                    "Next": "Loop"}])
                 or d["States"].update(Loop={"Type": "Pass", "Next": "Loop"}), "Loop: can never finish"),
    "bad dynamic value": (lambda d: d["States"][TRAIN_STATE]["Parameters"].update({"RoleArn.$": "role"}),
                          "neither a path nor an intrinsic"),
    "missing StartAt": (lambda d: d.update(StartAt="Begin"), "StartAt 'Begin' is not a state"),
    "broken Map scope": (lambda d: d["States"]["FindObjectiveMetric"]["ItemProcessor"]["States"]["Objective"]
                         .update(End=False, Next="Nope"), "ItemProcessor.Objective: goes to missing state 'Nope'"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_structure_check_catches(breakage):
    break_it, expected = BREAKAGES[breakage]
    definition = copy.deepcopy(definition_for("dev"))
    break_it(definition)
    assert any(expected in problem for problem in structure_problems(definition)), structure_problems(definition)


@pytest.mark.parametrize("region, partition", [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_integration_arns_carry_the_stacks_partition(region, partition):
    """Service integration ARNs are partition-specific like every other ARN: in aws-cn a task
    naming `arn:aws:states:::...` would not run. The plan passes the partition the provider reports."""
    plan = offline.plan("dev", config_overrides={"aws:region": region})
    (machine,) = plan.of_type("aws:sfn/stateMachine:StateMachine")
    states = json.loads(machine.inputs["definition"])["States"]  # every Task is a top-level state
    resources = {state["Resource"] for state in states.values() if "Resource" in state}
    assert resources == {training_workflow.integration_arn(partition, i) for i in INTEGRATIONS}
