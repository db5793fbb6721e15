"""Serving in the plan: one endpoint per model with a version configured, none without.

The plans run the real program under Pulumi's mocks (automation/offline.py) with the shipped dev
and prod stack files and `models` overridden where a test needs versions. What SageMaker does
with these requests (a blue/green rollout, a rollback on an alarm) cannot run here; the tests
hold the requests to what the SageMaker API reference and Developer Guide say they must carry.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml

from automation import offline
from automation.offline import Plan
from components import config, inference_endpoint, inference_policies, training_workflow
from components.config import VariantConfig
from components.metrics_catalogue import CATALOGUE
from components.training_pipeline import ROOT as PROJECT_ROOT
from containers.contracts import serving as serving_contract
from containers.inference import decoding, encoding

ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ACCOUNT = f"arn:aws:sagemaker:us-east-1:{offline.ACCOUNT_ID}"


def shipped_models(stack: str) -> list[dict]:
    values = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return copy.deepcopy(values["mlops-platform:models"])


def with_versions(stack: str, variants: list[dict], **endpoint) -> list[dict]:
    models = shipped_models(stack)
    models[0]["endpoint"].update(endpoint, variants=variants)
    return models


A_B = [{"name": "champion", "weight": 0.7, "modelVersion": 3}, {"name": "challenger", "weight": 0.3, "modelVersion": 4}]
DEV_VERSION = [{"name": "champion", "weight": 1.0, "modelVersion": 7}]


@pytest.fixture(scope="module")
def prod_ab() -> Plan:
    return offline.plan("prod", config_overrides={"models": with_versions("prod", A_B)})


@pytest.fixture(scope="module")
def dev_serving() -> Plan:
    return offline.plan("dev", config_overrides={"models": with_versions("dev", DEV_VERSION)})


def serving(plan: Plan, type_: str) -> list:
    return [r for r in plan.of_type(type_) if plan.component_of(r) and plan.component_of(r).type ==
            "mlops:components:InferenceEndpoint"]


# --- No version, no endpoint -------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_a_version_there_is_no_endpoint_and_the_plan_says_so(plan_for, stack):
    plan = plan_for(stack)
    assert [r for r in plan.resources if r.type.startswith("aws:sagemaker/endpoint") or r.type == MODEL] == []
    assert plan.of_type(TARGET) == [] and "capture_bucket" not in plan.outputs and "endpoint_captures" not in plan.outputs
    assert plan.outputs["endpoints"] == {}
    assert "set endpoint.variants[].modelVersion" in plan.outputs["endpoints_not_deployed"]["churn"]
    # Everything else deploys: the training pipeline, registry and images are there.
    assert plan.of_type("aws:sfn/stateMachine:StateMachine") and plan.outputs["inference_image_uri"]


@pytest.mark.parametrize("plan_name", ["dev_serving", "prod_ab"])
def test_a_version_makes_the_endpoint_appear_and_the_plan_stops_saying_it_is_missing(plan_name, request):
    plan = request.getfixturevalue(plan_name)
    (endpoint,) = serving(plan, ENDPOINT)
    assert plan.outputs["endpoints"] == {"churn": endpoint.inputs["name"]}
    assert plan.outputs["endpoints_not_deployed"] == {}


# --- Models, configuration, endpoint ----------------------------------------------------------

def test_variants_and_weights_reach_the_endpoint_configuration(prod_ab: Plan):
    (config_,) = serving(prod_ab, CONFIG)
    variants = config_.inputs["productionVariants"]
    assert [(v["variantName"], v["initialVariantWeight"]) for v in variants] == [("champion", 0.7), ("challenger", 0.3)]
    assert all((v["instanceType"], v["initialInstanceCount"]) == ("ml.m5.large", 2) for v in variants)
    models = {m.name: m for m in serving(prod_ab, MODEL)}
    assert [v["modelName"] for v in variants] == [models["churn-serving-champion-model"].inputs["name"],
                                                   models["churn-serving-challenger-model"].inputs["name"]]
    assert config_.inputs["kmsKeyArn"] == prod_ab.outputs["kms_key_arn"]


@pytest.mark.parametrize("variant, version", [("champion", 3), ("challenger", 4)])
def test_each_variant_runs_a_model_made_from_its_registered_package(prod_ab: Plan, variant, version):
    """From the package, so the image and artifact are exactly the evaluated ones; the name
    carries the version, so a new version is a new model created before the old one goes."""
    model = prod_ab.get(MODEL, f"churn-serving-{variant}-model")
    assert model.inputs["primaryContainer"] == {"modelPackageName": f"{ACCOUNT}:model-package/mlops-platform-prod-churn/{version}"}
    assert model.inputs["name"] == f"mlops-platform-prod-churn-{variant}-v{version}"
    assert model.inputs["enableNetworkIsolation"] is True
    role = prod_ab.get("aws:iam/role:Role", "churn-serving-role")
    assert model.inputs["executionRoleArn"] == role.outputs["arn"]


@pytest.mark.parametrize("region, partition", [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_the_package_arn_carries_the_stacks_partition_and_region(region, partition):
    plan = offline.plan("dev", config_overrides={"models": with_versions("dev", DEV_VERSION), "aws:region": region})
    model = plan.get(MODEL, "churn-serving-champion-model")
    assert model.inputs["primaryContainer"]["modelPackageName"] == \
        f"arn:{partition}:sagemaker:{region}:{offline.ACCOUNT_ID}:model-package/mlops-platform-dev-churn/7"


@pytest.mark.parametrize("before, after, replaced", [
    ((VariantConfig("champion", 1.0, 3), False), (VariantConfig("champion", 1.0, 4), False), True),  # a new version
    ((VariantConfig("champion", 1.0, 3), True), (VariantConfig("champion", 1.0, 3), False), True),  # isolation turns on
    ((VariantConfig("champion", 1.0, 3), False), (VariantConfig("champion", 0.5, 3), False), False),  # weight: config only
    ((VariantConfig("champion", 1.0, 3), False), (VariantConfig("champion", 1.0, 3, 2), False), False),  # history only
])
def test_the_model_name_changes_exactly_when_the_model_is_replaced(before, after, replaced):
    """A SageMaker model cannot change in place: a replacement under the same name would collide
    with the model it replaces (created first, deleted after)."""
    names = {inference_endpoint.model_name("churn", variant, serverless) for variant, serverless in (before, after)}
    assert (len(names) == 2) is replaced


def test_the_endpoint_configuration_is_auto_named_and_the_endpoint_carries_the_stack(prod_ab: Plan, dev_serving: Plan):
    for plan in (prod_ab, dev_serving):
        (config_,) = serving(plan, CONFIG)
        assert "name" not in config_.inputs
        assert config_.inputs["namePrefix"] == f"mlops-platform-{plan.stack}-churn-" and len(config_.inputs["namePrefix"]) <= 37
        (endpoint,) = serving(plan, ENDPOINT)
        assert endpoint.inputs["name"] == f"mlops-platform-{plan.stack}-churn-endpoint"
        assert endpoint.inputs["endpointConfigName"] == config_.outputs["name"]


def test_two_models_get_two_endpoints_without_a_name_clash():
    models = with_versions("prod", A_B)
    second = copy.deepcopy(models[0])
    second["name"] = "upsell"
    plan = offline.plan("prod", config_overrides={"models": [models[0], second]})
    assert sorted(e.inputs["name"] for e in serving(plan, ENDPOINT)) == [
        "mlops-platform-prod-churn-endpoint", "mlops-platform-prod-upsell-endpoint"]
    assert len({r.urn for r in plan.resources}) == len(plan.resources)
    assert len(serving(plan, MODEL)) == 4 and len(serving(plan, TARGET)) == 2 and len(serving(plan, ALARM)) == 8
    assert sorted(plan.outputs["endpoint_captures"]) == ["churn", "upsell"]


# --- Data capture ------------------------------------------------------------------------------

def test_capture_is_on_encrypted_and_declares_both_content_types(prod_ab: Plan):
    (config_,) = serving(prod_ab, CONFIG)
    capture = config_.inputs["dataCaptureConfig"]
    assert capture["enableCapture"] is True and capture["initialSamplingPercentage"] == 20
    assert capture["kmsKeyId"] == prod_ab.outputs["kms_key_arn"]
    assert capture["destinationS3Uri"] == f"s3://{prod_ab.outputs['capture_bucket']}/capture"
    assert sorted(o["captureMode"] for o in capture["captureOptions"]) == ["Input", "Output"]
    assert capture["captureContentTypeHeader"] == {"csvContentTypes": ["text/csv"], "jsonContentTypes": ["application/json"]}
    bucket = prod_ab.get("aws:s3/bucket:Bucket", "capture")
    assert bucket.protect is True  # prod keeps what it captured


def test_each_endpoint_captures_under_its_own_prefix_which_the_plan_exports(prod_ab: Plan):
    """SageMaker appends `<endpoint>/<variant>/yyyy/mm/dd/hh/` to the destination, so every
    endpoint of the stack has its own prefix; drift detection reads it from the outputs."""
    bucket = prod_ab.outputs["capture_bucket"]
    assert prod_ab.outputs["endpoint_captures"] == {"churn": f"s3://{bucket}/capture/mlops-platform-prod-churn-endpoint/"}
    (component,) = [r for r in prod_ab.resources if r.type == "mlops:components:InferenceEndpoint"]
    assert component.name == "churn-serving"


# --- Safe rollout -------------------------------------------------------------------------------

def rollback_alarms(plan: Plan) -> tuple[dict, dict]:
    (endpoint,) = serving(plan, ENDPOINT)
    deployment = endpoint.inputs["deploymentConfig"]
    named = {a["alarmName"] for a in deployment["autoRollbackConfiguration"]["alarms"]}
    return deployment, {a.inputs["name"]: a for a in serving(plan, ALARM) if a.inputs["name"] in named}


def test_prod_rolls_out_blue_green_with_a_canary_and_rolls_back_on_its_own_alarms(prod_ab: Plan):
    plan, variants = prod_ab, ["champion", "challenger"]
    deployment, alarms = rollback_alarms(plan)
    policy = deployment["blueGreenUpdatePolicy"]
    assert policy["trafficRoutingConfiguration"] == {
        "type": "CANARY", "canarySize": {"type": "CAPACITY_PERCENT", "value": 10}, "waitIntervalInSeconds": 600}
    assert policy["terminationWaitInSeconds"] == inference_endpoint.BAKE_SECONDS > 0
    assert policy["maximumExecutionTimeoutInSeconds"] <= 3600  # within the provider's wait for the endpoint
    assert len(alarms) == 2 * len(variants) == len(deployment["autoRollbackConfiguration"]["alarms"])
    endpoint_name = "mlops-platform-prod-churn-endpoint"
    for variant in variants:
        errors = alarms[f"mlops-platform-prod-churn-{variant}-rollback-5xx"]
        latency = alarms[f"mlops-platform-prod-churn-{variant}-rollback-latency"]
        for alarm in (errors, latency):
            assert alarm.inputs["dimensions"] == {"EndpointName": endpoint_name, "VariantName": variant}
            assert alarm.inputs["namespace"] == "AWS/SageMaker" and alarm.inputs["treatMissingData"] == "notBreaching"
            assert alarm.inputs["period"] == 60  # judged within the bake
        assert (errors.inputs["metricName"], errors.inputs["statistic"], errors.inputs["threshold"]) == \
            ("Invocation5XXErrors", "Sum", 1)
        assert (latency.inputs["metricName"], latency.inputs["extendedStatistic"]) == ("ModelLatency", "p99")
        assert latency.inputs["threshold"] == inference_endpoint.ROLLBACK_P99_LATENCY_MS * 1000  # microseconds
    (endpoint,) = serving(plan, ENDPOINT)
    assert {a.urn for a in alarms.values()} <= set(endpoint.dependencies)  # they exist before SageMaker watches them


def test_the_rollback_alarms_read_the_catalogued_endpoint_metrics(prod_ab: Plan):
    _, alarms = rollback_alarms(prod_ab)
    catalogued = {(m.namespace, m.name, frozenset(m.dimensions)) for key, m in CATALOGUE.items()
                  if key in inference_endpoint.ROLLBACK_METRICS}
    used = {(a.inputs["namespace"], a.inputs["metricName"], frozenset(a.inputs["dimensions"])) for a in alarms.values()}
    assert used == catalogued and len(used) == 2


def test_the_most_variants_config_allows_fit_one_rollouts_alarms():
    """AutoRollbackConfig takes at most 10 alarms; config allows as many variants as fit."""
    variants = [{"name": f"v{i}", "weight": 0.2, "modelVersion": i + 1} for i in range(config.MAX_VARIANTS)]
    plan = offline.plan("prod", config_overrides={"models": with_versions("prod", variants)})
    deployment, alarms = rollback_alarms(plan)
    assert len(deployment["autoRollbackConfiguration"]["alarms"]) == len(alarms) == 10


# --- Autoscaling --------------------------------------------------------------------------------

@pytest.mark.parametrize("variants, scaled", [
    (A_B, ["champion"]),  # the challenger goes when the experiment ends: SageMaker refuses to drop a scaled variant
    ([{"name": "blue", "weight": 0.7, "modelVersion": 3}, {"name": "green", "weight": 0.3, "modelVersion": 4}],
     ["blue", "green"]),
])
def test_prod_scales_each_lasting_variant_on_invocations_per_instance(variants, scaled):
    plan = offline.plan("prod", config_overrides={"models": with_versions("prod", variants)})
    targets = {t.inputs["resourceId"]: t for t in serving(plan, TARGET)}
    assert sorted(targets) == [f"endpoint/mlops-platform-prod-churn-endpoint/variant/{v}" for v in sorted(scaled)]
    policies = {p.inputs["resourceId"]: p for p in serving(plan, POLICY)}
    assert sorted(policies) == sorted(targets)
    for resource_id, target in targets.items():
        assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (2, 6)  # Pulumi.prod.yaml
        assert target.inputs["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
        assert target.inputs["serviceNamespace"] == "sagemaker"
        policy = policies[resource_id]
        assert policy.inputs["policyType"] == "TargetTrackingScaling"
        tracking = policy.inputs["targetTrackingScalingPolicyConfiguration"]
        assert tracking["predefinedMetricSpecification"] == {"predefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
        assert tracking["targetValue"] == 200
        assert tracking["scaleInCooldown"] > tracking["scaleOutCooldown"]


def test_dev_serves_serverless_without_guardrails_scaling_capture_or_isolation(dev_serving: Plan):
    """SageMaker's serverless feature exclusions: no capture, no isolation, one variant; deployment
    guardrails apply to real-time and asynchronous endpoints only, so a serverless one updates the
    default way (no deployment configuration, no rollback alarms); it scales by itself."""
    (config_,) = serving(dev_serving, CONFIG)
    (variant,) = config_.inputs["productionVariants"]
    assert variant["serverlessConfig"] == {"memorySizeInMb": 2048, "maxConcurrency": 5}
    assert "instanceType" not in variant and "dataCaptureConfig" not in config_.inputs and "kmsKeyArn" not in config_.inputs
    assert serving(dev_serving, TARGET) == [] and serving(dev_serving, POLICY) == []
    (endpoint,) = serving(dev_serving, ENDPOINT)
    assert "deploymentConfig" not in endpoint.inputs and serving(dev_serving, ALARM) == []
    model = dev_serving.get(MODEL, "churn-serving-champion-model")
    assert model.inputs["enableNetworkIsolation"] is False
    assert model.inputs["name"] == "mlops-platform-dev-churn-champion-v7-serverless"
    assert "capture_bucket" not in dev_serving.outputs and "endpoint_captures" not in dev_serving.outputs


# --- The execution role -------------------------------------------------------------------------

def statements(plan: Plan) -> dict[str, dict]:
    (access,) = serving(plan, ROLE_POLICY)
    return {s["Sid"]: s for s in json.loads(access.inputs["policy"])["Statement"]}


ALARMS = "arn:aws:cloudwatch:us-east-1:{account}:alarm:mlops-platform-prod-churn-{variant}-rollback-{kind}"


@pytest.mark.parametrize("sid, actions, resource", [
    ("ReadModelArtifacts", "s3:GetObject", "{artifacts}/churn/training/*"),
    ("PullInferenceImage", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
     "{repository}"),
    ("AuthenticateToEcr", "ecr:GetAuthorizationToken", "*"),
    ("DecryptArtifactsAndImage", "kms:Decrypt", "{key}"),
    ("WriteLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
     ["{logs}", "{logs}:log-stream:*"]),
    ("WriteCapture", "s3:PutObject", "{capture}/capture/mlops-platform-prod-churn-endpoint/*"),
    ("EncryptCapture", ["kms:Encrypt", "kms:GenerateDataKey"], "{key}"),
    ("PublishMetrics", "cloudwatch:PutMetricData", "*"),
    ("ReadRollbackAlarms", "cloudwatch:DescribeAlarms",
     [ALARMS.format(account=offline.ACCOUNT_ID, variant=v, kind=k) for v in ("champion", "challenger") for k in ("5xx", "latency")]),
])
def test_the_execution_role_reaches_only_this_models_artifacts_image_capture_alarms_and_key(prod_ab: Plan, sid, actions,
                                                                                              resource):
    found = statements(prod_ab)
    arns = {
        "artifacts": prod_ab.get("aws:s3/bucket:Bucket", "training-artifacts").outputs["arn"],
        "repository": prod_ab.get("aws:ecr/repository:Repository", "training-inference-images").outputs["arn"],
        "key": prod_ab.outputs["kms_key_arn"],
        "capture": prod_ab.get("aws:s3/bucket:Bucket", "capture").outputs["arn"],
        "logs": f"arn:aws:logs:us-east-1:{offline.ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/mlops-platform-prod-churn-endpoint",
    }
    expected = [r.format(**arns) for r in resource] if isinstance(resource, list) else resource.format(**arns)
    assert found[sid]["Action"] == actions and found[sid]["Resource"] == expected
    assert set(found) == {"ReadModelArtifacts", "PullInferenceImage", "AuthenticateToEcr", "DecryptArtifactsAndImage",
                          "WriteLogs", "PublishMetrics", "ReadRollbackAlarms", "WriteCapture", "EncryptCapture"}
    unscoped = {s for s, statement in found.items() if statement["Resource"] == "*"}
    assert unscoped == inference_policies.UNSCOPED_STATEMENTS


def test_the_rollback_alarms_the_role_may_read_are_the_ones_the_endpoint_names(prod_ab: Plan):
    _, alarms = rollback_alarms(prod_ab)
    assert sorted(statements(prod_ab)["ReadRollbackAlarms"]["Resource"]) == sorted(a.outputs["arn"] for a in alarms.values())


def test_a_serverless_endpoints_role_cannot_write_captures_or_read_alarms(dev_serving: Plan):
    assert set(statements(dev_serving)) == {"ReadModelArtifacts", "PullInferenceImage", "AuthenticateToEcr",
                                            "DecryptArtifactsAndImage", "WriteLogs", "PublishMetrics"}


# --- What a registered version says it serves -----------------------------------------------------

def test_versions_register_the_inference_image_with_both_types_it_serves(dev_serving: Plan):
    (machine,) = dev_serving.of_type("aws:sfn/stateMachine:StateMachine")
    register = json.loads(machine.inputs["definition"])["States"][training_workflow.REGISTER_STATE]
    inference = register["Parameters"]["InferenceSpecification"]
    assert [c["Image"] for c in inference["Containers"]] == [dev_serving.outputs["inference_image_uri"]]
    assert inference["SupportedContentTypes"] == inference["SupportedResponseMIMETypes"] == ["text/csv", "application/json"]


def test_the_registered_and_captured_types_are_exactly_what_the_server_reads_and_answers():
    served = set(serving_contract.CONTENT_TYPES)
    assert set(decoding.DECODERS) == set(encoding.ENCODERS) == served
    assert set(training_workflow.INFERENCE_CONTENT_TYPES) == served
    header = inference_endpoint.CAPTURE_CONTENT_TYPES
    assert set(header["csv_content_types"] + header["json_content_types"]) == served


def test_the_program_imports_none_of_the_images_packages():
    """`pulumi up` installs requirements.txt only: a component that imported the server's code
    (numpy, xgboost) would fail there, though the tests, which install everything, pass."""
    blocked = ["numpy", "xgboost", "scipy", "starlette", "uvicorn"]
    script = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}:\n"
        "            raise ImportError(f'the program imported {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import components.training_pipeline, components.inference_endpoint, components.training_workflow\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not set(blocked) & {line.split("==")[0].split(">")[0].split("<")[0].strip().lower()
                               for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines()}
