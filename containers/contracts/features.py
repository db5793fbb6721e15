"""Schema of the sample "churn" dataset: the single definition every component imports.

The feature store config, the training container, drift detection and the inference
container all read this module, so a feature added or re-typed here reaches all of them at
once instead of drifting apart in four hand-written lists. It has no third-party imports so
that a Lambda or a Pulumi program can import it without numpy or xgboost.

Training CSV files carry a header row; the label column ``churned`` comes first, then the
features in ``FEATURE_NAMES`` order. The record identifier and event time live only in the
feature group (they identify a row, they are not model inputs).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

FeatureType = Literal["int", "float"]

DECIMAL_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""How a number is written in a CSV cell or a hyperparameter: plain ASCII decimal text only.
(Python's float() also takes "1_000", "nan" or non-ASCII digits, which no data file means.)"""

MODEL_NAME = "churn"
"""Name of the sample model the platform ships configured for."""

TARGET = "churned"
"""Binary label column: 1 if the customer churned, else 0."""

RECORD_ID_FEATURE = "customer_id"
"""Feature store record identifier (string); not a model input."""

EVENT_TIME_FEATURE = "event_time"
"""Feature store event time (ISO-8601 string); not a model input."""


@dataclass(frozen=True)
class Feature:
    """One model input column; ``type`` decides parsing, validation and the feature store type."""

    name: str
    type: FeatureType
    description: str

    @property
    def feature_store_type(self) -> str:
        """SageMaker Feature Store FeatureType for this column (``Integral``/``Fractional``)."""
        return "Integral" if self.type == "int" else "Fractional"


FEATURES: tuple[Feature, ...] = (
    Feature("tenure_months", "int", "Months since the customer signed up (0-72)."),
    Feature("monthly_charges", "float", "Current monthly bill in USD."),
    Feature("total_charges", "float", "Total billed over the customer's lifetime in USD."),
    Feature("support_calls", "int", "Support calls in the last 90 days."),
    Feature("contract_type", "int", "0 = month-to-month, 1 = one year, 2 = two years."),
    Feature("num_products", "int", "Number of subscribed products (1-6)."),
    Feature("has_internet", "int", "1 if the customer has an internet plan, else 0."),
    Feature("late_payments", "int", "Late payments in the last 12 months."),
    Feature("days_since_last_login", "int", "Days since the customer last used the app."),
)
"""Model inputs, in the order the model expects them."""

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
"""Feature column names in model order."""

CSV_COLUMNS: tuple[str, ...] = (TARGET, *FEATURE_NAMES)
"""Header of the training/validation CSV files: label first, then the features."""


def feature_by_name(name: str) -> Feature:
    """Look a feature up by column name; raises KeyError naming the known features."""
    for feature in FEATURES:
        if feature.name == name:
            return feature
    raise KeyError(f"unknown feature {name!r}; known features: {', '.join(FEATURE_NAMES)}")


def _number_problem(feature: Feature, number: float) -> str | None:
    if not math.isfinite(number):
        return "is not finite"
    if feature.type == "int" and not number.is_integer():
        return f"is not a whole number ({feature.name} is an int feature)"
    return None


def check_number(feature: Feature, value: float) -> float:
    """A feature value the model may see: finite, and a whole number for an ``int`` feature.

    Training and serving both apply it (serving also to JSON numbers), so a value training
    would refuse cannot reach the model through an endpoint. Raises ValueError saying why.
    """
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range (JSON allows any number of digits)
        raise ValueError("an integer too large to be a number is not finite") from None
    problem = _number_problem(feature, number)
    if problem:
        raise ValueError(f"{value!r} {problem}")
    return number


def parse_value(feature: Feature, text: str) -> float:
    """One CSV cell as the model sees it: the single rule for training files and request bodies.

    Surrounding spaces are ignored; an empty cell is a missing value (NaN, which xgboost
    treats as missing); anything else must be ``DECIMAL_NUMBER`` text that passes
    ``check_number``. Raises ValueError saying why.
    """
    cell = text.strip()
    if not cell:
        return math.nan
    if not DECIMAL_NUMBER.fullmatch(cell):
        raise ValueError(f"{text!r} is not a number")
    number = float(cell)
    problem = _number_problem(feature, number)
    if problem:
        raise ValueError(f"{text!r} {problem}")
    return number
