"""The sample model's hyperparameters: names, types, ranges and defaults, defined once.

The training container parses ``hyperparameters.json`` with ``validate`` and the stack config
checks a model's configured defaults with the very same function, so a value the container
would reject fails ``pulumi up`` with the container's own words instead of failing a training
job hours later. Standard library only (the Pulumi program imports it).

SageMaker passes every hyperparameter as a string (CreateTrainingJob allows at most 100 of
them); only plain ASCII decimal text is accepted here, because Python's int()/float() would
also take "1_000", "nan" or non-ASCII digits, which no user means.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from containers.contracts.features import DECIMAL_NUMBER

SAGEMAKER_MAX_HYPERPARAMETERS = 100
"""CreateTrainingJob's limit on the number of hyperparameters (HyperParameters map)."""

RESERVED_PREFIXES = ("sagemaker_", "_")
"""Names the SageMaker SDK and tuning jobs inject; the container ignores them."""


@dataclass(frozen=True)
class HyperparameterSpec:
    """Name, type and allowed range of one hyperparameter; the parser and the docs read these."""

    name: str
    attr: str
    kind: type
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False

    def describe(self) -> str:
        """Human wording of the allowed values, used in every error message."""
        what = "an integer" if self.kind is int else "a number"
        low = None if self.minimum is None else _plain(self.minimum)
        high = None if self.maximum is None else _plain(self.maximum)
        if low is not None and high is not None:
            return f"{what} in {'(' if self.min_exclusive else '['}{low}, {high}]"
        if low is not None:
            return f"{what} {'>' if self.min_exclusive else '>='} {low}"
        return what


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


HYPERPARAMETER_SPECS: dict[str, HyperparameterSpec] = {
    spec.name: spec
    for spec in (
        HyperparameterSpec("num_round", "num_round", int, 1, 5000),
        HyperparameterSpec("max_depth", "max_depth", int, 1, 20),
        HyperparameterSpec("eta", "eta", float, 0, 1, min_exclusive=True),
        HyperparameterSpec("subsample", "subsample", float, 0, 1, min_exclusive=True),
        HyperparameterSpec("colsample_bytree", "colsample_bytree", float, 0, 1, min_exclusive=True),
        HyperparameterSpec("min_child_weight", "min_child_weight", float, 0),
        HyperparameterSpec("gamma", "gamma", float, 0),
        HyperparameterSpec("lambda", "reg_lambda", float, 0),
        HyperparameterSpec("alpha", "reg_alpha", float, 0),
        HyperparameterSpec("scale_pos_weight", "scale_pos_weight", float, 0, min_exclusive=True),
        HyperparameterSpec("early_stopping_rounds", "early_stopping_rounds", int, 0, 5000),
        HyperparameterSpec("seed", "seed", int, 0, 2**31 - 1),
    )
}
"""Every accepted hyperparameter. ``early_stopping_rounds=0`` turns early stopping off."""


@dataclass(frozen=True)
class Hyperparameters:
    """Validated hyperparameters with their defaults; build with ``parse``."""

    num_round: int = 200
    max_depth: int = 5
    eta: float = 0.1
    subsample: float = 1.0
    colsample_bytree: float = 1.0
    min_child_weight: float = 1.0
    gamma: float = 0.0
    reg_lambda: float = 1.0
    reg_alpha: float = 0.0
    scale_pos_weight: float = 1.0
    early_stopping_rounds: int = 20
    seed: int = 42

    def as_strings(self) -> dict[str, str]:
        """The SageMaker form (names as users write them, values as strings)."""
        by_attr = {spec.attr: spec.name for spec in HYPERPARAMETER_SPECS.values()}
        return {by_attr[f.name]: str(getattr(self, f.name)) for f in fields(self)}


class HyperparameterError(ValueError):
    """Hyperparameters the container would reject; ``problems`` lists each, in name order."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid hyperparameters: " + "; ".join(problems))


_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def parse_value(spec: HyperparameterSpec, raw: object) -> int | float:
    """Parse one hyperparameter string strictly; raises ValueError with the allowed values."""
    if not isinstance(raw, str):
        raise ValueError(
            f"got {type(raw).__name__} {raw!r}; SageMaker passes every hyperparameter as a "
            f'string, so write it as "{raw}" (must be {spec.describe()})'
        )
    text = raw.strip()
    pattern = _INT_TEXT if spec.kind is int else DECIMAL_NUMBER
    if not pattern.fullmatch(text):
        raise ValueError(f"{raw!r} is not {spec.describe()}")
    value: int | float = int(text) if spec.kind is int else float(text)
    if not math.isfinite(value):
        raise ValueError(f"{raw!r} is not finite; must be {spec.describe()}")
    too_low = spec.minimum is not None and (value <= spec.minimum if spec.min_exclusive else value < spec.minimum)
    too_high = spec.maximum is not None and value > spec.maximum
    if too_low or too_high:
        raise ValueError(f"{raw!r} is out of range; must be {spec.describe()}")
    return value


def problems_of(raw: Mapping[str, object]) -> list[str]:
    """Every reason the container would reject these hyperparameters (empty when it would not)."""
    if not isinstance(raw, Mapping):
        return [f"hyperparameters must be an object of name -> string, got {type(raw).__name__}"]
    problems = []
    if len(raw) > SAGEMAKER_MAX_HYPERPARAMETERS:
        problems.append(f"{len(raw)} hyperparameters; SageMaker accepts at most {SAGEMAKER_MAX_HYPERPARAMETERS}")
    for name in sorted(raw, key=str):
        if not isinstance(name, str):
            problems.append(f"{name!r}: hyperparameter names are strings")
            continue
        if name.startswith(RESERVED_PREFIXES):
            continue
        spec = HYPERPARAMETER_SPECS.get(name)
        if spec is None:
            problems.append(f"{name!r} is not a known hyperparameter (known: {', '.join(sorted(HYPERPARAMETER_SPECS))})")
            continue
        try:
            parse_value(spec, raw[name])
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    return problems


def parse(raw: Mapping[str, object]) -> Hyperparameters:
    """Validated hyperparameters; raises HyperparameterError listing every problem.

    Unknown names fail (a typo such as ``max_dept`` would otherwise train with the default
    silently); names starting with ``sagemaker_`` or ``_`` are SageMaker's own and ignored.
    """
    problems = problems_of(raw)
    if problems:
        raise HyperparameterError(problems)
    values = {
        HYPERPARAMETER_SPECS[name].attr: parse_value(HYPERPARAMETER_SPECS[name], value)
        for name, value in raw.items()
        if not name.startswith(RESERVED_PREFIXES)
    }
    return Hyperparameters(**values)
