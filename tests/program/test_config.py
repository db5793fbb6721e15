"""Stack config validation: every kind of bad value gets its message, all at once."""

from __future__ import annotations

import copy

import pytest
import yaml

from automation import offline
from components import config
from components.config import ConfigError

PROJECT = "mlops-platform"


# The pull-request template is a shipped stack file too: every pr-N stack is rendered from it.
STACK_FILES = {"dev": offline.ROOT / "Pulumi.dev.yaml", "prod": offline.ROOT / "Pulumi.prod.yaml",
               "pr-1": offline.ROOT / "automation" / "templates" / "Pulumi.preview.yaml"}


def shipped(stack: str) -> dict:
    """The raw values of a shipped stack file, as `parse` receives them (namespace stripped)."""
    document = yaml.safe_load(STACK_FILES[stack].read_text())["config"]
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
    assert any(p.startswith(f"{PROJECT}:environment: got (missing); required: allowed: dev, preview, prod") for p in found)
    assert any(p.startswith(f"{PROJECT}:models: got (missing)") for p in found)


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
    values["models"][0]["endpoint"]["variants"] = [{"name": "champion", "weight": 0.7},
                                                   {"name": "challenger", "weight": 0.2}]
    found = problems(values)
    assert found == [f"{PROJECT}:models[0].endpoint.variants: got ['champion=0.7', 'challenger=0.2']; "
                     "weights must sum to 1, they sum to 0.9"]


def test_weights_that_sum_to_one_within_float_error_pass():
    values = dev_values()
    values["models"][0]["endpoint"]["variants"] = [{"name": n, "weight": 0.1} for n in "abcdefghij"]
    assert sum(v.weight for v in parse(values).models[0].endpoint.variants) == pytest.approx(1.0)


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
    values["models"][0]["endpoint"]["dataCapturePercent"] = 150
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
