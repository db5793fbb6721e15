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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
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


def _service_arn(service: str, region: str, resource: str, global_service: bool = False) -> str:
    return f"arn:aws:{service}:{'' if global_service else region}:{ACCOUNT_ID}:{resource}"


class FakeCloud:
    """What AWS would hand back for a created resource: ids, generated names and ARNs.

    Pulumi's auto-naming and the physical ids are done by the provider plugin, which mocks
    replace; this fills them in with AWS-shaped values, deterministic per stack and name.
    """

    def __init__(self, stack: str, region: str):
        self.stack = stack
        self.region = region

    def _suffix(self, name: str, length: int = 7) -> str:
        return hashlib.sha256(f"{self.stack}/{name}".encode()).hexdigest()[:length]

    def state(self, type_: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        state = dict(inputs)
        region = inputs.get("region") or self.region
        physical = inputs.get("name") or f"{name}-{self._suffix(name)}"
        arn = lambda service, path, global_=False: _service_arn(service, region, path, global_)  # noqa: E731
        rid = physical
        if type_ == "pulumi:providers:aws":
            return f"{name}-provider-id", state
        if type_ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name + '-')}{self._suffix(name, 26)}"
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketDomainName=f"{bucket}.s3.amazonaws.com",
                         bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com", region=region)
            return bucket, state
        if type_.startswith("aws:s3/"):
            return f"{inputs.get('bucket', name)}", state
        if type_ == "aws:kms/key:Key":
            key_id = _uuid_like(self._suffix(name, 32))
            state.update(keyId=key_id, arn=arn("kms", f"key/{key_id}"))
            return key_id, state
        if type_ == "aws:kms/alias:Alias":
            state.update(arn=arn("kms", inputs.get("name", f"alias/{physical}")), targetKeyArn=arn("kms", "key/target"))
            return inputs.get("name", physical), state
        if type_ == "aws:iam/role:Role":
            state.update(name=physical, arn=arn("iam", f"role/{physical}", True), uniqueId=f"AROA{self._suffix(name, 17).upper()}")
            return physical, state
        if type_ == "aws:iam/policy:Policy":
            policy_arn = arn("iam", f"policy/{physical}", True)
            state.update(name=physical, arn=policy_arn)
            return policy_arn, state
        if type_.startswith("aws:iam/rolePolicy"):
            return f"{inputs.get('role', name)}:{physical}", dict(state, name=physical)
        if type_ == "aws:sns/topic:Topic":
            topic_arn = arn("sns", physical)
            state.update(name=physical, arn=topic_arn)
            return topic_arn, state
        if type_ == "aws:sns/topicSubscription:TopicSubscription":
            sub_arn = f"{inputs.get('topic', arn('sns', 'topic'))}:{_uuid_like(self._suffix(name, 32))}"
            state.update(arn=sub_arn)
            return sub_arn, state
        if type_ == "aws:sfn/stateMachine:StateMachine":
            sm_arn = arn("states", f"stateMachine:{physical}")
            state.update(name=physical, arn=sm_arn, roleArn=inputs.get("roleArn"))
            return sm_arn, state
        if type_ == "aws:ecr/repository:Repository":
            url = f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{physical}"
            state.update(name=physical, arn=arn("ecr", f"repository/{physical}"), repositoryUrl=url, registryId=ACCOUNT_ID)
            return physical, state
        if type_ == "aws:lambda/function:Function":
            fn_arn = arn("lambda", f"function:{physical}")
            state.update(name=physical, arn=fn_arn, invokeArn=f"arn:aws:apigateway:{region}:lambda:path/functions/{fn_arn}/invocations",
                         qualifiedArn=f"{fn_arn}:$LATEST", version="$LATEST")
            return physical, state
        if type_ == "aws:cloudwatch/logGroup:LogGroup":
            state.update(name=physical, arn=arn("logs", f"log-group:{physical}"))
            return physical, state
        if type_ == "aws:cloudwatch/eventRule:EventRule":
            state.update(name=physical, arn=arn("events", f"rule/{physical}"))
            return physical, state
        if type_ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            state.update(name=physical, arn=arn("cloudwatch", f"alarm:{physical}"))
            return physical, state
        if type_ == "aws:cloudwatch/dashboard:Dashboard":
            state.update(dashboardArn=_service_arn("cloudwatch", "", f"dashboard/{inputs.get('dashboardName', physical)}", True))
            return inputs.get("dashboardName", physical), state
        if type_.startswith("aws:sagemaker/"):
            kind = type_.split(":")[-1]
            name_field = {
                "ModelPackageGroup": "modelPackageGroupName", "FeatureGroup": "featureGroupName",
            }.get(kind, "name")
            physical = inputs.get(name_field) or physical
            path = {
                "Model": "model", "EndpointConfiguration": "endpoint-config", "Endpoint": "endpoint",
                "ModelPackageGroup": "model-package-group", "FeatureGroup": "feature-group",
            }.get(kind, kind.lower())
            state.update({name_field: physical, "arn": arn("sagemaker", f"{path}/{physical.lower()}")})
            return physical, state
        if type_.startswith("aws:scheduler/") or type_.startswith("aws:appautoscaling/"):
            state.update(name=physical, arn=arn(type_.split(":")[1].split("/")[0], f"{name}/{physical}"))
            return physical, state
        if type_.startswith("aws:"):
            service = type_.split(":")[1].split("/")[0]
            state.setdefault("arn", arn(service, f"{name}/{physical}"))
            return rid, state
        if type_ == "docker-build:index:Image":
            # Planned, never built: a digest derived from the tags, and the pinned reference
            # (`repo@sha256:...`) the provider reports after a push.
            tags = list(inputs.get("tags") or [])
            digest = "sha256:" + hashlib.sha256(f"{self.stack}/{name}/{tags}".encode()).hexdigest()
            state.update(digest=digest, ref=f"{tags[0].rsplit(':', 1)[0]}@{digest}" if tags else "")
            return f"{name}-id", state
        # Component resources and non-AWS providers (docker-build, awsx internals) keep their inputs.
        return f"{name}-id" if not type_.startswith("mlops:") else "", state

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        """Answers to data-source invokes (getCallerIdentity, getRegion, ...)."""
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline",
                    "userId": "AIDAOFFLINE", "id": ACCOUNT_ID}
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region,
                    "endpoint": f"ec2.{self.region}.amazonaws.com", "description": self.region}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {"userName": "AWS", "password": "offline-token",
                    "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com"}
        raise NotImplementedError(f"the offline engine has no answer for invoke {token}; add it to FakeCloud.call")


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
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.set_all_config(config, secret_keys)
        pulumi.runtime.set_mocks(recorder.mocks, project=project["name"], stack=stack, preview=preview,
                                 monitor=recorder)
        main = work_dir / project.get("main", "__main__.py")
        if main.is_dir():
            main = main / "__main__.py"
        sys.path.insert(0, str(work_dir))
        try:
            try:
                runpy.run_path(str(main), run_name="__main__")
            except BaseException:
                # Let registrations already under way settle so nothing is left dangling, then
                # report the program's own error (a ConfigError, typically).
                loop.run_until_complete(_settle(wait_for_rpcs))
                raise
            loop.run_until_complete(wait_for_rpcs())
            root = pulumi.runtime.settings.get_root_resource()
            outputs = loop.run_until_complete(_resolve_outputs(root.outputs))
        finally:
            sys.path.remove(str(work_dir))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        recorder.close_thread_loops()
    return Plan(project=project["name"], stack=stack, resources=recorder.planned, outputs=outputs)


async def _settle(wait_for_rpcs) -> None:
    try:
        await wait_for_rpcs()
    except Exception:  # noqa: BLE001 - the program's error is the one worth reporting
        pass


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


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, keeping the registration options the engine would receive."""

    def __init__(self, mocks: _CloudMocks):
        super().__init__(mocks)
        self.planned: list[PlannedResource] = []
        # Event loops the SDK makes in its worker threads to deserialize values. Left to the
        # garbage collector they are closed during interpreter shutdown, which now and then
        # prints "Invalid file descriptor: -1"; close_thread_loops closes them deliberately.
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()

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

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        self._usable_thread_loop()
        response = super().RegisterResource(request)
        inputs = rpc.deserialize_properties(request.object) if request.type != "pulumi:pulumi:Stack" else {}
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
        ))
        return response
