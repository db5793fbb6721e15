"""The platform's typed stack configuration.

Everything the program needs from `Pulumi.<stack>.yaml` is read here, once, into frozen
dataclasses. Validation collects every problem before raising, so an operator fixing a broken
stack file sees the whole list in one run instead of one error per `pulumi up`. Nothing here
registers resources: a bad config never reaches AWS.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.naming import LIMITS, Namer
from containers.contracts.metrics import METRIC_NAMES, OBJECTIVE_METRIC

ENVIRONMENTS = ("dev", "prod", "preview")
APPROVAL_MODES = ("auto", "manual")
ENDPOINT_MODES = ("serverless", "instances")
FEATURE_TYPES = ("Integral", "Fractional", "String")
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
# What each environment gets when its stack file is silent. dev and preview are cheap and
# disposable; prod is protected and keeps things longer.
ENVIRONMENT_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "dev": {"approval": "auto", "protect": False, "logRetentionDays": 14, "modelVersionsToKeep": 5},
    "preview": {"approval": "auto", "protect": False, "logRetentionDays": 3, "modelVersionsToKeep": 2},
    "prod": {"approval": "manual", "protect": True, "logRetentionDays": 365, "modelVersionsToKeep": 20},
}
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_FEATURE_NAME_RE = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HYPERPARAMETER_KEY_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_:.-]{0,255}$")
_WEIGHT_TOLERANCE = 1e-6


class ConfigError(pulumi.RunError):
    """Every problem found in a stack's config, in one error.

    A `pulumi.RunError` so that `pulumi up` prints the message without a Python traceback.
    """

    def __init__(self, stack: str, problems: list[str]):
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"Stack '{stack}' has {len(problems)} config problem(s); nothing was deployed:\n{lines}"
        )


@functools.cache
def sagemaker_instance_types(shape: str) -> frozenset[str]:
    """Instance types SageMaker accepts, straight from botocore's service model.

    Using the SDK's own enum means a typo fails here, with the allowed list, instead of minutes
    into a deploy, and new instance families arrive with a botocore upgrade.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for(shape).enum)


def training_instance_types() -> frozenset[str]:
    return sagemaker_instance_types("TrainingInstanceType")


def hosting_instance_types() -> frozenset[str]:
    return sagemaker_instance_types("ProductionVariantInstanceType")


@dataclass(frozen=True)
class VariantConfig:
    """One production variant of an endpoint: a model version and its share of traffic."""

    name: str
    weight: float
    # Registry version number to serve; None until the first training run registers one.
    model_version: int | None = None


@dataclass(frozen=True)
class AutoscalingConfig:
    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: int


@dataclass(frozen=True)
class EndpointConfig:
    mode: str  # "serverless" or "instances"
    instance_type: str
    instance_count: int
    serverless_memory_mb: int
    serverless_max_concurrency: int
    variants: tuple[VariantConfig, ...]
    autoscaling: AutoscalingConfig
    data_capture_percent: int

    @property
    def serverless(self) -> bool:
        return self.mode == "serverless"


@dataclass(frozen=True)
class ModelConfig:
    name: str
    training_instance_type: str
    training_instance_count: int
    training_volume_gb: int
    max_runtime_seconds: int
    hyperparameters: Mapping[str, str]
    objective_metric: str
    threshold: float
    retrain_schedule: str | None
    endpoint: EndpointConfig


@dataclass(frozen=True)
class FeatureDefinition:
    name: str
    type: str  # SageMaker FeatureType: Integral, Fractional or String


@dataclass(frozen=True)
class FeatureGroupConfig:
    name: str
    record_identifier: str
    event_time: str
    features: tuple[FeatureDefinition, ...]
    online_store: bool
    offline_store: bool


@dataclass(frozen=True)
class AlertingConfig:
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetentionConfig:
    model_versions_to_keep: int
    log_retention_days: int
    images_to_keep: int


@dataclass(frozen=True)
class PlatformConfig:
    project: str
    stack: str
    environment: str
    region: str
    approval: str
    protect: bool
    models: tuple[ModelConfig, ...]
    feature_groups: tuple[FeatureGroupConfig, ...]
    alerting: AlertingConfig
    retention: RetentionConfig
    # Only preview (pr-N) stacks carry these; they end up in tags so reapers can find them.
    pull_request: str | None = None
    expires: str | None = None
    namer: Namer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "namer", Namer(self.project, self.stack))

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def auto_approve(self) -> bool:
        return self.approval == "auto"

    @property
    def force_destroy(self) -> bool:
        """Buckets may be emptied on destroy everywhere but prod."""
        return not self.is_prod

    @property
    def tags(self) -> dict[str, str]:
        """The tags every taggable resource carries, applied as the provider's default tags."""
        tags = {"Project": self.project, "Environment": self.environment, "Stack": self.stack,
                "ManagedBy": "pulumi"}
        if self.pull_request:
            tags["PullRequest"] = self.pull_request
        if self.expires:
            tags["Expires"] = self.expires
        return tags

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(f"no model named {name!r}; configured: {[m.name for m in self.models]}")


def validate_schedule(expression: str) -> str | None:
    """Return why an EventBridge schedule expression is invalid, or None when it is valid.

    EventBridge takes `rate(N unit)` or a six-field `cron(min hour day-of-month month
    day-of-week year)` in which exactly one of the two day fields is `?`.
    """
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            return "a rate must be at least 1"
        if (value == 1) != (not unit.endswith("s")):
            return f"use '{unit.rstrip('s')}' for 1 and '{unit.rstrip('s')}s' otherwise"
        return None
    cron = re.fullmatch(r"cron\((.*)\)", expression)
    if not cron:
        return "expected 'cron(min hour day-of-month month day-of-week year)' or 'rate(N unit)'"
    fields = cron.group(1).split()
    if len(fields) != 6:
        return f"cron needs 6 fields (min hour day-of-month month day-of-week year), got {len(fields)}"
    minute, hour, dom, month, dow, year = fields
    patterns = {
        "minute": (minute, r"(\*|[0-5]?\d)([,/-][0-5]?\d)*"),
        "hour": (hour, r"(\*|[01]?\d|2[0-3])([,/-]([01]?\d|2[0-3]))*"),
        "day-of-month": (dom, r"\?|L|LW|(\*|[1-9]|[12]\d|3[01])W?([,/-]([1-9]|[12]\d|3[01]))*"),
        "month": (month, r"(\*|[1-9]|1[0-2]|[A-Z]{3})([,/-]([1-9]|1[0-2]|[A-Z]{3}))*"),
        "day-of-week": (dow, r"\?|(\*|[1-7]|[A-Z]{3})(L|#[1-5])?([,/-]([1-7]|[A-Z]{3}))*"),
        "year": (year, r"(\*|(19[7-9]\d|2\d{3}))([,/-](19[7-9]\d|2\d{3}))*"),
    }
    for label, (value, pattern) in patterns.items():
        if not re.fullmatch(pattern, value):
            return f"cron {label} field {value!r} is not valid"
    if (dom == "?") == (dow == "?"):
        return "cron needs '?' in exactly one of day-of-month and day-of-week"
    return None


class _Reader:
    """Reads raw config values and records every problem instead of stopping at the first."""

    def __init__(self, namespace: str):
        self.namespace = namespace
        self.problems: list[str] = []

    def problem(self, key: str, value: Any, allowed: str) -> None:
        shown = "(missing)" if value is _MISSING else repr(value)
        self.problems.append(f"{key}: got {shown}; {allowed}")

    def typed(self, key: str, raw: Mapping[str, Any], name: str, kind: type | tuple[type, ...],
              default: Any = None, required: bool = False, describe: str = "") -> Any:
        """One field of an object: present and of the right type, else a problem and the default."""
        value = raw.get(name, _MISSING) if isinstance(raw, Mapping) else _MISSING
        if value is _MISSING or value is None:
            if required:
                self.problem(key, _MISSING, f"required{': ' + describe if describe else ''}")
            return default
        # bool is an int in Python; a YAML `true` must not pass for a count.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.problem(key, value, f"expected {_type_names(kind)}")
            return default
        if not isinstance(value, kind):
            self.problem(key, value, f"expected {_type_names(kind)}")
            return default
        return value

    def bounded(self, key: str, raw: Mapping[str, Any], name: str, default: Any, low: float,
                high: float, kind: type | tuple[type, ...] = int, required: bool = False) -> Any:
        value = self.typed(key, raw, name, kind, default=default, required=required)
        if value is not None and not low <= value <= high:
            self.problem(key, value, f"must be between {low} and {high}")
            return default
        return value

    def choice(self, key: str, raw: Mapping[str, Any], name: str, default: str | None,
               allowed: tuple[str, ...] | frozenset[str], required: bool = False) -> Any:
        listed = ", ".join(sorted(allowed)) if len(allowed) <= 12 else _sample(allowed)
        value = self.typed(key, raw, name, str, default=default, required=required, describe=f"allowed: {listed}")
        if value is not None and value not in allowed:
            self.problem(key, value, f"allowed: {listed}")
            return default
        return value


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING = _Missing()


def _type_names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "an object", Mapping: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _sample(allowed: frozenset[str] | tuple[str, ...]) -> str:
    """A readable hint for long enums (instance types): a few common ones, then the count."""
    common = [t for t in ("ml.t2.medium", "ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge",
                          "ml.g4dn.xlarge") if t in allowed]
    return f"a SageMaker instance type such as {', '.join(common)} ({len(allowed)} known to botocore)"


def load(config: pulumi.Config | None = None, aws_config: pulumi.Config | None = None) -> PlatformConfig:
    """Read and validate the whole platform config for the current stack."""
    config = config or pulumi.Config()
    aws_config = aws_config or pulumi.Config("aws")
    return parse(
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        values=_raw_values(config),
        region=aws_config.get("region"),
    )


_KEYS = ("environment", "approval", "protect", "models", "featureGroups", "alerting",
         "retention", "pullRequest", "expires")


def _raw_values(config: pulumi.Config) -> dict[str, Any]:
    """Every key of the project namespace, structured values decoded from their JSON form.

    All keys, not just the known ones, so that a misspelt key is reported instead of ignored.
    The SDK has no public way to list config keys; its config map is the one the CLI fills.
    """
    import json

    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{config.name}:"
    keys = {k[len(prefix):] for k in {**get_config_env(), **CONFIG.get()} if k.startswith(prefix)}
    values: dict[str, Any] = {}
    for key in sorted(keys):
        raw = config.get(key)
        if raw is None:
            continue
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw  # plain strings such as `environment: dev`
    return values


def parse(project: str, stack: str, values: Mapping[str, Any], region: str | None) -> PlatformConfig:
    """Validate raw config values (as they appear in Pulumi.<stack>.yaml) into a PlatformConfig.

    Separate from `load` so tests and the offline engine can check a config without a runtime.
    Raises ConfigError listing every problem.
    """
    ns = project
    read = _Reader(ns)
    unknown = sorted(set(values) - set(_KEYS))
    for key in unknown:
        read.problem(f"{ns}:{key}", values[key], f"unknown key; known keys: {', '.join(_KEYS)}")

    if not region:
        read.problem("aws:region", _MISSING, "required: the AWS region to deploy to, e.g. us-east-1")
    elif not re.fullmatch(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", region):
        read.problem("aws:region", region, "expected an AWS region name such as us-east-1")

    environment = read.choice(f"{ns}:environment", values, "environment", None, ENVIRONMENTS,
                              required=True)
    defaults = ENVIRONMENT_DEFAULTS.get(environment or "dev", ENVIRONMENT_DEFAULTS["dev"])
    if environment == "preview" and not re.fullmatch(r"pr-\d+", stack):
        read.problem(f"{ns}:environment", environment, "'preview' is only for pr-N stacks")
    if stack.startswith("pr-") and environment not in (None, "preview"):
        read.problem(f"{ns}:environment", environment, f"stack '{stack}' is a pull-request stack: use 'preview'")

    approval = read.choice(f"{ns}:approval", values, "approval", defaults["approval"], APPROVAL_MODES)
    protect = read.typed(f"{ns}:protect", values, "protect", bool, default=defaults["protect"])
    if environment == "prod":
        if approval == "auto":
            read.problem(f"{ns}:approval", approval, "prod requires 'manual' approval")
        if protect is False:
            read.problem(f"{ns}:protect", protect, "prod stateful resources must stay protected (true)")

    namer = Namer(project, stack)
    models = _models(read, ns, values.get("models", _MISSING), environment, namer)
    feature_groups = _feature_groups(read, ns, values.get("featureGroups", []), namer)
    alerting = _alerting(read, ns, values.get("alerting", {}))
    retention = _retention(read, ns, values.get("retention", {}), defaults)
    pull_request = read.typed(f"{ns}:pullRequest", values, "pullRequest", (str, int))
    expires = read.typed(f"{ns}:expires", values, "expires", str)

    if read.problems:
        raise ConfigError(stack, read.problems)
    return PlatformConfig(
        project=project, stack=stack, environment=environment, region=region, approval=approval,
        protect=protect, models=models, feature_groups=feature_groups, alerting=alerting,
        retention=retention, pull_request=None if pull_request is None else str(pull_request),
        expires=expires,
    )


def _each_object(read: _Reader, key: str, raw: Any, required: bool) -> list[tuple[str, Mapping]]:
    """The objects of a config list, with their keys (`ns:models[0]`), reporting malformed ones."""
    if raw is _MISSING:
        if required:
            read.problem(key, _MISSING, "required: a list of objects")
        return []
    if not isinstance(raw, list):
        read.problem(key, raw, "expected a list of objects")
        return []
    items = []
    for index, item in enumerate(raw):
        item_key = f"{key}[{index}]"
        if not isinstance(item, Mapping):
            read.problem(item_key, item, "expected an object")
            continue
        items.append((item_key, item))
    return items


def _unknown_fields(read: _Reader, key: str, raw: Mapping, known: tuple[str, ...]) -> None:
    for name in sorted(set(raw) - set(known)):
        read.problem(f"{key}.{name}", raw[name], f"unknown field; known fields: {', '.join(known)}")


def _name(read: _Reader, key: str, raw: Mapping, purpose_check: Callable[[str], str | None]) -> str | None:
    name = read.typed(key, raw, "name", str, required=True)
    if name is None:
        return None
    if not _NAME_RE.fullmatch(name):
        read.problem(key, name, "use lowercase letters, digits and '-', starting with a letter")
        return None
    why = purpose_check(name)
    if why:
        read.problem(key, name, why)
        return None
    return name


def _fits(namer: Namer, kind: str, purpose_for: Callable[[str], str]) -> Callable[[str], str | None]:
    """A check that the physical name built from a config name fits its AWS limit unshortened.

    Names users type into config (model names) show up in the console, in job names and in
    alarms; shortening them with a hash would make them unrecognisable, so reject instead.
    """
    def check(name: str) -> str | None:
        full = namer.unshortened(purpose_for(name))
        limit = LIMITS[kind].max_length
        if len(full) > limit:
            room = limit - (len(full) - len(name))
            return f"too long: '{full}' exceeds the {limit}-character {kind} limit; use at most {room} characters"
        return None
    return check


MODEL_FIELDS = ("name", "trainingInstanceType", "trainingInstanceCount", "trainingVolumeGb",
                "maxRuntimeSeconds", "hyperparameters", "objectiveMetric", "threshold",
                "retrainSchedule", "endpoint")


def _models(read: _Reader, ns: str, raw: Any, environment: str | None, namer: Namer) -> tuple[ModelConfig, ...]:
    models = []
    seen: set[str] = set()
    items = _each_object(read, f"{ns}:models", raw, required=True)
    if raw is not _MISSING and isinstance(raw, list) and not raw:
        read.problem(f"{ns}:models", raw, "configure at least one model")
    for key, item in items:
        _unknown_fields(read, key, item, MODEL_FIELDS)
        # The longest name derived from a model is its endpoint, "<project>-<stack>-<model>-endpoint".
        name = _name(read, f"{key}.name", item, _fits(namer, "sagemaker", lambda n: f"{n}-endpoint"))
        if name is not None:
            if name in seen:
                read.problem(f"{key}.name", name, "duplicate model name; each model needs its own")
            seen.add(name)
        instance_type = read.choice(f"{key}.trainingInstanceType", item, "trainingInstanceType",
                                    "ml.m5.large", training_instance_types())
        instance_count = read.bounded(f"{key}.trainingInstanceCount", item, "trainingInstanceCount", 1, 1, 100)
        volume = read.bounded(f"{key}.trainingVolumeGb", item, "trainingVolumeGb", 10, 1, 16384)
        runtime = read.bounded(f"{key}.maxRuntimeSeconds", item, "maxRuntimeSeconds", 3600, 60, 28 * 86400)
        hyperparameters = _hyperparameters(read, f"{key}.hyperparameters", item.get("hyperparameters", {}))
        # Only a metric the training container prints can ever be found in a job's final metrics.
        metric = read.choice(f"{key}.objectiveMetric", item, "objectiveMetric", OBJECTIVE_METRIC, METRIC_NAMES)
        threshold = read.typed(f"{key}.threshold", item, "threshold", (int, float), required=True,
                               describe="the objective metric value a version must reach to be registered")
        schedule = read.typed(f"{key}.retrainSchedule", item, "retrainSchedule", str)
        if schedule is not None:
            why = validate_schedule(schedule)
            if why:
                read.problem(f"{key}.retrainSchedule", schedule, why)
                schedule = None
        endpoint = _endpoint(read, f"{key}.endpoint", item.get("endpoint", {}), environment)
        models.append(ModelConfig(
            name=name or "", training_instance_type=instance_type, training_instance_count=instance_count,
            training_volume_gb=volume, max_runtime_seconds=runtime, hyperparameters=hyperparameters,
            objective_metric=metric, threshold=float(threshold) if threshold is not None else 0.0,
            retrain_schedule=schedule, endpoint=endpoint,
        ))
    return tuple(models)


def _hyperparameters(read: _Reader, key: str, raw: Any) -> Mapping[str, str]:
    """SageMaker passes hyperparameters as strings; accept numbers in YAML and stringify them."""
    if not isinstance(raw, Mapping):
        read.problem(key, raw, "expected an object of name: value")
        return {}
    result = {}
    for name, value in raw.items():
        if not _HYPERPARAMETER_KEY_RE.fullmatch(str(name)):
            read.problem(f"{key}.{name}", value, "hyperparameter names are letters, digits, '_', ':', '.', '-'")
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            read.problem(f"{key}.{name}", value, "expected a string or a number")
        elif len(str(value)) > 2500:
            read.problem(f"{key}.{name}", value, "SageMaker limits a hyperparameter value to 2500 characters")
        else:
            result[str(name)] = str(value)
    return dict(sorted(result.items()))


ENDPOINT_FIELDS = ("mode", "instanceType", "instanceCount", "serverlessMemoryMb", "serverlessMaxConcurrency",
                   "variants", "autoscaling", "dataCapturePercent")


def _endpoint(read: _Reader, key: str, raw: Any, environment: str | None) -> EndpointConfig:
    if not isinstance(raw, Mapping):
        read.problem(key, raw, "expected an object")
        raw = {}
    _unknown_fields(read, key, raw, ENDPOINT_FIELDS)
    prod = environment == "prod"
    mode = read.choice(f"{key}.mode", raw, "mode", "instances" if prod else "serverless", ENDPOINT_MODES)
    instance_type = read.choice(f"{key}.instanceType", raw, "instanceType",
                                "ml.m5.large" if prod else "ml.t2.medium", hosting_instance_types())
    count = read.bounded(f"{key}.instanceCount", raw, "instanceCount", 2 if prod else 1, 1, 100)
    if prod and mode == "serverless":
        read.problem(f"{key}.mode", mode, "prod endpoints run on instances (at least two) for availability")
    if prod and count is not None and count < 2:
        read.problem(f"{key}.instanceCount", count, "prod needs at least 2 instances behind the endpoint")
    memory = read.typed(f"{key}.serverlessMemoryMb", raw, "serverlessMemoryMb", int, default=2048)
    if memory not in SERVERLESS_MEMORY_MB:
        read.problem(f"{key}.serverlessMemoryMb", memory, f"allowed: {', '.join(map(str, SERVERLESS_MEMORY_MB))}")
        memory = 2048
    concurrency = read.bounded(f"{key}.serverlessMaxConcurrency", raw, "serverlessMaxConcurrency", 5, 1, 200)
    capture = read.bounded(f"{key}.dataCapturePercent", raw, "dataCapturePercent", 100, 0, 100)
    autoscaling = _autoscaling(read, f"{key}.autoscaling", raw.get("autoscaling", {}), count or 1, prod)
    variants = _variants(read, f"{key}.variants", raw.get("variants", [{"name": "champion", "weight": 1.0}]))
    return EndpointConfig(
        mode=mode, instance_type=instance_type, instance_count=count, serverless_memory_mb=memory,
        serverless_max_concurrency=concurrency, variants=variants, autoscaling=autoscaling,
        data_capture_percent=capture,
    )


def _autoscaling(read: _Reader, key: str, raw: Any, instance_count: int, prod: bool) -> AutoscalingConfig:
    if not isinstance(raw, Mapping):
        read.problem(key, raw, "expected an object with minCapacity, maxCapacity, targetInvocationsPerInstance")
        raw = {}
    _unknown_fields(read, key, raw, ("minCapacity", "maxCapacity", "targetInvocationsPerInstance"))
    low = read.bounded(f"{key}.minCapacity", raw, "minCapacity", instance_count, 1, 100)
    high = read.bounded(f"{key}.maxCapacity", raw, "maxCapacity", max(instance_count * 2, 2), 1, 100)
    target = read.bounded(f"{key}.targetInvocationsPerInstance", raw, "targetInvocationsPerInstance", 100, 1, 100000)
    if low is not None and high is not None and low > high:
        read.problem(f"{key}.minCapacity", low, f"must not exceed maxCapacity ({high})")
    if prod and low is not None and low < 2:
        read.problem(f"{key}.minCapacity", low, "prod keeps at least 2 instances")
    return AutoscalingConfig(low, high, target)


def _variants(read: _Reader, key: str, raw: Any) -> tuple[VariantConfig, ...]:
    variants = []
    seen: set[str] = set()
    items = _each_object(read, key, raw, required=True)
    if isinstance(raw, list) and not raw:
        read.problem(key, raw, "an endpoint needs at least one variant")
    for item_key, item in items:
        _unknown_fields(read, item_key, item, ("name", "weight", "modelVersion"))
        name = read.typed(f"{item_key}.name", item, "name", str, required=True)
        if name is not None:
            if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name):
                read.problem(f"{item_key}.name", name, "variant names are letters, digits and '-', at most 63")
            elif name in seen:
                read.problem(f"{item_key}.name", name, "duplicate variant name")
            seen.add(name)
        weight = read.bounded(f"{item_key}.weight", item, "weight", None, 0, 1, kind=(int, float), required=True)
        version = read.bounded(f"{item_key}.modelVersion", item, "modelVersion", None, 1, 10**6)
        variants.append(VariantConfig(name or "", float(weight) if weight is not None else 0.0, version))
    weights = [v.weight for v in variants]
    if variants and all(w is not None for w in weights) and abs(sum(weights) - 1.0) > _WEIGHT_TOLERANCE:
        read.problem(key, [f"{v.name}={v.weight}" for v in variants], f"weights must sum to 1, they sum to {sum(weights):g}")
    return tuple(variants)


FEATURE_GROUP_FIELDS = ("name", "recordIdentifier", "eventTime", "features", "onlineStore", "offlineStore")


def _feature_groups(read: _Reader, ns: str, raw: Any, namer: Namer) -> tuple[FeatureGroupConfig, ...]:
    groups = []
    seen: set[str] = set()
    for key, item in _each_object(read, f"{ns}:featureGroups", raw, required=False):
        _unknown_fields(read, key, item, FEATURE_GROUP_FIELDS)
        name = _name(read, f"{key}.name", item, _fits(namer, "feature_group", lambda n: n))
        if name is not None:
            if name in seen:
                read.problem(f"{key}.name", name, "duplicate feature group name")
            seen.add(name)
        record_id = read.typed(f"{key}.recordIdentifier", item, "recordIdentifier", str, required=True)
        event_time = read.typed(f"{key}.eventTime", item, "eventTime", str, required=True)
        features = []
        feature_names: set[str] = set()
        for fkey, fitem in _each_object(read, f"{key}.features", item.get("features", _MISSING), required=True):
            _unknown_fields(read, fkey, fitem, ("name", "type"))
            fname = read.typed(f"{fkey}.name", fitem, "name", str, required=True)
            ftype = read.choice(f"{fkey}.type", fitem, "type", None, FEATURE_TYPES, required=True)
            if fname is not None:
                if not _FEATURE_NAME_RE.fullmatch(fname):
                    read.problem(f"{fkey}.name", fname, "feature names are letters, digits, '-' and '_', at most 64")
                elif fname in feature_names:
                    read.problem(f"{fkey}.name", fname, "duplicate feature name")
                feature_names.add(fname)
            features.append(FeatureDefinition(fname or "", ftype or "String"))
        for field_name, value in (("recordIdentifier", record_id), ("eventTime", event_time)):
            if value is not None and features and value not in feature_names:
                read.problem(f"{key}.{field_name}", value, f"must name one of the features: {', '.join(sorted(feature_names))}")
        online = read.typed(f"{key}.onlineStore", item, "onlineStore", bool, default=True)
        offline = read.typed(f"{key}.offlineStore", item, "offlineStore", bool, default=True)
        if online is False and offline is False:
            read.problem(f"{key}.onlineStore", online, "a feature group needs an online store, an offline store, or both")
        groups.append(FeatureGroupConfig(name or "", record_id or "", event_time or "", tuple(features), online, offline))
    return tuple(groups)


def _alerting(read: _Reader, ns: str, raw: Any) -> AlertingConfig:
    key = f"{ns}:alerting"
    if not isinstance(raw, Mapping):
        read.problem(key, raw, "expected an object with 'emails'")
        return AlertingConfig()
    _unknown_fields(read, key, raw, ("emails",))
    emails = read.typed(f"{key}.emails", raw, "emails", list, default=[])
    seen: set[str] = set()
    for index, email in enumerate(emails):
        if not isinstance(email, str) or not _EMAIL_RE.fullmatch(email):
            read.problem(f"{key}.emails[{index}]", email, "expected an email address")
        elif email.lower() in seen:
            # Mailboxes are case-insensitive in practice; SNS would mail the same person twice.
            read.problem(f"{key}.emails[{index}]", email, "duplicate address (addresses compare without case)")
        else:
            seen.add(email.lower())
    return AlertingConfig(tuple(e for e in emails if isinstance(e, str)))


def _retention(read: _Reader, ns: str, raw: Any, defaults: Mapping[str, Any]) -> RetentionConfig:
    key = f"{ns}:retention"
    if not isinstance(raw, Mapping):
        read.problem(key, raw, "expected an object")
        raw = {}
    _unknown_fields(read, key, raw, ("modelVersionsToKeep", "logRetentionDays", "imagesToKeep"))
    keep = read.bounded(f"{key}.modelVersionsToKeep", raw, "modelVersionsToKeep", defaults["modelVersionsToKeep"], 1, 1000)
    days = read.typed(f"{key}.logRetentionDays", raw, "logRetentionDays", int, default=defaults["logRetentionDays"])
    if days not in LOG_RETENTION_DAYS:
        read.problem(f"{key}.logRetentionDays", days, f"CloudWatch Logs allows: {', '.join(map(str, LOG_RETENTION_DAYS))}")
        days = defaults["logRetentionDays"]
    images = read.bounded(f"{key}.imagesToKeep", raw, "imagesToKeep", 10, 1, 1000)
    return RetentionConfig(keep, days, images)
