"""Shared pieces of the feature store function tests: the sample group, its deployed shape in
moto, and a Feature Store runtime that records what it is sent.

moto has no Feature Store runtime (no PutRecord). `RecordingFeatureStore` stands in for the
`sagemaker-featurestore-runtime` client: every request is first checked against botocore's own
service model for PutRecord (member names, types, lengths, the FeatureName pattern), as
botocore's client does before sending, then recorded; errors can be scripted per record
identifier, with the codes and HTTP statuses Feature Store answers with. One test per behaviour
also runs through a real botocore client with the Stubber (tests/functions/test_feature_ingest.py).
S3, SageMaker's DescribeFeatureGroup and CloudWatch are moto's.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import boto3
import botocore.session
import yaml
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator

from automation import offline
from components.config import parse
from components.feature_store import INGEST_PREFIX, STOP_MARGIN_SECONDS, feature_group_name, metric_names
from functions.feature_freshness import freshness
from functions.feature_ingest import ingest
from functions.feature_ingest.ingest import Clients, Settings

REGION = "us-east-1"
BUCKET = "mlops-platform-dev-features-test"
# HTTP statuses Feature Store answers these codes with (its API model; throttles are 400).
STATUSES = {"ThrottlingException": 400, "InternalFailure": 500, "ServiceUnavailable": 503,
            "ValidationError": 400, "AccessForbidden": 403}


def dev_config():
    document = yaml.safe_load((offline.ROOT / "Pulumi.dev.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in document.items() if k.startswith("mlops-platform:")}
    return parse("mlops-platform", "dev", values, document["aws:region"])


CFG = dev_config()
(GROUP,) = CFG.feature_groups
GROUP_NAME = feature_group_name(CFG, GROUP.name)


def settings(concurrency: int = 4, max_attempts: int = 4) -> Settings:
    """The settings the program gives the function (components/feature_store.py)."""
    return Settings(feature_groups={GROUP.name: GROUP_NAME}, ingest_prefix=INGEST_PREFIX, concurrency=concurrency,
                    max_attempts=max_attempts, stop_margin_seconds=STOP_MARGIN_SECONDS,
                    metrics=metric_names(ingest.METRIC_KEYS))


def freshness_settings(lookback_seconds: int = 14 * 24 * 3600) -> freshness.Settings:
    return freshness.Settings(feature_groups=[GROUP_NAME], lookback_seconds=lookback_seconds,
                              metrics=metric_names(freshness.METRIC_KEYS))


def create_group_in_moto() -> None:
    """The sample group as the program creates it (definitions from the dev stack config)."""
    boto3.client("sagemaker", region_name=REGION).create_feature_group(
        FeatureGroupName=GROUP_NAME, RecordIdentifierFeatureName=GROUP.record_identifier,
        EventTimeFeatureName=GROUP.event_time,
        FeatureDefinitions=[{"FeatureName": f.name, "FeatureType": f.type} for f in GROUP.features],
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{BUCKET}/offline-store"}},
        RoleArn="arn:aws:iam::123456789012:role/mlops-platform-dev-feature-store")


class RecordingFeatureStore:
    def __init__(self, failures: dict[str, list[str]] | None = None):
        model = botocore.session.get_session().get_service_model("sagemaker-featurestore-runtime")
        self._shape = model.operation_model("PutRecord").input_shape
        self._failures = defaultdict(list, {k: list(v) for k, v in (failures or {}).items()})
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.attempts: dict[str, int] = defaultdict(int)

    def put_record(self, **params: Any) -> dict[str, Any]:
        report = ParamValidator().validate(params, self._shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        values = {v["FeatureName"]: v["ValueAsString"] for v in params["Record"]}
        identifier = values[GROUP.record_identifier]
        with self._lock:
            self.attempts[identifier] += 1
            scripted = self._failures[identifier]
            code = scripted.pop(0) if scripted else None
            if code is None:
                self.records.append(params)
        if code:
            raise ClientError({"Error": {"Code": code, "Message": f"scripted {code}"},
                               "ResponseMetadata": {"HTTPStatusCode": STATUSES[code]}}, "PutRecord")
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def written(self) -> dict[str, dict[str, str]]:
        """record identifier -> feature values, of every record Feature Store took."""
        rows = ({v["FeatureName"]: v["ValueAsString"] for v in r["Record"]} for r in self.records)
        return {row[GROUP.record_identifier]: row for row in rows}


def clients(featurestore: Any) -> Clients:
    return Clients(s3=boto3.client("s3", region_name=REGION), sagemaker=boto3.client("sagemaker", region_name=REGION),
                   featurestore=featurestore, cloudwatch=boto3.client("cloudwatch", region_name=REGION))


FEATURES = [f.name for f in GROUP.features]


def good_row(customer: str, event_time: str = "2024-06-01T10:00:00Z", **overrides: Any) -> dict[str, Any]:
    row = {"customer_id": customer, "event_time": event_time, "tenure_months": "12", "monthly_charges": "70.5",
           "total_charges": "846.0", "support_calls": "2", "contract_type": "0", "num_products": "3",
           "has_internet": "1", "late_payments": "1", "days_since_last_login": "14"}
    row.update(overrides)
    return row


def csv_text(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or FEATURES
    lines = [",".join(columns)] + [",".join(str(row.get(c, "")) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"
