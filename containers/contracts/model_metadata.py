"""What a model folder holds and what its ``model-metadata.json`` says, defined once.

The training container writes the folder (``/opt/ml/model``; SageMaker uploads it as
``model.tar.gz``) and the inference container serves exactly that folder once SageMaker has
unpacked it again::

    xgboost-model.json     the booster (xgboost JSON format, feature names and types set)
    model-metadata.json    the document below
    evaluation.json        the version's final metrics (copy of output/data/evaluation.json)
    baseline.json          its training-data baseline (format: ``baseline.py``)

``model-metadata.json`` (format version 1)::

    {
      "format_version": 1,
      "model_file": "xgboost-model.json",
      "model_format": "xgboost-json",
      "xgboost_version": "3.2.0",          # the trainer's xgboost
      "objective": "binary:logistic",
      "target": "churned",
      "feature_names": ["tenure_months", ...],   # model input order (features.FEATURE_NAMES)
      "feature_types": ["int", "float", ...],    # features.py types, same order
      "decision_threshold": 0.5,           # probability >= threshold -> label 1
      "best_iteration": 96, "num_boosted_rounds": 97, "interrupted": false
    }

``problems_of`` lists every reason a server must refuse a folder's metadata: above all a model
trained on another feature schema than ``features.py`` describes, which would otherwise be
fed columns in the wrong order or of the wrong kind without any error (training/serving skew).
Standard library only, like every contract.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from containers.contracts.features import FEATURE_NAMES, FEATURES, TARGET

FORMAT_VERSION = 1
MODEL_FILE = "xgboost-model.json"
METADATA_FILE = "model-metadata.json"
EVALUATION_FILE = "evaluation.json"
BASELINE_FILE = "baseline.json"
MODEL_FORMAT = "xgboost-json"
OBJECTIVE = "binary:logistic"
DECISION_THRESHOLD = 0.5
"""Probability at or above which the predicted label is 1 (the trainer's accuracy/F1 use it too)."""


@dataclass(frozen=True)
class ModelMetadata:
    """The parts of ``model-metadata.json`` a server acts on, after ``parse`` checked them."""

    model_file: str
    feature_names: tuple[str, ...]
    feature_types: tuple[str, ...]
    decision_threshold: float
    xgboost_version: str
    num_boosted_rounds: int


class MetadataError(ValueError):
    """Metadata a server must not serve; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def build(*, xgboost_version: str, best_iteration: int, num_boosted_rounds: int, interrupted: bool) -> dict[str, Any]:
    """The document the trainer writes for a model trained on ``features.py``'s schema."""
    return {
        "format_version": FORMAT_VERSION,
        "model_file": MODEL_FILE,
        "model_format": MODEL_FORMAT,
        "xgboost_version": xgboost_version,
        "objective": OBJECTIVE,
        "target": TARGET,
        "feature_names": list(FEATURE_NAMES),
        "feature_types": [f.type for f in FEATURES],
        "decision_threshold": DECISION_THRESHOLD,
        "best_iteration": best_iteration,
        "num_boosted_rounds": num_boosted_rounds,
        "interrupted": interrupted,
    }


_EXPECTED: dict[str, object] = {
    "format_version": FORMAT_VERSION,
    "model_format": MODEL_FORMAT,
    "objective": OBJECTIVE,
    "target": TARGET,
    "feature_names": list(FEATURE_NAMES),
    "feature_types": [f.type for f in FEATURES],
}
"""Keys whose value must equal this image's contracts exactly."""


def _model_file_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value or "/" in value or "\\" in value or value in (".", ".."):
        return f"model_file must be a file name inside the model folder, got {value!r}"
    return None


def _threshold_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not 0 < value < 1:
        return f"decision_threshold must be a number between 0 and 1 (exclusive), got {value!r}"
    return None


def _rounds_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"num_boosted_rounds must be a positive integer, got {value!r}"
    return None


def _version_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return f"xgboost_version must be a version string, got {value!r}"
    return None


_CHECKS = {
    "model_file": _model_file_problem,
    "decision_threshold": _threshold_problem,
    "num_boosted_rounds": _rounds_problem,
    "xgboost_version": _version_problem,
}


def problems_of(document: object) -> list[str]:
    """Every reason this metadata cannot be served with ``features.py``'s schema (empty if none)."""
    if not isinstance(document, Mapping):
        return [f"{METADATA_FILE} must hold a JSON object, got {type(document).__name__}"]
    problems = []
    for key, expected in _EXPECTED.items():
        if key not in document:
            problems.append(f"{key} is missing")
        elif document[key] != expected:
            problems.append(f"{key} is {document[key]!r}, but this image serves {expected!r} (containers/contracts)")
    for key, check in _CHECKS.items():
        problem = f"{key} is missing" if key not in document else check(document[key])
        if problem:
            problems.append(problem)
    return problems


def parse(document: object) -> ModelMetadata:
    """Checked metadata; raises MetadataError listing every problem."""
    problems = problems_of(document)
    if problems:
        raise MetadataError(problems)
    assert isinstance(document, Mapping)
    return ModelMetadata(
        model_file=document["model_file"],
        feature_names=tuple(document["feature_names"]),
        feature_types=tuple(document["feature_types"]),
        decision_threshold=float(document["decision_threshold"]),
        xgboost_version=document["xgboost_version"],
        num_boosted_rounds=document["num_boosted_rounds"],
    )
