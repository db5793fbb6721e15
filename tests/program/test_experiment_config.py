"""`endpoint.experiment.*`: an A/B experiment's thresholds, validated like every other key."""

from __future__ import annotations

import copy

import pytest
import yaml

from automation import offline
from components import config
from components.config import BusinessMetricConfig, ConfigError, ExperimentConfig

PROJECT = "mlops-platform"
KEY = f"{PROJECT}:models[0].endpoint.experiment"


def values_with(experiment, variants=None) -> dict:
    """The shipped dev stack's values with an experiment on its first model's endpoint."""
    document = yaml.safe_load((offline.ROOT / "Pulumi.dev.yaml").read_text())["config"]
    values = copy.deepcopy({k.split(":", 1)[1]: v for k, v in document.items() if k.startswith(f"{PROJECT}:")})
    endpoint = values["models"][0]["endpoint"]
    # SageMaker serverless endpoints serve one variant: experiments run on instances.
    endpoint.update(mode="instances", instanceCount=2)
    for key in ("serverlessMemoryMb", "serverlessMaxConcurrency"):
        endpoint.pop(key, None)
    endpoint["variants"] = variants if variants is not None else [
        {"name": "champion", "weight": 0.9, "modelVersion": 3}, {"name": "challenger", "weight": 0.1, "modelVersion": 4}]
    endpoint["experiment"] = experiment
    return values


def parse(values: dict, stack: str = "dev") -> config.PlatformConfig:
    return config.parse(PROJECT, stack, values, "us-east-1")


def problems(values: dict) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse(values)
    return error.value.problems


def test_an_experiment_takes_the_documented_defaults():
    experiment = parse(values_with({"startedAt": "2030-03-06T11:00:00Z"})).models[0].endpoint.experiment
    assert experiment == ExperimentConfig(started_at="2030-03-06T11:00:00Z", min_invocations_per_variant=1000,
                                          error_rate_significance=0.05, p99_latency_tolerance_percent=10.0,
                                          schedule="rate(1 hour)", business_metric=None)


def test_every_field_is_read():
    experiment = parse(values_with({
        "startedAt": "2030-03-06T11:00:00Z", "minInvocationsPerVariant": 5000, "errorRateSignificance": 0.01,
        "p99LatencyTolerancePercent": 2.5, "schedule": "cron(15 * * * ? *)",
        "businessMetric": {"metricName": "PredictionCorrect", "minSamplesPerVariant": 800, "significance": 0.1},
    })).models[0].endpoint.experiment
    assert (experiment.min_invocations_per_variant, experiment.error_rate_significance,
            experiment.p99_latency_tolerance_percent, experiment.schedule) == (5000, 0.01, 2.5, "cron(15 * * * ? *)")
    assert experiment.business_metric == BusinessMetricConfig("PredictionCorrect", 800, 0.1)


def test_without_the_key_there_is_no_experiment():
    values = values_with(None, variants=[{"name": "champion", "weight": 1.0, "modelVersion": 3}])
    assert parse(values).models[0].endpoint.experiment is None
    assert parse(values_with(None)).models[0].endpoint.experiment is None  # a rollout's split, not an experiment


@pytest.mark.parametrize("experiment,variants,expected", [
    ({}, None, f"{KEY}.startedAt: got (missing); required"),
    ({"startedAt": "2030-03-06"}, None, f"{KEY}.startedAt: got '2030-03-06'; expected a UTC time"),
    ({"startedAt": "2030-02-30T11:00:00Z"}, None, f"{KEY}.startedAt: got '2030-02-30T11:00:00Z'; expected a UTC time"),
    ({"startedAt": "2030-03-06T11:00:00+01:00"}, None, "expected a UTC time 'YYYY-MM-DDTHH:MM:SSZ'"),
    ({"startedAt": "2030-03-06T11:00:00Z", "minInvocationsPerVariant": 5}, None,
     f"{KEY}.minInvocationsPerVariant: got 5; must be between 10 and 1000000000"),
    ({"startedAt": "2030-03-06T11:00:00Z", "minInvocationsPerVariant": 1e3}, None,
     f"{KEY}.minInvocationsPerVariant: got 1000.0; expected an integer"),
    ({"startedAt": "2030-03-06T11:00:00Z", "errorRateSignificance": 0.5}, None,
     f"{KEY}.errorRateSignificance: got 0.5; must be between 0.001 and 0.2"),
    ({"startedAt": "2030-03-06T11:00:00Z", "errorRateSignificance": float("nan")}, None,
     f"{KEY}.errorRateSignificance: got nan; expected a finite number"),
    ({"startedAt": "2030-03-06T11:00:00Z", "p99LatencyTolerancePercent": -1}, None,
     f"{KEY}.p99LatencyTolerancePercent: got -1; must be between 0 and 1000"),
    ({"startedAt": "2030-03-06T11:00:00Z", "schedule": "rate(1 hours)"}, None,
     f"{KEY}.schedule: got 'rate(1 hours)'; use 'hour' for 1"),
    ({"startedAt": "2030-03-06T11:00:00Z", "windowHours": 24}, None, f"{KEY}.windowHours: got 24; unknown field"),
    ({"startedAt": "2030-03-06T11:00:00Z", "businessMetric": {}}, None,
     f"{KEY}.businessMetric.metricName: got (missing); required"),
    ({"startedAt": "2030-03-06T11:00:00Z", "businessMetric": {"metricName": "has space"}}, None,
     f"{KEY}.businessMetric.metricName: got 'has space'; letters, digits"),
    ({"startedAt": "2030-03-06T11:00:00Z", "businessMetric": {"metricName": "M", "significance": 0}}, None,
     f"{KEY}.businessMetric.significance: got 0; must be between 0.001 and 0.2"),
    ({"startedAt": "2030-03-06T11:00:00Z", "businessMetric": {"metricName": "M", "minSamplesPerVariant": 1}}, None,
     f"{KEY}.businessMetric.minSamplesPerVariant: got 1; must be between 10 and 1000000000"),
    ({"startedAt": "2030-03-06T11:00:00Z", "businessMetric": "PredictionCorrect"}, None,
     f"{KEY}.businessMetric: got 'PredictionCorrect'; expected an object"),
    ("yes", None, f"{KEY}: got 'yes'; expected an object"),
    ({"startedAt": "2030-03-06T11:00:00Z"}, [{"name": "champion", "weight": 1.0, "modelVersion": 3}],
     f"{PROJECT}:models[0].endpoint.variants: got ['champion']; an experiment needs exactly the variants champion and challenger"),
    ({"startedAt": "2030-03-06T11:00:00Z"}, [{"name": "champion", "weight": 0.5, "modelVersion": 3},
                                             {"name": "blue", "weight": 0.5, "modelVersion": 4}],
     "an experiment needs exactly the variants champion and challenger"),
    ({"startedAt": "2030-03-06T11:00:00Z"}, [{"name": "champion", "weight": 0.9, "modelVersion": 3},
                                             {"name": "challenger", "weight": 0.1, "modelVersion": 3}],
     f"{KEY}: got 3; the challenger serves the champion's version: nothing to compare"),
    ({"startedAt": "2030-03-06T11:00:00Z"}, [{"name": "champion", "weight": 0.9, "modelVersion": 3},
                                             {"name": "challenger", "weight": 0.1}],
     f"{KEY}: got [3, None]; champion and challenger both need a modelVersion"),
    ({"startedAt": "2030-03-06T11:00:00Z"}, [{"name": "champion", "weight": 1.0, "modelVersion": 3},
                                             {"name": "challenger", "weight": 0.0, "modelVersion": 4}],
     f"{KEY}: got 0.0; the challenger's weight must be above 0 and below 1"),
])
def test_bad_experiments_say_what_is_wrong(experiment, variants, expected):
    found = problems(values_with(experiment, variants))
    assert any(p.startswith(expected) or expected in p for p in found), found


def test_a_serverless_endpoint_cannot_hold_an_experiment():
    values = values_with({"startedAt": "2030-03-06T11:00:00Z"})
    values["models"][0]["endpoint"]["mode"] = "serverless"
    assert any("A/B variants need mode: instances" in p for p in problems(values))


def test_every_experiment_problem_comes_in_one_error():
    found = problems(values_with({"startedAt": "soon", "errorRateSignificance": 2, "schedule": "hourly",
                                  "businessMetric": {"metricName": "", "extra": 1}},
                                 variants=[{"name": "champion", "weight": 0.9, "modelVersion": 3},
                                           {"name": "challenger", "weight": 0.1, "modelVersion": 3}]))
    for field in ("startedAt", "errorRateSignificance", "schedule", "businessMetric.metricName", "businessMetric.extra"):
        assert any(p.startswith(f"{KEY}.{field}:") for p in found), (field, found)
    assert any("the challenger serves the champion's version" in p for p in found)
