"""One experiment as the state machine hands it to the decision: which variants, which versions,
which rule; and whether the live endpoint is in a state where deciding makes sense.

The program writes this part of the event from the stack config (components/promotion_workflow.py
calls `Experiment.to_event`), so the spelling of the event is defined here once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.promotion.decision import BusinessRule, Rule

# config.py's tolerance for variant weights summing to 1; shares are compared the same way.
WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Arm:
    """One side of the experiment: its endpoint variant, the version it serves, its configured weight."""

    variant: str
    model_version: int
    weight: float

    def to_event(self) -> dict[str, Any]:
        return {"variant": self.variant, "model_version": self.model_version, "weight": self.weight}

    @classmethod
    def from_event(cls, raw: Mapping[str, Any]) -> Arm:
        return cls(str(raw["variant"]), int(raw["model_version"]), float(raw["weight"]))


@dataclass(frozen=True)
class Experiment:
    model: str
    stack: str
    endpoint: str  # the endpoint's physical name
    started_at: str  # ISO 8601 UTC: evidence counts from here
    champion: Arm
    challenger: Arm
    rule: Rule

    def to_event(self) -> dict[str, Any]:
        business = self.rule.business
        return {
            "model": self.model, "stack": self.stack, "endpoint": self.endpoint, "started_at": self.started_at,
            "champion": self.champion.to_event(), "challenger": self.challenger.to_event(),
            "rule": {
                "min_invocations": self.rule.min_invocations, "significance": self.rule.significance,
                "latency_tolerance": self.rule.latency_tolerance,
                "business_metric": None if business is None else {
                    "metric": business.metric, "min_samples": business.min_samples,
                    "significance": business.significance},
            },
        }

    @classmethod
    def from_event(cls, raw: Mapping[str, Any]) -> Experiment:
        rule, business = raw["rule"], raw["rule"].get("business_metric")
        return cls(
            model=str(raw["model"]), stack=str(raw["stack"]), endpoint=str(raw["endpoint"]),
            started_at=str(raw["started_at"]), champion=Arm.from_event(raw["champion"]),
            challenger=Arm.from_event(raw["challenger"]),
            rule=Rule(min_invocations=int(rule["min_invocations"]), significance=float(rule["significance"]),
                      latency_tolerance=float(rule["latency_tolerance"]),
                      business=None if business is None else BusinessRule(
                          str(business["metric"]), int(business["min_samples"]), float(business["significance"]))),
        )

    @property
    def arms(self) -> tuple[tuple[str, Arm], ...]:
        return (("champion", self.champion), ("challenger", self.challenger))


def live_problem(experiment: Experiment, status: str, variants: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the live endpoint (DescribeEndpoint's status and ProductionVariants) must not be decided
    on now, or None.

    Shares are compared, not raw weights: SageMaker routes by a variant's weight over the sum.
    Live shares other than the configured ones mean a decision already moved the traffic (or
    someone did by hand); deciding again would judge a window the decision itself changed.
    """
    if status != "InService":
        return f"the endpoint is {status}: nothing is decided until it is InService again"
    live = {str(v.get("VariantName")): float(v.get("CurrentWeight") or 0.0) for v in variants}
    missing = [arm.variant for _, arm in experiment.arms if arm.variant not in live]
    if missing:
        return (f"the endpoint does not serve {', '.join(missing)} yet (live variants: {', '.join(sorted(live)) or 'none'}): "
                "deploy the experiment first")
    total = sum(live[arm.variant] for _, arm in experiment.arms)
    configured = sum(arm.weight for _, arm in experiment.arms)
    shares = {arm.variant: live[arm.variant] / total if total else math.nan for _, arm in experiment.arms}
    if any(not math.isclose(shares[arm.variant], arm.weight / configured, abs_tol=WEIGHT_TOLERANCE)
           for _, arm in experiment.arms):
        shown = ", ".join(f"{name} {weight:g}" for name, weight in sorted(live.items()))
        return (f"live weights ({shown}) are not the experiment's ({experiment.champion.variant} "
                f"{experiment.champion.weight:g}, {experiment.challenger.variant} {experiment.challenger.weight:g}): "
                f"a decision already moved the traffic; write it into Pulumi.{experiment.stack}.yaml with "
                f"`python automation/experiments.py {experiment.stack} apply {experiment.model}`")
    return None
