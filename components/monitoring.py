"""Monitoring: the platform's alert topic, and (`observe`) what watches the rest of the stack:
the four dashboards, the alarms, drift detection with retraining on drift, archiving of old model
versions, and image scan alerts.

The topic is where every part of the platform tells people something happened: the training
pipeline's outcomes, the registry's approvals, alarms, drift, scan findings. It is encrypted with
the platform key, whose policy lets EventBridge and CloudWatch encrypt for this stack's topics
(kms.py); its topic policy lets this stack's EventBridge rules and CloudWatch alarms publish, and
this account's IAM principals use it (monitoring_policies.py). It is stateful: a replaced topic
loses its confirmed email subscriptions, so prod protects and retains it.

The topic must exist before the components that publish to it, and the dashboards and alarms
need those components' names and ARNs, so they come in a second step: `__main__.py` calls
`observe(Observed(...))` once every component exists. Each part is built for what the stack has:
no endpoint, no endpoint dashboard or endpoint alarms; no endpoint that captures its requests (a
serverless one cannot), no drift detection or drift widgets; no feature group, no feature store
dashboard or ingestion alarm. Every alarm and widget metric is an entry
of components/metrics_catalogue.py (dashboards.py builds the bodies); alarms publish to the topic
when they fire and when they clear, and treat missing data as `notBreaching`: no traffic, no
execution, no ingestion is not a fault (feature freshness, which must alarm when nothing is
measured, is the feature store's own alarm).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import dashboards, metrics_catalogue, monitoring_events, monitoring_policies, options
from components.archiving import Archiving
from components.config import PlatformConfig
from components.documents import account_of, json_of
from components.drift import DriftDetection, DriftDetectionArgs, ObservedEndpoint


@dataclass
class MonitoringArgs:
    kms_key_arn: pulumi.Input[str]


# Alarm thresholds (docs/troubleshooting.md says what to do when each fires).
SERVER_ERROR_PERCENT = 5.0  # 5xx answers of a variant's invocations, over ENDPOINT_ALARM_PERIODS
MODEL_LATENCY_P99_MS = 500  # the container's p99 answer time (the model itself scores in well under 1 ms)
ENDPOINT_ALARM_PERIOD = 300
ENDPOINT_ALARM_PERIODS = 3
REJECTED_ROWS_PERCENT = 5.0  # of the rows an hour of ingestion read


def failed_executions_alarm_name(cfg: PlatformConfig) -> str:
    return cfg.namer.name("training-failed", "alarm")


def endpoint_alarm_names(cfg: PlatformConfig, model: str, variant: str) -> tuple[str, str]:
    """(5xx rate, p99 latency) alarm names of one variant."""
    return cfg.namer.name(f"{model}-{variant}-5xx-rate", "alarm"), cfg.namer.name(f"{model}-{variant}-p99-latency", "alarm")


def rejected_rows_alarm_name(cfg: PlatformConfig, group: str) -> str:
    return cfg.namer.name(f"{group}-ingest-rejects", "alarm")


@dataclass
class Observed:
    """What the rest of the stack made, for `Monitoring.observe`."""

    training_state_machine_arn: pulumi.Input[str]
    artifact_bucket_arn: pulumi.Input[str]
    model_package_groups: Mapping[str, pulumi.Input[str]]  # model -> group name (ModelRegistry.group_names)
    image_repositories: Sequence[pulumi.Input[str]]  # ECR repository names whose scans alert
    endpoints: Sequence[ObservedEndpoint] = ()
    # Where drift reports go: the capture bucket (required when an endpoint captures).
    report_bucket_name: pulumi.Input[str] | None = None
    report_bucket_arn: pulumi.Input[str] | None = None
    feature_groups: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # config name -> physical name


class Monitoring(pulumi.ComponentResource):
    alert_topic: aws.sns.Topic
    alert_topic_arn: pulumi.Output[str]

    def __init__(self, name: str, cfg: PlatformConfig, args: MonitoringArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:Monitoring", name, None, opts)
        self._name, self._cfg, self._args = name, cfg, args
        self.alert_topic = aws.sns.Topic(
            f"{name}-alerts",
            name=cfg.namer.name("alerts", "sns"),
            display_name=f"{cfg.project} {cfg.stack} alerts",
            kms_master_key_id=args.kms_key_arn,
            opts=options.stateful(self, cfg, aliases=options.formerly("alerts")),
        )
        self.alert_topic_policy = aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=self.alert_topic.arn,
            policy=json_of(monitoring_policies.alert_topic_policy, topic_arn=self.alert_topic.arn,
                           account=account_of(self, cfg.region), name_pattern=cfg.namer.pattern()),
            opts=options.child(self),
        )
        # Email subscriptions stay pending until the recipient clicks the confirmation link
        # SNS sends on creation. Each is named after a hash of its address (not its position),
        # so adding or removing one address never replaces the others' confirmed subscriptions.
        self.subscriptions = []
        for email in dict.fromkeys(cfg.alerting.emails):
            suffix = f"alerts-email-{hashlib.sha256(email.lower().encode()).hexdigest()[:8]}"
            self.subscriptions.append(aws.sns.TopicSubscription(
                f"{name}-{suffix}",
                topic=self.alert_topic.arn,
                protocol="email",
                endpoint=email,
                opts=options.child(self, aliases=options.formerly(suffix)),
            ))
        self.alert_topic_arn = self.alert_topic.arn
        self.register_outputs({"alert_topic_arn": self.alert_topic_arn})

    def observe(self, observed: Observed) -> None:
        """Dashboards, alarms, drift detection, archiving and scan alerts for what `observed` names."""
        cfg, name = self._cfg, self._name
        alarms = {dashboards.TRAINING_PIPELINE: [self._failed_executions_alarm(observed)],
                  dashboards.INFERENCE_ENDPOINTS: self._endpoint_alarms(observed.endpoints),
                  dashboards.FEATURE_STORE: self._rejected_rows_alarms(observed.feature_groups),
                  dashboards.MODEL_PERFORMANCE: []}
        captured = [e for e in observed.endpoints if e.captured]
        if captured:
            if observed.report_bucket_name is None or observed.report_bucket_arn is None:
                raise ValueError("drift detection needs a report bucket (Observed.report_bucket_name and _arn)")
            self.drift = DriftDetection(f"{name}-drift", cfg, DriftDetectionArgs(
                kms_key_arn=self._args.kms_key_arn, alert_topic_arn=self.alert_topic_arn,
                state_machine_arn=observed.training_state_machine_arn,
                model_package_groups=observed.model_package_groups, artifact_bucket_arn=observed.artifact_bucket_arn,
                report_bucket_name=observed.report_bucket_name, report_bucket_arn=observed.report_bucket_arn,
                endpoints=captured), opts=options.child(self))
            alarms[dashboards.MODEL_PERFORMANCE] = list(self.drift.alarms.values())
        self.archiving = Archiving(f"{name}-archiving", cfg, kms_key_arn=self._args.kms_key_arn,
                                   artifact_bucket_arn=observed.artifact_bucket_arn,
                                   model_package_groups=observed.model_package_groups, opts=options.child(self))
        self._scan_alerts(observed.image_repositories)
        self.dashboards = self._dashboards(observed, alarms)

    def _alarm(self, resource_name: str, alarm_name: str, description: str, **settings) -> aws.cloudwatch.MetricAlarm:
        """An alarm to the alert topic when it fires and when it clears; missing data is not breaching."""
        topic = self.alert_topic_arn
        return aws.cloudwatch.MetricAlarm(
            resource_name, name=alarm_name, alarm_description=description,
            treat_missing_data="notBreaching", alarm_actions=[topic], ok_actions=[topic],
            opts=options.child(self), **settings)

    def _failed_executions_alarm(self, observed: Observed) -> aws.cloudwatch.MetricAlarm:
        metric = metrics_catalogue.CATALOGUE["training.executions_failed"]
        return self._alarm(
            f"{self._name}-training-failed", failed_executions_alarm_name(self._cfg),
            "A training pipeline run failed; its outcome notification says why (docs/troubleshooting.md)",
            namespace=metric.namespace, metric_name=metric.name,
            dimensions=pulumi.Output.from_input(observed.training_state_machine_arn).apply(
                lambda arn: metric.dimensioned(StateMachineArn=arn)),
            statistic="Sum", period=300, evaluation_periods=1, threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold")

    def _endpoint_alarms(self, endpoints: Sequence[ObservedEndpoint]) -> list[aws.cloudwatch.MetricAlarm]:
        made = []
        for endpoint in endpoints:
            for variant in endpoint.variants:
                where = pulumi.Output.from_input(endpoint.endpoint_name).apply(
                    lambda n, v=variant.name: {"EndpointName": n, "VariantName": v})
                label = f"{endpoint.model}-{variant.name}"
                rate_name, latency_name = endpoint_alarm_names(self._cfg, endpoint.model, variant.name)
                made.append(self._alarm(
                    f"{self._name}-{label}-5xx", rate_name,
                    f"More than {SERVER_ERROR_PERCENT:g}% of {label}'s invocations answered 5xx (docs/troubleshooting.md)",
                    metric_queries=_ratio_queries(dashboards.ENDPOINT_5XX, dashboards.ENDPOINT_INVOCATIONS, where,
                                                  ENDPOINT_ALARM_PERIOD, "5xx per 100 invocations"),
                    evaluation_periods=ENDPOINT_ALARM_PERIODS, datapoints_to_alarm=ENDPOINT_ALARM_PERIODS,
                    threshold=SERVER_ERROR_PERCENT, comparison_operator="GreaterThanThreshold"))
                latency = metrics_catalogue.CATALOGUE[dashboards.ENDPOINT_MODEL_LATENCY]
                made.append(self._alarm(
                    f"{self._name}-{label}-p99", latency_name,
                    f"{label}'s p99 model latency above {MODEL_LATENCY_P99_MS} ms (docs/troubleshooting.md)",
                    namespace=latency.namespace, metric_name=latency.name,
                    dimensions=where.apply(lambda d, m=latency: m.dimensioned(**d)),
                    extended_statistic="p99", period=ENDPOINT_ALARM_PERIOD, evaluation_periods=ENDPOINT_ALARM_PERIODS,
                    datapoints_to_alarm=ENDPOINT_ALARM_PERIODS, threshold=MODEL_LATENCY_P99_MS * 1000,
                    comparison_operator="GreaterThanThreshold"))
        return made

    def _rejected_rows_alarms(self, feature_groups: Mapping[str, pulumi.Input[str]]) -> list[aws.cloudwatch.MetricAlarm]:
        made = []
        for group, physical in feature_groups.items():
            where = pulumi.Output.from_input(physical).apply(lambda n: {"FeatureGroupName": n})
            made.append(self._alarm(
                f"{self._name}-{group}-rejects", rejected_rows_alarm_name(self._cfg, group),
                f"Ingestion into {group} rejected more than {REJECTED_ROWS_PERCENT:g}% of the rows it read in an hour "
                "(docs/troubleshooting.md)",
                metric_queries=_ratio_queries("feature_store.ingest_rows_rejected", "feature_store.ingest_rows_read", where,
                                              3600, "rejected per 100 rows read"),
                evaluation_periods=1, threshold=REJECTED_ROWS_PERCENT, comparison_operator="GreaterThanThreshold"))
        return made

    def _scan_alerts(self, repositories: Sequence[pulumi.Input[str]]) -> None:
        cfg, name = self._cfg, self._name
        rule = aws.cloudwatch.EventRule(
            f"{name}-image-scans",
            name=cfg.namer.name("image-scan-findings", "events_rule"),
            description=f"{' or '.join(monitoring_events.ALERT_SEVERITIES)} findings in scans of the platform's images",
            event_pattern=json_of(monitoring_events.scan_findings_pattern,
                                  repository_names=pulumi.Output.all(*repositories)),
            opts=options.child(self))
        aws.cloudwatch.EventTarget(
            f"{name}-image-scans-alert", rule=rule.name, arn=self.alert_topic_arn,
            input_transformer={"input_paths": monitoring_events.INPUT_PATHS,
                               "input_template": monitoring_events.scan_findings_template(f"{cfg.project}/{cfg.stack}")},
            opts=options.child(self))

    def _dashboards(self, observed: Observed,
                    alarms: Mapping[str, Sequence[aws.cloudwatch.MetricAlarm]]) -> dict[str, aws.cloudwatch.Dashboard]:
        cfg = self._cfg
        models = dashboards.model_views(cfg)
        resolved = pulumi.Output.all(
            state_machine_arn=observed.training_state_machine_arn,
            endpoint_names=pulumi.Output.all(*(e.endpoint_name for e in observed.endpoints)),
            feature_groups=pulumi.Output.all(*observed.feature_groups.values()),
            alarms=pulumi.Output.all(**{board: pulumi.Output.all(*(a.arn for a in made)) for board, made in alarms.items()}),
        )
        inputs = resolved.apply(lambda v: dashboards.DashboardInputs(
            region=cfg.region, state_machine_arn=v["state_machine_arn"], models=models,
            endpoints=tuple(dashboards.EndpointView(e.model, n, tuple(x.name for x in e.variants), e.serverless, e.captured)
                            for e, n in zip(observed.endpoints, v["endpoint_names"], strict=True)),
            feature_groups=tuple(v["feature_groups"]), alarms={k: tuple(a) for k, a in v["alarms"].items()}))
        present = [dashboards.TRAINING_PIPELINE, dashboards.MODEL_PERFORMANCE]
        present += [dashboards.INFERENCE_ENDPOINTS] if observed.endpoints else []
        present += [dashboards.FEATURE_STORE] if observed.feature_groups else []
        return {board: aws.cloudwatch.Dashboard(
            f"{self._name}-{board}-dashboard",
            dashboard_name=cfg.namer.name(board, "dashboard"),
            dashboard_body=inputs.apply(lambda i, b=board: dashboards.to_json(dashboards.BUILDERS[b](i))),
            opts=options.child(self)) for board in present}


def _ratio_queries(numerator: str, denominator: str, where: pulumi.Output, period: int, label: str) -> list[dict]:
    """Metric math for an alarm: 100 * numerator / denominator, 0 when the denominator is 0
    (no traffic is no error rate), both catalogue entries with the same dimensions."""
    queries = [{"id": "ratio", "expression": "IF(total > 0, 100 * part / total, 0)", "label": label, "return_data": True}]
    for query_id, key in (("part", numerator), ("total", denominator)):
        entry = metrics_catalogue.CATALOGUE[key]
        queries.append({"id": query_id, "return_data": False, "metric": {
            "namespace": entry.namespace, "metric_name": entry.name, "period": period, "stat": "Sum",
            "dimensions": where.apply(lambda d, e=entry: e.dimensioned(**d))}})
    return queries
