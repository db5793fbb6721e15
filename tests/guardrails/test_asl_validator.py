"""Every state machine definition of every plan through the `asl-validator` npm package, which
checks what the structure tests and moto's parser do not: the ASL JSON schema, every
Next/StartAt/Default target, unreachable states, missing terminal states and path syntax.

It needs Node.js and the package (`npm ci --prefix automation/guardrails/asl_validator`, which
.ci/run does). Where Node.js is missing these tests say so and skip, except under CI, where a
missing validator fails them: CI always runs it.
"""

from __future__ import annotations

import copy
import os

import pytest
from guardrail_plans import PLANS, guardrail_plan

from automation.guardrails import states

missing = states.asl_validator_available()
if missing and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI must run asl-validator, but {missing}")
pytestmark = pytest.mark.skipif(missing is not None, reason=f"asl-validator cannot run here: {missing}")


def test_every_definition_of_every_plan_is_valid():
    definitions = {f"{name}/{machine}": definition for name in PLANS
                   for machine, definition in states.definitions_of(guardrail_plan(name)).items()}
    assert len(definitions) >= len(PLANS)
    assert states.asl_validator_problems(definitions) == {name: [] for name in definitions}


def _dev_definition() -> dict:
    return copy.deepcopy(next(iter(states.definitions_of(guardrail_plan("dev")).values())))


BREAKAGES = {
    "unreachable state": (lambda d: d["States"].update(Orphan={"Type": "Succeed"}), "State Orphan is not reachable"),
    "dangling Next": (lambda d: d["States"]["Train"].update(Next="Nowhere"), "target: Nowhere"),
    "missing StartAt": (lambda d: d.update(StartAt="Begin"), "target: Begin"),
    "bad JSONPath": (lambda d: d["States"]["StopTrainingJob"]["Parameters"].update({"TrainingJobName.$": "$.job[["}),
                     "TrainingJobName.$"),
    "unknown state type": (lambda d: d["States"]["Finish"].update(Type="Decide"), "SCHEMA_VALIDATION_FAILED"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_asl_validator_catches(breakage):
    break_it, expected = BREAKAGES[breakage]
    definition = _dev_definition()
    break_it(definition)
    (problems,) = states.asl_validator_problems({"broken": definition}).values()
    assert any(expected in problem for problem in problems), problems
