"""The feature store as each shipped stack plans it: groups and their stores, encryption, the
offline store role's scope, the ingestion and freshness functions, schedule and alarms; the
plan diff that shows a definition change as a replacement of the group; and its config."""

from __future__ import annotations

import copy
import fnmatch
import importlib
import io
import json
import zipfile

import pulumi
import pytest
import yaml

from automation import offline, plan_diff
from automation.offline import Plan
from components import config, feature_store, feature_store_policies, lambda_function, metrics_catalogue
from components.config import ConfigError
from containers.contracts import features as contract
from functions.feature_freshness import freshness
from functions.feature_ingest import ingest, rows

FEATURE_GROUP = "aws:sagemaker/featureGroup:FeatureGroup"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PROJECT = "mlops-platform"


def stack_values(stack: str) -> dict:
    document = yaml.safe_load((offline.ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in document.items() if k.startswith(f"{PROJECT}:")}


def stack_config(stack: str) -> config.PlatformConfig:
    return config.parse(PROJECT, stack, stack_values(stack), "us-east-1")


def statements(plan: Plan, name: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(plan.get(ROLE_POLICY, name).inputs["policy"])["Statement"]}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def features_bucket(plan: Plan) -> str:
    return plan.get("aws:s3/bucket:Bucket", "features-bucket").outputs["arn"]


# --- Groups and stores ----------------------------------------------------------------------------

def test_each_configured_group_is_a_feature_group_with_its_definitions(stack_plan: Plan):
    cfg = stack_config(stack_plan.stack)
    groups = {g.inputs["featureGroupName"]: g for g in stack_plan.of_type(FEATURE_GROUP)}
    assert set(groups) == {f"mlops-platform-{stack_plan.stack}-{g.name}" for g in cfg.feature_groups}
    assert stack_plan.outputs["feature_groups"] == {g.name: f"mlops-platform-{stack_plan.stack}-{g.name}"
                                                    for g in cfg.feature_groups}
    for group in cfg.feature_groups:
        planned = groups[f"mlops-platform-{stack_plan.stack}-{group.name}"].inputs
        assert (planned["recordIdentifierFeatureName"], planned["eventTimeFeatureName"]) == (group.record_identifier,
                                                                                              group.event_time)
        assert planned["featureDefinitions"] == [{"featureName": f.name, "featureType": f.type} for f in group.features]
        assert planned["description"] == f"Feature group {group.name} of mlops-platform {stack_plan.stack}"


def test_the_sample_group_deploys_exactly_the_training_containers_schema(stack_plan: Plan):
    """One schema: the deployed group's definitions are the contract's features (types mapped as
    `Feature.feature_store_type`) plus the record identifier and event time, in any order."""
    (group,) = [g for g in stack_plan.of_type(FEATURE_GROUP) if g.inputs["featureGroupName"].endswith("churn-customers")]
    deployed = {d["featureName"]: d["featureType"] for d in group.inputs["featureDefinitions"]}
    expected = {f.name: f.feature_store_type for f in contract.FEATURES}
    expected.update({contract.RECORD_ID_FEATURE: "String", contract.EVENT_TIME_FEATURE: "String"})
    assert deployed == expected


def test_both_stores_are_encrypted_with_the_platform_key_and_the_offline_store_gets_a_glue_table(stack_plan: Plan):
    key = stack_plan.outputs["kms_key_arn"]
    bucket = stack_plan.outputs["feature_store_bucket"]
    for group in stack_plan.of_type(FEATURE_GROUP):
        online, offline_store = group.inputs["onlineStoreConfig"], group.inputs["offlineStoreConfig"]
        assert online == {"enableOnlineStore": True, "securityConfig": {"kmsKeyId": key}}  # no TTL configured
        assert offline_store == {"s3StorageConfig": {"s3Uri": f"s3://{bucket}/offline-store", "kmsKeyId": key},
                                 "disableGlueTableCreation": False, "tableFormat": "Glue"}
        assert group.inputs["roleArn"] == stack_plan.get("aws:iam/role:Role", "features-offline-role").outputs["arn"]
        # The role can write the offline store before SageMaker first tries.
        assert stack_plan.get(ROLE_POLICY, "features-offline-access").urn in group.dependencies


def test_an_online_ttl_and_a_store_left_out_reach_the_group():
    groups = copy.deepcopy(stack_values("dev")["featureGroups"])
    groups[0]["onlineTtlDays"] = 30
    groups.append({**copy.deepcopy(groups[0]), "name": "churn-history", "onlineStore": False})
    del groups[1]["onlineTtlDays"]
    plan = offline.plan("dev", config_overrides={"featureGroups": groups})
    planned = {g.name: g.inputs for g in plan.of_type(FEATURE_GROUP)}
    assert planned["features-churn-customers"]["onlineStoreConfig"]["ttlDuration"] == {"unit": "Days", "value": 30}
    assert "onlineStoreConfig" not in planned["features-churn-history"]
    assert planned["features-churn-history"]["offlineStoreConfig"]["disableGlueTableCreation"] is False


@pytest.mark.parametrize("stack, protected", [("dev", False), ("prod", True)])
def test_groups_are_replaced_delete_first_and_protected_and_retained_in_prod(plan_for, stack, protected):
    for group in plan_for(stack).of_type(FEATURE_GROUP):
        assert (group.protect, group.retain_on_delete) == (protected, protected)
        assert group.delete_before_replace is True  # the name is fixed: the old group must go first
        assert group.replace_on_changes == feature_store.REPLACED_ON_CHANGE


def test_every_replace_path_names_an_input_of_the_feature_group():
    """A misspelt path would silently never force anything."""
    import pulumi_aws

    properties = {name for cls in (pulumi_aws.sagemaker.FeatureGroupArgs, pulumi_aws.sagemaker.FeatureGroupOnlineStoreConfigArgs)
                  for name in _pulumi_names(cls)}
    for path in feature_store.REPLACED_ON_CHANGE:
        assert all(part in properties for part in path.split(".")), path


def _pulumi_names(cls) -> set[str]:
    return {getattr(value.fget, "_pulumi_name", None) or name for name, value in vars(cls).items()
            if isinstance(value, property)}


# --- Roles ----------------------------------------------------------------------------------------

def test_the_offline_store_role_reaches_exactly_its_prefix_its_groups_tables_and_the_key(stack_plan: Plan):
    bucket, key = features_bucket(stack_plan), stack_plan.outputs["kms_key_arn"]
    allowed = statements(stack_plan, "features-offline-access")
    assert allowed["WriteOfflineStore"]["Resource"] == allowed["ReadOfflineStoreManifests"]["Resource"] == [
        f"{bucket}/offline-store/*"]
    assert allowed["CheckBucketOwner"]["Resource"] == [bucket]
    assert allowed["EncryptOfflineStore"]["Resource"] == [key]
    tables = allowed["MaintainOfflineStoreTables"]["Resource"]
    stack = stack_plan.stack
    # The table SageMaker names for the group (as moto does, too): name with '_', then its creation time.
    table = f"arn:aws:glue:us-east-1:123456789012:table/sagemaker_featurestore/mlops_platform_{stack}_churn_customers_1717000000"
    other = "dev" if stack == "prod" else "prod"
    assert any(fnmatch.fnmatchcase(table, pattern) for pattern in tables)
    assert not any(fnmatch.fnmatchcase(table.replace(f"_{stack}_", f"_{other}_"), pattern) for pattern in tables)
    assert not any(fnmatch.fnmatchcase(table.replace("churn_customers", "other_group"), pattern) for pattern in tables)


UNSCOPED_ACTIONS = {"cloudwatch:PutMetricData", "cloudwatch:GetMetricStatistics"}


@pytest.mark.parametrize("policy", ["features-offline-access", "features-ingest-access", "features-freshness-access"])
def test_feature_store_policies_name_their_resources(stack_plan: Plan, policy):
    for statement in statements(stack_plan, policy).values():
        actions = as_list(statement["Action"])
        assert statement["Effect"] == "Allow" and not [a for a in actions if "*" in a], statement
        if "*" in as_list(statement["Resource"]):
            assert statement["Sid"] in feature_store_policies.UNSCOPED_STATEMENTS and set(actions) <= UNSCOPED_ACTIONS
        if "cloudwatch:PutMetricData" in actions:
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": metrics_catalogue.PLATFORM_NAMESPACE}}


def test_ingestion_reads_and_writes_only_under_the_ingest_prefix_and_puts_only_into_its_groups(stack_plan: Plan):
    bucket, key = features_bucket(stack_plan), stack_plan.outputs["kms_key_arn"]
    allowed = statements(stack_plan, "features-ingest-access")
    assert allowed["ReadIngestObjects"]["Resource"] == [f"{bucket}/ingest/*"]
    assert allowed["WriteDeadLetters"]["Resource"] == [f"{bucket}/ingest/*.rejected.ndjson"]
    groups = [g.outputs["arn"] for g in stack_plan.of_type(FEATURE_GROUP)]
    assert allowed["PutRecords"]["Resource"] == allowed["ReadGroupDefinitions"]["Resource"] == groups
    assert allowed["UsePlatformKey"]["Resource"] == [key]
    # Plus what every function has: its own log streams and its failure queue.
    assert allowed["WriteOwnLogs"]["Resource"] == [
        f"{stack_plan.get(LOG_GROUP, 'features-ingest-logs').outputs['arn']}:log-stream:*"]
    assert allowed["ParkFailedEvents"]["Resource"] == [
        stack_plan.get("aws:sqs/queue:Queue", "features-ingest-failures").outputs["arn"]]


# --- Functions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, code", [("features-ingest", "feature_ingest"), ("features-freshness", "feature_freshness")])
def test_functions_run_their_package_on_a_current_python_with_encrypted_logs_and_a_failure_queue(stack_plan: Plan, name,
                                                                                                  code):
    cfg = stack_config(stack_plan.stack)
    key = stack_plan.outputs["kms_key_arn"]
    function = stack_plan.get(FUNCTION, f"{name}-function")
    assert function.inputs["runtime"] == "python3.13" and function.inputs["architectures"] == ["arm64"]
    module, _, attribute = function.inputs["handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), attribute))
    assert isinstance(function.inputs["code"], pulumi.AssetArchive)
    assert sorted(function.inputs["code"].assets) == lambda_function.package_files(code)
    logs = stack_plan.get(LOG_GROUP, f"{name}-logs")
    assert logs.inputs == {"name": f"/aws/lambda/{function.inputs['name']}", "kmsKeyId": key,
                           "retentionInDays": cfg.retention.log_retention_days}
    assert logs.urn in function.dependencies  # else Lambda makes it first, unencrypted, kept forever
    assert (logs.protect, logs.retain_on_delete) == ((True, True) if cfg.is_prod else (False, False))
    queue = stack_plan.get("aws:sqs/queue:Queue", f"{name}-failures")
    assert queue.inputs["kmsMasterKeyId"] == key and queue.inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    invoke = stack_plan.get("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", f"{name}-async")
    assert invoke.inputs["destinationConfig"] == {"onFailure": {"destination": queue.outputs["arn"]}}
    assert invoke.inputs["maximumRetryAttempts"] == 2 and invoke.inputs["functionName"] == function.inputs["name"]


@pytest.mark.parametrize("code", ["feature_ingest", "feature_freshness"])
def test_a_package_is_its_own_code_and_the_shared_helpers_and_small(code):
    files = lambda_function.package_files(code)
    assert all(f.startswith(("functions/shared/", f"functions/{code}/")) or f == "functions/__init__.py" for f in files)
    assert f"functions/{code}/handler.py" in files and "functions/shared/retry.py" in files
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name in files:
            zipped.write(offline.ROOT / name, name)
    # Lambda takes 50 MB zipped (250 MB unzipped); these are tens of kilobytes.
    assert archive.tell() < 100_000


def test_the_functions_get_their_settings_and_the_catalogues_metric_names(stack_plan: Plan):
    cfg = stack_config(stack_plan.stack)
    ingest_env = stack_plan.get(FUNCTION, "features-ingest-function").inputs["environment"]["variables"]
    settings = ingest.Settings.from_environment(ingest_env)
    assert dict(settings.feature_groups) == stack_plan.outputs["feature_groups"]
    assert (settings.ingest_prefix, settings.concurrency, settings.max_attempts) == (
        "ingest/", cfg.feature_store.ingest_concurrency, cfg.feature_store.ingest_max_attempts)
    freshness_env = stack_plan.get(FUNCTION, "features-freshness-function").inputs["environment"]["variables"]
    measured = freshness.Settings.from_environment(freshness_env)
    assert list(measured.feature_groups) == list(stack_plan.outputs["feature_groups"].values())
    for names, keys in ((settings.metrics, ingest.METRIC_KEYS), (measured.metrics, freshness.METRIC_KEYS)):
        assert set(names.names) == set(keys)
        for key in keys:
            entry = metrics_catalogue.CATALOGUE[key]
            assert (names.namespace, names.names[key], (names.dimension,)) == (entry.namespace, entry.name, entry.dimensions)


def test_files_dropped_under_a_groups_ingest_prefix_start_ingestion_and_dead_letters_do_not(stack_plan: Plan):
    function = stack_plan.get(FUNCTION, "features-ingest-function")
    (notification,) = stack_plan.of_type("aws:s3/bucketNotification:BucketNotification")
    filters = {(n["filterPrefix"], n["filterSuffix"]) for n in notification.inputs["lambdaFunctions"]}
    assert filters == {(f"ingest/{g}/", suffix) for g in stack_plan.outputs["feature_groups"] for suffix in (".csv", ".jsonl")}
    assert tuple(rows.READERS) == (".csv", ".jsonl")
    assert all(n["lambdaFunctionArn"] == function.outputs["arn"] and n["events"] == ["s3:ObjectCreated:*"]
               for n in notification.inputs["lambdaFunctions"])
    dead_letter = "ingest/churn-customers/batch.csv" + ingest.DEAD_LETTER_SUFFIX
    assert not any(dead_letter.startswith(p) and dead_letter.endswith(s) for p, s in filters)
    permission = stack_plan.get("aws:lambda/permission:Permission", "features-ingest-from-s3")
    assert (permission.inputs["principal"], permission.inputs["sourceArn"], permission.inputs["sourceAccount"]) == (
        "s3.amazonaws.com", features_bucket(stack_plan), offline.ACCOUNT_ID)
    assert permission.urn in notification.dependencies  # S3 checks the permission when it saves the notification


def test_freshness_runs_on_its_schedule(stack_plan: Plan):
    minutes = stack_config(stack_plan.stack).feature_store.freshness_check_minutes
    rule = stack_plan.get("aws:cloudwatch/eventRule:EventRule", "features-freshness-schedule")
    assert rule.inputs["scheduleExpression"] == f"rate({minutes} minutes)"
    function = stack_plan.get(FUNCTION, "features-freshness-function")
    target = stack_plan.get("aws:cloudwatch/eventTarget:EventTarget", "features-freshness-target")
    assert (target.inputs["rule"], target.inputs["arn"]) == (rule.outputs["name"], function.outputs["arn"])
    permission = stack_plan.get("aws:lambda/permission:Permission", "features-freshness-from-schedule")
    assert (permission.inputs["principal"], permission.inputs["sourceArn"]) == ("events.amazonaws.com", rule.outputs["arn"])


def test_each_group_alarms_the_alert_topic_when_stale_or_unmeasured(stack_plan: Plan):
    cfg = stack_config(stack_plan.stack)
    topic = stack_plan.outputs["alert_topic_arn"]
    metric = metrics_catalogue.CATALOGUE["feature_store.freshness_seconds"]
    alarms = {a.inputs["name"]: a.inputs for a in stack_plan.of_type(ALARM)}
    for group in cfg.feature_groups:
        alarm = alarms[f"mlops-platform-{stack_plan.stack}-{group.name}-freshness"]
        assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == (metric.namespace, metric.name, "Maximum")
        assert alarm["dimensions"] == {"FeatureGroupName": f"mlops-platform-{stack_plan.stack}-{group.name}"}
        assert alarm["threshold"] == group.freshness_max_hours * 3600
        assert alarm["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm["period"] == cfg.feature_store.freshness_check_minutes * 60
        assert alarm["treatMissingData"] == "breaching"  # never ingested, or the measurement stopped: stale
        assert alarm["alarmActions"] == alarm["okActions"] == [topic]
    failures = alarms[f"mlops-platform-{stack_plan.stack}-feature-ingest-failures"]
    queue = stack_plan.get("aws:sqs/queue:Queue", "features-ingest-failures").outputs["name"]
    assert (failures["namespace"], failures["metricName"], failures["dimensions"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue})
    assert failures["threshold"] == 0 and failures["alarmActions"] == [topic]


def test_every_encrypted_log_group_is_one_the_key_lets_cloudwatch_logs_use(stack_plan: Plan):
    (key,) = stack_plan.of_type("aws:kms/key:Key")
    (logs,) = [s for s in json.loads(key.inputs["policy"])["Statement"] if s.get("Principal", {}).get("Service", "").startswith("logs.")]
    pattern = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    encrypted = [g for g in stack_plan.of_type(LOG_GROUP) if g.inputs.get("kmsKeyId")]
    assert len(encrypted) >= 3
    assert [g.name for g in encrypted if not fnmatch.fnmatchcase(g.outputs["arn"], pattern)] == []


def test_the_feature_store_metrics_are_catalogued_as_aws_documents_them():
    entries = {k: m for k, m in metrics_catalogue.CATALOGUE.items() if k.startswith("feature_store.")}
    latency = entries["feature_store.latency"]
    assert (latency.namespace, latency.name, latency.dimensions, latency.unit) == (
        "AWS/SageMaker", "Latency", ("FeatureGroupName", "OperationName"), "Microseconds")
    assert latency.dimensioned(FeatureGroupName="g", OperationName=metrics_catalogue.FEATURE_SERVING_OPERATION) == {
        "FeatureGroupName": "g", "OperationName": "GetRecord"}
    for key in (*ingest.METRIC_KEYS, *freshness.METRIC_KEYS):
        assert entries[key].namespace == metrics_catalogue.PLATFORM_NAMESPACE and entries[key].dimensions == ("FeatureGroupName",)


def test_a_stack_without_feature_groups_plans_no_feature_store_resources():
    plan = offline.plan("dev", config_overrides={"featureGroups": []})
    component = plan.get("mlops:components:FeatureStore", "features")
    assert list(plan.descendants(component)) == []
    assert plan.outputs["feature_groups"] == {} and "feature_store_bucket" not in plan.outputs


def test_the_freshness_look_back_covers_twice_the_longest_maximum():
    cfg = stack_config("dev")
    assert feature_store.lookback_seconds(cfg) == 14 * 24 * 3600
    long = config.parse(PROJECT, "dev", {**stack_values("dev"), "featureGroups": [
        {**stack_values("dev")["featureGroups"][0], "freshnessMaxHours": 24 * 30}]}, "us-east-1")
    assert feature_store.lookback_seconds(long) == 60 * 24 * 3600


# --- Replacement, made visible before it happens ------------------------------------------------------

def with_group_change(stack: str, change) -> Plan:
    groups = copy.deepcopy(stack_values(stack)["featureGroups"])
    change(groups[0])
    return offline.plan(stack, config_overrides={"featureGroups": groups})


def retype(group: dict) -> None:
    next(f for f in group["features"] if f["name"] == "tenure_months")["type"] = "Fractional"


def add_feature(group: dict) -> None:
    group["features"].append({"name": "referrals", "type": "Integral"})


CHANGES = {
    "a feature re-typed": (retype, "featureDefinitions"),
    "a feature added": (add_feature, "featureDefinitions"),
    "another record identifier": (lambda g: g.update(recordIdentifier="event_time"), "recordIdentifierFeatureName"),
    "the online store dropped": (lambda g: g.update(onlineStore=False), "onlineStoreConfig"),
}


@pytest.mark.parametrize("change, field", CHANGES.values(), ids=list(CHANGES))
def test_a_definition_change_shows_as_a_replacement_that_loses_the_online_store(plan_for, change, field):
    changes = plan_diff.diff(plan_for("dev"), with_group_change("dev", change))
    (replace,) = [c for c in changes if c.action == "replace"]
    assert (replace.resource.type, replace.resource.name, replace.properties) == (
        FEATURE_GROUP, "features-churn-customers", (field,))
    text = replace.describe()
    assert "will be replaced, online data lost" in text and not replace.refused
    assert "1 lose data" in plan_diff.render(changes)


def test_in_prod_the_replacement_is_refused_because_the_group_is_protected(plan_for):
    changes = plan_diff.diff(plan_for("prod"), with_group_change("prod", retype))
    (replace,) = [c for c in changes if c.action == "replace"]
    assert replace.refused and "Refused: the resource is protected" in replace.describe()


def test_a_ttl_change_updates_the_group_in_place(plan_for):
    changes = plan_diff.diff(plan_for("dev"), with_group_change("dev", lambda g: g.update(onlineTtlDays=90)))
    assert [(c.action, c.resource.name, c.properties) for c in changes] == [
        ("update", "features-churn-customers", ("onlineStoreConfig.ttlDuration",))]
    assert not any(c.loses_data for c in changes)


def test_a_new_group_is_created_and_the_existing_one_kept(plan_for):
    groups = copy.deepcopy(stack_values("dev")["featureGroups"])
    groups.append({**copy.deepcopy(groups[0]), "name": "churn-customers-v2"})
    changes = plan_diff.diff(plan_for("dev"), offline.plan("dev", config_overrides={"featureGroups": groups}))
    assert ("create", FEATURE_GROUP, "features-churn-customers-v2") in {(c.action, c.resource.type, c.resource.name)
                                                                         for c in changes}
    assert not [c for c in changes if c.action in ("replace", "delete")]


def test_the_same_config_plans_no_changes(plan_for):
    assert plan_diff.render(plan_diff.diff(plan_for("dev"), offline.plan("dev"))) == "No changes."


def test_the_command_compares_two_stack_files_and_exits_1_on_data_loss(tmp_path, capsys):
    after = tmp_path / "Pulumi.dev.yaml"
    after.write_text((offline.ROOT / "Pulumi.dev.yaml").read_text().replace(
        "{name: tenure_months, type: Integral}", "{name: tenure_months, type: Fractional}"))
    assert plan_diff.main(["dev", "--before", str(offline.ROOT / "Pulumi.dev.yaml"), "--after", str(after)]) == 1
    assert "features-churn-customers  (featureDefinitions): will be replaced, online data lost" in capsys.readouterr().out


# --- Config -------------------------------------------------------------------------------------------

def problems(values: dict) -> list[str]:
    with pytest.raises(ConfigError) as error:
        config.parse(PROJECT, "dev", values, "us-east-1")
    return error.value.problems


def group_with(**changes) -> dict:
    values = stack_values("dev")
    values["featureGroups"][0].update(changes)
    return values


def test_feature_store_settings_default_and_parse():
    cfg = stack_config("dev")
    assert cfg.feature_store == config.FeatureStoreConfig()
    assert (cfg.feature_groups[0].online_ttl_days, cfg.feature_groups[0].freshness_max_hours) == (None, 24)
    values = {**stack_values("dev"), "featureStore": {"ingestConcurrency": 16, "freshnessCheckMinutes": 5}}
    parsed = config.parse(PROJECT, "dev", values, "us-east-1")
    assert (parsed.feature_store.ingest_concurrency, parsed.feature_store.freshness_check_minutes) == (16, 5)
    assert config.parse(PROJECT, "dev", group_with(onlineTtlDays=7, freshnessMaxHours=2), "us-east-1").feature_groups[0] \
        .online_ttl_days == 7


@pytest.mark.parametrize("values, problem", [
    (group_with(onlineTtlDays=0), "featureGroups[0].onlineTtlDays: got 0; must be between 1 and 36500"),
    (group_with(freshnessMaxHours=0), "featureGroups[0].freshnessMaxHours: got 0; must be between 1 and 8760"),
    (group_with(freshnessMaxHours="a day"), "featureGroups[0].freshnessMaxHours: got 'a day'; expected an integer"),
    (group_with(onlineStore=False, onlineTtlDays=3), "featureGroups[0].onlineTtlDays: got 3; only an online store expires"),
    (group_with(eventTime="tenure_months"), "featureGroups[0].eventTime: got 'tenure_months'; is Integral; SageMaker takes"),
    (group_with(features=[{"name": "customer_id", "type": "String"}, {"name": "event_time", "type": "String"},
                          {"name": "write_time", "type": "String"}]),
     "featureGroups[0].features[2].name: got 'write_time'; Feature Store adds"),
    (group_with(colour="blue"), "featureGroups[0].colour: got 'blue'; unknown field"),
    ({**stack_values("dev"), "featureStore": {"ingestConcurrency": 0}},
     "featureStore.ingestConcurrency: got 0; must be between 1 and 64"),
    ({**stack_values("dev"), "featureStore": {"ingestTimeoutSeconds": 901}},
     "featureStore.ingestTimeoutSeconds: got 901; must be between 60 and 900"),
    ({**stack_values("dev"), "featureStore": {"freshnessCheckMinutes": 721}},
     "featureStore.freshnessCheckMinutes: got 721; must be between 1 and 720"),
    ({**stack_values("dev"), "featureStore": {"ingestConcurency": 4}}, "featureStore.ingestConcurency: got 4; unknown field"),
    ({**stack_values("dev"), "featureStore": "fast"}, "featureStore: got 'fast'; expected an object"),
])
def test_bad_feature_store_settings_are_refused_with_their_key(values, problem):
    assert any(p.startswith(f"{PROJECT}:{problem}") for p in problems(values)), problems(values)


def test_the_offline_plan_marks_the_groups_that_a_change_replaces(plan_for):
    from automation.report import render_plan

    lines = [line for line in render_plan(plan_for("prod")).splitlines() if "features-churn-customers " in line + " "]
    assert any("aws:sagemaker:FeatureGroup" in line and "(protect,retain,replaced-on-change)" in line for line in lines)


def test_a_function_takes_layers_only_when_given(tmp_path):
    """LambdaFunction for later functions that need more than the runtime has (numpy: a layer)."""
    import shutil

    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(offline.ROOT / name, tmp_path / name)
    (tmp_path / "__main__.py").write_text(
        "from components import config\n"
        "from components.lambda_function import LambdaFunction, LambdaFunctionArgs\n"
        "cfg = config.load()\n"
        "for name, layers in (('plain', ()), ('layered', ('arn:aws:lambda:us-east-1:123456789012:layer:numpy:1',))):\n"
        "    LambdaFunction(name, cfg, LambdaFunctionArgs(purpose=name, code='feature_freshness', description=name,\n"
        "        kms_key_arn='arn:aws:kms:us-east-1:123456789012:key/k', environment={}, statements=[], layers=layers))\n")
    plan = offline.plan("dev", tmp_path)
    assert "layers" not in plan.get(FUNCTION, "plain-function").inputs
    assert plan.get(FUNCTION, "layered-function").inputs["layers"] == ["arn:aws:lambda:us-east-1:123456789012:layer:numpy:1"]
