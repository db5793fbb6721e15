"""The metric lines the trainer prints, the regexes SageMaker reads them back with, and what
each metric means (its direction and range).

SageMaker learns a custom container's metrics only by matching ``MetricDefinitions`` regexes
against the job's log lines. If the printing code and the regexes are written in two places
they drift apart silently: the job still succeeds, the metric just never shows up and the
pipeline's threshold check or a tuning job sees nothing. So this module is the one place that
defines both: ``METRIC_DEFINITIONS`` (pass it unchanged as
``AlgorithmSpecification.MetricDefinitions`` in CreateTrainingJob) and the ``format_*``
helpers the trainer prints with. ``parse_metrics`` applies the very same regexes, so tests and
the local runner read the log exactly the way SageMaker will.

Two kinds of line, told apart by their marker (a value is ``name=value`` in fixed point, never
an exponent, so one simple capture group covers every value)::

    [iteration 12] train:logloss=0.412345 train:auc=0.873456 validation:logloss=0.431234 ...
    [final] train:logloss=0.401234 ... validation:auc=0.861234 validation:accuracy=0.812000 ...

The final metrics (``METRIC_NAMES``: what the pipeline compares with its threshold, what the
registry records, what a tuning job optimises) are read from the ``[final]`` line ONLY. The
per-round values are separate metrics named ``iteration:<name>`` (the loss curves). Why not one
regex for both: SageMaker samples the log by time and keeps the last value it sampled as a
metric's final value, so when the last round and the final line are printed within the same
instant the recorded "final" value could be the last round's, not the saved model's (which is
cut back to its best round). With the final names matching one line of the log, the value in
``FinalMetricDataList`` is unambiguous.

Standard library only: the Pulumi program, the Lambda functions and both images import it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

MAXIMIZE = "Maximize"
MINIMIZE = "Minimize"


@dataclass(frozen=True)
class MetricSpec:
    """What one final metric means: which way is better, and the values it can take.

    ``direction`` uses the words of HyperParameterTuningJobObjective.Type. A threshold on a
    ``Maximize`` metric is a floor (register when value >= threshold), on a ``Minimize`` metric
    a ceiling (register when value <= threshold).
    """

    name: str
    direction: str
    low: float
    high: float  # math.inf when unbounded

    def reaches(self, value: float, threshold: float) -> bool:
        """Whether ``value`` is at least as good as ``threshold`` for this metric."""
        return value >= threshold if self.direction == MAXIMIZE else value <= threshold

    def describe_range(self) -> str:
        high = "inf" if math.isinf(self.high) else f"{self.high:g}"
        return f"[{self.low:g}, {high}]"

    @property
    def comparison(self) -> str:
        """The comparison a version must pass, as docs and notifications write it."""
        return ">=" if self.direction == MAXIMIZE else "<="


_SCORE = (MAXIMIZE, 0.0, 1.0)  # AUC, accuracy, precision, recall, F1: higher is better, in [0, 1]
_LOSS = (MINIMIZE, 0.0, math.inf)  # log loss: lower is better, never negative

METRIC_SPECS: dict[str, MetricSpec] = {
    name: MetricSpec(name, *kind)
    for name, kind in (
        ("train:logloss", _LOSS),
        ("train:auc", _SCORE),
        ("validation:logloss", _LOSS),
        ("validation:auc", _SCORE),
        ("validation:accuracy", _SCORE),
        ("validation:precision", _SCORE),
        ("validation:recall", _SCORE),
        ("validation:f1", _SCORE),
    )
}
"""Every final metric the trainer reports, in print order, with its direction and range."""

METRIC_NAMES: tuple[str, ...] = tuple(METRIC_SPECS)
"""The final metrics, in print order: the names a config's ``objectiveMetric`` may use."""

ITERATION_METRICS: tuple[str, ...] = (
    "train:logloss",
    "train:auc",
    "validation:logloss",
    "validation:auc",
)
"""Metrics printed after every boosting round (xgboost evaluates these itself)."""

ITERATION_PREFIX = "iteration:"
"""Per-round values are the metrics ``iteration:<name>``: the loss curves."""

OBJECTIVE_METRIC = "validation:auc"
"""Default objective: the pipeline's evaluation threshold and tuning jobs compare this one."""

OBJECTIVE_TYPE = METRIC_SPECS[OBJECTIVE_METRIC].direction
"""Direction of ``OBJECTIVE_METRIC`` (HyperParameterTuningJobObjective.Type)."""

DECIMALS = 6
"""Fixed-point digits of every printed value."""

FINAL_MARKER = "[final]"
_VALUE_PATTERN = r"(-?[0-9]+\.[0-9]+)"


def _regex_for(marker_pattern: str, name: str) -> str:
    # The marker ties the regex to one kind of line; the leading space before the name anchors
    # it, so "validation:auc=" never matches inside another metric's name.
    return marker_pattern + r".* " + re.escape(name) + "=" + _VALUE_PATTERN


METRIC_DEFINITIONS: list[dict[str, str]] = [
    *({"Name": name, "Regex": _regex_for(re.escape(FINAL_MARKER), name)} for name in METRIC_NAMES),
    *({"Name": ITERATION_PREFIX + name, "Regex": _regex_for(r"\[iteration [0-9]+\]", name)}
      for name in ITERATION_METRICS),
]
"""CreateTrainingJob ``AlgorithmSpecification.MetricDefinitions``: one capture group each."""


def _format_values(values: Mapping[str, float]) -> str:
    parts = []
    for name, value in values.items():
        if name not in METRIC_SPECS:
            raise KeyError(f"metric {name!r} has no MetricDefinition; add it to METRIC_SPECS first")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"metric {name!r} is not finite ({value!r}); SageMaker cannot parse it")
        parts.append(f" {name}={number:.{DECIMALS}f}")
    return "".join(parts)


def format_iteration_line(iteration: int, values: Mapping[str, float]) -> str:
    """The per-round log line; refuses metrics SageMaker would not be told about."""
    return f"[iteration {iteration}]" + _format_values(values)


def format_final_line(values: Mapping[str, float]) -> str:
    """The one final metric line of a run: the values of the model that is saved."""
    return FINAL_MARKER + _format_values(values)


def parse_metrics(text: str) -> dict[str, list[float]]:
    """Every value of every defined metric in a log, read with the SageMaker regexes, in log order."""
    found: dict[str, list[float]] = {d["Name"]: [] for d in METRIC_DEFINITIONS}
    compiled = [(d["Name"], re.compile(d["Regex"])) for d in METRIC_DEFINITIONS]
    for line in text.splitlines():
        for name, regex in compiled:
            for match in regex.finditer(line):
                found[name].append(float(match.group(1)))
    return found


def final_metrics(text: str) -> dict[str, float]:
    """The final value of each final metric in a log: what SageMaker reports in FinalMetricDataList."""
    return {name: values[-1] for name, values in parse_metrics(text).items() if values and name in METRIC_SPECS}
