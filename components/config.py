"""The platform's typed stack configuration.

Everything the program needs from `Pulumi.<stack>.yaml` is read here, once, into frozen
dataclasses. Validation collects every problem before raising, so an operator fixing a broken
stack file sees the whole list in one run instead of one error per `pulumi up`. Nothing here
registers resources: a bad config never reaches AWS.

What is production is decided by the stack's name (components/environments.py), never by a key
in its file: `environment` is an optional declaration that must agree with the stack.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
import math
import re
import types
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import environments
from components.naming import LIMITS, Namer
from containers.contracts import hyperparameters as hyperparameter_schema
from containers.contracts.metrics import METRIC_NAMES, METRIC_SPECS, OBJECTIVE_METRIC, MetricSpec

ENVIRONMENTS = environments.ENVIRONMENTS
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
# AWS tagging rules (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html): keys
# up to 128 and values up to 256 characters of `^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`, the set SageMaker
# enforces and the strictest that most services share.
TAG_KEY_MAX_LENGTH = 128
TAG_VALUE_MAX_LENGTH = 256
_TAG_PUNCTUATION = frozenset("_.:/=+-@")
PULUMI_NAMESPACE = "pulumi"
"""The engine's own settings (`pulumi:disable-default-providers`); passed through, not checked."""
AWS_NAMESPACE = "aws"
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_FEATURE_NAME_RE = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REGION_RE = re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d")
_HYPERPARAMETER_VALUE_MAX_LENGTH = 2500  # CreateTrainingJob HyperParameters value limit
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


@functools.cache
def aws_provider_config_keys() -> frozenset[str]:
    """The `aws:` config keys the AWS provider reads, from the provider SDK itself.

    pulumi_aws.config.vars defines one property per key (`skip_credentials_validation` reads
    `skipCredentialsValidation`), so a provider upgrade brings its new keys along and a typo
    such as `aws:regoin` is reported instead of silently ignored.
    """
    import pulumi_aws  # noqa: F401 - the package must initialise before its config module imports
    from pulumi_aws.config import vars as provider_vars

    config_class = next(value for value in vars(provider_vars).values()
                        if isinstance(value, type) and issubclass(value, types.ModuleType) and value is not types.ModuleType)
    return frozenset(re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)
                     for name, value in vars(config_class).items() if isinstance(value, property))


def tag_value_problem(value: str) -> str | None:
    """Why AWS would refuse `value` as a tag value, or None."""
    if len(value) > TAG_VALUE_MAX_LENGTH:
        return f"{len(value)} characters; AWS tag values hold at most {TAG_VALUE_MAX_LENGTH}"
    refused = sorted({c for c in value if c not in _TAG_PUNCTUATION and unicodedata.category(c)[0] not in "LZN"})
    if refused:
        return f"AWS tag values allow letters, digits, spaces and _ . : / = + - @, not {''.join(refused)!r}"
    return None


def platform_tags(project: str, stack: str, environment: str, pull_request: str | None = None,
                  expires: str | None = None) -> dict[str, str]:
    """The tags every taggable resource carries (the provider's default tags)."""
    tags = {"Project": project, "Environment": environment, "Stack": stack, "ManagedBy": "pulumi"}
    if pull_request:
        tags["PullRequest"] = pull_request
    if expires:
        tags["Expires"] = expires
    return tags


@dataclass(frozen=True)
class VariantConfig:
    """One production variant of an endpoint: a model version and its share of traffic."""

    name: str
    weight: float
    # Registry version number to serve; None until the first training run registers one.
    model_version: int | None = None
    # The version it served before its last rollout, written by `automation/models.py rollout`
    # so `models.py rollback` can return to it; the program never deploys it.
    previous_model_version: int | None = None


@dataclass(frozen=True)
class AutoscalingConfig:
    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: int


@dataclass(frozen=True)
class BusinessMetricConfig:
    """The optional business metric of an experiment: one CloudWatch datum per labelled prediction
    (1 a success, 0 not), posted by the application per variant (docs/runbook.md, section 3)."""

    metric_name: str
    min_samples_per_variant: int
    significance: float


@dataclass(frozen=True)
class ExperimentConfig:
    """An A/B experiment between the endpoint's variants `champion` and `challenger`, judged by the
    promotion pipeline (components/promotion.py) with functions/promotion/decision.py's rule.
    `automation/experiments.py start` writes it, `apply` and `stop` remove it."""

    started_at: str  # ISO 8601 UTC, YYYY-MM-DDTHH:MM:SSZ: evidence counts from here
    min_invocations_per_variant: int
    error_rate_significance: float
    p99_latency_tolerance_percent: float
    schedule: str  # EventBridge schedule of the promotion pipeline
    business_metric: BusinessMetricConfig | None = None


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
    # An A/B experiment in progress; None when the endpoint serves without one.
    experiment: ExperimentConfig | None = None

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

    @property
    def objective_spec(self) -> MetricSpec:
        """The objective metric's direction and range: `threshold` is a floor for a maximised
        metric (register when value >= threshold) and a ceiling for a loss (value <= threshold)."""
        return METRIC_SPECS[self.objective_metric]

    def reaches_threshold(self, value: float) -> bool:
        """Whether a trained version with this objective value may be registered."""
        return self.objective_spec.reaches(value, self.threshold)


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
    # Online records expire this many days after their event time (SageMaker's TtlDuration);
    # None keeps them until overwritten. The only setting here a deployed group can change.
    online_ttl_days: int | None = None
    # FeatureFreshnessSeconds above this many hours raises the group's freshness alarm.
    freshness_max_hours: int = 24

    def feature(self, name: str) -> FeatureDefinition | None:
        return next((f for f in self.features if f.name == name), None)


@dataclass(frozen=True)
class FeatureStoreConfig:
    """How the feature store's functions run (components/feature_store.py, functions/)."""

    # PutRecord calls in flight at once, per ingestion.
    ingest_concurrency: int = 8
    # Attempts per record when Feature Store throttles or fails (5xx), the first included.
    ingest_max_attempts: int = 6
    # The ingestion function's Lambda timeout; it stops taking new rows this long before it.
    ingest_timeout_seconds: int = 300
    ingest_memory_mb: int = 512
    # How often the freshness function measures every group (also the freshness alarm's period).
    freshness_check_minutes: int = 15


@dataclass(frozen=True)
class AlertingConfig:
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetentionConfig:
    model_versions_to_keep: int
    log_retention_days: int


@dataclass(frozen=True)
class PlatformConfig:
    project: str
    stack: str
    environment: str  # always environments.environment_of(stack)
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
    feature_store: FeatureStoreConfig = field(default_factory=FeatureStoreConfig)
    namer: Namer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The stack decides the environment; a config claiming otherwise must never be built.
        if self.environment != environments.environment_of(self.stack):
            raise ValueError(f"stack '{self.stack}' is {environments.environment_of(self.stack)}, "
                             f"not {self.environment} (see components/environments.py)")
        object.__setattr__(self, "namer", Namer(self.project, self.stack))

    @property
    def is_prod(self) -> bool:
        return environments.is_production(self.stack)

    @property
    def auto_approve(self) -> bool:
        return self.approval == "auto" and not self.is_prod

    @property
    def force_destroy(self) -> bool:
        """Buckets may be emptied on destroy everywhere but prod."""
        return not self.is_prod

    @property
    def tags(self) -> dict[str, str]:
        """The tags every taggable resource carries, applied as the provider's default tags."""
        return platform_tags(self.project, self.stack, self.environment, self.pull_request, self.expires)

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(f"no model named {name!r}; configured: {[m.name for m in self.models]}")


@dataclass(frozen=True)
class CronField:
    """One field of an EventBridge cron expression, as the EventBridge user guide defines it
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html)."""

    label: str
    low: int
    high: int
    what: str  # how messages name an allowed value
    names: tuple[str, ...] = ()  # names[i] stands for the value low + i
    increments: bool = True  # the `/` wildcard
    any: bool = False  # the `?` wildcard
    forms: tuple[str, ...] = ()  # the field's own wildcards (L, W, #), as regexes over one item


CRON_FIELDS = (
    CronField("minute", 0, 59, "a minute (0-59)"),
    CronField("hour", 0, 23, "an hour (0-23)"),
    CronField("day-of-month", 1, 31, "a day of the month (1-31)", any=True,
              forms=(r"L", r"(?P<value>[0-9]+)W")),
    CronField("month", 1, 12, "a month (1-12 or JAN-DEC)",
              names=("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    CronField("day-of-week", 1, 7, "a day of the week (1-7 or SUN-SAT)",
              names=("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), increments=False, any=True,
              forms=(r"L", r"(?P<value>[0-9A-Z]+)L", r"(?P<value>[0-9A-Z]+)#[1-5]")),
    CronField("year", 1970, 2199, "a year (1970-2199)"),
)


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
    if len(fields) != len(CRON_FIELDS):
        return f"cron needs 6 fields (min hour day-of-month month day-of-week year), got {len(fields)}"
    for spec, text in zip(CRON_FIELDS, fields, strict=True):
        why = _cron_field_problem(spec, text)
        if why:
            return f"cron {spec.label} field {text!r} is not valid: {why}"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return "cron needs '?' in exactly one of day-of-month and day-of-week"
    return None


def _cron_field_problem(spec: CronField, text: str) -> str | None:
    if text == "?":
        return None if spec.any else "'?' is only for day-of-month and day-of-week"
    items = text.split(",")
    if "#" in text and len(items) > 1:
        return "an expression with '#' must be the only one in its field"
    for item in items:
        why = _cron_item_problem(spec, item)
        if why:
            return why
    return None


def _cron_item_problem(spec: CronField, item: str) -> str | None:
    base, slash, step = item.partition("/")
    if slash and not spec.increments:
        return f"'/' is not allowed in {spec.label}"
    if slash and not (step.isdigit() and 1 <= int(step) <= spec.high):
        return f"the increment in {item!r} must be a whole number from 1 to {spec.high}"
    for form in spec.forms:
        match = re.fullmatch(form, base)
        if match:
            value = match.groupdict().get("value")
            if slash:
                return f"{base!r} takes no increment"
            return None if value is None or _cron_value(spec, value) is not None else f"{value!r} is not {spec.what}"
    if base == "*":
        return None
    start, dash, end = base.partition("-")
    for token in (start, end) if dash else (start,):
        if _cron_value(spec, token) is None:
            return f"{token!r} is not {spec.what}"
    return None


def _cron_value(spec: CronField, token: str) -> int | None:
    if token in spec.names:
        return spec.low + spec.names.index(token)
    if token.isascii() and token.isdigit() and spec.low <= int(token) <= spec.high:
        return int(token)
    return None


@dataclass(frozen=True)
class Number:
    """One numeric field of an object: its name, default and allowed range.

    The field tables below (`MODEL_NUMBERS`, `ENDPOINT_NUMBERS`, ...) are read with
    `_Reader.numbers`; a default of None means the caller supplies it (it depends on other values).
    """

    name: str
    default: int | float | None
    low: float
    high: float
    kind: type | tuple[type, ...] = int
    required: bool = False


class _Reader:
    """Reads raw config values and records every problem instead of stopping at the first."""

    def __init__(self, namespace: str):
        self.namespace = namespace
        self.problems: list[str] = []

    def problem(self, key: str, value: Any, allowed: str) -> None:
        shown = "(missing)" if value is _MISSING else repr(value)
        self.problems.append(f"{key}: got {shown}; {allowed}")

    def note(self, key: str, text: str) -> None:
        """A problem stated without the value (the value is too big, or the text names it)."""
        self.problems.append(f"{key}: {text}")

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
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(key, value, "expected a finite number")
            return default
        return value

    def bounded(self, key: str, raw: Mapping[str, Any], spec: Number, default: Any) -> Any:
        value = self.typed(key, raw, spec.name, spec.kind, default=default, required=spec.required)
        if value is not None and not spec.low <= value <= spec.high:
            self.problem(key, value, f"must be between {_plain_number(spec.low)} and {_plain_number(spec.high)}")
            return default
        return value

    def numbers(self, key: str, raw: Mapping[str, Any], specs: tuple[Number, ...], **defaults: Any) -> dict[str, Any]:
        """Every field of a `Number` table; `defaults` supplies or overrides defaults by name."""
        return {spec.name: self.bounded(f"{key}.{spec.name}", raw, spec, defaults.get(spec.name, spec.default))
                for spec in specs}

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


def _plain_number(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


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


def load() -> PlatformConfig:
    """Read and validate the whole platform config for the current stack.

    Every key the CLI passed is read (the SDK has no public way to list them; its config map is
    the one the CLI fills), so a misspelt key or namespace is reported instead of ignored.
    """
    from pulumi.runtime.config import CONFIG, get_config_env

    return parse_cli_config(pulumi.get_project(), pulumi.get_stack(), {**get_config_env(), **CONFIG.get()})


_KEYS = ("environment", "approval", "protect", "models", "featureGroups", "featureStore", "alerting",
         "retention", "pullRequest", "expires")


def parse_cli_config(project: str, stack: str, config: Mapping[str, Any]) -> PlatformConfig:
    """Validate the config as the CLI hands it to the program: {"namespace:key": text or JSON}.

    Keys are `<project>:key` (a bare `key` is the project's), `aws:key` (the provider's own
    settings, checked against the provider's keys) or `pulumi:key` (the engine's). Any other
    namespace is a problem naming the likely intended one. Raises ConfigError listing every problem.
    """
    values: dict[str, Any] = {}
    aws: dict[str, Any] = {}
    problems = []
    for key in sorted(config):
        namespace, separator, name = key.partition(":")
        if not separator:
            namespace, name = project, key
        why = _namespace_problem(project, namespace, name)
        if why:
            problems.append(f"{key}: {why}")
        elif namespace in (project, AWS_NAMESPACE):
            (values if namespace == project else aws)[name] = _decode(config[key])
    try:
        platform = parse(project, stack, values, aws.get("region"))
    except ConfigError as error:
        raise ConfigError(stack, problems + error.problems) from None
    if problems:
        raise ConfigError(stack, problems)
    return platform


def _decode(raw: Any) -> Any:
    """Structured values arrive as JSON text; plain strings (`environment: dev`) as themselves."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _namespace_problem(project: str, namespace: str, name: str) -> str | None:
    if namespace in (project, PULUMI_NAMESPACE):
        return None
    if namespace == AWS_NAMESPACE:
        known = aws_provider_config_keys()
        if name in known:
            return None
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean 'aws:{close[0]}'?" if close else ""
        return f"not a setting of the AWS provider{hint} (its settings are listed in pulumi_aws.config)"
    close = difflib.get_close_matches(namespace, [project, AWS_NAMESPACE], n=1, cutoff=0.5)
    guess = f"did you mean '{close[0]}:{name}'? " if close else ""
    return (f"unknown namespace '{namespace}'; {guess}Keys are '{project}:<key>' (or just '<key>') for the "
            f"platform and '{AWS_NAMESPACE}:<key>' for the AWS provider")


def parse(project: str, stack: str, values: Mapping[str, Any], region: Any) -> PlatformConfig:
    """Validate raw config values (as they appear in Pulumi.<stack>.yaml) into a PlatformConfig.

    Separate from `load` so tests and the offline engine can check a config without a runtime.
    Raises ConfigError listing every problem.
    """
    ns = project
    read = _Reader(ns)
    unknown = sorted(set(values) - set(_KEYS))
    for key in unknown:
        read.problem(f"{ns}:{key}", values[key], f"unknown key; known keys: {', '.join(_KEYS)}")

    if region is None:
        read.problem("aws:region", _MISSING, "required: the AWS region to deploy to, e.g. us-east-1")
    elif not isinstance(region, str) or not _REGION_RE.fullmatch(region):
        read.problem("aws:region", region, "expected an AWS region name such as us-east-1")

    environment = _environment(read, ns, stack, values)
    defaults = ENVIRONMENT_DEFAULTS[environment]
    prod = environments.is_production(stack)
    approval = read.choice(f"{ns}:approval", values, "approval", defaults["approval"], APPROVAL_MODES)
    protect = read.typed(f"{ns}:protect", values, "protect", bool, default=defaults["protect"])
    if prod and approval == "auto":
        read.problem(f"{ns}:approval", approval, "prod requires 'manual' approval")
    if prod and protect is False:
        read.problem(f"{ns}:protect", protect, "prod stateful resources must stay protected (true)")

    namer = Namer(project, stack)
    models = _models(read, ns, values.get("models", _MISSING), prod, namer)
    feature_groups = _feature_groups(read, ns, values.get("featureGroups", []), namer)
    feature_store = _feature_store(read, ns, values.get("featureStore", {}))
    alerting = _alerting(read, ns, values.get("alerting", {}))
    retention = _retention(read, ns, values.get("retention", {}), defaults)
    pull_request, expires = _pull_request(read, ns, stack, values)
    _check_tags(read, ns, platform_tags(project, stack, environment, pull_request, expires))

    if read.problems:
        raise ConfigError(stack, read.problems)
    return PlatformConfig(
        project=project, stack=stack, environment=environment, region=region, approval=approval,
        protect=protect, models=models, feature_groups=feature_groups, alerting=alerting,
        retention=retention, pull_request=pull_request, expires=expires, feature_store=feature_store,
    )


def _environment(read: _Reader, ns: str, stack: str, values: Mapping[str, Any]) -> str:
    """The stack's environment; `environment` in the file may only confirm it."""
    actual = environments.environment_of(stack)
    key = f"{ns}:environment"
    declared = read.choice(key, values, "environment", None, ENVIRONMENTS)
    if declared is None or declared == actual:
        return actual
    if actual == environments.PROD:
        why = (f"stack '{stack}' is production (PRODUCTION_STACKS in components/environments.py) and always gets "
               "the prod rules: declare 'prod' or leave the key out")
    elif declared == environments.PROD:
        why = (f"the stack's name decides what is production, and '{stack}' is not: to make it production, add "
               f"'{stack}' to PRODUCTION_STACKS in components/environments.py")
    elif declared == environments.PREVIEW:
        why = "'preview' is only for pr-N stacks"
    else:
        why = f"stack '{stack}' is a pull-request stack: use 'preview'"
    read.problem(key, declared, why)
    return actual


def _pull_request(read: _Reader, ns: str, stack: str, values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """`pullRequest` and `expires`: required on pr-N stacks (deploy.py writes them), refused elsewhere."""
    number = environments.pull_request_number(stack)
    if number is None:
        for name in ("pullRequest", "expires"):
            if values.get(name) is not None:
                read.problem(f"{ns}:{name}", values[name], f"only pull-request stacks (pr-<number>) carry it, and "
                                                           f"'{stack}' is not one: remove it")
        return None, None
    pull_request = read.typed(f"{ns}:pullRequest", values, "pullRequest", (str, int), required=True,
                              describe=f"'{number}', the pull request of stack '{stack}'")
    if pull_request is not None and str(pull_request) != str(number):
        read.problem(f"{ns}:pullRequest", pull_request, f"stack '{stack}' belongs to pull request {number}: use '{number}'")
        pull_request = None
    expires = read.typed(f"{ns}:expires", values, "expires", str, required=True,
                         describe="the date (YYYY-MM-DD) after which the preview may be destroyed")
    if expires is not None and not _is_iso_date(expires):
        read.problem(f"{ns}:expires", expires, "expected an ISO date, YYYY-MM-DD")
        expires = None
    return (None if pull_request is None else str(pull_request)), expires


def _is_iso_date(text: str) -> bool:
    if not _ISO_DATE_RE.fullmatch(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


# Which setting each tag's value comes from, for the problem line.
_TAG_SOURCES = {"Project": "project name (Pulumi.yaml)", "Stack": "stack name", "Environment": "environment",
                "PullRequest": "pullRequest", "Expires": "expires", "ManagedBy": "ManagedBy"}


def _check_tags(read: _Reader, ns: str, tags: Mapping[str, str]) -> None:
    for tag, value in tags.items():
        source = _TAG_SOURCES[tag]
        key = f"{ns}:{source}" if source in _KEYS else source
        if len(tag) > TAG_KEY_MAX_LENGTH:
            read.problem(key, tag, f"AWS tag keys hold at most {TAG_KEY_MAX_LENGTH} characters")
        why = tag_value_problem(value)
        if why:
            read.problem(key, value, f"becomes the {tag} tag: {why}")


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
MODEL_NUMBERS = (
    Number("trainingInstanceCount", 1, 1, 100),
    Number("trainingVolumeGb", 10, 1, 16384),
    Number("maxRuntimeSeconds", 3600, 60, 28 * 86400),  # SageMaker's MaxRuntimeInSeconds limit
)


def _models(read: _Reader, ns: str, raw: Any, prod: bool, namer: Namer) -> tuple[ModelConfig, ...]:
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
        numbers = read.numbers(key, item, MODEL_NUMBERS)
        hyperparameters = _hyperparameters(read, f"{key}.hyperparameters", item.get("hyperparameters", {}))
        # Only a metric the training container prints can ever be found in a job's final metrics.
        metric = read.choice(f"{key}.objectiveMetric", item, "objectiveMetric", OBJECTIVE_METRIC, METRIC_NAMES)
        threshold = _threshold(read, f"{key}.threshold", item, METRIC_SPECS[metric])
        schedule = read.typed(f"{key}.retrainSchedule", item, "retrainSchedule", str)
        if schedule is not None:
            why = validate_schedule(schedule)
            if why:
                read.problem(f"{key}.retrainSchedule", schedule, why)
                schedule = None
        endpoint = _endpoint(read, f"{key}.endpoint", item.get("endpoint", {}), prod)
        models.append(ModelConfig(
            name=name or "", training_instance_type=instance_type,
            training_instance_count=numbers["trainingInstanceCount"], training_volume_gb=numbers["trainingVolumeGb"],
            max_runtime_seconds=numbers["maxRuntimeSeconds"], hyperparameters=hyperparameters,
            objective_metric=metric, threshold=threshold, retrain_schedule=schedule, endpoint=endpoint,
        ))
    return tuple(models)


def _threshold(read: _Reader, key: str, raw: Mapping[str, Any], spec: MetricSpec) -> float:
    """The objective value a version must reach: finite, within the metric's range."""
    direction = "at least" if spec.comparison == ">=" else "at most"
    threshold = read.typed(key, raw, "threshold", (int, float), required=True,
                           describe=f"a version is registered when its {spec.name} is {direction} this value")
    if threshold is None:
        return 0.0
    if not spec.low <= threshold <= spec.high:
        read.problem(key, threshold, f"{spec.name} lies in {spec.describe_range()}; a version is registered when "
                                     f"{spec.name} {spec.comparison} threshold, so pick a value in that range")
        return 0.0
    return float(threshold)


def _hyperparameters(read: _Reader, key: str, raw: Any) -> Mapping[str, str]:
    """SageMaker passes hyperparameters as strings; accept numbers in YAML and stringify them,
    then check them with the training container's own schema (containers/contracts)."""
    if not isinstance(raw, Mapping):
        read.problem(key, raw, "expected an object of name: value")
        return {}
    result = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            read.problem(f"{key}.{name}", value, "expected a string or a number")
        elif len(str(value)) > _HYPERPARAMETER_VALUE_MAX_LENGTH:
            read.problem(f"{key}.{name}", value, "SageMaker limits a hyperparameter value to 2500 characters")
        else:
            result[str(name)] = str(value)
    for problem in hyperparameter_schema.problems_of(result):
        read.note(key, problem)
    return dict(sorted(result.items()))


ENDPOINT_FIELDS = ("mode", "instanceType", "instanceCount", "serverlessMemoryMb", "serverlessMaxConcurrency",
                   "variants", "autoscaling", "dataCapturePercent", "experiment")
ENDPOINT_NUMBERS = (
    Number("instanceCount", None, 1, 100),  # default: 2 in prod, else 1
    Number("serverlessMaxConcurrency", 5, 1, 200),
    Number("dataCapturePercent", 100, 0, 100),
)


def _endpoint(read: _Reader, key: str, raw: Any, prod: bool) -> EndpointConfig:
    if not isinstance(raw, Mapping):
        read.problem(key, raw, "expected an object")
        raw = {}
    _unknown_fields(read, key, raw, ENDPOINT_FIELDS)
    mode = read.choice(f"{key}.mode", raw, "mode", "instances" if prod else "serverless", ENDPOINT_MODES)
    instance_type = read.choice(f"{key}.instanceType", raw, "instanceType",
                                "ml.m5.large" if prod else "ml.t2.medium", hosting_instance_types())
    numbers = read.numbers(key, raw, ENDPOINT_NUMBERS, instanceCount=2 if prod else 1)
    count = numbers["instanceCount"]
    if prod and mode == "serverless":
        read.problem(f"{key}.mode", mode, "prod endpoints run on instances (at least two) for availability")
    if prod and count is not None and count < 2:
        read.problem(f"{key}.instanceCount", count, "prod needs at least 2 instances behind the endpoint")
    memory = read.typed(f"{key}.serverlessMemoryMb", raw, "serverlessMemoryMb", int, default=2048)
    if memory not in SERVERLESS_MEMORY_MB:
        read.problem(f"{key}.serverlessMemoryMb", memory, f"allowed: {', '.join(map(str, SERVERLESS_MEMORY_MB))}")
        memory = 2048
    autoscaling = _autoscaling(read, f"{key}.autoscaling", raw.get("autoscaling", {}), count or 1, prod)
    variants = _variants(read, f"{key}.variants", raw.get("variants", [{"name": "champion", "weight": 1.0}]))
    if mode == "serverless":
        _serverless_limits(read, key, raw, variants)
    experiment = _experiment(read, f"{key}.experiment", raw["experiment"], variants) \
        if raw.get("experiment") is not None else None
    return EndpointConfig(
        mode=mode, instance_type=instance_type, instance_count=count, serverless_memory_mb=memory,
        serverless_max_concurrency=numbers["serverlessMaxConcurrency"], variants=variants, autoscaling=autoscaling,
        data_capture_percent=numbers["dataCapturePercent"], experiment=experiment,
    )


def _serverless_limits(read: _Reader, key: str, raw: Mapping, variants: tuple[VariantConfig, ...]) -> None:
    """What SageMaker refuses on a serverless endpoint ("Deploy models with Amazon SageMaker
    Serverless Inference", feature exclusions: multiple production variants, data capture,
    network isolation...), said here rather than by a failed deploy."""
    if len(variants) > 1:
        read.problem(f"{key}.variants", [v.name for v in variants],
                     "a serverless endpoint serves one variant (SageMaker's serverless feature exclusions); "
                     "A/B variants need mode: instances")
    if "dataCapturePercent" in raw:
        read.problem(f"{key}.dataCapturePercent", raw["dataCapturePercent"],
                     "serverless endpoints cannot capture data (SageMaker's serverless feature exclusions); "
                     "remove it, or use mode: instances to capture requests for drift detection")


AUTOSCALING_NUMBERS = (
    Number("minCapacity", None, 1, 100),  # default: the endpoint's instance count
    Number("maxCapacity", None, 1, 100),  # default: twice that, at least 2
    Number("targetInvocationsPerInstance", 100, 1, 100000),
)


def _autoscaling(read: _Reader, key: str, raw: Any, instance_count: int, prod: bool) -> AutoscalingConfig:
    if not isinstance(raw, Mapping):
        read.problem(key, raw, "expected an object with minCapacity, maxCapacity, targetInvocationsPerInstance")
        raw = {}
    _unknown_fields(read, key, raw, tuple(spec.name for spec in AUTOSCALING_NUMBERS))
    numbers = read.numbers(key, raw, AUTOSCALING_NUMBERS, minCapacity=instance_count,
                           maxCapacity=max(instance_count * 2, 2))
    low, high = numbers["minCapacity"], numbers["maxCapacity"]
    if low is not None and high is not None and low > high:
        read.problem(f"{key}.minCapacity", low, f"must not exceed maxCapacity ({high})")
    if prod and low is not None and low < 2:
        read.problem(f"{key}.minCapacity", low, "prod keeps at least 2 instances")
    return AutoscalingConfig(low, high, numbers["targetInvocationsPerInstance"])


# Each variant has two rollback alarms (components/inference_endpoint.py), and the
# AutoRollbackConfig of a rollout takes at most 10 (SageMaker API reference).
MAX_VARIANTS = 5
VARIANT_NUMBERS = (
    Number("weight", None, 0, 1, kind=(int, float), required=True),
    Number("modelVersion", None, 1, 10**6),
    Number("previousModelVersion", None, 1, 10**6),
)


def _variants(read: _Reader, key: str, raw: Any) -> tuple[VariantConfig, ...]:
    variants = []
    seen: set[str] = set()
    items = _each_object(read, key, raw, required=True)
    if isinstance(raw, list) and not raw:
        read.problem(key, raw, "an endpoint needs at least one variant")
    if isinstance(raw, list) and len(raw) > MAX_VARIANTS:
        read.problem(key, len(raw), f"at most {MAX_VARIANTS} variants: each has two rollback alarms and a rollout "
                     "watches at most 10 (SageMaker's AutoRollbackConfig)")
    for item_key, item in items:
        _unknown_fields(read, item_key, item, ("name", "weight", "modelVersion", "previousModelVersion"))
        name = read.typed(f"{item_key}.name", item, "name", str, required=True)
        if name is not None:
            if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name):
                read.problem(f"{item_key}.name", name, "variant names are letters, digits and '-', at most 63")
            elif name in seen:
                read.problem(f"{item_key}.name", name, "duplicate variant name")
            seen.add(name)
        numbers = read.numbers(item_key, item, VARIANT_NUMBERS)
        weight = numbers["weight"]
        variants.append(VariantConfig(name or "", float(weight) if weight is not None else 0.0, numbers["modelVersion"],
                                      numbers["previousModelVersion"]))
    versioned = [v.name for v in variants if v.model_version is not None]
    if versioned and len(versioned) != len(variants):
        read.problem(key, [v.name for v in variants if v.model_version is None],
                     "every variant needs a modelVersion, or none does (then the endpoint is not deployed yet)")
    weights = [v.weight for v in variants]
    if variants and all(w is not None for w in weights) and abs(sum(weights) - 1.0) > _WEIGHT_TOLERANCE:
        read.problem(key, [f"{v.name}={v.weight}" for v in variants], f"weights must sum to 1, they sum to {sum(weights):g}")
    return tuple(variants)


EXPERIMENT_FIELDS = ("startedAt", "minInvocationsPerVariant", "errorRateSignificance", "p99LatencyTolerancePercent",
                     "schedule", "businessMetric")
EXPERIMENT_NUMBERS = (
    Number("minInvocationsPerVariant", 1000, 10, 10**9),
    Number("errorRateSignificance", 0.05, 0.001, 0.2, kind=(int, float)),
    Number("p99LatencyTolerancePercent", 10, 0, 1000, kind=(int, float)),
)
BUSINESS_METRIC_FIELDS = ("metricName", "minSamplesPerVariant", "significance")
BUSINESS_METRIC_NUMBERS = (
    Number("minSamplesPerVariant", 500, 10, 10**9),
    Number("significance", 0.05, 0.001, 0.2, kind=(int, float)),
)
# The variants an experiment compares, by name (automation/experiments.py writes them).
EXPERIMENT_VARIANTS = ("champion", "challenger")
DEFAULT_EXPERIMENT_SCHEDULE = "rate(1 hour)"
_STARTED_AT_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
# CloudWatch metric names: 1 to 255 characters; kept to ones that need no quoting anywhere.
_METRIC_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,254}")


def _experiment(read: _Reader, key: str, raw: Any, variants: tuple[VariantConfig, ...]) -> ExperimentConfig | None:
    if not isinstance(raw, Mapping):
        read.problem(key, raw, f"expected an object with {', '.join(EXPERIMENT_FIELDS)}")
        return None
    _unknown_fields(read, key, raw, EXPERIMENT_FIELDS)
    _check_experiment_variants(read, key, variants)
    started_at = read.typed(f"{key}.startedAt", raw, "startedAt", str, required=True,
                            describe="when evidence starts to count, 'YYYY-MM-DDTHH:MM:SSZ' (experiments.py start writes it)")
    if started_at is not None and not _is_utc_time(started_at):
        read.problem(f"{key}.startedAt", started_at, "expected a UTC time 'YYYY-MM-DDTHH:MM:SSZ', quoted")
    numbers = read.numbers(key, raw, EXPERIMENT_NUMBERS)
    schedule = read.typed(f"{key}.schedule", raw, "schedule", str, default=DEFAULT_EXPERIMENT_SCHEDULE)
    why = validate_schedule(schedule)
    if why:
        read.problem(f"{key}.schedule", schedule, why)
    business = _business_metric(read, f"{key}.businessMetric", raw["businessMetric"]) \
        if raw.get("businessMetric") is not None else None
    return ExperimentConfig(
        started_at=started_at or "", min_invocations_per_variant=numbers["minInvocationsPerVariant"],
        error_rate_significance=float(numbers["errorRateSignificance"]),
        p99_latency_tolerance_percent=float(numbers["p99LatencyTolerancePercent"]), schedule=schedule,
        business_metric=business,
    )


def _check_experiment_variants(read: _Reader, key: str, variants: tuple[VariantConfig, ...]) -> None:
    """An experiment compares exactly a champion and a challenger, each serving its own version."""
    names = [v.name for v in variants]
    if sorted(names) != sorted(EXPERIMENT_VARIANTS):
        read.problem(key.rsplit(".", 1)[0] + ".variants", names, "an experiment needs exactly the variants champion "
                                                                "and challenger (experiments.py start writes them)")
        return
    champion, challenger = (next(v for v in variants if v.name == name) for name in EXPERIMENT_VARIANTS)
    if champion.model_version is None or challenger.model_version is None:
        read.problem(key, [champion.model_version, challenger.model_version],
                     "champion and challenger both need a modelVersion")
    elif champion.model_version == challenger.model_version:
        read.problem(key, challenger.model_version, "the challenger serves the champion's version: nothing to compare")
    if not 0 < challenger.weight < 1:
        read.problem(key, challenger.weight, "the challenger's weight must be above 0 and below 1 while it is compared")


def _business_metric(read: _Reader, key: str, raw: Any) -> BusinessMetricConfig | None:
    if not isinstance(raw, Mapping):
        read.problem(key, raw, f"expected an object with {', '.join(BUSINESS_METRIC_FIELDS)}")
        return None
    _unknown_fields(read, key, raw, BUSINESS_METRIC_FIELDS)
    name = read.typed(f"{key}.metricName", raw, "metricName", str, required=True,
                      describe="the CloudWatch metric the application posts per variant (1 success, 0 not)")
    if name is not None and not _METRIC_NAME_RE.fullmatch(name):
        read.problem(f"{key}.metricName", name, "letters, digits and _ . : / -, at most 255, starting with a letter or digit")
    numbers = read.numbers(key, raw, BUSINESS_METRIC_NUMBERS)
    return BusinessMetricConfig(name or "", numbers["minSamplesPerVariant"], float(numbers["significance"]))


def _is_utc_time(text: str) -> bool:
    if not _STARTED_AT_RE.fullmatch(text):
        return False
    try:
        dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


FEATURE_GROUP_FIELDS = ("name", "recordIdentifier", "eventTime", "features", "onlineStore", "offlineStore",
                        "onlineTtlDays", "freshnessMaxHours")
FEATURE_GROUP_NUMBERS = (
    Number("onlineTtlDays", None, 1, 36500),  # unset: online records never expire
    Number("freshnessMaxHours", 24, 1, 8760),
)
# Columns Feature Store adds to every offline record (CreateFeatureGroup, FeatureDefinitions).
RESERVED_FEATURE_NAMES = ("is_deleted", "write_time", "api_invocation_time")
# SageMaker keeps an event time as ISO-8601 text or Unix seconds (EventTimeFeatureName).
EVENT_TIME_TYPES = ("String", "Fractional")
MAX_FEATURES = 2500  # CreateFeatureGroup's FeatureDefinitions limit


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
        features = _feature_definitions(read, f"{key}.features", item.get("features", _MISSING))
        _check_feature_roles(read, key, features, record_id, event_time)
        online = read.typed(f"{key}.onlineStore", item, "onlineStore", bool, default=True)
        offline = read.typed(f"{key}.offlineStore", item, "offlineStore", bool, default=True)
        if online is False and offline is False:
            read.problem(f"{key}.onlineStore", online, "a feature group needs an online store, an offline store, or both")
        numbers = read.numbers(key, item, FEATURE_GROUP_NUMBERS)
        if numbers["onlineTtlDays"] is not None and online is False:
            read.problem(f"{key}.onlineTtlDays", numbers["onlineTtlDays"], "only an online store expires records: "
                                                                         "enable onlineStore or remove the key")
        groups.append(FeatureGroupConfig(name or "", record_id or "", event_time or "", features, online, offline,
                                         online_ttl_days=numbers["onlineTtlDays"],
                                         freshness_max_hours=numbers["freshnessMaxHours"]))
    return tuple(groups)


def _feature_definitions(read: _Reader, key: str, raw: Any) -> tuple[FeatureDefinition, ...]:
    features = []
    names: set[str] = set()
    for fkey, fitem in _each_object(read, key, raw, required=True):
        _unknown_fields(read, fkey, fitem, ("name", "type"))
        fname = read.typed(f"{fkey}.name", fitem, "name", str, required=True)
        ftype = read.choice(f"{fkey}.type", fitem, "type", None, FEATURE_TYPES, required=True)
        if fname is not None:
            if not _FEATURE_NAME_RE.fullmatch(fname):
                read.problem(f"{fkey}.name", fname, "feature names are letters, digits, '-' and '_', at most 64")
            elif fname in RESERVED_FEATURE_NAMES:
                read.problem(f"{fkey}.name", fname, f"Feature Store adds {', '.join(RESERVED_FEATURE_NAMES)} to every "
                                                    "offline record itself: choose another name")
            elif fname in names:
                read.problem(f"{fkey}.name", fname, "duplicate feature name")
            names.add(fname)
        features.append(FeatureDefinition(fname or "", ftype or "String"))
    if len(features) > MAX_FEATURES:
        read.problem(key, f"{len(features)} features", f"a feature group holds at most {MAX_FEATURES}")
    return tuple(features)


def _check_feature_roles(read: _Reader, key: str, features: tuple[FeatureDefinition, ...],
                         record_id: str | None, event_time: str | None) -> None:
    """The record identifier and event time must be features, and the event time of a type
    SageMaker can order records by."""
    types = {f.name: f.type for f in features}
    for field_name, value in (("recordIdentifier", record_id), ("eventTime", event_time)):
        if value is not None and features and value not in types:
            read.problem(f"{key}.{field_name}", value, f"must name one of the features: {', '.join(sorted(types))}")
    if event_time in types and types[event_time] not in EVENT_TIME_TYPES:
        read.problem(f"{key}.eventTime", event_time, f"is {types[event_time]}; SageMaker takes an event time as "
                                                     "String (ISO-8601) or Fractional (Unix seconds)")


FEATURE_STORE_NUMBERS = (
    Number("ingestConcurrency", 8, 1, 64),
    Number("ingestMaxAttempts", 6, 1, 10),
    # Lambda's own limit is 900 s; the function stops taking rows a margin before its timeout.
    Number("ingestTimeoutSeconds", 300, 60, 900),
    Number("ingestMemoryMb", 512, 128, 10240),
    # rate(N minutes) and the freshness alarm's period; CloudWatch alarms look back at most a day.
    Number("freshnessCheckMinutes", 15, 1, 720),
)


def _feature_store(read: _Reader, ns: str, raw: Any) -> FeatureStoreConfig:
    key = f"{ns}:featureStore"
    if not isinstance(raw, Mapping):
        read.problem(key, raw, f"expected an object with {', '.join(spec.name for spec in FEATURE_STORE_NUMBERS)}")
        raw = {}
    _unknown_fields(read, key, raw, tuple(spec.name for spec in FEATURE_STORE_NUMBERS))
    numbers = read.numbers(key, raw, FEATURE_STORE_NUMBERS)
    return FeatureStoreConfig(
        ingest_concurrency=numbers["ingestConcurrency"], ingest_max_attempts=numbers["ingestMaxAttempts"],
        ingest_timeout_seconds=numbers["ingestTimeoutSeconds"], ingest_memory_mb=numbers["ingestMemoryMb"],
        freshness_check_minutes=numbers["freshnessCheckMinutes"],
    )


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


RETENTION_NUMBERS = (
    Number("modelVersionsToKeep", None, 1, 1000),  # default: per environment
)
# Keys that once meant something, and why they are gone: refused with the reason, so a stack file
# still carrying one is fixed instead of silently configuring nothing.
RETIRED_RETENTION_FIELDS = {
    "imagesToKeep": "no longer used: tagged images are never expired, because a registered model version may "
                    "point at any of them (docs/architecture.md, Training pipeline); remove the key",
}


def _retention(read: _Reader, ns: str, raw: Any, defaults: Mapping[str, Any]) -> RetentionConfig:
    key = f"{ns}:retention"
    if not isinstance(raw, Mapping):
        read.problem(key, raw, "expected an object")
        raw = {}
    for name, why in RETIRED_RETENTION_FIELDS.items():
        if name in raw:
            read.problem(f"{key}.{name}", raw[name], why)
    _unknown_fields(read, key, {k: v for k, v in raw.items() if k not in RETIRED_RETENTION_FIELDS},
                    ("modelVersionsToKeep", "logRetentionDays"))
    numbers = read.numbers(key, raw, RETENTION_NUMBERS, modelVersionsToKeep=defaults["modelVersionsToKeep"])
    days = read.typed(f"{key}.logRetentionDays", raw, "logRetentionDays", int, default=defaults["logRetentionDays"])
    if days not in LOG_RETENTION_DAYS:
        read.problem(f"{key}.logRetentionDays", days, f"CloudWatch Logs allows: {', '.join(map(str, LOG_RETENTION_DAYS))}")
        days = defaults["logRetentionDays"]
    return RetentionConfig(numbers["modelVersionsToKeep"], days)
