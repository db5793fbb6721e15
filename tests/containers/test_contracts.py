"""The contracts shared by training, serving, the program and the functions
(`containers/contracts/`): hyperparameter schema, metric lines and meanings, feature schema,
baseline binning. Pure functions, tested directly."""

from __future__ import annotations

import ast
import math
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from containers.contracts import baseline, features, hyperparameters, metrics

CONTRACTS = Path(__file__).resolve().parents[2] / "containers" / "contracts"


# ----------------------------------------------------------------------------- hyperparameter parser


def _valid_value(spec: hyperparameters.HyperparameterSpec) -> st.SearchStrategy:
    low = spec.minimum if spec.minimum is not None else -1e9
    high = spec.maximum if spec.maximum is not None else 1e9
    if spec.kind is int:
        return st.integers(int(low), int(high))
    return st.floats(low, high, exclude_min=spec.min_exclusive, allow_nan=False, allow_infinity=False)


valid_assignments = st.sampled_from(sorted(hyperparameters.HYPERPARAMETER_SPECS)).flatmap(
    lambda name: st.tuples(st.just(name), _valid_value(hyperparameters.HYPERPARAMETER_SPECS[name]))
)


@settings(max_examples=200, deadline=None)
@given(st.lists(valid_assignments, max_size=12))
def test_valid_hyperparameter_strings_round_trip(assignments: list[tuple[str, float]]) -> None:
    raw = {name: repr(value) for name, value in assignments}
    parsed = hyperparameters.parse(raw)
    for name, value in dict(assignments).items():
        assert getattr(parsed, hyperparameters.HYPERPARAMETER_SPECS[name].attr) == value
    # and what the trainer reports back parses to the same thing again
    assert hyperparameters.parse(parsed.as_strings()) == parsed


def _out_of_range(spec: hyperparameters.HyperparameterSpec) -> st.SearchStrategy:
    options = []
    if spec.minimum is not None:
        if spec.kind is int:
            options.append(st.integers(max_value=int(spec.minimum) - 1))
        else:
            options.append(st.floats(max_value=spec.minimum, exclude_max=not spec.min_exclusive, allow_nan=False, allow_infinity=False))
    if spec.maximum is not None:
        if spec.kind is int:
            options.append(st.integers(min_value=int(spec.maximum) + 1))
        else:
            options.append(st.floats(min_value=spec.maximum, exclude_min=True, allow_nan=False, allow_infinity=False))
    return st.one_of(options)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(hyperparameters.HYPERPARAMETER_SPECS)).flatmap(
        lambda name: st.tuples(st.just(name), _out_of_range(hyperparameters.HYPERPARAMETER_SPECS[name]))
    )
)
def test_out_of_range_values_are_rejected_with_the_allowed_range(assignment: tuple[str, float]) -> None:
    name, value = assignment
    spec = hyperparameters.HYPERPARAMETER_SPECS[name]
    with pytest.raises(hyperparameters.HyperparameterError) as error:
        hyperparameters.parse({name: repr(value)})
    assert f"{name}: {repr(value)!r} is out of range; must be {spec.describe()}" in str(error.value)


def _is_number_text(text: str) -> bool:
    return re.fullmatch(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", text) is not None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(hyperparameters.HYPERPARAMETER_SPECS)), st.text(max_size=12).filter(lambda t: not _is_number_text(t)))
def test_non_numeric_strings_are_rejected_naming_the_hyperparameter(name: str, text: str) -> None:
    with pytest.raises(hyperparameters.HyperparameterError) as error:
        hyperparameters.parse({name: text})
    assert f"{name}: {text!r} is not " in str(error.value)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=20).filter(
    lambda t: t not in hyperparameters.HYPERPARAMETER_SPECS and not t.startswith(hyperparameters.RESERVED_PREFIXES)))
def test_unknown_names_are_rejected_by_name(name: str) -> None:
    with pytest.raises(hyperparameters.HyperparameterError) as error:
        hyperparameters.parse({name: "1"})
    assert f"{name!r} is not a known hyperparameter" in str(error.value)


def test_sagemaker_reserved_hyperparameters_are_ignored() -> None:
    parsed = hyperparameters.parse({"_tuning_objective_metric": "validation:auc", "sagemaker_region": "x"})
    assert parsed == hyperparameters.Hyperparameters()


def test_more_hyperparameters_than_sagemaker_accepts_are_rejected() -> None:
    raw = {f"sagemaker_extra_{i}": "1" for i in range(hyperparameters.SAGEMAKER_MAX_HYPERPARAMETERS + 1)}
    assert hyperparameters.problems_of(raw) == ["101 hyperparameters; SageMaker accepts at most 100"]
    del raw["sagemaker_extra_0"]
    assert hyperparameters.problems_of(raw) == []


def test_every_problem_is_listed_at_once() -> None:
    found = hyperparameters.problems_of({"max_dept": "6", "eta": "fast", "num_round": 50, 7: "x"})
    assert found == [
        "7: hyperparameter names are strings",
        "eta: 'fast' is not a number in (0, 1]",
        "'max_dept' is not a known hyperparameter (known: " + ", ".join(sorted(hyperparameters.HYPERPARAMETER_SPECS)) + ")",
        'num_round: got int 50; SageMaker passes every hyperparameter as a string, so write it as "50" '
        "(must be an integer in [1, 5000])",
    ]


def test_every_spec_is_a_hyperparameters_field_and_back() -> None:
    attrs = {spec.attr for spec in hyperparameters.HYPERPARAMETER_SPECS.values()}
    assert attrs == set(hyperparameters.Hyperparameters.__dataclass_fields__)
    assert set(hyperparameters.Hyperparameters().as_strings()) == set(hyperparameters.HYPERPARAMETER_SPECS)


# ----------------------------------------------------------------------------- metrics module


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(metrics.METRIC_NAMES), st.floats(0, 50, allow_nan=False), min_size=1))
def test_formatted_metric_lines_parse_back(values: dict[str, float]) -> None:
    text = metrics.format_iteration_line(3, values) + "\n" + metrics.format_final_line(values)
    parsed = metrics.parse_metrics(text)
    for name in metrics.METRIC_NAMES:
        # The final metric comes from the [final] line only; the round's value is its curve.
        expected = [round(values[name], metrics.DECIMALS)] if name in values else []
        assert parsed[name] == pytest.approx(expected, abs=10**-metrics.DECIMALS)
    for name in metrics.ITERATION_METRICS:
        expected = [round(values[name], metrics.DECIMALS)] if name in values else []
        assert parsed[metrics.ITERATION_PREFIX + name] == pytest.approx(expected, abs=10**-metrics.DECIMALS)


def test_the_final_value_is_unambiguous_whatever_was_printed_before_it() -> None:
    """SageMaker keeps the last value it sampled per metric name; only the [final] line may
    carry a final metric's name, so no round printed in the same instant can be taken for it."""
    rounds = [metrics.format_iteration_line(i, {name: 0.1 * i for name in metrics.ITERATION_METRICS}) for i in range(5)]
    final = metrics.format_final_line({name: 0.77 for name in metrics.METRIC_NAMES})
    for log in ("\n".join([*rounds, final]), "\n".join([final, *rounds])):
        assert metrics.final_metrics(log) == {name: 0.77 for name in metrics.METRIC_NAMES}
    final_definitions = [d for d in metrics.METRIC_DEFINITIONS if d["Name"] in metrics.METRIC_NAMES]
    assert len(final_definitions) == len(metrics.METRIC_NAMES)
    assert all(re.search(d["Regex"], line) is None for d in final_definitions for line in rounds)


def test_metric_regexes_do_not_match_each_others_lines() -> None:
    for definition in metrics.METRIC_DEFINITIONS:
        name = definition["Name"].removeprefix(metrics.ITERATION_PREFIX)
        others = {other: 0.5 for other in metrics.METRIC_NAMES if other != name}
        for line in (metrics.format_final_line(others), metrics.format_iteration_line(1, others)):
            assert re.search(definition["Regex"], line) is None, (definition, line)


@pytest.mark.parametrize("name, direction, low, high", [
    ("validation:auc", metrics.MAXIMIZE, 0.0, 1.0),
    ("validation:accuracy", metrics.MAXIMIZE, 0.0, 1.0),
    ("validation:f1", metrics.MAXIMIZE, 0.0, 1.0),
    ("train:auc", metrics.MAXIMIZE, 0.0, 1.0),
    ("validation:logloss", metrics.MINIMIZE, 0.0, math.inf),
    ("train:logloss", metrics.MINIMIZE, 0.0, math.inf),
])
def test_each_metric_has_a_direction_and_a_range(name: str, direction: str, low: float, high: float) -> None:
    spec = metrics.METRIC_SPECS[name]
    assert (spec.direction, spec.low, spec.high) == (direction, low, high)
    better, worse = (0.9, 0.1) if direction == metrics.MAXIMIZE else (0.1, 0.9)
    assert spec.reaches(better, 0.5) and not spec.reaches(worse, 0.5)
    assert spec.reaches(0.5, 0.5)  # the threshold itself passes, either way
    assert spec.comparison == (">=" if direction == metrics.MAXIMIZE else "<=")


def test_every_final_metric_has_a_spec_and_losses_are_minimized() -> None:
    assert set(metrics.METRIC_SPECS) == set(metrics.METRIC_NAMES)
    for name, spec in metrics.METRIC_SPECS.items():
        assert (spec.direction == metrics.MINIMIZE) == name.endswith("logloss"), name
    assert metrics.OBJECTIVE_TYPE == metrics.METRIC_SPECS[metrics.OBJECTIVE_METRIC].direction


def test_metric_helpers_refuse_what_sagemaker_could_not_read() -> None:
    with pytest.raises(KeyError, match="no MetricDefinition"):
        metrics.format_final_line({"validation:rmse": 1.0})
    with pytest.raises(ValueError, match="not finite"):
        metrics.format_iteration_line(0, {"validation:auc": math.nan})


def test_metric_definitions_have_the_createtrainingjob_shape() -> None:
    assert metrics.OBJECTIVE_METRIC in metrics.METRIC_NAMES
    assert len({d["Name"] for d in metrics.METRIC_DEFINITIONS}) == len(metrics.METRIC_DEFINITIONS)
    for definition in metrics.METRIC_DEFINITIONS:
        assert set(definition) == {"Name", "Regex"}
        assert 1 <= len(definition["Name"]) <= 255 and 1 <= len(definition["Regex"]) <= 500


# ----------------------------------------------------------------------------- schema, baseline helper


def test_shared_modules_import_only_the_standard_library() -> None:
    """The contracts are imported by Lambdas, the Pulumi program and every image."""
    modules = sorted(CONTRACTS.glob("*.py"))
    assert {m.name for m in modules} >= {"features.py", "metrics.py", "hyperparameters.py", "baseline.py"}
    for module in modules:
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or name.startswith("containers.contracts"), (module.name, name)


def test_feature_schema_is_consistent() -> None:
    assert 6 <= len(features.FEATURES) <= 10
    assert len(set(features.FEATURE_NAMES)) == len(features.FEATURE_NAMES)
    assert features.CSV_COLUMNS[0] == features.TARGET == "churned"
    assert features.TARGET not in features.FEATURE_NAMES
    assert {f.type for f in features.FEATURES} <= {"int", "float"}
    assert features.feature_by_name("monthly_charges").feature_store_type == "Fractional"
    assert features.feature_by_name("tenure_months").feature_store_type == "Integral"
    with pytest.raises(KeyError, match="known features"):
        features.feature_by_name("age")


def test_live_values_outside_the_training_range_land_in_the_edge_bins() -> None:
    edges = [0.0, 1.0, 2.0, 3.0]
    assert baseline.histogram_fractions([-5.0, 0.0, 2.5, 3.0, 99.0, None, math.nan], edges) == [0.4, 0.0, 0.6]
    assert baseline.histogram_fractions([None], edges) == [0.0, 0.0, 0.0]
