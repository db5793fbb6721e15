"""The training state machine's structure: every target exists, every state is reachable, every
path ends in a terminal state after notifying, and only the three known integrations are used.

Checked on the definitions the shipped stacks deploy and on a two-model config (per-model
routing, hyperparameter names that need bracket paths). The checker itself is shown to catch
each kind of breakage, so a pass means something.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from typing import Any

import pytest
import yaml

from automation import offline
from components import config, training_workflow
from components.training_workflow import NOTIFY_STATE, RESOURCES, TRAIN_STATE

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
        at = f"{where}.{name}"
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            problems.append(f"{at}: unknown Type {kind!r}")
        if kind == "Choice" and not state.get("Choices"):
            problems.append(f"{at}: a Choice needs Choices")
        if kind not in TERMINAL_TYPES and kind != "Choice" and ("Next" in state) == bool(state.get("End")):
            problems.append(f"{at}: needs exactly one of Next and End")
        if kind == "Task" and state.get("Resource") not in RESOURCES:
            problems.append(f"{at}: unexpected integration {state.get('Resource')!r}")
        for target in targets(state):
            if target not in states:
                problems.append(f"{at}: goes to missing state {target!r}")
        for catcher in state.get("Catch", []):
            if not catcher.get("ErrorEquals"):
                problems.append(f"{at}: a Catch without ErrorEquals")
        for field in ("Parameters", "ItemSelector", "ResultSelector"):
            problems += _dynamic_value_problems(state.get(field), f"{at}.{field}")
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            problems += structure_problems(processor, f"{at}.ItemProcessor")
        for index, branch in enumerate(state.get("Branches", [])):
            problems += structure_problems(branch, f"{at}.Branches[{index}]")

    reachable = _reach(start, lambda name: targets(states.get(name, {})))
    problems += [f"{where}.{name}: unreachable" for name in states if name not in reachable]
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
    problems += [f"{where}.{name}: can never finish" for name in states if name not in can_finish]
    return problems


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
        training_role_arn="arn:aws:iam::123456789012:role/training", kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
        topic_arn="arn:aws:sns:us-east-1:123456789012:alerts", data_bucket="data", artifact_bucket="artifacts",
        package_groups={m.name: f"group-{m.name}" for m in cfg.models})
    return training_workflow.definition(spec)


TWO_MODELS = {"name": "fraud", "threshold": 0.7, "objectiveMetric": "validation:f1",
              "hyperparameters": {"max_depth": "3", "sagemaker:stage": "blue"},
              "endpoint": {"mode": "instances", "instanceCount": 2, "autoscaling": {"minCapacity": 2}}}


@pytest.mark.parametrize("stack,extra", [("dev", None), ("prod", None), ("prod", TWO_MODELS)],
                         ids=["dev", "prod", "two-models"])
def test_shipped_definitions_are_structurally_sound(stack, extra):
    definition = definition_for(stack, extra)
    assert structure_problems(definition) == []
    assert json.loads(json.dumps(definition)) == definition  # plain JSON all the way down


def test_every_path_to_an_end_goes_through_the_notification():
    states = definition_for("dev")["States"]
    without_notify = _reach("SelectModel", lambda name: [] if name == NOTIFY_STATE else targets(states[name]))
    assert not {n for n in without_notify if states[n]["Type"] in TERMINAL_TYPES}
    # ...and every task that can fail is caught into that path (Notify itself only retries).
    for name, state in states.items():
        if state["Type"] == "Task" and name != NOTIFY_STATE:
            assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"], name
    assert states[NOTIFY_STATE]["Retry"]


def test_each_model_is_routed_to_its_own_settings():
    definition = definition_for("prod", TWO_MODELS)
    states = definition["States"]
    routes = {c["And"][2]["StringEquals"]: c["Next"] for c in states["SelectModel"]["Choices"]}
    assert routes == {"churn": "Configure-churn", "fraud": "Configure-fraud"}
    fraud = states["Configure-fraud"]["Result"]
    assert (fraud["objective_metric"], fraud["threshold"], fraud["model_package_group"]) == ("validation:f1", 0.7, "group-fraud")
    assert fraud["job_prefix"] == "mlops-platform-prod-fraud"
    # Names with ':' need bracket paths; every configured name is type-checked.
    checked = {rule["And"][0]["Variable"] for rule in states["CheckHyperparameters"]["Choices"][1:]}
    assert "$.hyperparameters['sagemaker:stage']" in checked and "$.hyperparameters.max_depth" in checked
    assert checked >= {f"$.hyperparameters.{n}" for n in ("eta", "num_round", "subsample", "early_stopping_rounds")}


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
