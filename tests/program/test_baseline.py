"""The secure baseline every environment shares: encryption, privacy, tags, protection."""

from __future__ import annotations

import json

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


def test_kms_key_rotates_and_lets_services_use_it(stack_plan: Plan):
    (key,) = stack_plan.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    policy = json.loads(key.inputs["policy"])
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["AccountAdministersKeyThroughIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert "logs.us-east-1.amazonaws.com" == sids["CloudWatchLogsEncryptsThisAccountsLogGroups"]["Principal"]["Service"]
    assert "sns.amazonaws.com" in sids["PlatformServicesUseKey"]["Principal"]["Service"]


def test_prod_stateful_resources_are_protected_and_retained(plan_for):
    prod = plan_for("prod")
    stateful = [r for r in prod.resources if r.type in STATEFUL]
    assert len(stateful) >= 3
    assert [r.name for r in stateful if not (r.protect and r.retain_on_delete)] == []
    dev = plan_for("dev")
    assert [r.name for r in dev.resources if r.protect] == []
