"""The plans every guardrail is held to: dev, prod and a pull-request stack as shipped, and dev
and prod with a model version deployed (endpoints, their configurations and autoscaling exist
only when a variant names a `modelVersion`). Each plan is made once per test session."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import tempfile
from pathlib import Path

import yaml

from automation import offline, stacks

PLANS = ("dev", "prod", "pr-1", "dev+model-version", "prod+model-version")


def with_model_version(stack: str, version: int = 1) -> list[dict]:
    """The stack's models with every endpoint variant serving `version`."""
    config = yaml.safe_load((offline.ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    models = copy.deepcopy(config["mlops-platform:models"])
    for model in models:
        endpoint = model.setdefault("endpoint", {})
        variants = endpoint.get("variants") or [{"name": "champion", "weight": 1.0}]
        endpoint["variants"] = [{**variant, "modelVersion": version} for variant in variants]
    return models


def _pr_config() -> str:
    return stacks.render_pr_config(stacks.parse_stack_name("pr-1"), dt.date(2030, 1, 1))


@functools.cache
def guardrail_plan(name: str) -> offline.Plan:
    if name == "pr-1":
        with tempfile.TemporaryDirectory(prefix="guardrails-") as scratch:
            stack_file = Path(scratch) / "Pulumi.pr-1.yaml"
            stack_file.write_text(_pr_config())
            return offline.plan("pr-1", stack_file=stack_file)
    stack, _, variant = name.partition("+")
    overrides = {"models": with_model_version(stack)} if variant == "model-version" else None
    return offline.plan(stack, config_overrides=overrides)


def models_of(name: str) -> list[str]:
    """The names of the models a plan's stack configures."""
    text = _pr_config() if name == "pr-1" else (offline.ROOT / f"Pulumi.{name.partition('+')[0]}.yaml").read_text()
    return [model["name"] for model in yaml.safe_load(text)["config"]["mlops-platform:models"]]


def training_inputs(models: list[str]) -> list[dict]:
    """Inputs the training pipeline documents (components/training_workflow.py): each model with
    its defaults, and with a hyperparameter of its own."""
    return [run for model in models for run in ({"model_name": model, "hyperparameters": {}},
                                                 {"model_name": model, "hyperparameters": {"max_depth": "4"}})]
