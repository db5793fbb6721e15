"""Lambda entry point of the promotion state machine's `Decide` step.

The event (components/promotion_workflow.py builds it): `experiment` (experiment.Experiment's
event form, from the stack config), `window` (`start`, `end`: ISO 8601), `endpoint`
(DescribeEndpoint's `status` and `variants`), `metrics` (GetMetricData's MetricDataResults) and
`execution` (the execution's ARN). No AWS call is made here: the state machine makes them all with
its own role, so this function needs no permission beyond its logs.

Returns `outcome` (decision.OUTCOMES, or NO_ACTION when the live endpoint is not in a state to
judge), `reason`, and `record`: what the state machine stores in the decision parameter and
publishes, None for NO_ACTION (the parameter then keeps what it holds, e.g. a decision that is
waiting to be applied).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from functions.promotion.decision import KEEP, PROMOTE, RULE_VERSION, decide
from functions.promotion.evidence import evidence_of, summary_of, values_by_id
from functions.promotion.experiment import Experiment, live_problem

NO_ACTION = "no_action"

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = evaluate(event)
    logger.info("%s: %s", result["outcome"], result["reason"])
    return result


def evaluate(event: Mapping[str, Any]) -> dict[str, Any]:
    experiment = Experiment.from_event(event["experiment"])
    endpoint = event["endpoint"]
    problem = live_problem(experiment, str(endpoint.get("status")), endpoint.get("variants") or [])
    if problem:
        return {"outcome": NO_ACTION, "reason": f"no action: {problem}", "record": None}
    values = values_by_id(event["metrics"])
    decision = decide(evidence_of(values, "champion"), evidence_of(values, "challenger"), experiment.rule)
    record = {
        "rule_version": RULE_VERSION,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "window": {"start": event["window"]["start"], "end": event["window"]["end"]},
        "experiment": {"model": experiment.model, "started_at": experiment.started_at,
                       **{role: {"variant": arm.variant, "model_version": arm.model_version}
                          for role, arm in experiment.arms}},
        "weights": weights_after(experiment, decision.outcome),
        "evidence": {role: summary_of(values, role) for role, _ in experiment.arms},
        "checks": _compact(decision.checks),
        "execution": event.get("execution"),
    }
    return {"outcome": decision.outcome, "reason": decision.reason, "record": record}


def weights_after(experiment: Experiment, outcome: str) -> dict[str, float] | None:
    """Each variant's weight once the decision is carried out: all traffic to the winner."""
    winner = {PROMOTE: experiment.challenger, KEEP: experiment.champion}.get(outcome)
    if winner is None:
        return None
    return {arm.variant: 1.0 if arm is winner else 0.0 for _, arm in experiment.arms}


def _compact(value: Any) -> Any:
    """Numbers to 6 significant digits, and never Infinity or NaN (not JSON, which Step Functions reads)."""
    if isinstance(value, Mapping):
        return {key: _compact(item) for key, item in value.items()}
    if isinstance(value, float) and not isinstance(value, bool):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    return value
