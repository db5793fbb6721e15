"""The AWS API requests the provider sends for the resources of a plan, built from their inputs.

`REQUESTS` maps each resource type to the API operations the AWS provider calls to create it
(the provider's create function; secondary calls such as EnableKeyRotation after CreateKey
included) and says how inputs become API members:

- by name: an input `kmsMasterKeyId` is the member `KmsMasterKeyId` (Pulumi's camelCase against
  the API's PascalCase or camelCase, compared without case or underscores, and without a trailing
  's', which the provider often adds or drops: `encryptionConfigurations` is
  `encryptionConfiguration`), at every level of nesting;
- by the call's `renames` where the names differ (`name` -> `ModelName`), with dotted member
  paths where the provider nests flat inputs (`blockPublicAcls` ->
  `PublicAccessBlockConfiguration.BlockPublicAcls`);
- by an `adapt` function where the structure differs (a state machine's logging configuration);
- the provider's conventions for values: a one-item list (Terraform's single nested block) is
  the structure the API takes, a map is the API's list of key/value pairs (tags, dimensions), a
  number or boolean in a string-valued map is its text (SNS attributes), numbers in strings are
  numbers where the API wants one (scaling step bounds);
- the effective tags: the provider's `default_tags` with the resource's own tags on top, where
  the API takes tags.

Inputs no request carries are listed with the reason in `unsent`. Anything else is a problem: an
input that maps to no member, or a resource type with no entry here and none in `EXEMPT`. So a new
resource type, or a new input, cannot go unchecked: the test fails until the table says what the
provider sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape

from automation.guardrails import shapes
from automation.guardrails.pulumi_types import taggable

# Inputs of every resource that no request carries.
UNSENT_EVERYWHERE = {
    "region": "pulumi-aws v7's per-resource region picks the endpoint; it is not a request member",
}

# Resource types that cause no AWS API request worth validating here. Matched by exact type or
# by a prefix ending in ':'.
EXEMPT = {
    "pulumi:pulumi:Stack": "the stack itself: no cloud resource",
    "pulumi:providers:": "providers: configuration of the plugin, no request",
    "mlops:components:": "component resources group children and create nothing themselves",
    "docker-build:index:Image": ("built by BuildKit and pushed through ECR's Docker registry API, which botocore does not "
                                 "model; hadolint checks the Dockerfiles it builds (guardrails/dockerfiles.py)"),
}


@dataclass(frozen=True)
class Context:
    """What an adapter may need besides the inputs: the resource as the plan records it."""

    name: str
    region: str
    outputs: Mapping[str, Any]


Adapter = Callable[[dict[str, Any], Context], dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One API operation the provider calls for a resource."""

    service: str  # botocore's service name
    operation: str
    # Inputs whose member is not their own name: input -> member path (dotted for nesting).
    renames: Mapping[str, str] = field(default_factory=dict)
    # Members the provider fills from the created resource (its name, id): member -> output.
    identifiers: Mapping[str, str] = field(default_factory=dict)
    # Members the provider always sends with this value.
    fixed: Mapping[str, Any] = field(default_factory=dict)
    # A secondary call happens only when this holds for the inputs (None: always).
    only_when: Callable[[Mapping[str, Any]], bool] | None = None
    # Inputs a secondary call reads besides its renames (those deciding `only_when`).
    consumes: tuple[str, ...] = ()
    adapt: Adapter | None = None
    # Where the effective tags go ("Tagging.TagSet"); default: the member named tags, if any.
    tags: str | None = None
    # A call made only to carry the tags (S3's PutBucketTagging).
    tags_only: bool = False


@dataclass(frozen=True)
class ResourceRequests:
    calls: tuple[Call, ...]  # the first is the create call; unlisted inputs map to it by name
    unsent: Mapping[str, str] = field(default_factory=dict)  # input -> why no request carries it


@dataclass(frozen=True)
class Request:
    urn: str
    service: str
    operation: str
    params: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.urn.rsplit('::', 1)[-1]} {self.service}.{self.operation}"


# --- adapters: inputs whose structure differs from the API's ------------------------------------

def _bucket_location(inputs: dict[str, Any], context: Context) -> dict[str, Any]:
    """CreateBucket names its region except in us-east-1, where AWS refuses a LocationConstraint."""
    if context.region != "us-east-1":
        inputs = {**inputs, "CreateBucketConfiguration": {"LocationConstraint": context.region}}
    return inputs


def _state_machine_logging(inputs: dict[str, Any], context: Context) -> dict[str, Any]:
    """The provider's flat logging block becomes the API's list of log group destinations."""
    logging = inputs.get("loggingConfiguration")
    if not logging:
        return inputs
    rest = {k: v for k, v in logging.items() if k != "logDestination"}
    if "logDestination" in logging:
        rest["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": logging["logDestination"]}}]
    return {**inputs, "loggingConfiguration": rest}


# The provider names an unnamed target or statement "terraform-" and 26 digits (id.UniqueId()).
_GENERATED_ID = "terraform-" + "2" * 26


def _event_target(inputs: dict[str, Any], context: Context) -> dict[str, Any]:
    """Everything but the rule and bus describes the one target the provider puts."""
    renamed = {"targetId": "Id", "sagemakerPipelineTarget": "SageMakerPipelineParameters", "sqsTarget": "SqsParameters",
               "ecsTarget": "EcsParameters", "batchTarget": "BatchParameters", "kinesisTarget": "KinesisParameters",
               "httpTarget": "HttpParameters", "redshiftTarget": "RedshiftDataParameters", "appsyncTarget": "AppSyncParameters",
               "runCommandTargets": "RunCommandParameters"}
    target = {renamed.get(k, k): v for k, v in inputs.items() if k not in ("rule", "eventBusName")}
    target.setdefault("Id", _GENERATED_ID)
    if "inputTransformer" in target:
        transformer = dict(target["inputTransformer"])
        if "inputPaths" in transformer:
            transformer["InputPathsMap"] = transformer.pop("inputPaths")
        target["inputTransformer"] = transformer
    if "SageMakerPipelineParameters" in target:
        parameters = dict(target["SageMakerPipelineParameters"])
        if "pipelineParameterList" in parameters:
            parameters["PipelineParameterList"] = parameters.pop("pipelineParameterList")
        target["SageMakerPipelineParameters"] = parameters
    return {"rule": inputs.get("rule"), **({"eventBusName": inputs["eventBusName"]} if "eventBusName" in inputs else {}),
            "Targets": [target]}


def _event_rule_state(inputs: dict[str, Any], context: Context) -> dict[str, Any]:
    """The deprecated `isEnabled` is sent as State."""
    if "isEnabled" not in inputs:
        return inputs
    rest = {k: v for k, v in inputs.items() if k != "isEnabled"}
    rest.setdefault("state", "ENABLED" if inputs["isEnabled"] else "DISABLED")
    return rest


def _alarm_metrics(inputs: dict[str, Any], context: Context) -> dict[str, Any]:
    """A metric query's `metric` block holds the metric and its period, stat and unit, which the
    API splits into MetricStat: {Metric: {MetricName, Namespace, Dimensions}, Period, Stat, Unit}."""
    if not inputs.get("metricQueries"):
        return inputs
    queries = []
    for query in inputs["metricQueries"]:
        query = dict(query)
        metric = query.pop("metric", None)
        if metric:
            stat = {k: metric[k] for k in ("period", "stat", "unit") if k in metric}
            stat["metric"] = {k: v for k, v in metric.items() if k not in stat}
            query["metricStat"] = stat
        queries.append(query)
    return {**inputs, "metricQueries": queries}


def _permission_statement(inputs: dict[str, Any], context: Context) -> dict[str, Any]:
    rest = {k: v for k, v in inputs.items() if k != "statementIdPrefix"}
    if "statementId" not in rest:
        rest["statementId"] = inputs.get("statementIdPrefix", "terraform-") + "2" * 26
    return rest


def _bucket_notification(inputs: dict[str, Any], context: Context) -> dict[str, Any]:
    """The provider's per-destination blocks with filter_prefix/filter_suffix become S3's
    configurations with key filter rules; `eventbridge = true` is an empty EventBridgeConfiguration."""
    kinds = {"lambdaFunctions": ("LambdaFunctionConfigurations", "lambdaFunctionArn"),
             "topics": ("TopicConfigurations", "topicArn"), "queues": ("QueueConfigurations", "queueArn")}
    configuration: dict[str, Any] = {}
    for key, (member, _) in kinds.items():
        if inputs.get(key):
            configuration[member] = [_with_key_filter(block) for block in inputs[key]]
    if inputs.get("eventbridge"):
        configuration["EventBridgeConfiguration"] = {}
    return {"bucket": inputs["bucket"], "NotificationConfiguration": configuration}


def _with_key_filter(block: Mapping[str, Any]) -> dict[str, Any]:
    rules = [{"Name": name, "Value": block[key]} for key, name in (("filterPrefix", "prefix"), ("filterSuffix", "suffix"))
             if block.get(key)]
    converted = {k: v for k, v in block.items() if k not in ("filterPrefix", "filterSuffix")}
    if rules:
        converted["Filter"] = {"Key": {"FilterRules": rules}}
    return converted


# --- the table ------------------------------------------------------------------------------------

def _always(*keys: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda inputs: all(inputs.get(key) for key in keys)


_SNS_TOPIC_ATTRIBUTES = {name: f"Attributes.{name[0].upper()}{name[1:]}" for name in (
    "displayName", "kmsMasterKeyId", "policy", "deliveryPolicy", "fifoTopic", "contentBasedDeduplication",
    "signatureVersion", "tracingConfig", "archivePolicy", "fifoThroughputScope")}
_SNS_SUBSCRIPTION_ATTRIBUTES = {name: f"Attributes.{name[0].upper()}{name[1:]}" for name in (
    "filterPolicy", "filterPolicyScope", "rawMessageDelivery", "redrivePolicy", "deliveryPolicy", "subscriptionRoleArn",
    "replayPolicy")}
# The queue's settings are CreateQueue's Attributes, under the API's own names.
_SQS_ATTRIBUTES = {
    "delaySeconds": "DelaySeconds", "maxMessageSize": "MaximumMessageSize", "messageRetentionSeconds": "MessageRetentionPeriod",
    "policy": "Policy", "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds", "visibilityTimeoutSeconds": "VisibilityTimeout",
    "redrivePolicy": "RedrivePolicy", "redriveAllowPolicy": "RedriveAllowPolicy", "kmsMasterKeyId": "KmsMasterKeyId",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds", "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "fifoQueue": "FifoQueue", "contentBasedDeduplication": "ContentBasedDeduplication",
    "deduplicationScope": "DeduplicationScope", "fifoThroughputLimit": "FifoThroughputLimit",
}
_PUBLIC_ACCESS_BLOCK = {name: f"PublicAccessBlockConfiguration.{name[0].upper()}{name[1:]}" for name in (
    "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}
_NAME_PREFIX = {"namePrefix": "the provider generates the name from it and sends the name"}

REQUESTS: dict[str, ResourceRequests] = {
    # S3 (the bucket resources of pulumi-aws v7, one API call each)
    "aws:s3/bucket:Bucket": ResourceRequests(
        (Call("s3", "CreateBucket", renames={"bucket": "Bucket", "objectLockEnabled": "ObjectLockEnabledForBucket"},
              identifiers={"Bucket": "bucket"}, adapt=_bucket_location),
         Call("s3", "PutBucketTagging", identifiers={"Bucket": "bucket"}, tags="Tagging.TagSet", tags_only=True)),
        unsent={"bucketPrefix": "the provider generates the bucket name from it and sends the name",
                "forceDestroy": "the provider empties the bucket itself before DeleteBucket"}),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ResourceRequests(
        (Call("s3", "PutPublicAccessBlock", renames={"bucket": "Bucket", **_PUBLIC_ACCESS_BLOCK}),),
        unsent={"skipDestroy": "provider behaviour on delete"}),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ResourceRequests(
        (Call("s3", "PutBucketOwnershipControls", renames={"bucket": "Bucket", "rule": "OwnershipControls.Rules"}),)),
    "aws:s3/bucketVersioning:BucketVersioning": ResourceRequests((Call("s3", "PutBucketVersioning"),)),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ResourceRequests(
        (Call("s3", "PutBucketEncryption", renames={"rules": "ServerSideEncryptionConfiguration.Rules"}),)),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ResourceRequests(
        (Call("s3", "PutBucketLifecycleConfiguration", renames={"rules": "LifecycleConfiguration.Rules"}),)),
    "aws:s3/bucketPolicy:BucketPolicy": ResourceRequests((Call("s3", "PutBucketPolicy"),)),
    "aws:s3/bucketNotification:BucketNotification": ResourceRequests(
        (Call("s3", "PutBucketNotificationConfiguration", adapt=_bucket_notification),)),
    # KMS
    "aws:kms/key:Key": ResourceRequests(
        (Call("kms", "CreateKey", renames={"customerMasterKeySpec": "KeySpec"}),
         Call("kms", "EnableKeyRotation", renames={"rotationPeriodInDays": "RotationPeriodInDays"},
              identifiers={"KeyId": "keyId"}, only_when=_always("enableKeyRotation"), consumes=("enableKeyRotation",)),
         # Sent when the key is deleted; its window is a request member all the same.
         Call("kms", "ScheduleKeyDeletion", renames={"deletionWindowInDays": "PendingWindowInDays"},
              identifiers={"KeyId": "keyId"})),
        unsent={"isEnabled": "a new key is enabled; false makes the provider call DisableKey, which takes only the key id"}),
    "aws:kms/alias:Alias": ResourceRequests((Call("kms", "CreateAlias", renames={"name": "AliasName"}),), unsent=_NAME_PREFIX),
    # IAM (the documents themselves are linted by guardrails/iam.py)
    "aws:iam/role:Role": ResourceRequests(
        (Call("iam", "CreateRole", renames={"name": "RoleName", "assumeRolePolicy": "AssumeRolePolicyDocument"},
              identifiers={"RoleName": "name"}),),
        unsent={**_NAME_PREFIX, "forceDetachPolicies": "provider behaviour on delete",
                "inlinePolicies": "each is a PutRolePolicy; guardrails/iam.py lints the documents",
                "managedPolicyArns": "each is an AttachRolePolicy of an ARN"}),
    "aws:iam/rolePolicy:RolePolicy": ResourceRequests(
        (Call("iam", "PutRolePolicy", renames={"role": "RoleName", "name": "PolicyName", "policy": "PolicyDocument"},
              identifiers={"PolicyName": "name"}),), unsent=_NAME_PREFIX),
    "aws:iam/policy:Policy": ResourceRequests(
        (Call("iam", "CreatePolicy", renames={"name": "PolicyName", "policy": "PolicyDocument"},
              identifiers={"PolicyName": "name"}),), unsent=_NAME_PREFIX),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ResourceRequests(
        (Call("iam", "AttachRolePolicy", renames={"role": "RoleName"}),)),
    # SNS
    "aws:sns/topic:Topic": ResourceRequests(
        (Call("sns", "CreateTopic", renames=_SNS_TOPIC_ATTRIBUTES, identifiers={"Name": "name"}),), unsent=_NAME_PREFIX),
    "aws:sns/topicPolicy:TopicPolicy": ResourceRequests(
        (Call("sns", "SetTopicAttributes", renames={"arn": "TopicArn", "policy": "AttributeValue"},
              fixed={"AttributeName": "Policy"}),)),
    "aws:sns/topicSubscription:TopicSubscription": ResourceRequests(
        (Call("sns", "Subscribe", renames={"topic": "TopicArn", **_SNS_SUBSCRIPTION_ATTRIBUTES},
              fixed={"ReturnSubscriptionArn": True}),),
        unsent={"confirmationTimeoutInMinutes": "how long the provider waits for confirmation",
                "endpointAutoConfirms": "whether the provider waits for confirmation"}),
    # SQS
    "aws:sqs/queue:Queue": ResourceRequests(
        (Call("sqs", "CreateQueue", renames={"name": "QueueName", **{k: f"Attributes.{v}" for k, v in _SQS_ATTRIBUTES.items()}},
              identifiers={"QueueName": "name"}),), unsent=_NAME_PREFIX),
    "aws:sqs/queuePolicy:QueuePolicy": ResourceRequests(
        (Call("sqs", "SetQueueAttributes", renames={"queueUrl": "QueueUrl", "policy": "Attributes.Policy"}),)),
    # Step Functions
    "aws:sfn/stateMachine:StateMachine": ResourceRequests(
        (Call("stepfunctions", "CreateStateMachine", identifiers={"name": "name"}, adapt=_state_machine_logging),),
        unsent=_NAME_PREFIX),
    # ECR
    "aws:ecr/repository:Repository": ResourceRequests(
        (Call("ecr", "CreateRepository", renames={"name": "repositoryName"}),),
        unsent={"forceDelete": "sent as DeleteRepository's force flag when the repository is deleted"}),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ResourceRequests(
        (Call("ecr", "PutLifecyclePolicy", renames={"repository": "repositoryName", "policy": "lifecyclePolicyText"}),)),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ResourceRequests(
        (Call("ecr", "SetRepositoryPolicy", renames={"repository": "repositoryName", "policy": "policyText"}),)),
    # CloudWatch Logs, CloudWatch, EventBridge, EventBridge Scheduler
    "aws:cloudwatch/logGroup:LogGroup": ResourceRequests(
        (Call("logs", "CreateLogGroup", renames={"name": "logGroupName"}, identifiers={"logGroupName": "name"}),
         Call("logs", "PutRetentionPolicy", renames={"retentionInDays": "retentionInDays"},
              identifiers={"logGroupName": "name"}, only_when=_always("retentionInDays"))),
        unsent={**_NAME_PREFIX, "skipDestroy": "provider behaviour on delete"}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ResourceRequests(
        (Call("cloudwatch", "PutMetricAlarm", renames={"name": "AlarmName", "metricQueries": "Metrics",
                                                       "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile"},
              identifiers={"AlarmName": "name"}, adapt=_alarm_metrics),)),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ResourceRequests((Call("cloudwatch", "PutCompositeAlarm"),)),
    "aws:cloudwatch/dashboard:Dashboard": ResourceRequests((Call("cloudwatch", "PutDashboard"),)),
    "aws:cloudwatch/eventRule:EventRule": ResourceRequests(
        (Call("events", "PutRule", identifiers={"Name": "name"}, adapt=_event_rule_state),),
        unsent={**_NAME_PREFIX, "forceDestroy": "provider behaviour on delete"}),
    "aws:cloudwatch/eventTarget:EventTarget": ResourceRequests(
        (Call("events", "PutTargets", adapt=_event_target),),
        unsent={"forceDestroy": "provider behaviour on delete"}),
    "aws:cloudwatch/eventBus:EventBus": ResourceRequests((Call("events", "CreateEventBus"),)),
    "aws:scheduler/schedule:Schedule": ResourceRequests(
        (Call("scheduler", "CreateSchedule", identifiers={"Name": "name"}),), unsent=_NAME_PREFIX),
    "aws:scheduler/scheduleGroup:ScheduleGroup": ResourceRequests(
        (Call("scheduler", "CreateScheduleGroup", identifiers={"Name": "name"}),), unsent=_NAME_PREFIX),
    # Application Auto Scaling
    "aws:appautoscaling/target:Target": ResourceRequests((Call("application-autoscaling", "RegisterScalableTarget"),)),
    "aws:appautoscaling/policy:Policy": ResourceRequests(
        (Call("application-autoscaling", "PutScalingPolicy", renames={"name": "PolicyName"}),)),
    "aws:appautoscaling/scheduledAction:ScheduledAction": ResourceRequests(
        (Call("application-autoscaling", "PutScheduledAction", renames={"name": "ScheduledActionName"}),)),
    # Lambda
    "aws:lambda/function:Function": ResourceRequests(
        (Call("lambda", "CreateFunction", renames={"name": "FunctionName", "code": "Code.ZipFile", "imageUri": "Code.ImageUri",
                                                   "s3Bucket": "Code.S3Bucket", "s3Key": "Code.S3Key",
                                                   "s3ObjectVersion": "Code.S3ObjectVersion"},
              identifiers={"FunctionName": "name"}),
         Call("lambda", "PutFunctionConcurrency", renames={"reservedConcurrentExecutions": "ReservedConcurrentExecutions"},
              identifiers={"FunctionName": "name"},
              # -1, the provider's default, means no reservation and sends nothing.
              only_when=lambda inputs: inputs.get("reservedConcurrentExecutions", -1) >= 0)),
        unsent={"sourceCodeHash": "the provider compares it to decide whether to update the code",
                "codeSha256": "computed by AWS", "skipDestroy": "provider behaviour on delete",
                "replaceSecurityGroupsOnDestroy": "provider behaviour on delete",
                "replacementSecurityGroupIds": "provider behaviour on delete",
                "useResourceTimeoutForPropagation": "how long the provider retries IAM propagation errors"}),
    "aws:lambda/permission:Permission": ResourceRequests(
        (Call("lambda", "AddPermission", renames={"function": "FunctionName"}, adapt=_permission_statement),)),
    "aws:lambda/eventSourceMapping:EventSourceMapping": ResourceRequests(
        (Call("lambda", "CreateEventSourceMapping"),),
        unsent={"useResourceTimeoutForPropagation": "how long the provider retries IAM propagation errors"}),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": ResourceRequests(
        (Call("lambda", "PutFunctionEventInvokeConfig"),)),
    # SageMaker
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": ResourceRequests((Call("sagemaker", "CreateModelPackageGroup"),)),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": ResourceRequests(
        (Call("sagemaker", "PutModelPackageGroupPolicy"),)),
    "aws:sagemaker/model:Model": ResourceRequests(
        (Call("sagemaker", "CreateModel", renames={"name": "ModelName"}, identifiers={"ModelName": "name"}),)),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ResourceRequests(
        (Call("sagemaker", "CreateEndpointConfig", renames={"name": "EndpointConfigName", "kmsKeyArn": "KmsKeyId"},
              identifiers={"EndpointConfigName": "name"}),), unsent=_NAME_PREFIX),
    "aws:sagemaker/endpoint:Endpoint": ResourceRequests(
        (Call("sagemaker", "CreateEndpoint", renames={"name": "EndpointName"}, identifiers={"EndpointName": "name"}),)),
    "aws:sagemaker/featureGroup:FeatureGroup": ResourceRequests((Call("sagemaker", "CreateFeatureGroup"),)),
}


# --- building -------------------------------------------------------------------------------------

def exemption(type_: str) -> str | None:
    """Why a resource type is exempt, or None when its requests must be checked."""
    for key, reason in EXEMPT.items():
        if type_ == key or (key.endswith(":") and type_.startswith(key)):
            return reason
    return None


def default_tags(provider_inputs: Mapping[str, Any] | None) -> dict[str, str]:
    """The provider's `default_tags.tags` (the engine hands provider inputs over as JSON text)."""
    raw = (provider_inputs or {}).get("defaultTags")
    if isinstance(raw, str):
        raw = json.loads(raw) if raw else {}
    return dict((raw or {}).get("tags") or {})


def build(resource: Any, provider_inputs: Mapping[str, Any] | None, region: str) -> tuple[list[Request], list[str]]:
    """The requests for one planned resource (automation/offline.PlannedResource), and every
    problem building them: an unmapped type, an input without a member."""
    spec = REQUESTS.get(resource.type)
    if spec is None:
        return [], [f"{resource.type} ({resource.name}): no entry in guardrails/requests.REQUESTS and not exempt; "
                    "add the API operations the provider calls for it"]
    inputs = {k: v for k, v in resource.inputs.items() if k not in UNSENT_EVERYWHERE and k not in spec.unsent and v is not None}
    tags = {**default_tags(provider_inputs), **(inputs.pop("tags", None) or {})} if taggable(resource.type) else {}
    inputs.pop("tags", None)
    context = Context(name=resource.name, region=region, outputs=resource.outputs)
    secondary = set().union(*(set(call.renames) | set(call.consumes) for call in spec.calls[1:]))
    requests: list[Request] = []
    problems: list[str] = []
    tags_placed = not tags
    for index, call in enumerate(spec.calls):
        if call.only_when is not None and not call.only_when(inputs):
            continue
        if call.tags_only and not tags:
            continue
        source = {k: v for k, v in inputs.items() if (k in call.renames if index else k not in secondary)}
        params, found, placed = _params(call, source, context, tags)
        tags_placed = tags_placed or placed
        requests.append(Request(resource.urn, call.service, call.operation, params))
        problems += [f"{resource.name} {call.service}.{call.operation}: {problem}" for problem in found]
    if not tags_placed:
        problems.append(f"{resource.name}: {resource.type} takes tags, but no call of its entry carries them")
    return requests, problems


def _params(call: Call, source: dict[str, Any], context: Context,
            tags: Mapping[str, str]) -> tuple[dict[str, Any], list[str], bool]:
    """The request of one call, the problems building it, and whether it carries the tags."""
    shape = shapes.operation(call.service, call.operation).input_shape
    if call.adapt:
        source = call.adapt(source, context)
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in source.items():
        path = call.renames.get(key) or _member(shape, key)
        if path is None:
            problems.append(f"input {key!r} maps to no member of {call.operation} (members: {', '.join(shape.members)})")
            continue
        _put(raw, path, value)
    for member, output in call.identifiers.items():
        if _get(raw, member) is None and context.outputs.get(output) is not None:
            _put(raw, member, context.outputs[output])
    for member, value in call.fixed.items():
        _put(raw, member, value)
    tags_member = call.tags or _member(shape, "tags")
    if tags and tags_member:
        _put(raw, tags_member, dict(tags))
    params = _convert(raw, shape, call.operation, problems)
    return params, problems, bool(tags and tags_member)


def _normal(name: str) -> str:
    return name.replace("_", "").lower()


def _member(shape: Shape, key: str) -> str | None:
    """The member of a structure an input key names: same name ignoring case and underscores,
    else ignoring a trailing 's' on either side (when only one member matches that way)."""
    if key in shape.members:
        return key
    wanted = _normal(key)
    exact = [m for m in shape.members if _normal(m) == wanted]
    if exact:
        return exact[0]
    loose = [m for m in shape.members if _normal(m).rstrip("s") == wanted.rstrip("s")]
    return loose[0] if len(loose) == 1 else None


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _get(source: Mapping[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(source, Mapping) or part not in source:
            return None
        source = source[part]
    return source


_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _convert(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    """`value` in the form the API takes for `shape`, as the provider converts it."""
    converter = _CONVERTERS.get(shape.type_name)
    return converter(value, shape, where, problems) if converter else value


def _structure(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]  # a single nested block: the provider holds it as a one-item list
    if not isinstance(value, dict):
        return value
    converted = {}
    for key, item in value.items():
        if item is None:
            continue
        member = _member(shape, key)
        if member is None:
            problems.append(f"{where}.{key}: no such member (members: {', '.join(shape.members)})")
            continue
        converted[member] = _convert(item, shape.members[member], f"{where}.{member}", problems)
    return converted


def _list(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    item_shape = shape.member
    if isinstance(value, dict) and item_shape.type_name == "structure":
        if all(_member(item_shape, key) for key in value):
            value = [value]  # one block where the API takes a list of them
        elif len(item_shape.members) == 2:
            key_member, value_member = item_shape.members  # tags, dimensions: a map becomes pairs
            value = [{key_member: k, value_member: v} for k, v in value.items()]
    if not isinstance(value, list | tuple):
        return value
    return [_convert(item, item_shape, f"{where}[{index}]", problems) for index, item in enumerate(value)]


def _map(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    if not isinstance(value, dict):
        return value
    text_values = shape.value.type_name == "string"
    return {key: _text(item) if text_values else _convert(item, shape.value, f"{where}[{key!r}]", problems)
            for key, item in value.items()}


def _text(value: Any) -> Any:
    """A value of a string-valued map (SNS attributes, environment variables) as the provider sends it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _integer(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the engine's numbers are doubles
    if isinstance(value, str) and _NUMBER.fullmatch(value) and float(value).is_integer():
        return int(float(value))
    return value


def _double(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    return value


def _boolean(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


def _blob(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    # Code archives and assets: the provider zips them; their content is not the request's shape.
    return value if isinstance(value, bytes | bytearray | str) else b"archive"


_CONVERTERS = {
    "structure": _structure, "list": _list, "map": _map, "integer": _integer, "long": _integer,
    "double": _double, "float": _double, "boolean": _boolean, "blob": _blob,
}


def plan_requests(plan: Any) -> tuple[list[Request], list[str]]:
    """Every request the resources of an offline plan cause, and every problem building them."""
    region = _region(plan)
    requests: list[Request] = []
    problems: list[str] = []
    for resource in plan.resources:
        if exemption(resource.type):
            continue
        provider = plan.provider_of(resource)
        built, found = build(resource, provider.inputs if provider else None, region)
        requests += built
        problems += found
    return requests, problems


def _region(plan: Any) -> str:
    providers = [r for r in plan.resources if r.type == "pulumi:providers:aws"]
    return str(providers[0].inputs.get("region", "us-east-1")) if providers else "us-east-1"


def request_problems(requests: Iterable[Request]) -> list[str]:
    """Every problem of every request against its API model."""
    return [f"{request.label}: {problem}" for request in requests
            for problem in shapes.problems(request.service, request.operation, request.params)]
