"""The CrossGuard policy pack (policy/): its rules hold on every plan, each rule reports a
deliberately bad resource with its message, and the pack itself serves exactly these rules.

The rules are plain functions (policy/rules.py) called here on the offline plan as CrossGuard
sees a stack: inputs for resource rules, outputs and dependencies for stack rules. The last
tests start the real pack entry point (the process `pulumi up --policy-pack policy` starts) and
talk to it over Pulumi's analyzer protocol on the loopback interface.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from guardrail_plans import PLANS, guardrail_plan
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from automation import offline
from policy import pack, rules
from policy.rules import RULES, Resource


@pytest.mark.parametrize("name", PLANS)
def test_no_mandatory_violation_on_any_plan(name):
    plan = guardrail_plan(name)
    found = rules.violations(rules.resources_of(plan), rules.resources_of(plan, stack_view=True), mandatory=True)
    assert found == {}


def test_the_rules_see_what_they_check():
    """A rule that sees nothing passes everything: the plans do hold what the rules look at."""
    plan = guardrail_plan("prod")
    stack = rules.resources_of(plan, stack_view=True)
    assert len(rules.platform_keys(stack)) >= 2  # the key's ARN and id, its alias
    (machine,) = [r for r in rules.resources_of(plan) if r.type == "aws:sfn/stateMachine:StateMachine"]
    (job,) = rules.training_jobs(machine)
    assert job["ResourceConfig"]["VolumeKmsKeyId"] in rules.platform_keys(stack)


# --- each rule, shown a bad resource ---------------------------------------------------------------

Mutation = Callable[[list[Resource]], list[Resource]]


def changed(type_: str, change: Callable[[dict[str, Any]], None], name: str | None = None, **options: Any) -> Mutation:
    """A copy of the resources where the first of `type_` (named `name`) has its props changed."""
    def mutate(resources: list[Resource]) -> list[Resource]:
        target = next(r for r in resources if r.type == type_ and (name is None or r.name == name))
        props = json.loads(json.dumps(dict(target.props), default=str))
        change(props)
        return [replace(r, props=props, **options) if r is target else r for r in resources]
    return mutate


def added(resource_type: str, props: dict[str, Any]) -> Mutation:
    def mutate(resources: list[Resource]) -> list[Resource]:
        stack = resources[0].stack
        urn = f"urn:pulumi:{stack}::mlops-platform::{resource_type}::added"
        return [*resources, Resource(urn=urn, type=resource_type, name="added", props=props)]
    return mutate


def with_statement(statement: dict[str, Any], name: str = "training-pipeline-access") -> Mutation:
    def change(props: dict[str, Any]) -> None:
        policy = json.loads(props["policy"])
        policy["Statement"].append(statement)
        props["policy"] = json.dumps(policy)
    return changed("aws:iam/rolePolicy:RolePolicy", change, name)


def edit_statement(sid: str, change: Callable[[dict[str, Any]], None]) -> Mutation:
    def edit(props: dict[str, Any]) -> None:
        policy = json.loads(props["policy"])
        change(next(s for s in policy["Statement"] if s.get("Sid") == sid))
        props["policy"] = json.dumps(policy)
    return changed("aws:iam/rolePolicy:RolePolicy", edit, "training-pipeline-access")


def in_definition(old: str, new: str) -> Mutation:
    def change(props: dict[str, Any]) -> None:
        assert old in props["definition"], old
        props["definition"] = props["definition"].replace(old, new)
    return changed("aws:sfn/stateMachine:StateMachine", change)


def set_key(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = props
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return change


def without_default_tag(tag: str) -> Mutation:
    def mutate(resources: list[Resource]) -> list[Resource]:
        def strip(provider: Any) -> dict[str, Any]:
            tags = json.loads(provider["defaultTags"])
            tags["tags"].pop(tag)
            return {**provider, "defaultTags": json.dumps(tags)}
        return [replace(r, provider_props=strip(r.provider_props)) if r.provider_props.get("defaultTags") else r
                for r in resources]
    return mutate


INSTANCE_VARIANT = {"name": "c", "productionVariants": [{"variantName": "champion", "modelName": "m",
                                                          "instanceType": "ml.t2.medium", "initialInstanceCount": 1}]}
TLS_SID = "DenyInsecureTransport"

# case -> (rule, plan, view ("inputs"/"outputs"), mutation, expected message).
BAD = {
    "public bucket": ("s3-buckets-private", "dev", "outputs", changed(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", set_key("blockPublicPolicy", False), "training-data-public-access"),
        "bucket training-data: no public access block with all four settings on"),
    "ACLs enabled": ("s3-buckets-private", "dev", "outputs", changed(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls", set_key("rule.objectOwnership", "ObjectWriter"),
        "training-data-ownership"), "ACLs are not disabled"),
    "AWS managed key": ("s3-buckets-encrypted-with-platform-key", "dev", "outputs", changed(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        set_key("rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId", "alias/aws/s3"), "training-data-encryption"),
        "bucket training-data: not encrypted by default with the platform key"),
    "TLS not required": ("s3-buckets-tls-only", "dev", "outputs", changed(
        "aws:s3/bucketPolicy:BucketPolicy", lambda p: p.update(policy=p["policy"].replace('"false"', '"true"')),
        "training-artifacts-policy"), "bucket training-artifacts: no bucket policy denies requests without TLS"),
    "versioning suspended": ("s3-buckets-versioned", "dev", "outputs", changed(
        "aws:s3/bucketVersioning:BucketVersioning", set_key("versioningConfiguration.status", "Suspended"),
        "training-data-versioning"), "bucket training-data: versioning is not enabled"),
    "topic on the AWS managed key": ("encrypted-with-platform-key", "dev", "outputs", changed(
        "aws:sns/topic:Topic", set_key("kmsMasterKeyId", "alias/aws/sns")),
        "monitoring-alerts: kms_master_key_id is 'alias/aws/sns', not the platform key"),
    "training volume unencrypted": ("encrypted-with-platform-key", "dev", "outputs", in_definition(
        '"VolumeKmsKeyId"', '"VolumeKmsKeyIdOff"'), "ResourceConfig.VolumeKmsKeyId is None, not the platform key"),
    "data capture on another key": ("encrypted-with-platform-key", "dev", "outputs", added(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        {**INSTANCE_VARIANT, "dataCaptureConfig": {"enableCapture": True, "kmsKeyId": "alias/aws/s3"}}),
        "data_capture_config.kms_key_id is 'alias/aws/s3'"),
    "key not rotating": ("kms-key-rotation", "dev", "inputs", changed(
        "aws:kms/key:Key", set_key("enableKeyRotation", False)), "platform-key: the key does not rotate"),
    "service wildcard": ("iam-no-star-action", "dev", "inputs", with_statement(
        {"Sid": "Everything", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}),
        "statement Everything allows 's3:*'"),
    "write on star": ("iam-no-star-resource-on-writes", "dev", "inputs", with_statement(
        {"Sid": "AnyBucket", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}),
        "statement AnyBucket: s3:PutObject on '*', but it has resource-level permissions"),
    "PassRole anywhere": ("iam-passrole-conditioned", "dev", "inputs", edit_statement(
        "PassTrainingRoleToSageMaker", lambda s: s.pop("Condition")),
        "statement PassTrainingRoleToSageMaker allows iam:PassRole without an iam:PassedToService condition"),
    "logs forever": ("log-groups-encrypted-with-retention", "dev", "inputs", changed(
        "aws:cloudwatch/logGroup:LogGroup", set_key("retentionInDays", None)), "keeps its events forever"),
    "logs unencrypted": ("log-groups-encrypted-with-retention", "dev", "inputs", changed(
        "aws:cloudwatch/logGroup:LogGroup", set_key("kmsKeyId", None)), "not encrypted with a KMS key"),
    "topic unencrypted": ("sns-topics-encrypted", "dev", "inputs", changed(
        "aws:sns/topic:Topic", set_key("kmsMasterKeyId", None)), "monitoring-alerts: the topic is not encrypted"),
    "no ManagedBy tag": ("required-tags", "dev", "inputs", without_default_tag("ManagedBy"), "missing tag 'ManagedBy'"),
    "preview without its expiry": ("required-tags", "pr-1", "inputs", without_default_tag("Expires"), "missing tag 'Expires'"),
    "prod tag on dev": ("required-tags", "dev", "inputs", changed(
        "aws:sns/topic:Topic", set_key("tags", {"Environment": "prod"})), "tag Environment='prod', but the stack is 'dev'"),
    "prod bucket unprotected": ("prod-stateful-protected", "prod", "inputs", changed(
        "aws:s3/bucket:Bucket", lambda p: None, "training-data", protect=False), "training-data: not protected"),
    "prod key not retained": ("prod-stateful-protected", "prod", "inputs", changed(
        "aws:kms/key:Key", lambda p: None, retain_on_delete=False), "platform-key: not retained on delete"),
    "GPU training in dev": ("instance-types-per-environment", "dev", "inputs", in_definition(
        '"InstanceType": "ml.m5.large"', '"InstanceType": "ml.p4d.24xlarge"'), "ml.p4d.24xlarge is not a dev training"),
    "eight training instances in dev": ("instance-counts-capped-outside-prod", "dev", "inputs", in_definition(
        '"InstanceCount": 1', '"InstanceCount": 8'), "8 instances; at most 2 outside prod"),
    "instance endpoint in dev": ("no-always-on-instances-outside-prod", "dev", "inputs", added(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration", INSTANCE_VARIANT),
        "variant champion runs on ml.t2.medium instances around the clock"),
    "read on star": ("iam-read-actions-scoped", "dev", "inputs", with_statement(
        {"Sid": "AnyObject", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
        "statement AnyObject: s3:GetObject on '*': the action has resource-level permissions"),
    "long dev log retention": ("short-log-retention-outside-prod", "dev", "inputs", changed(
        "aws:cloudwatch/logGroup:LogGroup", set_key("retentionInDays", 90)), "dev keeps logs 90 days"),
    "day-long dev training": ("training-runtime-bounded-outside-prod", "dev", "inputs", in_definition(
        '"max_runtime_seconds": 3600', '"max_runtime_seconds": 86400'), "may run 86400 s"),
}


def test_every_rule_has_a_bad_resource_it_reports():
    assert {rule for rule, *_ in BAD.values()} == {rule.name for rule in RULES}


@pytest.mark.parametrize("case", BAD)
def test_each_rule_reports_a_bad_resource(case):
    rule_name, plan_name, view, mutate, expected = BAD[case]
    plan = guardrail_plan(plan_name)
    (rule,) = [r for r in RULES if r.name == rule_name]
    resources = rules.resources_of(plan, stack_view=(view == "outputs"))
    before, after = _messages(rule, resources), _messages(rule, mutate(resources))
    assert not any(expected in message for message in before)
    assert any(expected in message for message in after), after


def _messages(rule: rules.Rule, resources: list[Resource]) -> list[str]:
    if rule.stack:
        return [message for _, message in rule.check(resources)]
    return [f"{resource.name}: {message}" for resource in resources for message in rule.check(resource)]


def test_advisory_rules_say_why_they_are_not_mandatory():
    for rule in RULES:
        assert rule.description.startswith("Advisory: ") is (not rule.mandatory), rule.name
        if not rule.mandatory:
            assert "Not mandatory because" in rule.description, rule.name


# --- the pack around the rules --------------------------------------------------------------------

def test_the_pack_wraps_every_rule_at_its_level():
    policies = pack.policies()
    assert [p.name for p in policies] == [r.name for r in RULES]
    for policy, rule in zip(policies, RULES, strict=True):
        expected = EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY
        assert (policy.enforcement_level, policy.description) == (expected, rule.description)


def _policy(name: str) -> Any:
    return next(p for p in pack.policies() if p.name == name)


OPTIONS = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                custom_timeouts=None, additional_secret_outputs=[])


def test_a_resource_policy_reports_what_crossguard_hands_it():
    topic = guardrail_plan("dev").of_type("aws:sns/topic:Topic")[0]
    provider = PolicyProviderResource("pulumi:providers:aws", {"defaultTags": {"tags": {"Project": "p"}}}, "urn:p", "aws")
    reported: list[str] = []
    args = ResourceValidationArgs(topic.type, {"name": "t"}, topic.urn, topic.name, OPTIONS, provider)
    _policy("sns-topics-encrypted").validate(args, lambda message, urn=None: reported.append(message))
    _policy("required-tags").validate(args, lambda message, urn=None: reported.append(message))
    assert "the topic is not encrypted: set kms_master_key_id" in reported
    assert "missing tag 'ManagedBy'" in reported and "missing tag 'Project'" not in reported


def test_a_stack_policy_reports_against_the_resource():
    plan = guardrail_plan("dev")
    stack = {r.urn: r for r in rules.resources_of(plan, stack_view=True)}
    versioning = next(r for r in stack.values() if r.type == "aws:s3/bucketVersioning:BucketVersioning")
    resources = [PolicyResource(r.type, r.props, r.urn, r.name, OPTIONS, None, None, [], {})
                 for r in stack.values() if r is not versioning]
    by_urn = {r.urn: r for r in resources}
    for resource in resources:
        resource.dependencies.extend(by_urn[d] for d in stack[resource.urn].dependencies if d in by_urn)
    reported: list[tuple[str, str | None]] = []
    _policy("s3-buckets-versioned").validate(StackValidationArgs(resources), lambda m, urn=None: reported.append((m, urn)))
    bucket = next(r for r in stack.values() if r.type == "aws:s3/bucket:Bucket" and r.urn in versioning.dependencies)
    assert reported == [(f"bucket {bucket.name}: versioning is not enabled", bucket.urn)]


def test_the_pulumi_cli_runs_the_pack_in_the_projects_venv():
    """PulumiPolicy.yaml names the runtime and the venv the CLI starts the pack with, relative
    to the pack's directory (the CLI's analyzer plugin resolves it from there)."""
    spec = yaml.safe_load((offline.ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python"
    venv = (offline.ROOT / "policy" / spec["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (offline.ROOT / "venv").resolve()


@pytest.fixture(scope="module")
def running_pack():
    """The pack as the CLI starts it (`python -m pulumi.policy <engine> .` in policy/): it prints
    the port of its analyzer server on loopback and serves until stopped."""
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
                               cwd=offline.ROOT / "policy", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.poll() is not None else port
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_pack_serves_every_rule(running_pack):
    info = running_pack.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == pack.PACK_NAME
    assert [p.name for p in info.policies] == [r.name for r in RULES]


def test_the_pack_reports_a_violation_over_the_analyzer_protocol(running_pack):
    properties = struct_pb2.Struct()
    properties.update({"name": "alerts"})
    request = analyzer_pb2.AnalyzeRequest(type="aws:sns/topic:Topic", properties=properties, name="alerts",
                                          urn="urn:pulumi:dev::mlops-platform::aws:sns/topic:Topic::alerts")
    response = running_pack.Analyze(request, timeout=30)
    messages = {d.policyName: d.message for d in response.diagnostics}
    assert "sns-topics-encrypted" in messages and "kms_master_key_id" in messages["sns-topics-encrypted"]
