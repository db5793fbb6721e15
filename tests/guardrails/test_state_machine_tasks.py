"""The request every Task of every state machine sends, resolved from sample inputs and checked
against its API's model, and the allow-list of integrations (automation/guardrails/states.py).

The sample inputs are the plan's own (what its EventBridge targets start the machine with) and
the inputs the training pipeline documents, one run per configured model with and without
hyperparameters. tests/program/test_asl.py checks the machine's structure and
tests/functions/test_state_machine.py executes it in moto; this checks what each Task would send.
"""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
from guardrail_plans import guardrail_plan, models_of, training_inputs, with_model_version

from automation import offline
from automation.guardrails import states


def _flows(plan, name: str) -> dict[str, states.Flow]:
    return {machine.name: states.flow(json.loads(machine.inputs["definition"]),
                                      states.sample_inputs_of(plan, machine) + training_inputs(models_of(name)),
                                      partition="aws", machine=machine.name)
            for machine in plan.of_type("aws:sfn/stateMachine:StateMachine")}


def test_every_task_request_is_one_aws_accepts(plan, plan_name):
    flows = _flows(plan, plan_name)
    assert flows, "the plan has state machines"
    for machine, found in flows.items():
        assert found.problems == [], machine
        assert found.reached == found.tasks, machine
        assert states.request_problems(found.requests) == [], machine


def test_the_plans_own_schedule_is_a_sample_input():
    plan = guardrail_plan("dev")
    (machine,) = plan.of_type("aws:sfn/stateMachine:StateMachine")
    assert states.sample_inputs_of(plan, machine) == [{"model_name": "churn", "hyperparameters": {}}]


def test_each_configured_model_sends_its_own_training_job():
    """With two models, each model's run settings reach the Train request (instance type, the
    platform key on its volume), not only the first model's."""
    fraud = {"name": "fraud", "threshold": 0.7, "trainingInstanceType": "ml.c5.xlarge",
             "endpoint": {"mode": "instances", "instanceCount": 2, "autoscaling": {"minCapacity": 2}}}
    plan = offline.plan("prod", config_overrides={"models": [*with_model_version("prod"), fraud]})
    (machine,) = plan.of_type("aws:sfn/stateMachine:StateMachine")
    found = states.flow(json.loads(machine.inputs["definition"]), training_inputs(["churn", "fraud"]), machine="pipeline")
    jobs = [r.params for r in found.requests if r.operation == "CreateTrainingJob"]
    assert {job["ResourceConfig"]["InstanceType"] for job in jobs} == {"ml.m5.xlarge", "ml.c5.xlarge"}
    assert all(job["ResourceConfig"]["VolumeKmsKeyId"].startswith("arn:aws:kms:") for job in jobs)
    assert found.problems == [] and states.request_problems(found.requests) == []


def _definition() -> dict:
    (machine,) = guardrail_plan("dev").of_type("aws:sfn/stateMachine:StateMachine")
    return copy.deepcopy(json.loads(machine.inputs["definition"]))


SAMPLES = training_inputs(["churn"])

BREAKAGES = {
    "bad enum": (lambda d: d["States"]["Train"]["Parameters"]["AlgorithmSpecification"].update(TrainingInputMode="Streaming"),
                 "is not one of"),
    "path to nothing": (lambda d: d["States"]["StopTrainingJob"]["Parameters"].update({"TrainingJobName.$": "$.job.nope"}),
                        "'$.job.nope' matches nothing"),
    "too long": (lambda d: d["States"]["Train"]["Parameters"].update(
        {"TrainingJobName.$": "States.Format('{}-{}', $.job.training_job_name, $.job.training_job_name)"}),
        "more than the maximum 63"),
    "off pattern": (lambda d: d["States"]["Train"]["Parameters"].update(RoleArn="training-role"), "does not match the pattern"),
    "missing member": (lambda d: d["States"]["Train"]["Parameters"].pop("RoleArn"),
                       'Missing required parameter in input: "RoleArn"'),
    "integration not allowed": (lambda d: d["States"]["Notify"].update(Resource="arn:aws:states:::lambda:invoke"),
                                "'lambda:invoke' is not an allowed integration"),
    "other partition": (lambda d: d["States"]["Notify"].update(Resource="arn:aws-cn:states:::sns:publish"),
                        "names partition 'aws-cn'"),
    "unknown intrinsic": (lambda d: d["States"]["StopTrainingJob"]["Parameters"].update(
        {"TrainingJobName.$": "States.Shout($.job.training_job_name)"}), "States.Shout is not an intrinsic function"),
    "unknown SDK action": (lambda d: d["States"]["StopTrainingJob"].update(
        Resource="arn:aws:states:::aws-sdk:sagemaker:haltTrainingJob"), "sagemaker has no operation HaltTrainingJob"),
    "unreachable Task": (lambda d: d["States"].update(Orphan={**d["States"]["StopTrainingJob"], "Comment": "never reached"}),
                         "Orphan: no sample input reaches this Task"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_task_check_catches(breakage):
    break_it, expected = BREAKAGES[breakage]
    definition = _definition()
    break_it(definition)
    found = states.flow(definition, SAMPLES, machine="pipeline")
    problems = found.problems + states.request_problems(found.requests)
    assert any(expected in problem for problem in problems), problems


def test_no_sample_input_is_a_problem():
    found = states.flow(_definition(), [], machine="pipeline")
    assert "pipeline: no sample input, so no Task request can be resolved" in found.problems


CONTEXT = {"Execution": {"Id": "arn:aws:states:us-east-1:1:execution:m:e", "StartTime": "2030-01-01T00:00:00Z"}}


@pytest.mark.parametrize("expression, data, value", [
    ("States.Format('{}-{}', $.a, $.n)", {"a": "x", "n": 3}, "x-3"),
    ("States.Format('a \\\\{b\\\\} {}', $.a)", {"a": "x"}, "a {b} x"),
    ("States.Hash(States.Format('{} {}', $$.Execution.Id, $$.Execution.StartTime), 'MD5')", {},
     hashlib.md5(b"arn:aws:states:us-east-1:1:execution:m:e 2030-01-01T00:00:00Z").hexdigest()),
    ("States.JsonMerge($.a, $.b, false)", {"a": {"x": 1, "y": 1}, "b": {"y": 2}}, {"x": 1, "y": 2}),
    ("States.ArrayGetItem(States.Array(10, 60, 300), $.i)", {"i": 1}, 60),
    ("States.MathAdd($.n, 1)", {"n": 2}, 3),
    ("States.JsonToString($.a)", {"a": {"k": [1, "v"]}}, '{"k":[1,"v"]}'),
    ("States.ArrayContains($.flags, true)", {"flags": [False, True]}, True),
])
def test_intrinsic_functions_evaluate_as_step_functions_does(expression, data, value):
    assert states.resolve({"v.$": expression}, data, CONTEXT) == {"v": value}


def test_reference_paths_with_filters_and_brackets():
    data = {"h": {"sagemaker:stage": "blue"}, "checks": [{"objective": True, "value": 1}, {"objective": False, "value": 2}]}
    assert states.read_path("$.h['sagemaker:stage']", data, CONTEXT) == "blue"
    assert states.read_path("$.checks[?(@.objective == true)].value", data, CONTEXT) == [1]
    assert states.read_path("$.checks[*].objective", data, CONTEXT) == [True, False]
    with pytest.raises(states.UnresolvedError, match="matches nothing"):
        states.read_path("$.h.missing", data, CONTEXT)


@pytest.mark.parametrize("rule, holds", [
    ({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.t"}, True),
    ({"Variable": "$.n", "NumericLessThanEquals": 0.5}, False),
    ({"Variable": "$.s", "StringMatches": "*Rate exceeded*"}, True),
    ({"Not": {"Variable": "$.missing", "IsPresent": True}}, True),
    ({"And": [{"Variable": "$.s", "IsString": True}, {"Variable": "$.n", "IsNumeric": True}]}, True),
    ({"Or": [{"Variable": "$.s", "IsNull": True}, {"Variable": "$.b", "BooleanEquals": False}]}, False),
    ({"Variable": "$.n", "StringEquals": "0.9"}, False),  # a number is not a string
])
def test_choice_rules_evaluate_as_step_functions_does(rule, holds):
    data = {"n": 0.9, "t": 0.8, "s": "x Rate exceeded y", "b": True}
    assert states.choice_rule(rule, data, CONTEXT) is holds
