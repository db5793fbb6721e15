"""The secure baseline every environment shares: encryption, privacy, tags, protection."""

from __future__ import annotations

import fnmatch
import json

import pytest

from automation import offline
from automation.offline import Plan

BUCKET = "aws:s3/bucket:Bucket"
# Resource types that hold data or history: protected and retained in prod.
STATEFUL = {BUCKET, "aws:kms/key:Key"}


def bucket_parts(plan: Plan, bucket) -> dict[str, object]:
    """The bucket's sibling configuration resources, keyed by short type name."""
    component = plan.component_of(bucket)
    return {r.type.split(":")[-1]: r for r in plan.children(component) if r is not bucket}


def test_both_stacks_plan(stack_plan: Plan):
    assert stack_plan.of_type(BUCKET)
    assert stack_plan.outputs["environment"] == stack_plan.stack


def test_every_bucket_is_private_versioned_and_kms_encrypted(stack_plan: Plan):
    key_arn = stack_plan.outputs["kms_key_arn"]
    for bucket in stack_plan.of_type(BUCKET):
        parts = bucket_parts(stack_plan, bucket)
        block = parts["BucketPublicAccessBlock"].inputs
        assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                               "restrictPublicBuckets")), bucket.name
        (rule,) = parts["BucketServerSideEncryptionConfiguration"].inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
        assert parts["BucketVersioning"].inputs["versioningConfiguration"]["status"] == "Enabled"
        policy = json.loads(parts["BucketPolicy"].inputs["policy"])
        (deny,) = policy["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert bucket.outputs["arn"] in deny["Resource"]
        rule_ids = {r["id"] for r in parts["BucketLifecycleConfiguration"].inputs["rules"]}
        assert {"abort-incomplete-uploads", "expire-old-versions"} <= rule_ids


def test_buckets_are_destroyable_outside_prod_only(plan_for):
    assert all(b.inputs["forceDestroy"] is True for b in plan_for("dev").of_type(BUCKET))
    assert all(b.inputs["forceDestroy"] is False for b in plan_for("prod").of_type(BUCKET))


def test_physical_names_carry_the_stage(stack_plan: Plan):
    for bucket in stack_plan.of_type(BUCKET):
        assert bucket.outputs["bucket"].startswith(f"mlops-platform-{stack_plan.stack}-")


def test_every_aws_resource_uses_the_tagging_provider(stack_plan: Plan):
    (provider,) = stack_plan.of_type("pulumi:providers:aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"] if isinstance(provider.inputs["defaultTags"], str) \
        else provider.inputs["defaultTags"]["tags"]
    assert tags["Project"] == "mlops-platform"
    assert tags["Environment"] == stack_plan.stack
    assert tags["ManagedBy"] == "pulumi"
    aws_resources = [r for r in stack_plan.resources if r.custom and r.type.startswith("aws:")]
    assert aws_resources
    untagged = [r.name for r in aws_resources if stack_plan.provider_of(r) is not provider]
    assert untagged == []


def key_statements(plan: Plan) -> dict[str, dict]:
    (key,) = plan.of_type("aws:kms/key:Key")
    return {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}


def test_kms_key_rotates_and_lets_only_the_services_that_need_it_use_it(stack_plan: Plan):
    (key,) = stack_plan.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    sids = key_statements(stack_plan)
    assert sids["AccountAdministersKeyThroughIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    logs = sids["CloudWatchLogsEncryptsThisAccountsLogGroups"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"] == {"ArnLike": {
        "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}}
    # Step Functions publishes with its role's IAM permissions, SNS with the publisher's: neither
    # needs a key policy statement of its own.
    services = {s["Principal"]["Service"] for s in sids.values() if "Service" in s["Principal"]}
    assert services == {"logs.us-east-1.amazonaws.com", "events.amazonaws.com", "cloudwatch.amazonaws.com"}


@pytest.mark.parametrize("service", ["events.amazonaws.com", "cloudwatch.amazonaws.com"])
def test_topic_publishers_encrypt_for_this_stacks_topics_only(stack_plan: Plan, service):
    """EventBridge sends no aws:SourceAccount/aws:SourceArn to KMS for an encrypted topic (SNS
    Developer Guide, Key management): a condition on them would drop every event silently. The
    one condition is the encryption context SNS sends for the topic it encrypts for."""
    (statement,) = [s for s in key_statements(stack_plan).values() if s["Principal"] == {"Service": service}]
    assert statement["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    (condition,) = statement["Condition"].values()
    assert list(statement["Condition"]) == ["StringLike"] and list(condition) == ["kms:EncryptionContext:aws:sns:topicArn"]
    topics = condition["kms:EncryptionContext:aws:sns:topicArn"]
    assert fnmatch.fnmatchcase(stack_plan.outputs["alert_topic_arn"], topics)
    other = "prod" if stack_plan.stack == "dev" else "dev"
    assert not fnmatch.fnmatchcase(f"arn:aws:sns:us-east-1:123456789012:mlops-platform-{other}-alerts", topics)


def test_the_alert_topic_policy_lets_this_stacks_rules_and_alarms_publish(stack_plan: Plan):
    (topic_policy,) = stack_plan.of_type("aws:sns/topicPolicy:TopicPolicy")
    topic = stack_plan.outputs["alert_topic_arn"]
    assert topic_policy.inputs["arn"] == topic
    sids = {s["Sid"]: s for s in json.loads(topic_policy.inputs["policy"])["Statement"]}
    assert all(s["Resource"] == topic for s in sids.values())
    account = sids["ThisAccountUsesTopicThroughIam"]
    assert account["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and "sns:Publish" in account["Action"]
    rules = sids["ThisStacksEventBridgeRulesPublish"]
    assert (rules["Principal"], rules["Action"]) == ({"Service": "events.amazonaws.com"}, "sns:Publish")
    rule_arns = rules["Condition"]["ArnLike"]["aws:SourceArn"]
    assert rule_arns == f"arn:aws:events:us-east-1:123456789012:rule/mlops-platform-{stack_plan.stack}-*"
    # The stack's own rules fit the pattern (issues #8 and #11 add ones that publish here).
    assert all(fnmatch.fnmatchcase(r.outputs["arn"], rule_arns) for r in stack_plan.of_type("aws:cloudwatch/eventRule:EventRule"))
    alarms = sids["ThisStacksCloudWatchAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:mlops-platform-{stack_plan.stack}-*"},
        "StringEquals": {"aws:SourceAccount": "123456789012"}}
    deny = sids["DenyPublishWithoutTls"]
    assert (deny["Effect"], deny["Principal"], deny["Condition"]) == ("Deny", "*", {"Bool": {"aws:SecureTransport": "false"}})


# Every policy document the program writes, by resource type and input.
POLICY_INPUTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:kms/key:Key": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture(scope="module")
def china_plan() -> Plan:
    return offline.plan("dev", config_overrides={"aws:region": "cn-north-1"})


@pytest.mark.parametrize("type_, field", POLICY_INPUTS.items(), ids=list(POLICY_INPUTS))
def test_every_policy_builds_its_arns_with_the_partition(china_plan: Plan, type_, field):
    """Planned in cn-north-1 (partition aws-cn): no ARN in any policy may say `arn:aws:`."""
    documents = [json.loads(r.inputs[field]) for r in china_plan.of_type(type_)]
    arns = [s for d in documents for s in _strings(d) if s.startswith("arn:")]
    assert documents and arns
    assert [a for a in arns if not a.startswith("arn:aws-cn:")] == []


def test_prod_stateful_resources_are_protected_and_retained(plan_for):
    prod = plan_for("prod")
    stateful = [r for r in prod.resources if r.type in STATEFUL]
    assert len(stateful) >= 3
    assert [r.name for r in stateful if not (r.protect and r.retain_on_delete)] == []
    dev = plan_for("dev")
    assert [r.name for r in dev.resources if r.protect] == []
