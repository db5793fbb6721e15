"""Every AWS API request the program causes, built from the plan as the provider builds it and
checked against AWS's API models (automation/guardrails/requests.py and shapes.py).

No AWS account answers here, so what the service would refuse is decided by botocore's service
models: its validator, plus the enums, patterns and maximums it leaves to the service. The
checker is shown to catch each kind of mistake on real requests of the plan, so a pass means
something.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from guardrail_plans import guardrail_plan

from automation.guardrails import requests, shapes, states
from automation.guardrails.requests import REQUESTS, Request


def test_every_resource_becomes_requests_aws_accepts(plan):
    built, problems = requests.plan_requests(plan)
    assert problems == []
    assert requests.request_problems(built) == []
    checked = {request.urn for request in built}
    unchecked = [r.name for r in plan.resources if not requests.exemption(r.type) and r.urn not in checked]
    assert unchecked == []


def test_tags_reach_every_taggable_resource_with_the_providers_defaults():
    built, _ = requests.plan_requests(guardrail_plan("prod"))
    tagged = {r.label: r.params for r in built if r.operation in ("CreateTopic", "CreateModelPackageGroup", "PutBucketTagging")}
    assert tagged, "the plan has taggable resources"
    for label, params in tagged.items():
        tags = params.get("Tags") or params["Tagging"]["TagSet"]
        assert {t["Key"]: t["Value"] for t in tags}["Environment"] == "prod", label


def _request(operation: str) -> Request:
    built, _ = requests.plan_requests(guardrail_plan("dev"))
    return copy.deepcopy(next(r for r in built if r.operation == operation))


def _set(params: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        params = params[int(part)] if part.isdigit() else params[part]
    if value is _DELETE:
        del params[last]
    else:
        params[last] = value


_DELETE = object()

# operation, member path, broken value, what the checker says.
BREAKAGES = {
    "bad enum": ("CreateRepository", "imageTagMutability", "SOMETIMES", "is not one of"),
    "name too long": ("CreateModelPackageGroup", "ModelPackageGroupName", "m" * 64, "more than the maximum 63"),
    "name off pattern": ("CreateModelPackageGroup", "ModelPackageGroupName", "churn_models", "does not match the pattern"),
    # KMS documents 7 to 30 days in prose only; its model says at most 365.
    "value over maximum": ("ScheduleKeyDeletion", "PendingWindowInDays", 366, "366, more than the maximum 365"),
    "bad enum, another service": ("CreateStateMachine", "type", "BATCH", "is not one of ['EXPRESS', 'STANDARD']"),
    "too many tags": ("CreateModelPackageGroup", "Tags", [{"Key": f"k{i}", "Value": "v"} for i in range(51)], "more than the maximum 50"),
    "name too short (botocore)": ("CreateRole", "RoleName", "", "valid min length: 1"),
    "missing member (botocore)": ("CreateStateMachine", "roleArn", _DELETE, 'Missing required parameter in input: "roleArn"'),
    "wrong type (botocore)": ("PutMetricAlarm", "EvaluationPeriods", "one", "Invalid type for parameter EvaluationPeriods"),
    "unknown member (botocore)": ("CreateQueue", "Tags", {"a": "b"}, 'Unknown parameter in input: "Tags"'),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_shape_check_catches(breakage):
    operation, path, value, expected = BREAKAGES[breakage]
    request = _request(operation)
    assert requests.request_problems([request]) == []  # clean before breaking it
    _set(request.params, path, value)
    problems = requests.request_problems([request])
    assert any(expected in problem for problem in problems), problems


def test_an_unmapped_resource_type_is_a_problem():
    resource = replace(guardrail_plan("dev").of_type("aws:sns/topic:Topic")[0], type="aws:sns/platformApplication:PlatformApplication")
    built, problems = requests.build(resource, {}, "us-east-1")
    assert built == [] and "no entry in guardrails/requests.REQUESTS" in problems[0]


def test_an_input_with_no_api_member_is_a_problem():
    topic = guardrail_plan("dev").of_type("aws:sns/topic:Topic")[0]
    resource = replace(topic, inputs={**topic.inputs, "retentionDays": 3})
    _, problems = requests.build(resource, {}, "us-east-1")
    assert any("input 'retentionDays' maps to no member of CreateTopic" in p for p in problems), problems


def test_a_nested_input_with_no_api_member_is_a_problem():
    versioning = guardrail_plan("dev").of_type("aws:s3/bucketVersioning:BucketVersioning")[0]
    inputs = {**versioning.inputs, "versioningConfiguration": {"status": "Enabled", "lockMode": "yes"}}
    _, problems = requests.build(replace(versioning, inputs=inputs), {}, "us-east-1")
    assert any("VersioningConfiguration.lockMode: no such member" in p for p in problems), problems


def test_buckets_outside_us_east_1_name_their_region():
    bucket = guardrail_plan("dev").of_type("aws:s3/bucket:Bucket")[0]
    (create,), _ = requests.build(bucket, {}, "eu-west-1")
    assert create.params["CreateBucketConfiguration"] == {"LocationConstraint": "eu-west-1"}
    assert requests.request_problems([create]) == []


@pytest.mark.parametrize("type_", sorted(REQUESTS))
def test_the_table_names_real_operations_and_members(type_):
    """Every pre-mapped type, including those no plan has yet, names an operation botocore knows
    and members that exist, so the resources other components add are checked when they land."""
    for call in REQUESTS[type_].calls:
        shape = shapes.operation(call.service, call.operation).input_shape
        paths = [*call.renames.values(), *call.identifiers, *call.fixed, *([call.tags] if call.tags else [])]
        for path in paths:
            member = shape
            for part in path.split("."):
                if member.type_name == "map":  # a key: one of the key shape's values, if it lists them
                    assert not member.key.enum or part in member.key.enum, f"{type_}: {call.operation} {path}"
                    break
                assert part in member.members, f"{type_}: {call.operation} has no member {path}"
                member = member.members[part]


def _patterns(shape, seen: set[str]) -> set[str]:
    if shape.name in seen:
        return set()
    seen.add(shape.name)
    found = {shape.metadata["pattern"]} if shape.metadata.get("pattern") else set()
    for child in [*getattr(shape, "members", {}).values(), *(getattr(shape, attr) for attr in ("member", "key", "value")
                                                          if hasattr(shape, attr))]:
        found |= _patterns(child, seen)
    return found


def test_every_pattern_of_every_checked_operation_compiles():
    """A pattern the checker cannot compile would leave its members unchecked; Java-isms (the
    "${1,256}" suffix, UTF-16 surrogate ranges) are translated, anything else must compile."""
    operations = {(c.service, c.operation) for entry in REQUESTS.values() for c in entry.calls}
    operations |= set(states.OPTIMIZED_INTEGRATIONS.values())
    patterns = set().union(*(_patterns(shapes.operation(*op).input_shape, set()) for op in operations))
    assert len(patterns) > 100
    assert {p: compiled for p in patterns if isinstance(compiled := shapes._compiled(p), str)} == {}


@pytest.mark.parametrize("pattern, value, matches", [
    ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*", "endpoint/e/variant/v \U0001F600", True),
    ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*", "bell \x07", False),
    ("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "abc_def", False),  # a whole-string match, as AWS applies it
    ("^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*${1,256}", "Straße 1", True),
])
def test_java_patterns_mean_what_they_mean_in_java(pattern, value, matches):
    assert bool(shapes._compiled(pattern).fullmatch(value)) is matches
