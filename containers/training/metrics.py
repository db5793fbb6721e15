"""The metric lines the trainer prints and the regexes SageMaker uses to read them back.

SageMaker learns a custom container's metrics only by matching ``MetricDefinitions``
regexes against the job's log lines. If the printing code and the regexes are written in
two places they drift apart silently: the job still succeeds, the metric just never shows
up and the pipeline's threshold check or a tuning job sees nothing. So this module is the
one place that defines both: ``METRIC_DEFINITIONS`` (pass it unchanged as
``AlgorithmSpecification.MetricDefinitions`` in CreateTrainingJob) and the ``format_*``
helpers the trainer prints with. ``parse_metrics`` applies the very same regexes, so tests
and the local runner read the log exactly the way SageMaker will.

Line format (one metric is ``name=value`` with a fixed-point value, never an exponent, so a
single simple capture group covers every value)::

    [iteration 12] train:logloss=0.412345 train:auc=0.873456 validation:logloss=0.431234 ...
    [final] train:logloss=0.401234 ... validation:auc=0.861234 validation:accuracy=0.812000 ...

The final line is printed last, so the last value SageMaker records for every metric (its
``FinalMetricDataList``, and what a tuning job optimises) is the value of the saved model.
No third-party imports: Pulumi components and Lambdas import this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

METRIC_NAMES: tuple[str, ...] = (
    "train:logloss",
    "train:auc",
    "validation:logloss",
    "validation:auc",
    "validation:accuracy",
    "validation:precision",
    "validation:recall",
    "validation:f1",
)
"""Every metric the trainer reports, in print order."""

ITERATION_METRICS: tuple[str, ...] = (
    "train:logloss",
    "train:auc",
    "validation:logloss",
    "validation:auc",
)
"""Metrics printed after every boosting round (xgboost evaluates these itself)."""

OBJECTIVE_METRIC = "validation:auc"
"""Default objective: the pipeline's evaluation threshold and tuning jobs compare this one."""

OBJECTIVE_TYPE = "Maximize"
"""Direction of ``OBJECTIVE_METRIC`` (HyperParameterTuningJobObjective.Type)."""

DECIMALS = 6
"""Fixed-point digits of every printed value."""

_VALUE_PATTERN = r"(-?[0-9]+\.[0-9]+)"


def _regex_for(name: str) -> str:
    # A leading space anchors the name: "validation:auc=" never matches inside another name.
    return " " + re.escape(name) + "=" + _VALUE_PATTERN


METRIC_DEFINITIONS: list[dict[str, str]] = [{"Name": name, "Regex": _regex_for(name)} for name in METRIC_NAMES]
"""CreateTrainingJob ``AlgorithmSpecification.MetricDefinitions``: one capture group each."""


def _format_values(values: Mapping[str, float]) -> str:
    parts = []
    for name, value in values.items():
        if name not in METRIC_NAMES:
            raise KeyError(f"metric {name!r} has no MetricDefinition; add it to METRIC_NAMES first")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"metric {name!r} is not finite ({value!r}); SageMaker cannot parse it")
        parts.append(f" {name}={number:.{DECIMALS}f}")
    return "".join(parts)


def format_iteration_line(iteration: int, values: Mapping[str, float]) -> str:
    """The per-round log line; refuses metrics SageMaker would not be told about."""
    return f"[iteration {iteration}]" + _format_values(values)


def format_final_line(values: Mapping[str, float]) -> str:
    """The last metric line of a run: the values of the model that is saved."""
    return "[final]" + _format_values(values)


def parse_metrics(text: str) -> dict[str, list[float]]:
    """Every value of every metric in a log, read with the SageMaker regexes, in log order."""
    found: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    compiled = [(d["Name"], re.compile(d["Regex"])) for d in METRIC_DEFINITIONS]
    for line in text.splitlines():
        for name, regex in compiled:
            for match in regex.finditer(line):
                found[name].append(float(match.group(1)))
    return found


def final_metrics(text: str) -> dict[str, float]:
    """The last value of each metric in a log: what SageMaker reports as the final metric."""
    return {name: values[-1] for name, values in parse_metrics(text).items() if values}
