"""Drift detection and retraining on drift, for the endpoints a stack has that capture their requests.

- The drift function (functions/drift) runs every `CHECK_HOURS` per endpoint (one EventBridge
  schedule each, its input naming the endpoint, its capture location and the registered version
  each variant serves), compares the last `WINDOW_HOURS` of captured requests with each version's
  training baseline, publishes the drift metrics (components/metrics_catalogue.py) and writes a
  JSON report under `drift-reports/<model>/` in the report bucket.
- One alarm per model on `DataDriftDetected`, to the alert topic.
- One EventBridge rule per model on that alarm's change into ALARM starts the training state
  machine with the model's input (components/drift_events.py).

Cool-down. A drift signal that flaps (drift, none, drift...) must not start a run per flap. The
alarm is "1 out of `REARM_CHECKS`": it goes into ALARM at the first check that finds drift, and
back to OK only after `REARM_CHECKS` checks in a row without drift (CloudWatch alarm evaluation,
"M out of N"; a check with no decision publishes nothing and counts as not breaching). The rule
fires on the change into ALARM only, so while drift comes and goes the alarm stays in ALARM and
starts nothing more, and two runs are at least (`REARM_CHECKS` + 1) x `CHECK_HOURS` apart (30 h).
A retrained version does not change what the endpoint serves until it is rolled out, so the
drift (and the alarm) persists until then without starting further runs.

numpy. Lambda's runtime has none and the platform's functions vendor nothing, so the drift
function's package carries it: scripts/build_drift_numpy.py unpacks the wheel for Lambda's runtime
and architecture into `NUMPY_DIR` (run it before `pulumi up`; an offline plan does not read it),
and a transformation adds its `numpy/` and `numpy.libs/` to the code archive
components/lambda_function.py makes (that component packs functions/ only). A layer would need a
LayerVersion resource; the package stays one zip of 46 MB unpacked, 13 MB zipped
(benchmarks/README.md), within Lambda's limits for a direct upload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import pulumi
import pulumi_aws as aws

from components import drift_events, drift_policies, metrics_catalogue, options, training_policies
from components.config import PlatformConfig
from components.documents import Account, account_of, json_of
from components.inference_endpoint import package_arn
from components.lambda_function import LambdaFunction, LambdaFunctionArgs
from functions.drift import outcomes

NUMPY_DIR = "build/lambda-packages/drift-numpy"
NUMPY_FOLDERS = ("numpy", "numpy.libs")  # what the wheel puts on sys.path
CHECK_HOURS = 6
WINDOW_HOURS = 24
REARM_CHECKS = 4  # CHECK_HOURS * REARM_CHECKS may not exceed a day (an alarm's longest look-back)
REPORT_PREFIX = "drift-reports"
TIMEOUT_SECONDS = 300
MEMORY_MB = 1024


@dataclass
class ObservedVariant:
    name: str
    model_version: int  # the registered version it serves (config: endpoint.variants[].modelVersion)


@dataclass
class ObservedEndpoint:
    """One deployed endpoint, as components/inference_endpoint.py creates it."""

    model: str
    endpoint_name: pulumi.Input[str]
    variants: Sequence[ObservedVariant]
    serverless: bool
    # Its DataCaptureConfig.DestinationS3Uri and that bucket; None when it captures nothing
    # (serverless endpoints cannot: SageMaker's serverless feature exclusions), and then it is
    # not checked for drift.
    capture_uri: pulumi.Input[str] | None = None
    capture_bucket_arn: pulumi.Input[str] | None = None

    @property
    def captured(self) -> bool:
        return self.capture_uri is not None


@dataclass
class DriftDetectionArgs:
    kms_key_arn: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]
    state_machine_arn: pulumi.Input[str]
    model_package_groups: Mapping[str, pulumi.Input[str]]  # model -> group name
    artifact_bucket_arn: pulumi.Input[str]
    report_bucket_name: pulumi.Input[str]
    report_bucket_arn: pulumi.Input[str]
    endpoints: Sequence[ObservedEndpoint]  # the endpoints that capture their requests


def check_input(account: Account, endpoint: ObservedEndpoint, endpoint_name: str, capture_uri: str,
                group: str) -> dict[str, object]:
    """The schedule's constant input: what functions/drift/detect.py `Check.from_event` reads."""
    return {"model": endpoint.model, "endpoint": endpoint_name, "capture_uri": capture_uri,
            "variants": [{"name": v.name, "model_package_arn": package_arn(account, group, v.model_version)}
                         for v in endpoint.variants]}


def capture_prefix(capture_uri: str, endpoint_name: str) -> str:
    path = urlparse(capture_uri).path.strip("/")
    return f"{path}/{endpoint_name}/" if path else f"{endpoint_name}/"


def metric_settings() -> str:
    """The catalogue entries the function publishes (detect.Settings reads them)."""
    return json.dumps({key: {"namespace": m.namespace, "name": m.name, "dimensions": list(m.dimensions), "unit": m.unit}
                       for key, m in metrics_catalogue.CATALOGUE.items() if key in outcomes.METRIC_KEYS}, sort_keys=True)


def alarm_name(cfg: PlatformConfig, model: str) -> str:
    return cfg.namer.name(f"{model}-data-drift", "alarm")


class DriftDetection(pulumi.ComponentResource):
    function: LambdaFunction
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    retrain_rules: dict[str, aws.cloudwatch.EventRule]

    def __init__(self, name: str, cfg: PlatformConfig, args: DriftDetectionArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:DriftDetection", name, None, opts)
        if not args.endpoints or not all(e.captured for e in args.endpoints):
            raise ValueError("drift detection needs endpoints that capture their requests")
        self._name, self._cfg, self._args = name, cfg, args
        self._account = account_of(self, cfg.region)
        self._models = list(dict.fromkeys(e.model for e in args.endpoints))
        self._create_function()
        for endpoint in args.endpoints:
            self._create_schedule(endpoint)
        self.alarms = {model: self._create_alarm(model) for model in self._models}
        self.retrain_rules = self._create_retraining()
        self.register_outputs({"function": self.function.name,
                               "alarms": {m: a.name for m, a in self.alarms.items()},
                               "retrain_rules": {m: r.name for m, r in self.retrain_rules.items()}})

    def _create_function(self) -> None:
        cfg, args = self._cfg, self._args
        groups = pulumi.Output.all(*(args.model_package_groups[m] for m in self._models))
        prefixes = pulumi.Output.all(*(pulumi.Output.all(e.capture_bucket_arn, e.capture_uri, e.endpoint_name).apply(
            lambda v: (v[0], capture_prefix(v[1], v[2]))) for e in args.endpoints))
        statements = pulumi.Output.all(
            account=self._account, capture_prefixes=prefixes, report_bucket_arn=args.report_bucket_arn,
            artifact_bucket_arn=args.artifact_bucket_arn, groups=groups, key_arn=args.kms_key_arn,
        ).apply(lambda v: drift_policies.drift_statements(**v, report_prefix=REPORT_PREFIX, models=self._models,
                                                          namespace=metrics_catalogue.PLATFORM_NAMESPACE))
        self.function = LambdaFunction(f"{self._name}-check", cfg, LambdaFunctionArgs(
            purpose="drift-check", code="drift",
            description="Compares captured requests with the served versions' training baselines",
            kms_key_arn=args.kms_key_arn,
            environment={"WINDOW_HOURS": str(WINDOW_HOURS), "REPORT_BUCKET": args.report_bucket_name,
                         "REPORT_PREFIX": REPORT_PREFIX, "METRICS": metric_settings()},
            statements=statements,
            timeout_seconds=TIMEOUT_SECONDS, memory_mb=MEMORY_MB,
        ), opts=options.child(self, transformations=[_with_numpy]))

    def _create_schedule(self, endpoint: ObservedEndpoint) -> None:
        cfg, name, model = self._cfg, self._name, endpoint.model
        rule = aws.cloudwatch.EventRule(
            f"{name}-{model}-schedule",
            name=cfg.namer.name(f"{model}-drift-check", "events_rule"),
            description=f"Check model '{model}''s endpoint for data drift every {CHECK_HOURS} hours",
            schedule_expression=f"rate({CHECK_HOURS} hours)",
            opts=options.child(self),
        )
        permission = aws.lambda_.Permission(
            f"{name}-{model}-invoke", action="lambda:InvokeFunction", function=self.function.name,
            principal="events.amazonaws.com", source_arn=rule.arn, opts=options.child(self))
        check = pulumi.Output.all(self._account, endpoint.endpoint_name, endpoint.capture_uri,
                                  self._args.model_package_groups[model]).apply(
            lambda v: json.dumps(check_input(v[0], endpoint, v[1], v[2], v[3]), sort_keys=True))
        aws.cloudwatch.EventTarget(f"{name}-{model}-target", rule=rule.name, arn=self.function.arn, input=check,
                                   opts=options.child(self, depends_on=[permission]))

    def _create_alarm(self, model: str) -> aws.cloudwatch.MetricAlarm:
        metric, topic = metrics_catalogue.CATALOGUE[outcomes.DETECTED], self._args.alert_topic_arn
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{model}-alarm",
            name=alarm_name(self._cfg, model),
            alarm_description=(f"Data drift in the traffic of model '{model}': retraining starts (docs/troubleshooting.md). "
                               f"Back to OK after {REARM_CHECKS} checks without drift."),
            namespace=metric.namespace, metric_name=metric.name, dimensions=metric.dimensioned(Model=model),
            statistic="Maximum", period=CHECK_HOURS * 3600,
            evaluation_periods=REARM_CHECKS, datapoints_to_alarm=1,
            threshold=1, comparison_operator="GreaterThanOrEqualToThreshold",
            # No decision (no capture, missing baseline...) publishes nothing: never an alarm.
            treat_missing_data="notBreaching",
            alarm_actions=[topic], ok_actions=[topic],
            opts=options.child(self),
        )

    def _create_retraining(self) -> dict[str, aws.cloudwatch.EventRule]:
        cfg, name = self._cfg, self._name
        rule_names = {model: cfg.namer.name(f"{model}-drift-retrain", "events_rule") for model in self._models}
        role = aws.iam.Role(
            f"{name}-retrain-role",
            name=cfg.namer.name("drift-retrain", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: EventBridge starts retraining when a model's data drifts",
            assume_role_policy=self._account.apply(lambda a: json.dumps(training_policies.trust_policy(
                "events.amazonaws.com", a, [a.arn("events", f"rule/{n}") for n in rule_names.values()]))),
            opts=options.child(self),
        )
        access = aws.iam.RolePolicy(
            f"{name}-retrain-access", role=role.id,
            policy=json_of(training_policies.scheduler_policy, state_machine_arn=self._args.state_machine_arn),
            opts=options.child(self))
        rules = {}
        for model in self._models:
            rules[model] = rule = aws.cloudwatch.EventRule(
                f"{name}-{model}-retrain",
                name=rule_names[model],
                description=f"Retrain model '{model}' when its data drift alarm goes into ALARM",
                event_pattern=json.dumps(drift_events.retrain_event_pattern([alarm_name(cfg, model)])),
                opts=options.child(self),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{model}-retrain-target", rule=rule.name, arn=self._args.state_machine_arn, role_arn=role.arn,
                input_transformer={"input_paths": drift_events.INPUT_PATHS,
                                   "input_template": drift_events.retrain_input_template(model)},
                opts=options.child(self, depends_on=[access]))
        return rules


def _with_numpy(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """Adds numpy (NUMPY_DIR) to the code of the Lambda function a LambdaFunction component creates."""
    if args.type_ != "aws:lambda/function:Function":
        return None
    code = args.props["code"]
    bundled = pulumi.AssetArchive({**code.assets, **{folder: pulumi.FileArchive(f"{NUMPY_DIR}/{folder}")
                                                     for folder in NUMPY_FOLDERS}})
    return pulumi.ResourceTransformationResult({**args.props, "code": bundled}, args.opts)
