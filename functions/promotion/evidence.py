"""What the decision reads from one GetMetricData call, and how the answer becomes `Evidence`.

The program builds the queries (components/promotion_workflow.py: namespaces, metric names,
dimensions) and the state machine sends them; this module names them by id, `<role>_<key>`
(`champion_invocations`, `challenger_model_latency_p99`, ...), so the query and the reading of its
answer agree on one spelling. Each query has one period as long as any experiment can be, so it
answers with one value covering the whole window (or none when nothing was recorded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.promotion.decision import Evidence

ROLES = ("champion", "challenger")


@dataclass(frozen=True)
class Query:
    key: str
    statistic: str


# SageMaker's per-variant invocation metrics (AWS/SageMaker, EndpointName + VariantName).
ENDPOINT_QUERIES = {
    "invocations": Query("invocations", "Sum"),
    "errors_4xx": Query("errors_4xx", "Sum"),
    "errors_5xx": Query("errors_5xx", "Sum"),
    "model_latency_p99": Query("model_latency_p99", "p99"),
    "overhead_latency_p99": Query("overhead_latency_p99", "p99"),
}
# The business metric: one datum per labelled prediction, 1 for a success and 0 otherwise, so
# SampleCount is the labelled predictions and Sum the successes.
BUSINESS_QUERIES = {
    "business_samples": Query("business_samples", "SampleCount"),
    "business_successes": Query("business_successes", "Sum"),
}


def query_id(role: str, key: str) -> str:
    """GetMetricData ids start with a lowercase letter and hold letters, digits and '_'."""
    return f"{role}_{key}"


class EvidenceError(ValueError):
    """GetMetricData's answer cannot be read as the evidence of one window."""


def values_by_id(results: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """One number per query id (None when CloudWatch has no data point for it)."""
    found: dict[str, float | None] = {}
    for result in results:
        if result.get("StatusCode", "Complete") != "Complete":
            raise EvidenceError(f"GetMetricData answered {result.get('StatusCode')} for {result.get('Id')}: "
                                "the window's data was not all returned")
        values = [float(v) for v in result.get("Values") or []]
        if len(values) > 1:
            raise EvidenceError(f"{result.get('Id')} has {len(values)} data points; the query's period must cover "
                                "the whole window in one")
        if values and not math.isfinite(values[0]):
            raise EvidenceError(f"{result.get('Id')} is {values[0]}")
        found[str(result.get("Id"))] = values[0] if values else None
    return found


def evidence_of(values: Mapping[str, float | None], role: str) -> Evidence:
    """A variant's evidence; counts CloudWatch has no data point for are zero."""
    def count(key: str) -> int:
        return int(round(values.get(query_id(role, key)) or 0))

    return Evidence(
        invocations=count("invocations"),
        errors=count("errors_4xx") + count("errors_5xx"),
        p99_latency_us=values.get(query_id(role, "model_latency_p99")),
        business_samples=count("business_samples"),
        business_successes=count("business_successes"),
    )


def summary_of(values: Mapping[str, float | None], role: str) -> dict[str, Any]:
    """The numbers of one variant as the decision record shows them."""
    evidence = evidence_of(values, role)
    overhead = values.get(query_id(role, "overhead_latency_p99"))
    summary: dict[str, Any] = {
        "invocations": evidence.invocations,
        "errors": evidence.errors,
        "error_rate": round(evidence.error_rate, 6),
        "p99_model_latency_ms": None if evidence.p99_latency_us is None else round(evidence.p99_latency_us / 1000, 3),
        "p99_overhead_latency_ms": None if overhead is None else round(overhead / 1000, 3),
    }
    if query_id(role, "business_samples") in values:
        summary.update(labels=evidence.business_samples, successes=evidence.business_successes,
                       success_rate=round(evidence.success_rate, 6))
    return summary
