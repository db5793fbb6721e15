"""The training pipeline as each shipped stack plans it: the state machine that deploys, its
roles' least privilege, schedules, the image and its repository, the alert topic and registry."""

from __future__ import annotations

import fnmatch
import json

import pytest
import yaml

from automation import offline
from automation.offline import Plan
from components import config, container_image, training_workflow
from components.build_context import build_context_tag
from components.training_pipeline import INFERENCE_DOCKERFILE, ROOT, TRAINING_BUILD, TRAINING_CONTEXT, TRAINING_DOCKERFILE
from components.training_policies import UNSCOPED_STATEMENTS
from containers.contracts.metrics import METRIC_DEFINITIONS

STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# The only actions that may use "Resource": "*": their APIs have no resource-level permissions,
# or AWS's documented policy for the integration grants them so (ListTags for `.sync`).
UNSCOPED_ACTIONS = {
    "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "sagemaker:ListTags",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
}
STATEFUL = {"aws:ecr/repository:Repository", "aws:cloudwatch/logGroup:LogGroup", "aws:sns/topic:Topic",
            "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:s3/bucket:Bucket"}


def stack_config(stack: str) -> config.PlatformConfig:
    document = yaml.safe_load((offline.ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in document.items() if k.startswith("mlops-platform:")}
    return config.parse("mlops-platform", stack, values, document["aws:region"])


def policy(plan: Plan, name: str) -> dict:
    return json.loads(plan.get(ROLE_POLICY, name).inputs["policy"])


def statements(plan: Plan, name: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in policy(plan, name)["Statement"]}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def definition(plan: Plan) -> dict:
    (machine,) = plan.of_type(STATE_MACHINE)
    return json.loads(machine.inputs["definition"])


def unsecret(value):
    """Plan inputs keep Pulumi's secret envelope; tests look inside it."""
    if isinstance(value, dict) and "value" in value and "4dabf18193072939515e22adb298388d" in value:
        return value["value"]
    return value


def training(plan: Plan, type_: str) -> list:
    """The training pipeline's resources of a type (other components have roles, rules, logs too)."""
    component = plan.get("mlops:components:TrainingPipeline", "training")
    return [r for r in plan.descendants(component) if r.type == type_]


# --- The state machine -------------------------------------------------------------------------

def test_the_deployed_definition_is_exactly_the_builders(stack_plan: Plan):
    """What the tests execute in moto (the builder's output) is what the stack deploys."""
    cfg = stack_config(stack_plan.stack)
    outputs = stack_plan.outputs
    role = stack_plan.get(ROLE, "training-job-role").outputs["arn"]
    expected = training_workflow.definition(training_workflow.spec_for(
        cfg, image_uri=outputs["training_image_uri"], inference_image_uri=outputs["inference_image_uri"],
        training_role_arn=role, kms_key_arn=outputs["kms_key_arn"],
        topic_arn=outputs["alert_topic_arn"], data_bucket=outputs["data_bucket"],
        artifact_bucket=outputs["artifact_bucket"], package_groups=outputs["model_package_groups"]))
    assert definition(stack_plan) == expected


@pytest.mark.parametrize("stack,approval", [("dev", "Approved"), ("prod", "PendingManualApproval")])
def test_versions_are_auto_approved_in_dev_and_wait_for_a_human_in_prod(plan_for, stack, approval):
    states = definition(plan_for(stack))["States"]
    assert states["RegisterModelVersion"]["Parameters"]["ModelApprovalStatus"] == approval
    assert states["Registered"]["Parameters"]["message"]["approval_status"] == approval


def test_training_runs_encrypted_with_the_configured_settings(stack_plan: Plan):
    cfg = stack_config(stack_plan.stack)
    key = stack_plan.outputs["kms_key_arn"]
    states = definition(stack_plan)["States"]
    train = states["Train"]["Parameters"]
    assert train["ResourceConfig.$"] == "$.run.resource_config"
    assert train["OutputDataConfig"]["KmsKeyId"] == key
    assert train["AlgorithmSpecification"]["TrainingImage"] == stack_plan.outputs["training_image_uri"]
    assert train["AlgorithmSpecification"]["MetricDefinitions"] == METRIC_DEFINITIONS
    assert train["RoleArn"] == stack_plan.get(ROLE, "training-job-role").outputs["arn"]
    assert train["EnableNetworkIsolation"] is True
    for model in cfg.models:
        run = states[f"Configure-{model.name}"]["Result"]
        assert run["default_hyperparameters"] == dict(model.hyperparameters)
        assert run["resource_config"] == {"InstanceType": model.training_instance_type,
                                          "InstanceCount": model.training_instance_count,
                                          "VolumeSizeInGB": model.training_volume_gb, "VolumeKmsKeyId": key}
        assert run["max_runtime_seconds"] == model.max_runtime_seconds
        assert (run["objective_metric"], run["threshold"]) == (model.objective_metric, model.threshold)
        assert run["model_package_group"] == stack_plan.outputs["model_package_groups"][model.name]
        data = stack_plan.outputs["data_bucket"]
        assert (run["train_uri"], run["validation_uri"]) == (f"s3://{data}/{model.name}/train/",
                                                             f"s3://{data}/{model.name}/validation/")
        assert run["output_uri"] == f"s3://{stack_plan.outputs['artifact_bucket']}/{model.name}/training"


@pytest.mark.parametrize("instance_type, local_storage", [
    ("ml.m5.large", False), ("ml.c5.xlarge", False), ("ml.p3.2xlarge", False), ("ml.c5n.xlarge", False),
    ("ml.g4dn.xlarge", True), ("ml.r5d.large", True), ("ml.p3dn.24xlarge", True), ("ml.p4d.24xlarge", True),
    ("ml.g5.2xlarge", True), ("ml.trn1.2xlarge", True), ("ml.p6-b200.48xlarge", True),
])
def test_volumes_take_the_platform_key_unless_the_instance_has_local_storage(instance_type, local_storage):
    """SageMaker refuses VolumeKmsKeyId for instance types with local NVMe storage (encrypted by
    the instance's hardware); sending it anyway fails every run on such an instance."""
    models = [dict(yaml.safe_load((offline.ROOT / "Pulumi.dev.yaml").read_text())["config"]["mlops-platform:models"][0],
                   trainingInstanceType=instance_type)]
    plan = offline.plan("dev", config_overrides={"models": models})
    run = definition(plan)["States"]["Configure-churn"]["Result"]
    assert run["resource_config"]["InstanceType"] == instance_type
    assert ("VolumeKmsKeyId" not in run["resource_config"]) is local_storage
    if not local_storage:
        assert run["resource_config"]["VolumeKmsKeyId"] == plan.outputs["kms_key_arn"]


def test_the_state_machine_logs_encrypted_and_traces(stack_plan: Plan):
    cfg = stack_config(stack_plan.stack)
    (machine,) = stack_plan.of_type(STATE_MACHINE)
    (logs,) = training(stack_plan, "aws:cloudwatch/logGroup:LogGroup")
    assert machine.inputs["type"] == "STANDARD"
    assert machine.inputs["name"] == f"mlops-platform-{stack_plan.stack}-training"
    assert machine.inputs["tracingConfiguration"] == {"enabled": True}
    logging = machine.inputs["loggingConfiguration"]
    assert logging == {"level": "ALL", "includeExecutionData": True, "logDestination": f"{logs.outputs['arn']}:*"}
    assert logs.inputs["kmsKeyId"] == stack_plan.outputs["kms_key_arn"]
    assert logs.inputs["retentionInDays"] == cfg.retention.log_retention_days
    assert logs.inputs["name"].startswith("/aws/vendedlogs/states/mlops-platform-")
    assert machine.inputs["roleArn"] == stack_plan.get(ROLE, "training-pipeline-role").outputs["arn"]
    # Created after its role can deliver logs, and after the image it runs exists.
    depends = set(machine.dependencies)
    assert stack_plan.get(ROLE_POLICY, "training-pipeline-access").urn in depends
    assert stack_plan.get("docker-build:index:Image", "training-image").urn in depends


# --- Least privilege ---------------------------------------------------------------------------

def test_no_policy_uses_wildcard_actions_or_unscoped_writes(stack_plan: Plan):
    documents = [json.loads(p.inputs["policy"]) for p in training(stack_plan, ROLE_POLICY)]
    assert len(documents) == 3
    for document in documents:
        for statement in document["Statement"]:
            actions = as_list(statement["Action"])
            assert statement["Effect"] == "Allow"
            assert not [a for a in actions if "*" in a], statement
            if "*" in as_list(statement["Resource"]):
                assert statement["Sid"] in UNSCOPED_STATEMENTS, statement
                assert set(actions) <= UNSCOPED_ACTIONS, statement
            else:
                assert all(r.startswith("arn:aws:") for r in as_list(statement["Resource"])), statement


def allows(document: dict, action: str, resource: str) -> bool:
    """Whether an Allow statement grants `action` on `resource` (IAM wildcards; conditions are
    checked by the tests of each statement)."""
    return any(statement["Effect"] == "Allow" and action in as_list(statement["Action"])
               and any(fnmatch.fnmatchcase(resource, pattern) for pattern in as_list(statement["Resource"]))
               for statement in document["Statement"])


# What AWS documents each role needs, as (policy, action, resource) with placeholders filled from
# the plan: the training role from the SageMaker Developer Guide's "CreateTrainingJob API:
# Execution Role Permissions" (input and output S3 objects, ListBucket, ECR pulls, logs, metrics;
# kms:Decrypt for SSE-KMS input, kms:Encrypt for an output KMS key, kms:CreateGrant for a volume
# key); the pipeline role from the Step Functions guide's SageMaker CreateTrainingJob `.sync`
# policy (Create/Describe/Stop, ListTags, PassRole, the managed events rule), and its SNS,
# logging and X-Ray pages.
DOCUMENTED = [
    ("training-job-access", "s3:GetObject", "{data}/churn/train/part-0.csv"),
    ("training-job-access", "s3:ListBucket", "{data}"),
    ("training-job-access", "s3:ListBucket", "{artifacts}"),
    ("training-job-access", "s3:PutObject", "{artifacts}/churn/training/{job}/output/model.tar.gz"),
    ("training-job-access", "s3:GetObject", "{artifacts}/churn/training/{job}/output/model.tar.gz"),
    ("training-job-access", "ecr:BatchGetImage", "{repository}"),
    ("training-job-access", "ecr:GetDownloadUrlForLayer", "{repository}"),
    ("training-job-access", "ecr:BatchCheckLayerAvailability", "{repository}"),
    ("training-job-access", "ecr:GetAuthorizationToken", "*"),
    ("training-job-access", "logs:CreateLogGroup", "{logs}"),
    ("training-job-access", "logs:CreateLogStream", "{logs}:log-stream:{job}/algo-1-1700000000"),
    ("training-job-access", "logs:PutLogEvents", "{logs}:log-stream:{job}/algo-1-1700000000"),
    ("training-job-access", "logs:DescribeLogStreams", "{logs}:log-stream:"),
    ("training-job-access", "cloudwatch:PutMetricData", "*"),
    ("training-job-access", "kms:Decrypt", "{key}"),
    ("training-job-access", "kms:Encrypt", "{key}"),
    ("training-job-access", "kms:GenerateDataKey", "{key}"),
    ("training-job-access", "kms:CreateGrant", "{key}"),
    ("training-pipeline-access", "sagemaker:CreateTrainingJob", "{job_arn}"),
    ("training-pipeline-access", "sagemaker:DescribeTrainingJob", "{job_arn}"),
    ("training-pipeline-access", "sagemaker:StopTrainingJob", "{job_arn}"),
    ("training-pipeline-access", "sagemaker:AddTags", "{job_arn}"),
    ("training-pipeline-access", "sagemaker:ListTags", "{job_arn}"),
    ("training-pipeline-access", "iam:PassRole", "{training_role}"),
    ("training-pipeline-access", "events:PutTargets", "{sync_rule}"),
    ("training-pipeline-access", "events:PutRule", "{sync_rule}"),
    ("training-pipeline-access", "events:DescribeRule", "{sync_rule}"),
    ("training-pipeline-access", "sagemaker:CreateModelPackage", "{group}"),
    ("training-pipeline-access", "sns:Publish", "{topic}"),
    ("training-pipeline-access", "kms:GenerateDataKey", "{key}"),
    ("training-pipeline-access", "kms:Decrypt", "{key}"),
    ("training-pipeline-access", "logs:CreateLogDelivery", "*"),
    ("training-pipeline-access", "xray:PutTraceSegments", "*"),
    ("training-schedule-access", "states:StartExecution", "{state_machine}"),
]


@pytest.mark.parametrize("policy_name, action, resource", DOCUMENTED, ids=[f"{p}:{a}:{r}" for p, a, r in DOCUMENTED])
def test_each_role_has_what_aws_documents_for_its_integration(stack_plan: Plan, policy_name, action, resource):
    outputs = stack_plan.outputs
    job = f"mlops-platform-{stack_plan.stack}-churn-0123456789abcdef0123456789abcdef"
    (group,) = stack_plan.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    places = {
        "data": stack_plan.get("aws:s3/bucket:Bucket", "training-data").outputs["arn"],
        "artifacts": stack_plan.get("aws:s3/bucket:Bucket", "training-artifacts").outputs["arn"],
        "repository": stack_plan.get("aws:ecr/repository:Repository", "training-images").outputs["arn"],
        "logs": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs",
        "key": outputs["kms_key_arn"], "topic": outputs["alert_topic_arn"], "group": group.outputs["arn"],
        "job": job, "job_arn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}",
        "training_role": stack_plan.get(ROLE, "training-job-role").outputs["arn"],
        "sync_rule": "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule",
        "state_machine": outputs["training_state_machine_arn"],
    }
    assert allows(policy(stack_plan, policy_name), action, resource.format(**places))


# What the pipeline role needs for each service integration the state machine uses (Step
# Functions guide: the SageMaker `.sync` policy; AWS SDK integrations call the API they name; the
# SNS optimized integration calls Publish). A Task with an integration missing here fails the
# test below: its IAM must be added to state_machine_policy and to this table together.
INTEGRATION_ACTIONS = {
    "arn:aws:states:::sagemaker:createTrainingJob.sync": {
        "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
        "sagemaker:ListTags", "sagemaker:AddTags", "iam:PassRole",
        "events:PutTargets", "events:PutRule", "events:DescribeRule"},
    "arn:aws:states:::aws-sdk:sagemaker:stopTrainingJob": {"sagemaker:StopTrainingJob"},
    "arn:aws:states:::aws-sdk:sagemaker:createModelPackage": {"sagemaker:CreateModelPackage"},
    "arn:aws:states:::sns:publish": {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"},
}


def _task_resources(states: dict) -> set[str]:
    found = set()
    for state in states.values():
        if state["Type"] == "Task":
            found.add(state["Resource"])
        if state["Type"] == "Map":
            found |= _task_resources(state["ItemProcessor"]["States"])
    return found


def test_the_pipeline_role_covers_every_integration_the_state_machine_uses(stack_plan: Plan):
    used = _task_resources(definition(stack_plan)["States"])
    assert used and used <= set(INTEGRATION_ACTIONS), used - set(INTEGRATION_ACTIONS)
    granted = {a for s in policy(stack_plan, "training-pipeline-access")["Statement"] for a in as_list(s["Action"])}
    assert set().union(*(INTEGRATION_ACTIONS[r] for r in used)) <= granted


def test_put_metric_data_is_confined_to_the_training_namespace(stack_plan: Plan):
    metrics = statements(stack_plan, "training-job-access")["PublishJobMetrics"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}


def test_only_the_pipeline_passes_only_the_training_role_only_to_sagemaker(stack_plan: Plan):
    training_role = stack_plan.get(ROLE, "training-job-role").outputs["arn"]
    passing = [(p.name, s) for p in stack_plan.of_type(ROLE_POLICY)
               for s in json.loads(p.inputs["policy"])["Statement"] if "iam:PassRole" in as_list(s["Action"])]
    ((policy_name, statement),) = passing
    assert policy_name == "training-pipeline-access"
    assert as_list(statement["Resource"]) == [training_role]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_pipeline_role_touches_only_its_jobs_groups_and_topic(stack_plan: Plan):
    stack = stack_plan.stack
    allowed = statements(stack_plan, "training-pipeline-access")
    assert allowed["RunTrainingJobs"]["Resource"] == [
        f"arn:aws:sagemaker:us-east-1:123456789012:training-job/mlops-platform-{stack}-churn-*"]
    assert set(allowed["RunTrainingJobs"]["Action"]) == {"sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob",
                                                         "sagemaker:StopTrainingJob", "sagemaker:AddTags"}
    assert allowed["FollowTrainingJobEvents"]["Resource"] == [
        "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"]
    (group,) = stack_plan.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    assert set(allowed["RegisterModelVersions"]["Resource"]) == {
        group.outputs["arn"], group.outputs["arn"].replace("model-package-group/", "model-package/") + "/*"}
    assert allowed["NotifyOutcome"]["Resource"] == [stack_plan.outputs["alert_topic_arn"]]
    key_statements = [s for s in allowed.values() if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert key_statements and all(s["Resource"] == [stack_plan.outputs["kms_key_arn"]] and "kms:ViaService"
                                  in s["Condition"]["StringEquals"] for s in key_statements)


def test_training_jobs_read_data_write_artifacts_and_pull_one_repository(stack_plan: Plan):
    allowed = statements(stack_plan, "training-job-access")
    data, artifacts = (stack_plan.get("aws:s3/bucket:Bucket", f"training-{n}").outputs["arn"] for n in ("data", "artifacts"))
    assert allowed["ReadTrainingData"]["Resource"] == [f"{data}/churn/*"]
    assert allowed["WriteArtifacts"]["Resource"] == allowed["ReadArtifacts"]["Resource"] == [f"{artifacts}/churn/*"]
    writes = [s for s in allowed.values() if any(a in ("s3:PutObject", "s3:DeleteObject") for a in s["Action"])]
    assert writes == [allowed["WriteArtifacts"]]  # nothing ever writes training data
    assert allowed["PullTrainingImage"]["Resource"] == [stack_plan.get("aws:ecr/repository:Repository",
                                                                       "training-images").outputs["arn"]]
    assert allowed["WriteTrainingLogs"]["Resource"] == [
        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs:log-stream:"
        f"mlops-platform-{stack_plan.stack}-churn-*"]


def test_each_role_trusts_one_service_for_this_account(stack_plan: Plan):
    trusts = {r.name: json.loads(r.inputs["assumeRolePolicy"])["Statement"] for r in training(stack_plan, ROLE)}
    assert {n: s[0]["Principal"]["Service"] for n, s in trusts.items()} == {
        "training-job-role": "sagemaker.amazonaws.com", "training-pipeline-role": "states.amazonaws.com",
        "training-schedule-role": "events.amazonaws.com"}
    (pipeline,) = trusts["training-pipeline-role"]
    assert pipeline["Condition"]["ArnLike"]["aws:SourceArn"] == [stack_plan.outputs["training_state_machine_arn"]]
    assert pipeline["Condition"]["StringEquals"]["aws:SourceAccount"] == offline.ACCOUNT_ID
    (scheduler,) = trusts["training-schedule-role"]
    rules = [r.outputs["arn"] for r in training(stack_plan, "aws:cloudwatch/eventRule:EventRule")]
    assert scheduler["Condition"]["ArnLike"]["aws:SourceArn"] == rules


# --- Scheduled retraining ----------------------------------------------------------------------

def test_each_scheduled_model_retrains_with_its_defaults(stack_plan: Plan):
    cfg = stack_config(stack_plan.stack)
    scheduled = {m.name: m.retrain_schedule for m in cfg.models if m.retrain_schedule}
    assert scheduled  # both shipped stacks retrain churn weekly
    rules = {r.name: r for r in stack_plan.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert {name: rules[f"training-{name}-retrain"].inputs["scheduleExpression"] for name in scheduled} == scheduled
    targets = {t.name: t for t in stack_plan.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    for name in scheduled:
        target = targets[f"training-{name}-retrain-target"]
        assert target.inputs["arn"] == stack_plan.outputs["training_state_machine_arn"]
        assert json.loads(target.inputs["input"]) == {"model_name": name, "hyperparameters": {}}
        assert target.inputs["rule"] == rules[f"training-{name}-retrain"].outputs["name"]
        assert target.inputs["roleArn"] == stack_plan.get(ROLE, "training-schedule-role").outputs["arn"]
    (start,) = policy(stack_plan, "training-schedule-access")["Statement"]
    assert (start["Action"], start["Resource"]) == (["states:StartExecution"], [stack_plan.outputs["training_state_machine_arn"]])


def test_a_model_without_a_schedule_gets_no_rule_and_no_scheduler_role():
    models = yaml.safe_load((offline.ROOT / "Pulumi.dev.yaml").read_text())["config"]["mlops-platform:models"]
    for model in models:
        model.pop("retrainSchedule", None)
    plan = offline.plan("dev", config_overrides={"models": models})
    assert training(plan, "aws:cloudwatch/eventRule:EventRule") == []
    assert "training-schedule-role" not in {r.name for r in plan.of_type(ROLE)}
    assert plan.of_type(STATE_MACHINE)


# --- Image and repository ----------------------------------------------------------------------

# (output and repository name prefix, resource name, Dockerfile)
IMAGES = pytest.mark.parametrize("prefix, resource, dockerfile", [
    ("training", "training", TRAINING_DOCKERFILE),
    ("inference", "training-inference", INFERENCE_DOCKERFILE),
])


@IMAGES
def test_the_repository_scans_keeps_tags_immutable_and_never_expires_a_tagged_image(stack_plan: Plan, prefix, resource, dockerfile):
    """Registered versions point at their images by tag (the training image that made them, the
    inference image that serves them): a lifecycle rule that could select a tagged image (by count
    or age) would leave a version undeployable."""
    repository = stack_plan.get("aws:ecr/repository:Repository", f"{resource}-images")
    assert repository.inputs["name"] == f"mlops-platform-{stack_plan.stack}-{prefix}"
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS",
                                                              "kmsKey": stack_plan.outputs["kms_key_arn"]}]
    assert repository.inputs["forceDelete"] is (stack_plan.stack != "prod")
    assert repository.protect is (stack_plan.stack == "prod")
    lifecycle = stack_plan.get("aws:ecr/lifecyclePolicy:LifecyclePolicy", f"{resource}-images-lifecycle")
    assert lifecycle.inputs["repository"] == repository.outputs["name"]
    rules = json.loads(lifecycle.inputs["policy"])["rules"]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged"]
    assert all(r["action"] == {"type": "expire"} for r in rules)
    assert stack_plan.outputs[f"{prefix}_repository_url"] == repository.outputs["repositoryUrl"]


@IMAGES
def test_each_image_is_built_from_its_container_and_pushed_with_a_content_tag(stack_plan: Plan, prefix, resource, dockerfile):
    image = stack_plan.get("docker-build:index:Image", f"{resource}-image")
    url = stack_plan.outputs[f"{prefix}_repository_url"]
    tag = build_context_tag(ROOT / TRAINING_CONTEXT, ROOT / dockerfile, container_image.build_settings(dockerfile))
    assert image.inputs["tags"] == [f"{url}:{tag}"] == [stack_plan.outputs[f"{prefix}_image_uri"]]
    assert image.inputs["context"] == {"location": "containers"}
    assert image.inputs["dockerfile"] == {"location": dockerfile}
    assert (image.inputs["push"], image.inputs["buildOnPreview"], image.inputs["platforms"]) == (True, False, ["linux/amd64"])
    (registry,) = unsecret(image.inputs["registries"])
    assert registry["address"] == url.split("/")[0] and registry["username"] == "AWS"
    assert (ROOT / dockerfile).is_file()


def test_the_two_images_get_different_tags():
    """Each tag hashes its own Dockerfile and the files its .dockerignore sends."""
    tags = {build_context_tag(ROOT / TRAINING_CONTEXT, ROOT / f, container_image.build_settings(f))
            for f in (TRAINING_DOCKERFILE, INFERENCE_DOCKERFILE)}
    assert len(tags) == 2


def _engine_name(python_name: str) -> str:
    head, *rest = python_name.rstrip("_").split("_")
    return head + "".join(word.title() for word in rest)


def test_every_image_input_but_tags_and_registries_is_hashed_into_the_tag(stack_plan: Plan):
    """The provider rebuilds when any input its Diff compares changes; the tag hashes
    TRAINING_BUILD, so every input the image gets must come from it. `pull` must stay unset:
    with it the provider rebuilds on every deploy, under the same content tag."""
    image = stack_plan.get("docker-build:index:Image", "training-image")
    given = {k: v for k, v in image.inputs.items() if k not in ("tags", "registries")}
    assert given == {_engine_name(k): v for k, v in TRAINING_BUILD.items()}
    assert "pull" not in given and given["exec"] is False


# --- Neighbours: alert topic and registry ------------------------------------------------------

def test_the_alert_topic_is_encrypted_and_subscribes_the_configured_emails(stack_plan: Plan):
    cfg = stack_config(stack_plan.stack)
    (topic,) = stack_plan.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == stack_plan.outputs["kms_key_arn"]
    assert topic.inputs["name"] == f"mlops-platform-{stack_plan.stack}-alerts"
    subscriptions = stack_plan.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == sorted(cfg.alerting.emails)
    assert all(s.inputs["protocol"] == "email" and s.inputs["topic"] == topic.outputs["arn"] for s in subscriptions)
    assert stack_plan.component_of(topic).type == "mlops:components:Monitoring"


def test_prod_alerts_reach_the_on_call_list_and_dev_alerts_nobody(plan_for):
    endpoints = lambda stack: [s.inputs["endpoint"] for s in plan_for(stack).of_type(  # noqa: E731
        "aws:sns/topicSubscription:TopicSubscription")]
    assert endpoints("prod") == ["ml-platform-oncall@example.com"]
    assert endpoints("dev") == []


def test_the_registry_has_one_package_group_per_model(stack_plan: Plan):
    cfg = stack_config(stack_plan.stack)
    groups = stack_plan.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    assert {g.inputs["modelPackageGroupName"] for g in groups} == {f"mlops-platform-{stack_plan.stack}-{m.name}"
                                                                   for m in cfg.models}
    assert stack_plan.outputs["model_package_groups"] == {m.name: f"mlops-platform-{stack_plan.stack}-{m.name}"
                                                          for m in cfg.models}
    assert all(stack_plan.component_of(g).type == "mlops:components:ModelRegistry" for g in groups)


def test_a_group_is_never_replaced_for_its_description(stack_plan: Plan):
    """SageMaker cannot update a group's description (the provider replaces the group), and a
    group holding versions cannot be deleted: the description holds nothing config changes, and
    changes to it are ignored (stacks created before keep theirs)."""
    cfg = stack_config(stack_plan.stack)
    for group in stack_plan.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup"):
        assert group.ignore_changes == ("modelPackageGroupDescription",)
        model = next(m for m in cfg.models if group.inputs["modelPackageGroupName"].endswith(f"-{m.name}"))
        assert f"{model.threshold:g}" not in group.inputs["modelPackageGroupDescription"]


# --- Protection and outputs --------------------------------------------------------------------

def test_prod_protects_and_retains_everything_that_holds_history(plan_for):
    prod = plan_for("prod")
    stateful = [r for r in prod.resources if r.type in STATEFUL]
    assert {r.type for r in stateful} == STATEFUL
    assert [r.name for r in stateful if not (r.protect and r.retain_on_delete)] == []
    dev = plan_for("dev")
    assert [r.name for r in dev.resources if r.protect or r.retain_on_delete] == []


def test_outputs_name_what_operators_need(stack_plan: Plan):
    outputs = stack_plan.outputs
    (machine,) = stack_plan.of_type(STATE_MACHINE)
    assert outputs["training_state_machine_arn"] == machine.outputs["arn"]
    assert outputs["training_state_machine_arn"].endswith(f":stateMachine:mlops-platform-{stack_plan.stack}-training")
    assert outputs["data_bucket"].startswith(f"mlops-platform-{stack_plan.stack}-data-")
    assert outputs["artifact_bucket"].startswith(f"mlops-platform-{stack_plan.stack}-artifacts-")
    assert outputs["alert_topic_arn"] == stack_plan.of_type("aws:sns/topic:Topic")[0].outputs["arn"]
