"""The offline engine: runs the Pulumi program exactly as `pulumi up --stack S` loads it, under
Pulumi's own mocks, and returns the plan of every resource it would register.

It reads the same files the CLI reads (Pulumi.yaml, Pulumi.<stack>.yaml) and runs the same entry
point, so what the tests and `deploy.py --offline` see is what a real deploy would be asked to do.
It needs neither the Pulumi CLI nor AWS credentials. Physical ids, names and ARNs come from
`FakeCloud`, shaped like AWS's for each resource type so code that parses them keeps working.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import runpy
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_project, get_stack
from pulumi.runtime.stack import wait_for_rpcs

from automation import stackfile
from automation.stackfile import ProjectError

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class PlannedResource:
    """One resource the program registers, with the inputs and options a reviewer cares about."""

    urn: str
    type: str
    name: str
    parent: str | None  # URN of the parent resource; None for the stack itself
    custom: bool  # False for component resources
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]  # inputs plus what FakeCloud filled in (id, arn, name...)
    id: str | None
    protect: bool
    retain_on_delete: bool
    provider: str | None  # "urn::id" of the explicit provider, if any
    dependencies: tuple[str, ...]
    # The URNs the engine derives from the resource's `aliases` option (engine_alias_urn). The
    # engine adds more at deploy time: when the parent itself took over an old URN by an alias,
    # the child inherits that alias (its step generator's generateAliases).
    aliases: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()  # input properties (engine names) the engine never updates
    # Input property paths whose change makes the engine replace the resource, and whether it
    # deletes the old one first (the `replace_on_changes` and `delete_before_replace` options).
    replace_on_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False


@dataclass
class Plan:
    project: str
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, type_: str, name: str) -> PlannedResource:
        matches = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {type_} named {name}")
        return matches[0]

    def by_urn(self, urn: str) -> PlannedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def children(self, parent: PlannedResource) -> list[PlannedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def descendants(self, parent: PlannedResource) -> Iterator[PlannedResource]:
        for child in self.children(parent):
            yield child
            yield from self.descendants(child)

    def component_of(self, resource: PlannedResource) -> PlannedResource | None:
        """The nearest enclosing component resource (not the stack)."""
        parent = resource.parent
        while parent:
            candidate = self.by_urn(parent)
            if candidate.type == "pulumi:pulumi:Stack":
                return None
            if not candidate.custom:
                return candidate
            parent = candidate.parent
        return None

    def provider_of(self, resource: PlannedResource) -> PlannedResource | None:
        """The explicit provider a resource uses ("urn::id" reference), if any."""
        if not resource.provider:
            return None
        return self.by_urn(resource.provider.rsplit("::", 1)[0])


def _service_arn(partition: str, service: str, region: str, resource: str, global_service: bool = False) -> str:
    return f"arn:{partition}:{service}:{'' if global_service else region}:{ACCOUNT_ID}:{resource}"


def partition_of(region: str) -> tuple[str, str]:
    """The partition a region belongs to and its DNS suffix, from botocore's endpoint data (what
    `aws.get_partition` answers for a provider in that region: aws, aws-cn, aws-us-gov...)."""
    session = botocore.session.get_session()
    name = session.get_partition_for_region(region)
    partitions = session.get_component("data_loader").load_data("endpoints")["partitions"]
    return name, next(p["dnsSuffix"] for p in partitions if p["partition"] == name)


class FakeCloud:
    """What AWS would hand back for a created resource: ids, generated names and ARNs.

    Pulumi's auto-naming and the physical ids are done by the provider plugin, which mocks
    replace; this fills them in with AWS-shaped values, deterministic per stack and name.
    """

    def __init__(self, stack: str, region: str):
        self.stack = stack
        self.region = region
        self.partition, self.dns_suffix = partition_of(region)

    def _suffix(self, name: str, length: int = 7) -> str:
        return hashlib.sha256(f"{self.stack}/{name}".encode()).hexdigest()[:length]

    def state(self, type_: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        made = _Made(self, type_, name, dict(inputs))
        maker = _MAKERS.get(type_) or next((m for prefix, m in _PREFIX_MAKERS if type_.startswith(prefix)), _other)
        return maker(made), made.state

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        """Answers to data-source invokes (getCallerIdentity, getRegion, ...)."""
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:{self.partition}:iam::{ACCOUNT_ID}:user/offline",
                    "userId": "AIDAOFFLINE", "id": ACCOUNT_ID}
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region,
                    "endpoint": f"ec2.{self.region}.{self.dns_suffix}", "description": self.region}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": self.partition, "dnsSuffix": self.dns_suffix, "id": self.partition}
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {"userName": "AWS", "password": "offline-token",
                    "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{self.region}.{self.dns_suffix}"}
        raise NotImplementedError(f"the offline engine has no answer for invoke {token}; add it to FakeCloud.call")


@dataclass
class _Made:
    """One resource FakeCloud is answering for: its inputs, and the state it fills in."""

    cloud: FakeCloud
    type_: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any] = field(init=False)
    region: str = field(init=False)
    physical: str = field(init=False)  # the name AWS would hold it under

    def __post_init__(self) -> None:
        self.state = dict(self.inputs)
        self.region = self.inputs.get("region") or self.cloud.region
        self.physical = self.inputs.get("name") or f"{self.name}-{self.suffix()}"

    def suffix(self, length: int = 7) -> str:
        return self.cloud._suffix(self.name, length)

    def arn(self, service: str, path: str, global_: bool = False) -> str:
        return _service_arn(self.cloud.partition, service, self.region, path, global_)

    def named(self, arn: str, id_: str | None = None) -> str:
        """Record the physical name and ARN; the id is the name unless AWS identifies it otherwise."""
        self.state.update(name=self.physical, arn=arn)
        return id_ or self.physical


def _bucket(m: _Made) -> str:
    bucket = m.inputs.get("bucket") or f"{m.inputs.get('bucketPrefix', m.name + '-')}{m.suffix(26)}"
    suffix = m.cloud.dns_suffix
    m.state.update(bucket=bucket, arn=f"arn:{m.cloud.partition}:s3:::{bucket}", bucketDomainName=f"{bucket}.s3.{suffix}",
                   bucketRegionalDomainName=f"{bucket}.s3.{m.region}.{suffix}", region=m.region)
    return bucket


def _kms_key(m: _Made) -> str:
    key_id = _uuid_like(m.suffix(32))
    m.state.update(keyId=key_id, arn=m.arn("kms", f"key/{key_id}"))
    return key_id


def _kms_alias(m: _Made) -> str:
    alias = m.inputs.get("name", f"alias/{m.physical}")
    m.state.update(arn=m.arn("kms", alias), targetKeyArn=m.arn("kms", "key/target"))
    return m.inputs.get("name", m.physical)


def _iam_role(m: _Made) -> str:
    m.state.update(uniqueId=f"AROA{m.suffix(17).upper()}")
    return m.named(m.arn("iam", f"role/{m.physical}", True))


def _iam_policy(m: _Made) -> str:
    policy_arn = m.arn("iam", f"policy/{m.physical}", True)
    return m.named(policy_arn, policy_arn)


def _role_policy(m: _Made) -> str:
    m.state.update(name=m.physical)
    return f"{m.inputs.get('role', m.name)}:{m.physical}"


def _topic(m: _Made) -> str:
    topic_arn = m.arn("sns", m.physical)
    return m.named(topic_arn, topic_arn)


def _subscription(m: _Made) -> str:
    sub_arn = f"{m.inputs.get('topic', m.arn('sns', 'topic'))}:{_uuid_like(m.suffix(32))}"
    m.state.update(arn=sub_arn)
    return sub_arn


def _state_machine(m: _Made) -> str:
    machine_arn = m.arn("states", f"stateMachine:{m.physical}")
    m.state.update(roleArn=m.inputs.get("roleArn"))
    return m.named(machine_arn, machine_arn)


def _repository(m: _Made) -> str:
    url = f"{ACCOUNT_ID}.dkr.ecr.{m.region}.{m.cloud.dns_suffix}/{m.physical}"
    m.state.update(repositoryUrl=url, registryId=ACCOUNT_ID)
    return m.named(m.arn("ecr", f"repository/{m.physical}"))


def _function(m: _Made) -> str:
    fn_arn = m.arn("lambda", f"function:{m.physical}")
    invoke_arn = f"arn:{m.cloud.partition}:apigateway:{m.region}:lambda:path/functions/{fn_arn}/invocations"
    m.state.update(invokeArn=invoke_arn, qualifiedArn=f"{fn_arn}:$LATEST", version="$LATEST")
    return m.named(fn_arn)


def _queue(m: _Made) -> str:
    url = f"https://sqs.{m.region}.{m.cloud.dns_suffix}/{ACCOUNT_ID}/{m.physical}"
    m.named(m.arn("sqs", m.physical))
    m.state.update(url=url)
    return url


def _dashboard(m: _Made) -> str:
    dashboard = m.inputs.get("dashboardName", m.physical)
    m.state.update(dashboardArn=_service_arn(m.cloud.partition, "cloudwatch", "", f"dashboard/{dashboard}", True))
    return dashboard


# SageMaker resources: the input that names them and the ARN path, where not `name` and the kind.
_SAGEMAKER_NAME_FIELDS = {"ModelPackageGroup": "modelPackageGroupName", "FeatureGroup": "featureGroupName"}
_SAGEMAKER_ARN_PATHS = {"Model": "model", "EndpointConfiguration": "endpoint-config", "Endpoint": "endpoint",
                        "ModelPackageGroup": "model-package-group", "FeatureGroup": "feature-group"}


def _sagemaker(m: _Made) -> str:
    kind = m.type_.split(":")[-1]
    name_field = _SAGEMAKER_NAME_FIELDS.get(kind, "name")
    physical = m.inputs.get(name_field) or m.physical
    m.state.update({name_field: physical, "arn": m.arn("sagemaker", f"{_SAGEMAKER_ARN_PATHS.get(kind, kind.lower())}/{physical.lower()}")})
    return physical


def _scheduled(m: _Made) -> str:
    return m.named(m.arn(m.type_.split(":")[1].split("/")[0], f"{m.name}/{m.physical}"))


def _other_aws(m: _Made) -> str:
    m.state.setdefault("arn", m.arn(m.type_.split(":")[1].split("/")[0], f"{m.name}/{m.physical}"))
    return m.physical


def _image(m: _Made) -> str:
    # Planned, never built: a digest derived from the tags, and the pinned reference
    # (`repo@sha256:...`) the provider reports after a push.
    tags = list(m.inputs.get("tags") or [])
    digest = "sha256:" + hashlib.sha256(f"{m.cloud.stack}/{m.name}/{tags}".encode()).hexdigest()
    m.state.update(digest=digest, ref=f"{tags[0].rsplit(':', 1)[0]}@{digest}" if tags else "")
    return f"{m.name}-id"


def _other(m: _Made) -> str:
    """Component resources (no id) and non-AWS providers (docker-build, awsx internals) keep their inputs."""
    return "" if m.type_.startswith("mlops:") else f"{m.name}-id"


_MAKERS = {
    "pulumi:providers:aws": lambda m: f"{m.name}-provider-id",
    "aws:s3/bucket:Bucket": _bucket,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:sfn/stateMachine:StateMachine": _state_machine,
    "aws:ecr/repository:Repository": _repository,
    "aws:lambda/function:Function": _function,
    "aws:cloudwatch/logGroup:LogGroup": lambda m: m.named(m.arn("logs", f"log-group:{m.physical}")),
    "aws:cloudwatch/eventRule:EventRule": lambda m: m.named(m.arn("events", f"rule/{m.physical}")),
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda m: m.named(m.arn("cloudwatch", f"alarm:{m.physical}")),
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:sqs/queue:Queue": _queue,
    "docker-build:index:Image": _image,
}
# Tried in order when no exact type matches.
_PREFIX_MAKERS = (
    ("aws:s3/", lambda m: f"{m.inputs.get('bucket', m.name)}"),
    ("aws:iam/rolePolicy", _role_policy),
    ("aws:sagemaker/", _sagemaker),
    ("aws:scheduler/", _scheduled),
    ("aws:appautoscaling/", _scheduled),
    ("aws:", _other_aws),
)


def _uuid_like(hex32: str) -> str:
    h = hex32.ljust(32, "0")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def load_project(work_dir: Path = ROOT) -> dict[str, Any]:
    """Pulumi.yaml, read as strictly as the stack files (automation/stackfile.py)."""
    path = work_dir / "Pulumi.yaml"
    if not path.exists():
        raise ProjectError(f"no Pulumi.yaml in {work_dir}")
    project = stackfile.load(path)
    stackfile.config_of(project, path.name)
    if not isinstance(project.get("name"), str) or not project["name"]:
        raise ProjectError(f"{path.name}: 'name' must be the project's name (text)")
    return project


def stack_config_path(stack: str, work_dir: Path = ROOT) -> Path:
    return work_dir / f"Pulumi.{stack}.yaml"


def load_stack_config(stack: str, work_dir: Path = ROOT, project: dict | None = None,
                      stack_file: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """The config the CLI would hand the program: {"ns:key": "string or JSON"}, plus secret keys.

    Keys without a namespace belong to the project. Structured values reach the program as JSON,
    as the CLI passes them. Secure values cannot be decrypted offline: they become a placeholder
    marked secret. `stack_file` reads the stack's config from elsewhere than
    `<work_dir>/Pulumi.<stack>.yaml` (a pr-N config rendered from its template, not yet written).
    """
    project = project or load_project(work_dir)
    name = project["name"]
    path = stack_file or stack_config_path(stack, work_dir)
    if not path.exists():
        raise ProjectError(f"no stack config {path.name}: create it (copy Pulumi.dev.yaml) or pick an existing stack")
    stack_values = stackfile.load_config(path)
    raw = {}
    for key, spec in stackfile.config_of(project, "Pulumi.yaml").items():
        # Project-level defaults: `key: value` or `key: {default: value}` / `{value: value}`.
        if isinstance(spec, dict) and ("default" in spec or "value" in spec):
            raw[key] = spec.get("value", spec.get("default"))
        elif not isinstance(spec, dict):
            raw[key] = spec
    for key in stack_values:
        if ":" not in key and f"{name}:{key}" in stack_values:
            raise ProjectError(f"{path.name}: {name}:{key} is set twice, as '{key}' and as '{name}:{key}'; keep one")
    raw.update(stack_values)

    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        full_key = key if ":" in key else f"{name}:{key}"
        value, secret = _strip_secure(value)
        if secret:
            secret_keys.append(full_key)
        config[full_key] = value if isinstance(value, str) else stackfile.cli_json(value)
    return config, secret_keys


def _strip_secure(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        secret = False
        result = {}
        for k, v in value.items():
            result[k], inner = _strip_secure(v)
            secret = secret or inner
        return result, secret
    if isinstance(value, list):
        items = [_strip_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def plan(stack: str, work_dir: Path = ROOT, config_overrides: Mapping[str, Any] | None = None,
         preview: bool = False, stack_file: Path | None = None) -> Plan:
    """Run the program for `stack` under mocks and return everything it registers.

    `config_overrides` ({"key" or "ns:key": value}) replace stack config values, so tests can try
    a variation without writing a stack file. Runs in a fresh context, so plans of different
    stacks can be made one after another in one process.
    """
    project = load_project(work_dir)
    config, secret_keys = load_stack_config(stack, work_dir, project, stack_file)
    for key, value in (config_overrides or {}).items():
        full_key = key if ":" in key else f"{project['name']}:{key}"
        if value is None:
            config.pop(full_key, None)
        else:
            config[full_key] = value if isinstance(value, str) else json.dumps(value)
    return contextvars.Context().run(_run, project, stack, config, secret_keys, work_dir, preview)


def _run(project: dict, stack: str, config: dict[str, str], secret_keys: list[str], work_dir: Path,
         preview: bool) -> Plan:
    region = config.get("aws:region", "us-east-1")
    cloud = FakeCloud(stack, region)
    recorder = RecordingMonitor(_CloudMocks(cloud))

    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_quiet_about_reported_errors)
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.set_all_config(config, secret_keys)
        pulumi.runtime.set_mocks(recorder.mocks, project=project["name"], stack=stack, preview=preview,
                                 monitor=recorder)
        # The mock settings give each run its own RPC tracking but not its own set of pending
        # outputs (a process-wide default): a plan that failed would leave its tasks, bound to
        # its closed loop, for the next plan to await.
        pulumi.runtime.settings.SETTINGS.outputs = set()
        main = work_dir / project.get("main", "__main__.py")
        if main.is_dir():
            main = main / "__main__.py"
        sys.path.insert(0, str(work_dir))
        try:
            try:
                runpy.run_path(str(main), run_name="__main__")
                loop.run_until_complete(wait_for_rpcs())
            except BaseException:
                # Let registrations already under way settle so nothing is left dangling, then
                # report the first error: the program's own (a ConfigError, typically) or the
                # engine's (a DuplicateUrnError).
                loop.run_until_complete(_settle())
                raise
            root = pulumi.runtime.settings.get_root_resource()
            outputs = loop.run_until_complete(_resolve_outputs(root.outputs))
        finally:
            sys.path.remove(str(work_dir))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        recorder.close_thread_loops()
    return Plan(project=project["name"], stack=stack, resources=recorder.planned, outputs=outputs)


def _quiet_about_reported_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Keep asyncio from printing, at garbage collection, the error a failed plan raises.

    Every output that depended on a refused registration holds the same ConfigError or
    DuplicateUrnError (both `pulumi.RunError`), and asyncio prints "Future exception was never
    retrieved" with a traceback for each one it collects, long after the plan reported the error
    once. Anything else still reaches asyncio's own handler.
    """
    if isinstance(context.get("exception"), pulumi.RunError):
        return
    loop.default_exception_handler(context)


async def _settle(timeout: float = 30) -> None:
    """Wait for the registrations and outputs a failed run left in flight, whatever their outcome,
    so none is left pending when the loop closes (asyncio would warn about each one)."""
    settings = pulumi.runtime.settings.SETTINGS
    while settings.rpc_manager.rpcs or settings.outputs:
        pending = [*settings.rpc_manager.rpcs, *settings.outputs]
        settings.rpc_manager.rpcs.clear()
        settings.outputs.clear()
        done, stuck = await asyncio.wait([asyncio.ensure_future(p) for p in pending], timeout=timeout)
        for task in done:
            if not task.cancelled():
                task.exception()  # retrieved: the first error is the one worth reporting
        for task in stuck:
            task.cancel()
        if stuck:
            return


async def _resolve_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    resolved = {}
    for name, value in outputs.items():
        output = pulumi.Output.from_input(value)
        resolved[name] = await output.future()
    return resolved


class _CloudMocks:
    """Adapter from Pulumi's Mocks interface to FakeCloud."""

    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud

    def new_resource(self, args):
        return self.cloud.state(args.typ, args.name, dict(args.inputs))

    def call(self, args):
        return self.cloud.call(args.token, dict(args.args))

    # set_mocks' MockMonitor hands transforms to the mocks; the program registers none.
    def register_transform(self, transform) -> None:  # pragma: no cover - unused by the program
        pass

    def register_invoke_transform(self, transform) -> None:  # pragma: no cover
        pass


ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


class DuplicateUrnError(pulumi.RunError, ProjectError):
    """Two registrations with one URN. The engine refuses the second one, and so does the offline
    engine, with the engine's own message (pkg/diag errors.go, GetDuplicateResourceURNError).
    A ProjectError too, so `deploy.py --offline` reports it as one line, as it does a broken
    project file."""


def engine_urn(stack: str, project: str, parent_urn: str, type_: str, name: str) -> str:
    """The URN the engine gives a registration (pkg/resource/deploy, Deployment.generateURN, and
    sdk/go/common/resource/urn.go, NewURN): the parent's whole qualified type before the resource's
    own type, except for children of the root stack, whose URNs carry no parent type.

    Pulumi's MockMonitor keeps only the parent's last type and does prefix the stack's type, so
    its URNs are not the ones a deployed stack records; alias and duplicate checks need the real ones.
    """
    qualified = type_
    if parent_urn:
        parent_type = parent_urn.split("::")[2]
        if parent_type != ROOT_STACK_TYPE:
            qualified = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def engine_alias_urn(alias: Any, request: Any, stack: str, project: str) -> str:
    """The old URN an alias names, as the engine computes it from the alias spec the SDK sends
    (the step generator's collapseAliasToUrn, then resource.CreateURN): unset fields default to
    the resource's own name, type, parent, stack and project; a root-stack parent is no parent.
    An explicit alias parent is taken as given (this program never sets one)."""
    if alias.urn:
        return alias.urn
    spec = alias.spec
    parent = "" if spec.noParent else (spec.parentUrn or request.parent)
    if parent and parent.split("::")[2] == ROOT_STACK_TYPE:
        parent = ""
    prefix = parent[: parent.rfind("::")] + "$" if parent else f"urn:pulumi:{spec.stack or stack}::{spec.project or project}::"
    return f"{prefix}{spec.type or request.type}::{spec.name or request.name}"


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, keeping the registration options the engine would receive, naming
    resources as the engine does and refusing what it refuses (a URN registered twice)."""

    def __init__(self, mocks: _CloudMocks):
        super().__init__(mocks)
        self.planned: list[PlannedResource] = []
        self._urns: set[str] = set()
        # The SDK registers resources from several worker threads at once.
        self._lock = threading.Lock()
        # Event loops the SDK makes in its worker threads to deserialize values. Left to the
        # garbage collector they are closed during interpreter shutdown, which now and then
        # prints "Invalid file descriptor: -1"; close_thread_loops closes them deliberately.
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        return engine_urn(get_stack(), get_project(), parent, type_, name)

    def _usable_thread_loop(self) -> None:
        """Give this thread an open event loop (a previous plan may have closed its old one)."""
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = None
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
        if not loop.is_running():
            self.thread_loops.add(loop)

    def close_thread_loops(self) -> None:
        for loop in self.thread_loops:
            if not loop.is_running() and not loop.is_closed():
                loop.close()
        self.thread_loops.clear()

    def Invoke(self, request):  # noqa: N802 - gRPC method name
        self._usable_thread_loop()
        return super().Invoke(request)

    def _claim(self, urn: str) -> None:
        with self._lock:
            if urn in self._urns:
                raise DuplicateUrnError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self._urns.add(urn)

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        self._usable_thread_loop()
        self._claim(self.make_urn(request.parent, request.type, request.name))
        response = super().RegisterResource(request)
        inputs = rpc.deserialize_properties(request.object) if request.type != ROOT_STACK_TYPE else {}
        registered = self.resources.get(response.urn)
        self.planned.append(PlannedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            inputs=inputs,
            outputs=dict(registered.state) if registered else {},
            id=response.id or None,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            provider=request.provider or None,
            dependencies=tuple(request.dependencies),
            aliases=tuple(dict.fromkeys(engine_alias_urn(a, request, get_stack(), get_project()) for a in request.aliases)),
            ignore_changes=tuple(request.ignoreChanges),
            replace_on_changes=tuple(request.replaceOnChanges),
            delete_before_replace=bool(request.deleteBeforeReplace),
        ))
        return response
