"""Stack config validation: every kind of bad value gets its message, all at once."""

from __future__ import annotations

import copy
import datetime as dt
import math

import pytest

from automation import offline, stackfile, stacks
from components import config, environments
from components.config import ConfigError
from containers.contracts.metrics import METRIC_SPECS

PROJECT = "mlops-platform"


# The pull-request template is a shipped stack file too: every pr-N stack is rendered from it.
STACK_FILES = {"dev": offline.ROOT / "Pulumi.dev.yaml", "prod": offline.ROOT / "Pulumi.prod.yaml",
               "pr-1": offline.ROOT / "automation" / "templates" / "Pulumi.preview.yaml"}


def shipped(stack: str) -> dict:
    """The raw values of a shipped stack file, as `parse` receives them (namespace stripped).

    A pr-N stack's values are the template rendered for it, as `deploy.py pr-N` writes them."""
    path = STACK_FILES[stack]
    if stack.startswith("pr-"):
        text = stacks.render_pr_config(stacks.parse_stack_name(stack), dt.date(2030, 1, 1), path)
    else:
        text = path.read_text()
    document = stackfile.parse(text, path.name)["config"]
    values = {k.split(":", 1)[1]: v for k, v in document.items() if k.startswith(f"{PROJECT}:")}
    return {"values": values, "region": document["aws:region"]}


def parse(values: dict, stack: str = "dev", region: str | None = "us-east-1") -> config.PlatformConfig:
    return config.parse(PROJECT, stack, values, region)


def problems(values: dict, stack: str = "dev", region: str | None = "us-east-1") -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse(values, stack, region)
    return error.value.problems


def dev_values() -> dict:
    return copy.deepcopy(shipped("dev")["values"])


def test_dev_and_prod_configs_differ_the_way_operators_expect():
    dev = parse(dev_values(), "dev")
    prod = parse(shipped("prod")["values"], "prod")
    assert (dev.approval, dev.protect, dev.force_destroy) == ("auto", False, True)
    assert (prod.approval, prod.protect, prod.force_destroy) == ("manual", True, False)
    assert dev.models[0].endpoint.serverless and not prod.models[0].endpoint.serverless
    assert prod.models[0].endpoint.instance_count >= 2
    assert prod.retention.log_retention_days > dev.retention.log_retention_days
    assert dev.models[0].hyperparameters["num_round"] == "200"


def test_missing_required_keys_are_all_named():
    found = problems({}, region=None)
    assert any(p.startswith("aws:region: got (missing); required") for p in found)
    assert any(p.startswith(f"{PROJECT}:models: got (missing)") for p in found)
    # The stack decides the environment: the key is an optional declaration.
    assert not [p for p in found if "environment" in p]


def test_wrong_types_name_key_value_and_expectation():
    values = dev_values()
    values["models"][0]["trainingInstanceCount"] = "two"
    values["models"][0]["threshold"] = True
    values["protect"] = "yes"
    found = problems(values)
    assert f"{PROJECT}:models[0].trainingInstanceCount: got 'two'; expected an integer" in found
    assert f"{PROJECT}:models[0].threshold: got True; expected an integer or a number" in found
    assert f"{PROJECT}:protect: got 'yes'; expected true or false" in found


def test_unknown_instance_types_are_rejected_with_examples():
    values = dev_values()
    values["models"][0]["trainingInstanceType"] = "ml.m5.huge"
    values["models"][0]["endpoint"]["instanceType"] = "m5.large"
    found = problems(values)
    assert any(p.startswith(f"{PROJECT}:models[0].trainingInstanceType: got 'ml.m5.huge'; allowed: a SageMaker")
               and "ml.m5.large" in p for p in found)
    assert any(p.startswith(f"{PROJECT}:models[0].endpoint.instanceType: got 'm5.large'") for p in found)


def test_variant_weights_must_sum_to_one():
    values = dev_values()
    values["models"][0]["endpoint"] = {"mode": "instances", "instanceType": "ml.m5.large",
                                       "variants": [{"name": "champion", "weight": 0.7},
                                                    {"name": "challenger", "weight": 0.2}]}
    found = problems(values)
    assert found == [f"{PROJECT}:models[0].endpoint.variants: got ['champion=0.7', 'challenger=0.2']; "
                     "weights must sum to 1, they sum to 0.9"]


TWO_VARIANTS = [{"name": "champion", "weight": 0.5, "modelVersion": 3}, {"name": "challenger", "weight": 0.5, "modelVersion": 4}]


@pytest.mark.parametrize("endpoint, problem", [
    ({"mode": "serverless", "variants": TWO_VARIANTS},
     "endpoint.variants: got ['champion', 'challenger']; a serverless endpoint serves one variant"),
    ({"mode": "serverless", "dataCapturePercent": 100},
     "endpoint.dataCapturePercent: got 100; serverless endpoints cannot capture data"),
    ({"mode": "serverless", "dataCapturePercent": 0},
     "endpoint.dataCapturePercent: got 0; serverless endpoints cannot capture data"),
    ({"mode": "instances", "instanceType": "ml.m5.large",
      "variants": [{"name": "champion", "weight": 0.5, "modelVersion": 3}, {"name": "challenger", "weight": 0.5}]},
     "endpoint.variants: got ['challenger']; every variant needs a modelVersion, or none does"),
    ({"mode": "instances", "instanceType": "ml.m5.large", "variants": [{"name": "champion", "weight": 1.0, "modelVersion": 0}]},
     "endpoint.variants[0].modelVersion: got 0"),
    ({"mode": "instances", "instanceType": "ml.m5.large",
      "variants": [{"name": f"v{i}", "weight": 1 / 6, "modelVersion": i + 1} for i in range(6)]},
     "endpoint.variants: got 6; at most 5 variants: each has two rollback alarms"),
])
def test_endpoint_settings_sagemaker_would_refuse_are_config_errors(endpoint, problem):
    """Serverless endpoints serve one variant and capture nothing (SageMaker's serverless feature
    exclusions); an endpoint is deployed from versions of all its variants or not at all; a rollout
    watches at most ten alarms, two per variant."""
    values = dev_values()
    values["models"][0]["endpoint"] = endpoint
    found = problems(values)
    assert len(found) == 1 and found[0].startswith(f"{PROJECT}:models[0].{problem}"), found


@pytest.mark.parametrize("endpoint", [
    {"mode": "serverless", "variants": [{"name": "champion", "weight": 1.0, "modelVersion": 1}]},
    {"mode": "instances", "instanceType": "ml.m5.large", "dataCapturePercent": 20, "variants": TWO_VARIANTS},
    {"mode": "instances", "instanceType": "ml.m5.large", "variants": [{"name": "champion", "weight": 1.0}]},
    {"mode": "instances", "instanceType": "ml.m5.large",
     "variants": [{"name": f"v{i}", "weight": 0.2, "modelVersion": i + 1} for i in range(5)]},
])
def test_endpoints_sagemaker_accepts_parse(endpoint):
    values = dev_values()
    values["models"][0]["endpoint"] = endpoint
    assert parse(values, "dev").models[0].endpoint.variants


def test_weights_that_sum_to_one_within_float_error_pass():
    values = dev_values()
    # 0.7 + 0.1 + 0.1 + 0.1 is 0.9999999999999999 in floating point.
    values["models"][0]["endpoint"] = {"mode": "instances", "instanceType": "ml.m5.large",
                                       "variants": [{"name": n, "weight": w} for n, w in zip("abcd", (0.7, 0.1, 0.1, 0.1), strict=True)]}
    weights = [v.weight for v in parse(values).models[0].endpoint.variants]
    assert sum(weights) != 1.0 and sum(weights) == pytest.approx(1.0)


def test_duplicate_names_are_rejected():
    values = dev_values()
    values["models"].append(copy.deepcopy(values["models"][0]))
    values["models"][0]["endpoint"]["variants"] = [{"name": "a", "weight": 0.5}, {"name": "a", "weight": 0.5}]
    values["featureGroups"][0]["features"].append({"name": "tenure_months", "type": "Integral"})
    found = problems(values)
    assert f"{PROJECT}:models[1].name: got 'churn'; duplicate model name; each model needs its own" in found
    assert f"{PROJECT}:models[0].endpoint.variants[1].name: got 'a'; duplicate variant name" in found
    assert any("features[11].name: got 'tenure_months'; duplicate feature name" in p for p in found)


@pytest.mark.parametrize("expression, reason", [
    ("cron(0 3 * * MON *)", "exactly one of day-of-month and day-of-week"),
    ("cron(0 3 ? * MON)", "cron needs 6 fields"),
    ("cron(61 3 ? * MON *)", "minute field '61'"),
    ("cron(0 25 ? * MON *)", "hour field '25'"),
    ("every monday", "expected 'cron("),
    ("rate(1 days)", "use 'day' for 1"),
    ("rate(0 hours)", "at least 1"),
])
def test_bad_schedules_say_why(expression, reason):
    values = dev_values()
    values["models"][0]["retrainSchedule"] = expression
    (found,) = problems(values)
    assert found.startswith(f"{PROJECT}:models[0].retrainSchedule: got {expression!r}")
    assert reason in found


@pytest.mark.parametrize("expression", ["cron(0 3 ? * MON *)", "cron(0/15 * * * ? *)", "rate(1 day)",
                                        "rate(12 hours)", "cron(30 2 1 * ? 2027)", "cron(0 8 ? * MON-FRI *)"])
def test_good_schedules_pass(expression):
    assert config.validate_schedule(expression) is None


def test_names_that_cannot_fit_aws_limits_are_rejected():
    values = dev_values()
    values["models"][0]["name"] = "customer-churn-prediction-with-a-very-long-name"
    (found,) = problems(values)
    assert found.startswith(f"{PROJECT}:models[0].name: got 'customer-churn-prediction-with-a-very-long-name'; too long")
    assert "63-character sagemaker limit" in found and "use at most" in found


def test_prod_refuses_unsafe_settings():
    values = copy.deepcopy(shipped("prod")["values"])
    values["approval"] = "auto"
    values["protect"] = False
    values["models"][0]["endpoint"]["instanceCount"] = 1
    values["models"][0]["endpoint"]["autoscaling"]["minCapacity"] = 1
    found = problems(values, stack="prod")
    assert f"{PROJECT}:approval: got 'auto'; prod requires 'manual' approval" in found
    assert f"{PROJECT}:protect: got False; prod stateful resources must stay protected (true)" in found
    assert any(p.startswith(f"{PROJECT}:models[0].endpoint.instanceCount: got 1; prod needs at least 2") for p in found)


def test_every_problem_is_reported_in_one_error():
    values = dev_values()
    values["models"][0]["trainingInstanceType"] = "ml.nope"
    values["models"][0]["retrainSchedule"] = "daily"
    values["models"][0]["endpoint"] = {"mode": "instances", "instanceType": "ml.m5.large", "dataCapturePercent": 150}
    values["retention"]["logRetentionDays"] = 15
    values["unexpected"] = 1
    found = problems(values)
    assert len(found) == 5
    with pytest.raises(ConfigError) as error:
        parse(values)
    message = str(error.value)
    assert message.startswith("Stack 'dev' has 5 config problem(s); nothing was deployed:")
    assert all(f"  - {p}" in message for p in found)


def test_preview_environment_belongs_to_pr_stacks_only():
    values = dev_values()
    values["environment"] = "preview"
    assert any("'preview' is only for pr-N stacks" in p for p in problems(values, stack="dev"))
    values.update(pullRequest="12", expires="2030-01-08")
    assert parse(values, stack="pr-12").environment == "preview"
    values["environment"] = "dev"
    assert any("pull-request stack: use 'preview'" in p for p in problems(values, stack="pr-12"))


def test_hyperparameters_reach_sagemaker_as_strings():
    values = dev_values()
    values["models"][0]["hyperparameters"] = {"num_round": 50, "eta": 0.3}
    assert dict(parse(values).models[0].hyperparameters) == {"eta": "0.3", "num_round": "50"}


def test_objective_metric_must_be_one_the_training_container_reports():
    values = dev_values()
    values["models"][0]["objectiveMetric"] = "validation:AUC"
    (found,) = [p for p in problems(values) if "objectiveMetric" in p]
    assert found.startswith(f"{PROJECT}:models[0].objectiveMetric: got 'validation:AUC'; allowed: ")
    assert "validation:auc" in found and "validation:f1" in found
    values["models"][0]["objectiveMetric"] = "validation:f1"
    assert parse(values).models[0].objective_metric == "validation:f1"
    del values["models"][0]["objectiveMetric"]
    assert parse(values).models[0].objective_metric == "validation:auc"


def test_tags_name_project_environment_and_manager():
    cfg = parse(dev_values())
    assert cfg.tags == {"Project": PROJECT, "Environment": "dev", "Stack": "dev", "ManagedBy": "pulumi"}


def test_shipped_feature_group_matches_the_sample_models_schema():
    """The sample model's features are defined once (containers/contracts/features.py); the
    feature group in each shipped stack must carry exactly those, with matching types."""
    from containers.contracts import features

    for stack in STACK_FILES:
        (group,) = parse(shipped(stack)["values"], stack).feature_groups
        declared = {f.name: f.type for f in group.features}
        expected = {f.name: f.feature_store_type for f in features.FEATURES}
        expected.update({features.RECORD_ID_FEATURE: "String", features.EVENT_TIME_FEATURE: "String"})
        assert declared == expected
        assert (group.record_identifier, group.event_time) == (features.RECORD_ID_FEATURE, features.EVENT_TIME_FEATURE)


def test_alert_emails_must_be_addresses_and_distinct():
    values = dev_values()
    values["alerting"] = {"emails": ["oncall@example.com", "not-an-address", "OnCall@Example.com"]}
    assert problems(values) == [
        f"{PROJECT}:alerting.emails[1]: got 'not-an-address'; expected an email address",
        f"{PROJECT}:alerting.emails[2]: got 'OnCall@Example.com'; duplicate address (addresses compare without case)",
    ]


# -- the stack decides what is production -----------------------------------------------------
def prod_values() -> dict:
    return copy.deepcopy(shipped("prod")["values"])


def pr_values(number: int = 12) -> dict:
    return {**dev_values(), "environment": "preview", "pullRequest": str(number), "expires": "2030-01-08"}


@pytest.mark.parametrize("stack, declared, message", [
    ("prod", "dev", "stack 'prod' is production (PRODUCTION_STACKS in components/environments.py) and always gets "
                    "the prod rules: declare 'prod' or leave the key out"),
    ("prod", "preview", "stack 'prod' is production"),
    ("dev", "prod", "the stack's name decides what is production, and 'dev' is not: to make it production, add "
                    "'dev' to PRODUCTION_STACKS in components/environments.py"),
    ("staging", "prod", "and 'staging' is not"),
    ("pr-12", "prod", "and 'pr-12' is not"),
    ("dev", "preview", "'preview' is only for pr-N stacks"),
    ("pr-12", "dev", "stack 'pr-12' is a pull-request stack: use 'preview'"),
    ("dev", "staging", "allowed: dev, preview, prod"),
])
def test_a_declared_environment_must_agree_with_the_stack(stack, declared, message):
    values = {"prod": prod_values, "pr-12": pr_values}.get(stack, dev_values)()
    values["environment"] = declared
    (found,) = [p for p in problems(values, stack=stack) if p.startswith(f"{PROJECT}:environment:")]
    assert found.startswith(f"{PROJECT}:environment: got {declared!r}; ")
    assert message in found


@pytest.mark.parametrize("stack, values, environment", [
    ("prod", prod_values, "prod"), ("dev", dev_values, "dev"), ("staging", dev_values, "dev"),
    ("pr-12", pr_values, "preview"),
])
def test_without_the_key_the_stack_decides(stack, values, environment):
    raw = values()
    del raw["environment"]
    cfg = parse(raw, stack=stack)
    assert cfg.environment == environment
    assert cfg.is_prod == (environment == "prod")


def test_a_stack_marked_production_gets_every_prod_rule_whatever_its_file_says(monkeypatch):
    """Marking a stack production in the one documented place makes its dev-like file invalid,
    and a prod-like file then yields every prod behaviour."""
    monkeypatch.setattr(environments, "PRODUCTION_STACKS", frozenset({"prod", "prod-eu"}))
    values = dev_values()
    del values["environment"]
    found = problems(values, stack="prod-eu")
    assert f"{PROJECT}:models[0].endpoint.mode: got 'serverless'; prod endpoints run on instances (at least two) " \
           "for availability" in found
    cfg = parse({k: v for k, v in prod_values().items() if k != "environment"}, stack="prod-eu")
    assert (cfg.environment, cfg.is_prod, cfg.auto_approve, cfg.force_destroy, cfg.protect) == \
        ("prod", True, False, False, True)
    assert cfg.tags["Environment"] == "prod"


def test_defaults_follow_the_stack_not_the_file():
    values = prod_values()
    for key in ("environment", "approval", "protect"):
        del values[key]
    cfg = parse(values, stack="prod")
    assert (cfg.approval, cfg.protect) == ("manual", True)
    assert cfg.retention.log_retention_days == 365


def test_a_platform_config_cannot_be_built_with_another_environment():
    cfg = parse(prod_values(), stack="prod")
    with pytest.raises(ValueError, match="stack 'prod' is prod, not dev"):
        type(cfg)(**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__ if f != "namer"} | {"environment": "dev"})


@pytest.mark.parametrize("stack, changes, expected", [
    ("dev", {"pullRequest": "12"}, [f"{PROJECT}:pullRequest: got '12'; only pull-request stacks (pr-<number>) carry it, "
                                    "and 'dev' is not one: remove it"]),
    ("prod", {"expires": "2030-01-08"}, [f"{PROJECT}:expires: got '2030-01-08'; only pull-request stacks"]),
    ("pr-12", {"pullRequest": None}, [f"{PROJECT}:pullRequest: got (missing); required: '12', the pull request of "
                                      "stack 'pr-12'"]),
    ("pr-12", {"pullRequest": "13"}, [f"{PROJECT}:pullRequest: got '13'; stack 'pr-12' belongs to pull request 12: "
                                      "use '12'"]),
    ("pr-12", {"pullRequest": 13}, [f"{PROJECT}:pullRequest: got 13; stack 'pr-12' belongs to pull request 12"]),
    ("pr-12", {"expires": None}, [f"{PROJECT}:expires: got (missing); required: the date (YYYY-MM-DD)"]),
    ("pr-12", {"expires": "2030-02-30"}, [f"{PROJECT}:expires: got '2030-02-30'; expected an ISO date, YYYY-MM-DD"]),
    ("pr-12", {"expires": "20300108"}, [f"{PROJECT}:expires: got '20300108'; expected an ISO date"]),
    ("pr-12", {"expires": "next week"}, [f"{PROJECT}:expires: got 'next week'; expected an ISO date"]),
])
def test_pull_request_and_expiry_belong_to_pr_stacks(stack, changes, expected):
    values = {"prod": prod_values, "pr-12": pr_values}.get(stack, dev_values)()
    values.update(changes)
    found = problems({k: v for k, v in values.items() if v is not None}, stack=stack)
    assert len(found) == len(expected)
    for problem, start in zip(found, expected, strict=True):
        assert problem.startswith(start)


def test_pull_request_as_a_number_is_the_same_pull_request():
    """`pullRequest: '12'` reaches the program as the JSON number 12, exactly as from the CLI."""
    cfg = parse({**pr_values(), "pullRequest": 12}, stack="pr-12")
    assert (cfg.pull_request, cfg.expires) == ("12", "2030-01-08")
    assert cfg.tags["PullRequest"] == "12" and cfg.tags["Expires"] == "2030-01-08"


# -- values that pass the type check but could never work ----------------------------------------
@pytest.mark.parametrize("metric, threshold, message", [
    ("validation:auc", 1.2, "validation:auc lies in [0, 1]; a version is registered when validation:auc >= threshold"),
    ("validation:auc", -0.1, "validation:auc lies in [0, 1]"),
    ("validation:auc", math.inf, "expected a finite number"),
    ("validation:auc", -math.inf, "expected a finite number"),
    ("validation:auc", math.nan, "expected a finite number"),
    ("validation:f1", 2, "validation:f1 lies in [0, 1]; a version is registered when validation:f1 >= threshold"),
    ("validation:logloss", -1, "validation:logloss lies in [0, inf]; a version is registered when "
                               "validation:logloss <= threshold"),
    ("validation:logloss", math.inf, "expected a finite number"),
    ("train:logloss", math.nan, "expected a finite number"),
])
def test_thresholds_must_be_finite_and_within_the_metrics_range(metric, threshold, message):
    values = dev_values()
    values["models"][0].update(objectiveMetric=metric, threshold=threshold)
    (found,) = problems(values)
    assert found.startswith(f"{PROJECT}:models[0].threshold: got {threshold!r}; ")
    assert message in found


@pytest.mark.parametrize("metric, threshold, better, worse", [
    ("validation:auc", 0.8, 0.81, 0.79),
    ("validation:accuracy", 0.0, 0.0, -0.01),
    ("validation:logloss", 0.3, 0.29, 0.31),
    ("train:logloss", 0, 0.0, 0.01),
])
def test_the_threshold_follows_the_metrics_direction(metric, threshold, better, worse):
    values = dev_values()
    values["models"][0].update(objectiveMetric=metric, threshold=threshold)
    model = parse(values).models[0]
    assert model.objective_spec is METRIC_SPECS[metric]
    assert model.reaches_threshold(threshold) and model.reaches_threshold(better)
    assert not model.reaches_threshold(worse)


@pytest.mark.parametrize("hyperparameters, expected", [
    ({"max_dept": "5"}, ["'max_dept' is not a known hyperparameter (known: "]),
    ({"eta": "fast"}, ["eta: 'fast' is not a number in (0, 1]"]),
    ({"eta": "0"}, ["eta: '0' is out of range; must be a number in (0, 1]"]),
    ({"num_round": "1e3"}, ["num_round: '1e3' is not an integer in [1, 5000]"]),
    ({"num_round": 0}, ["num_round: '0' is out of range; must be an integer in [1, 5000]"]),
    ({"max_depth": "21"}, ["max_depth: '21' is out of range"]),
    ({"subsample": "nan"}, ["subsample: 'nan' is not a number in (0, 1]"]),
    ({f"sagemaker_h{i}": "1" for i in range(101)}, ["101 hyperparameters; SageMaker accepts at most 100"]),
    ({"eta": ["0.1"]}, []),  # not text: reported by the type check below
])
def test_hyperparameters_are_checked_with_the_training_containers_schema(hyperparameters, expected):
    values = dev_values()
    values["models"][0]["hyperparameters"] = hyperparameters
    found = problems(values)
    key = f"{PROJECT}:models[0].hyperparameters"
    schema_lines = [p for p in found if p.startswith(f"{key}: ")]
    assert [line.removeprefix(f"{key}: ")[:len(start)] for line, start in zip(schema_lines, expected, strict=False)] \
        == expected
    assert len(schema_lines) == len(expected)
    if not expected:
        assert found == [f"{key}.eta: got ['0.1']; expected a string or a number"]


def test_valid_hyperparameters_pass_and_sagemakers_own_are_ignored():
    values = dev_values()
    values["models"][0]["hyperparameters"] = {"eta": "0.3", "num_round": 10, "sagemaker_program": "train"}
    assert dict(parse(values).models[0].hyperparameters) == {"eta": "0.3", "num_round": "10",
                                                            "sagemaker_program": "train"}


@pytest.mark.parametrize("expression, reason", [
    ("cron(0 3 ? FOO MON *)", "cron month field 'FOO' is not valid: 'FOO' is not a month (1-12 or JAN-DEC)"),
    ("cron(0 3 ? * XYZ *)", "cron day-of-week field 'XYZ' is not valid: 'XYZ' is not a day of the week (1-7 or SUN-SAT)"),
    ("cron(0 3 ? * MON-XYZ *)", "'XYZ' is not a day of the week"),
    ("cron(0 3 ? JAN-FOO * *)", "'FOO' is not a month"),
    ("cron(0 3 ? * mon *)", "'mon' is not a day of the week"),
    ("cron(0 3 ? 13 MON *)", "'13' is not a month"),
    ("cron(0 3 ? * 8 *)", "'8' is not a day of the week"),
    ("cron(0 3 ? * 0 *)", "'0' is not a day of the week"),
    ("cron(0 3 32 * ? *)", "'32' is not a day of the month"),
    ("cron(0 3 ? * 2#6 *)", "cron day-of-week field '2#6' is not valid"),
    ("cron(0 3 ? * 2#1,3#2 *)", "'#' must be the only one in its field"),
    ("cron(0 3 ? * MON/2 *)", "'/' is not allowed in day-of-week"),
    ("cron(0/0 3 ? * MON *)", "the increment in '0/0' must be a whole number from 1 to 59"),
    ("cron(0 3 ? * MON 1969)", "'1969' is not a year (1970-2199)"),
    ("cron(0 3 ? * MON 2200)", "'2200' is not a year"),
    ("cron(0 3 ? * MONW *)", "'MONW' is not a day of the week"),
    ("cron(0 3 LW * ? *)", "'LW' is not a day of the month"),
    ("cron(0 3 ? ? MON *)", "'?' is only for day-of-month and day-of-week"),
    ("cron(0 3 1,,2 * ? *)", "'' is not a day of the month"),
    ("cron(0 3 ? * FRI L *)", "cron needs 6 fields"),
])
def test_cron_fields_take_only_their_own_names_and_wildcards(expression, reason):
    assert reason in (config.validate_schedule(expression) or "valid")


@pytest.mark.parametrize("expression", [
    "cron(0 8 ? * MON-FRI *)", "cron(0 8 ? JAN-MAR MON *)", "cron(0 8 ? * 2#3 *)", "cron(0 8 ? * MON#1 *)",
    "cron(0 8 L * ? *)", "cron(0 8 ? * L *)", "cron(0 8 ? * 6L *)", "cron(0 8 ? * FRIL *)", "cron(0 8 15W * ? *)",
    "cron(0 8 ? JAN,JUL SUN,SAT 2030-2035)", "cron(0/5 8-17 ? * MON-FRI *)", "cron(0 */6 1/2 * ? *)",
    "cron(0 8 ? 1-12/3 SUN *)", "cron(59 23 31 DEC ? 2199)", "cron(0 0 1 JAN ? 1970)",
])
def test_documented_cron_forms_pass(expression):
    assert config.validate_schedule(expression) is None


@pytest.mark.parametrize("value, reason", [
    ("x" * 257, "257 characters; AWS tag values hold at most 256"),
    ("a;b", "AWS tag values allow letters, digits, spaces and _ . : / = + - @, not ';'"),
    ("<script>", "not '<>'"),
    ("tab\there", r"not '\t'"),
    ("emoji 🚀", "not '🚀'"),
    ("x" * 256, None),
    ("Zürich 東京 ٣ a_b.c:d/e=f+g-h@i", None),
    ("", None),
])
def test_tag_values_follow_aws_tag_rules(value, reason):
    if reason is None:
        assert config.tag_value_problem(value) is None
    else:
        assert reason in config.tag_value_problem(value)


@pytest.mark.parametrize("project, problem", [
    ("p" * 257, "project name (Pulumi.yaml): got 'ppp"),
    ("mlops;platform", "project name (Pulumi.yaml): got 'mlops;platform'; becomes the Project tag: AWS tag values "
                       "allow letters, digits, spaces and _ . : / = + - @, not ';'"),
])
def test_every_value_that_becomes_a_tag_is_checked(project, problem):
    values = dev_values()
    values["models"][0]["name"] = "m"
    with pytest.raises(ConfigError) as error:
        config.parse(project, "dev", values, "us-east-1")
    assert any(p.startswith(problem) for p in error.value.problems)


@pytest.mark.parametrize("path, value, message", [
    (("models", 0, "endpoint", "variants", 0, "weight"), math.nan, "expected a finite number"),
    (("models", 0, "endpoint", "variants", 0, "weight"), math.inf, "expected a finite number"),
    (("models", 0, "trainingVolumeGb"), math.inf, "expected an integer"),
    (("models", 0, "endpoint", "dataCapturePercent"), 100.0, "expected an integer"),
    (("retention", "modelVersionsToKeep"), -math.inf, "expected an integer"),
    (("models", 0, "maxRuntimeSeconds"), 28 * 86400 + 1, "must be between 60 and 2419200"),
])
def test_every_numeric_field_is_finite_and_in_range(path, value, message):
    values = dev_values()
    values["models"][0]["endpoint"]["mode"] = "instances"  # the mode whose every field is allowed
    target = values
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    found = [p for p in problems(values) if "weights must sum" not in p]
    assert len(found) == 1 and message in found[0]


# -- namespaces ---------------------------------------------------------------------------------
def cli_config(**overrides: str) -> dict[str, str]:
    """The dev stack's config as the CLI passes it: {"ns:key": text or JSON}."""
    text, _ = offline.load_stack_config("dev")
    return {**text, **overrides}


@pytest.mark.parametrize("key, message", [
    ("mlops-platfrom:models", "mlops-platfrom:models: unknown namespace 'mlops-platfrom'; did you mean "
                              "'mlops-platform:models'? Keys are 'mlops-platform:<key>' (or just '<key>') for the "
                              "platform and 'aws:<key>' for the AWS provider"),
    ("awz:region", "awz:region: unknown namespace 'awz'; did you mean 'aws:region'?"),
    ("docker:host", "docker:host: unknown namespace 'docker'; Keys are"),
    ("aws:regoin", "aws:regoin: not a setting of the AWS provider; did you mean 'aws:region'?"),
    ("aws:skipCredentialValidation", "aws:skipCredentialValidation: not a setting of the AWS provider; did you mean "
                                     "'aws:skipCredentialsValidation'?"),
])
def test_keys_under_an_unknown_namespace_or_aws_key_are_reported(key, message):
    with pytest.raises(ConfigError) as error:
        config.parse_cli_config(PROJECT, "dev", cli_config(**{key: "x"}))
    assert [p for p in error.value.problems if p.startswith(f"{key}:")] == [p for p in error.value.problems]
    (found,) = error.value.problems
    assert found.startswith(message)


def test_namespace_problems_join_the_other_problems_in_one_error():
    with pytest.raises(ConfigError) as error:
        config.parse_cli_config(PROJECT, "dev", cli_config(**{"mlops-platfrom:colour": "blue",
                                                              "mlops-platform:colour": "blue"}))
    assert len(error.value.problems) == 2
    assert error.value.problems[0].startswith("mlops-platfrom:colour: unknown namespace")
    assert error.value.problems[1] == f"{PROJECT}:colour: got 'blue'; unknown key; known keys: " + ", ".join(config._KEYS)


def test_known_aws_and_pulumi_keys_pass_and_values_decode_like_the_clis():
    cfg = config.parse_cli_config(PROJECT, "dev", cli_config(**{
        "aws:profile": "sandbox", "aws:skipCredentialsValidation": "true",
        "pulumi:disable-default-providers": '["aws"]'}))
    assert cfg.region == "us-east-1" and cfg.models[0].threshold == 0.8


def test_aws_keys_come_from_the_provider_sdk():
    """Each derived key is the string the provider SDK's own getter reads (`__config__.get('key')`)."""
    import pulumi_aws  # noqa: F401
    from pulumi_aws.config import vars as provider_vars

    keys = config.aws_provider_config_keys()
    assert {"region", "profile", "defaultTags", "skipCredentialsValidation", "assumeRoles"} <= keys
    getters = [value.fget for cls in vars(provider_vars).values() if isinstance(cls, type)
               for value in vars(cls).values() if isinstance(value, property)]
    consts = {c for getter in getters for c in getter.__code__.co_consts if isinstance(c, str)}
    assert keys <= consts and len(keys) == len(getters)


def test_a_retired_key_is_refused_with_the_reason_it_went():
    """`retention.imagesToKeep` configured the ECR lifecycle, which no longer expires tagged images:
    accepting the key would silently configure nothing."""
    values = dev_values()
    values["retention"]["imagesToKeep"] = 10
    assert problems(values) == [
        f"{PROJECT}:retention.imagesToKeep: got 10; no longer used: tagged images are never expired, because a "
        "registered model version may point at any of them (docs/architecture.md, Training pipeline); remove the key"]
