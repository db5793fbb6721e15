"""The feature store: a SageMaker feature group per configured group, the bucket that holds their
offline stores and the files dropped for ingestion, the ingestion and freshness functions, and
each group's freshness alarm.

- Online stores are encrypted with the platform key (optional TTL: `onlineTtlDays`); offline
  stores write Parquet under `s3://<features bucket>/offline-store/`, SSE-KMS with the same key,
  and SageMaker creates their Glue tables (database `sagemaker_featurestore`) for Athena.
- One role lets SageMaker write the offline stores: this bucket prefix, these groups' tables,
  this key (feature_store_policies.py).
- A file dropped under `ingest/<group>/` (`.csv` or `.jsonl`) starts the ingestion function
  (functions/feature_ingest); a schedule runs the freshness function (functions/feature_freshness)
  every `featureStore.freshnessCheckMinutes`, and each group's alarm tells the alert topic when its
  freshness exceeds `freshnessMaxHours` or is not measured at all.

Replacement. SageMaker cannot change a group's definitions, record identifier, event time,
stores, role or description: the AWS provider replaces the group (the fields
terraform-provider-aws marks ForceNew, REPLACED_ON_CHANGE), which deletes it first (its name is
fixed) and with it every record of its online store; the offline store's files stay in S3 but
the new group starts a new folder and table. `replace_on_changes` states that in the program, so
the preview says "replace" and the offline plan diff (automation/plan_diff.py) names the loss
before it happens; prod groups are protected, so there the change stops instead of dropping
data. The safe path is a new group (docs/runbook.md, "Add a feature safely").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import feature_store_policies, metrics_catalogue, options
from components.bucket import SecureBucket, SecureBucketArgs
from components.config import FeatureGroupConfig, PlatformConfig
from components.documents import account_of, json_of
from components.lambda_function import LambdaFunction, LambdaFunctionArgs
from functions.feature_freshness import freshness
from functions.feature_ingest import ingest, rows
from functions.shared.metrics import MetricNames

OFFLINE_PREFIX = "offline-store/"
INGEST_PREFIX = "ingest/"
# Input fields of aws.sagemaker.FeatureGroup that SageMaker cannot update (ForceNew in
# terraform-provider-aws, internal/service/sagemaker/feature_group.go): a change replaces the
# group. Only onlineStoreConfig.ttlDuration, throughputConfig and tags are updated in place.
REPLACED_ON_CHANGE = (
    "featureGroupName", "recordIdentifierFeatureName", "eventTimeFeatureName", "featureDefinitions",
    "description", "roleArn", "offlineStoreConfig", "onlineStoreConfig.enableOnlineStore",
    "onlineStoreConfig.securityConfig", "onlineStoreConfig.storageType",
)
# The ingestion function stops taking rows this long before its timeout: enough for the
# requests in flight to end (INGEST_BACKOFF's waits included) and for the counts to be published.
STOP_MARGIN_SECONDS = 30
# How far back the freshness function looks for the newest event time: two weeks, or twice the
# longest freshnessMaxHours, so an over-age group still shows its age, not just "no data".
MIN_LOOKBACK_SECONDS = 14 * 24 * 3600
FRESHNESS_EVALUATION_PERIODS = 2


def feature_group_name(cfg: PlatformConfig, group: str) -> str:
    """`<project>-<stack>-<group>`: config guarantees it fits SageMaker's 64 characters unshortened."""
    return cfg.namer.name(group, "feature_group")


def metric_names(keys: tuple[str, ...]) -> MetricNames:
    """What a function publishes or reads, from the catalogue (one namespace and dimension)."""
    entries = {key: metrics_catalogue.CATALOGUE[key] for key in keys}
    (namespace,) = {metric.namespace for metric in entries.values()}
    ((dimension,),) = {metric.dimensions for metric in entries.values()}
    return MetricNames(namespace=namespace, dimension=dimension, names={k: m.name for k, m in entries.items()})


def lookback_seconds(cfg: PlatformConfig) -> int:
    longest = max((g.freshness_max_hours for g in cfg.feature_groups), default=0) * 3600
    return max(MIN_LOOKBACK_SECONDS, math.ceil(2 * longest / 3600) * 3600)


@dataclass
class FeatureStoreArgs:
    kms_key_arn: pulumi.Input[str]
    # The Monitoring component's topic: freshness and failed-ingestion alarms go there.
    alert_topic_arn: pulumi.Input[str]


class FeatureStore(pulumi.ComponentResource):
    bucket: SecureBucket | None
    groups: dict[str, aws.sagemaker.FeatureGroup]
    group_names: dict[str, pulumi.Output[str]]
    ingestion: LambdaFunction | None
    freshness: LambdaFunction | None

    def __init__(self, name: str, cfg: PlatformConfig, args: FeatureStoreArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:FeatureStore", name, None, opts)
        self._name, self._cfg, self._args = name, cfg, args
        self.bucket, self.ingestion, self.freshness = None, None, None
        self.groups, self.group_names = {}, {}
        if cfg.feature_groups:
            self._account = account_of(self, cfg.region)
            self.bucket = SecureBucket(f"{name}-bucket", cfg, SecureBucketArgs(kms_key_arn=args.kms_key_arn,
                                                                               purpose="features"),
                                       opts=options.child(self))
            role, access = self._create_offline_store_role()
            self.groups = {g.name: self._create_group(g, role, access) for g in cfg.feature_groups}
            self.group_names = {n: g.feature_group_name for n, g in self.groups.items()}
            self._create_ingestion()
            self._create_freshness()
        self.register_outputs({
            "group_names": self.group_names,
            "bucket": self.bucket.name if self.bucket else None,
            "ingest_function": self.ingestion.name if self.ingestion else None,
            "freshness_function": self.freshness.name if self.freshness else None,
        })

    def _physical_names(self) -> list[str]:
        return [feature_group_name(self._cfg, g.name) for g in self._cfg.feature_groups]

    def _create_offline_store_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        cfg, name = self._cfg, self._name
        role = aws.iam.Role(
            f"{name}-offline-role",
            name=cfg.namer.name("feature-store", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: SageMaker writes the feature groups' offline stores",
            assume_role_policy=json.dumps(feature_store_policies.offline_store_trust_policy()),
            opts=options.child(self),
        )
        access = aws.iam.RolePolicy(
            f"{name}-offline-access",
            role=role.id,
            policy=json_of(feature_store_policies.offline_store_policy, account=self._account, bucket_arn=self.bucket.arn,
                           offline_prefix=OFFLINE_PREFIX, groups=self._physical_names(), key_arn=self._args.kms_key_arn),
            opts=options.child(self),
        )
        return role, access

    def _create_group(self, group: FeatureGroupConfig, role: aws.iam.Role,
                      access: aws.iam.RolePolicy) -> aws.sagemaker.FeatureGroup:
        cfg, key = self._cfg, self._args.kms_key_arn
        online = None
        if group.online_store:
            online = {"enable_online_store": True, "security_config": {"kms_key_id": key}}
            if group.online_ttl_days:
                online["ttl_duration"] = {"unit": "Days", "value": group.online_ttl_days}
        offline = None
        if group.offline_store:
            offline = {"s3_storage_config": {"s3_uri": pulumi.Output.concat("s3://", self.bucket.name, "/",
                                                                           OFFLINE_PREFIX.rstrip("/")),
                                             "kms_key_id": key},
                       "disable_glue_table_creation": False, "table_format": "Glue"}
        return aws.sagemaker.FeatureGroup(
            f"{self._name}-{group.name}",
            feature_group_name=feature_group_name(cfg, group.name),
            record_identifier_feature_name=group.record_identifier,
            event_time_feature_name=group.event_time,
            feature_definitions=[{"feature_name": f.name, "feature_type": f.type} for f in group.features],
            # Fixed text: SageMaker cannot change a description, a new one replaces the group.
            description=f"Feature group {group.name} of {cfg.project} {cfg.stack}",
            role_arn=role.arn,
            online_store_config=online,
            offline_store_config=offline,
            # The name is fixed, so a replacement must delete the old group before creating the
            # new one; protected in prod, where the replacement is refused instead.
            opts=options.stateful(self, cfg, delete_before_replace=True, replace_on_changes=list(REPLACED_ON_CHANGE),
                                  depends_on=[access]),
        )

    def _create_ingestion(self) -> None:
        cfg, name = self._cfg, self._name
        settings = cfg.feature_store
        names = metric_names(ingest.METRIC_KEYS)
        statements = pulumi.Output.all(account=self._account, bucket_arn=self.bucket.arn, key_arn=self._args.kms_key_arn).apply(
            lambda v: feature_store_policies.ingest_statements(
                account=v["account"], bucket_arn=v["bucket_arn"], ingest_prefix=INGEST_PREFIX,
                groups=self._physical_names(), key_arn=v["key_arn"], namespace=names.namespace,
                dead_letter_suffix=ingest.DEAD_LETTER_SUFFIX))
        self.ingestion = LambdaFunction(f"{name}-ingest", cfg, LambdaFunctionArgs(
            purpose="feature-ingest", code="feature_ingest",
            description="Ingests CSV and JSON Lines files dropped under ingest/<group>/ into their feature group",
            kms_key_arn=self._args.kms_key_arn,
            environment={
                "FEATURE_GROUPS": json.dumps({g.name: feature_group_name(cfg, g.name) for g in cfg.feature_groups},
                                             sort_keys=True),
                "INGEST_PREFIX": INGEST_PREFIX,
                "INGEST_CONCURRENCY": str(settings.ingest_concurrency),
                "INGEST_MAX_ATTEMPTS": str(settings.ingest_max_attempts),
                "STOP_MARGIN_SECONDS": str(STOP_MARGIN_SECONDS),
                "METRICS": names.to_json(),
            },
            statements=statements, timeout_seconds=settings.ingest_timeout_seconds, memory_mb=settings.ingest_memory_mb,
        ), opts=options.child(self))
        permission = aws.lambda_.Permission(
            f"{name}-ingest-from-s3",
            action="lambda:InvokeFunction",
            function=self.ingestion.name,
            principal="s3.amazonaws.com",
            source_arn=self.bucket.arn,
            source_account=self._account.apply(lambda a: a.account_id),
            opts=options.child(self),
        )
        aws.s3.BucketNotification(
            f"{name}-ingest-notifications",
            bucket=self.bucket.bucket.id,
            lambda_functions=[
                {"lambda_function_arn": self.ingestion.arn, "events": ["s3:ObjectCreated:*"],
                 "filter_prefix": f"{INGEST_PREFIX}{group.name}/", "filter_suffix": suffix}
                for group in cfg.feature_groups for suffix in rows.READERS
            ],
            # S3 checks it may invoke the function when the notification is saved.
            opts=options.child(self, depends_on=[permission]),
        )
        self._alarm(f"{name}-ingest-failures", "feature-ingest-failures", "feature_store.ingest_failures_queued",
                    {"QueueName": self.ingestion.failure_queue.name}, threshold=0, statistic="Maximum", period=300,
                    evaluation_periods=1, missing="notBreaching",
                    description="An ingestion failed after Lambda's retries: its S3 event waits in the failure queue "
                                "(docs/runbook.md, Feature store)")

    def _create_freshness(self) -> None:
        cfg, name = self._cfg, self._name
        minutes = cfg.feature_store.freshness_check_minutes
        names = metric_names(freshness.METRIC_KEYS)
        self.freshness = LambdaFunction(f"{name}-freshness", cfg, LambdaFunctionArgs(
            purpose="feature-freshness", code="feature_freshness",
            description="Publishes FeatureFreshnessSeconds per feature group",
            kms_key_arn=self._args.kms_key_arn,
            environment={"FEATURE_GROUPS": json.dumps(self._physical_names()),
                         "LOOKBACK_SECONDS": str(lookback_seconds(cfg)), "METRICS": names.to_json()},
            statements=feature_store_policies.freshness_statements(namespace=names.namespace), timeout_seconds=60,
            memory_mb=128,
        ), opts=options.child(self))
        rule = aws.cloudwatch.EventRule(
            f"{name}-freshness-schedule",
            name=cfg.namer.name("feature-freshness", "events_rule"),
            description=f"Measure feature freshness every {minutes} minute(s)",
            schedule_expression=f"rate({minutes} minute{'' if minutes == 1 else 's'})",
            opts=options.child(self),
        )
        permission = aws.lambda_.Permission(
            f"{name}-freshness-from-schedule",
            action="lambda:InvokeFunction",
            function=self.freshness.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=options.child(self),
        )
        aws.cloudwatch.EventTarget(f"{name}-freshness-target", rule=rule.name, arn=self.freshness.arn,
                                   opts=options.child(self, depends_on=[permission]))
        for group in cfg.feature_groups:
            self._alarm(f"{name}-{group.name}-freshness", f"{group.name}-freshness", "feature_store.freshness_seconds",
                        {"FeatureGroupName": feature_group_name(cfg, group.name)},
                        threshold=group.freshness_max_hours * 3600, statistic="Maximum", period=minutes * 60,
                        evaluation_periods=FRESHNESS_EVALUATION_PERIODS, missing="breaching",
                        description=f"Features of {group.name} older than {group.freshness_max_hours} h, or not "
                                    "measured (nothing ingested lately)")

    def _alarm(self, resource_name: str, purpose: str, metric_key: str, dimensions: dict, *, threshold: float,
               statistic: str, period: int, evaluation_periods: int, missing: str, description: str) -> None:
        """An alarm on a catalogue metric, to the alert topic when it fires and when it clears."""
        metric = metrics_catalogue.CATALOGUE[metric_key]
        topic = self._args.alert_topic_arn
        aws.cloudwatch.MetricAlarm(
            resource_name,
            name=self._cfg.namer.name(purpose, "alarm"),
            alarm_description=description,
            namespace=metric.namespace,
            metric_name=metric.name,
            dimensions=metric.dimensioned(**dimensions),
            statistic=statistic,
            period=period,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            threshold=threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data=missing,
            alarm_actions=[topic],
            ok_actions=[topic],
            opts=options.child(self),
        )
