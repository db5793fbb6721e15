"""Every CloudWatch metric the platform's alarms and dashboards read, defined once.

A metric here is one that a resource of the stack emits: AWS's own (SageMaker endpoints, Feature
Store, Step Functions, training jobs) with the namespace, name and dimensions AWS documents, or
the platform's own (published by its functions). Alarms and dashboard widgets are built from
these entries, never from names typed a second time, so a test can check every widget and alarm
against this list.
"""

from __future__ import annotations

from dataclasses import dataclass

from containers.contracts.metrics import METRIC_DEFINITIONS
from functions.drift import outcomes as drift_outcomes


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    # Dimension names, in the order widgets list them; values come from the resource.
    dimensions: tuple[str, ...]
    unit: str
    # Where AWS documents it (or which function publishes it): the source of truth for the entry.
    source: str

    def dimensioned(self, **values: str) -> dict[str, str]:
        """The dimension map for one resource; every dimension named, nothing else."""
        if set(values) != set(self.dimensions):
            raise ValueError(f"{self.namespace}/{self.name} takes dimensions {list(self.dimensions)}, got {sorted(values)}")
        return {name: values[name] for name in self.dimensions}


# The platform's own metrics live in one namespace, so they never mix with AWS's.
PLATFORM_NAMESPACE = "MLOpsPlatform"

CATALOGUE: dict[str, Metric] = {}


def register(key: str, metric: Metric) -> Metric:
    """Add `metric` under `key` (e.g. "endpoint.model_latency"); a key is defined once."""
    if key in CATALOGUE:
        raise ValueError(f"metric {key!r} is already defined")
    CATALOGUE[key] = metric
    return metric


# Sections below are added by the component that owns the emitting resource:
# serving (endpoints), feature store, training pipeline, drift detection.


# --- Endpoints (components/inference_endpoint.py)
#
# SageMaker's endpoint metrics, per production variant (SageMaker Developer Guide, "Amazon
# SageMaker AI metrics in Amazon CloudWatch", formerly "Monitor Amazon SageMaker with Amazon
# CloudWatch", sections "SageMaker AI endpoint invocation metrics"
# and "SageMaker AI endpoint instance metrics",
# https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html): invocation
# metrics in AWS/SageMaker, instance utilisation in /aws/sagemaker/Endpoints, both by EndpointName
# and VariantName. Latencies are in microseconds. ServerlessConcurrentExecutionsUtilization is
# published for serverless endpoints only, the instance metrics for instance endpoints only.
ENDPOINT_NAMESPACE = "AWS/SageMaker"
ENDPOINT_INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
ENDPOINT_SOURCE = "SageMaker Developer Guide, monitoring-cloudwatch.html (endpoint invocation and instance metrics)"
ENDPOINT_DIMENSIONS = ("EndpointName", "VariantName")

for _key, _namespace, _name, _unit in (
    ("endpoint.invocations", ENDPOINT_NAMESPACE, "Invocations", "None"),
    ("endpoint.invocations_per_instance", ENDPOINT_NAMESPACE, "InvocationsPerInstance", "None"),
    ("endpoint.invocation_4xx_errors", ENDPOINT_NAMESPACE, "Invocation4XXErrors", "None"),
    ("endpoint.invocation_5xx_errors", ENDPOINT_NAMESPACE, "Invocation5XXErrors", "None"),
    ("endpoint.model_latency", ENDPOINT_NAMESPACE, "ModelLatency", "Microseconds"),
    ("endpoint.overhead_latency", ENDPOINT_NAMESPACE, "OverheadLatency", "Microseconds"),
    ("endpoint.serverless_concurrency_utilization", ENDPOINT_NAMESPACE, "ServerlessConcurrentExecutionsUtilization", "None"),
    ("endpoint.cpu_utilization", ENDPOINT_INSTANCE_NAMESPACE, "CPUUtilization", "Percent"),
    ("endpoint.memory_utilization", ENDPOINT_INSTANCE_NAMESPACE, "MemoryUtilization", "Percent"),
):
    register(_key, Metric(_namespace, _name, ENDPOINT_DIMENSIONS, _unit, ENDPOINT_SOURCE))


# --- Feature store (components/feature_store.py, functions/feature_ingest, functions/feature_freshness)
#
# Feature Store's own metrics, as the SageMaker Developer Guide lists them ("Amazon SageMaker AI
# metrics in Amazon CloudWatch", section "Amazon SageMaker Feature Store metrics",
# https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-feature-store):
# operational metrics Invocations, Operation4XXErrors, Operation5XXErrors, ThrottledRequests and
# Latency (microseconds, "from the time SageMaker AI receives the request until it returns a
# response"), and the consumption metrics ConsumedRead/WriteRequestsUnits of on-demand groups,
# each by FeatureGroupName and OperationName for single-record operations (GetRecord,
# PutRecord, DeleteRecord). That section names no namespace of its own; SageMaker publishes
# its service metrics, these included, in AWS/SageMaker. Online serving latency is Latency with
# OperationName GetRecord (FEATURE_SERVING_OPERATION).
FEATURE_STORE_NAMESPACE = "AWS/SageMaker"
FEATURE_STORE_SOURCE = "SageMaker Developer Guide, monitoring-cloudwatch.html#cloudwatch-metrics-feature-store"
FEATURE_SERVING_OPERATION = "GetRecord"
FEATURE_GROUP_DIMENSION = "FeatureGroupName"
_FEATURE_OPERATION = (FEATURE_GROUP_DIMENSION, "OperationName")

for _key, _name, _unit in (
    ("feature_store.latency", "Latency", "Microseconds"),
    ("feature_store.invocations", "Invocations", "None"),
    ("feature_store.client_errors", "Operation4XXErrors", "None"),
    ("feature_store.server_errors", "Operation5XXErrors", "None"),
    ("feature_store.throttled_requests", "ThrottledRequests", "None"),
    ("feature_store.consumed_read_units", "ConsumedReadRequestsUnits", "None"),
    ("feature_store.consumed_write_units", "ConsumedWriteRequestsUnits", "None"),
):
    register(_key, Metric(FEATURE_STORE_NAMESPACE, _name, _FEATURE_OPERATION, _unit, FEATURE_STORE_SOURCE))

# The platform's own, one value per feature group (dimension: the group's name, as AWS's above).
# Ingestion publishes per ingested object; read = written + rejected in every publication.
for _key, _name, _unit, _source in (
    ("feature_store.ingest_rows_read", "IngestRowsRead", "Count",
     "functions/feature_ingest: rows of an object accounted for (written + rejected)"),
    ("feature_store.ingest_rows_written", "IngestRowsWritten", "Count", "functions/feature_ingest: rows PutRecord took"),
    ("feature_store.ingest_rows_rejected", "IngestRowsRejected", "Count",
     "functions/feature_ingest: rows sent to the dead-letter object"),
    ("feature_store.ingest_put_retries", "IngestPutRetries", "Count",
     "functions/feature_ingest: PutRecord calls sent again after a throttle or server error"),
    ("feature_store.ingest_incomplete", "IngestionsIncomplete", "Count",
     "functions/feature_ingest: 1 when an ingestion stopped before the end of its object (it is retried whole)"),
    ("feature_store.newest_ingested_event_time", "NewestIngestedEventTime", "None",
     "functions/feature_ingest: the newest event time written, in Unix seconds (Maximum = newest ever)"),
    ("feature_store.freshness_seconds", "FeatureFreshnessSeconds", "Seconds",
     "functions/feature_freshness: now minus the newest ingested event time"),
):
    register(_key, Metric(PLATFORM_NAMESPACE, _name, (FEATURE_GROUP_DIMENSION,), _unit, _source))

# Ingestions that failed after Lambda's retries wait in the ingestion function's failure queue
# (Amazon SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS").
register("feature_store.ingest_failures_queued", Metric(
    "AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName",), "Count",
    "Amazon SQS Developer Guide, sqs-available-cloudwatch-metrics.html; the ingestion function's failure queue"))


# --- Training pipeline (components/training_pipeline.py; owner: monitoring)
#
# Step Functions publishes execution metrics per state machine in AWS/States, dimension
# StateMachineArn (Step Functions Developer Guide, "Monitoring Step Functions metrics using Amazon
# CloudWatch", execution metrics). ExecutionTime (milliseconds) is a run's duration, which the
# training job's `.sync` wait dominates.
STATES_NAMESPACE = "AWS/States"
STATES_SOURCE = "Step Functions Developer Guide, procedure-cw-metrics.html (execution metrics, StateMachineArn)"
for _key, _name, _unit in (
    ("training.executions_started", "ExecutionsStarted", "Count"),
    ("training.executions_succeeded", "ExecutionsSucceeded", "Count"),
    ("training.executions_failed", "ExecutionsFailed", "Count"),
    ("training.execution_time", "ExecutionTime", "Milliseconds"),
):
    register(_key, Metric(STATES_NAMESPACE, _name, ("StateMachineArn",), _unit, STATES_SOURCE))

# SageMaker publishes a training job's instance metrics in /aws/sagemaker/TrainingJobs with the
# dimension Host = "<training-job-name>/algo-<instance number>", and the metrics its
# MetricDefinitions parse from the log in the same namespace with the dimension TrainingJobName
# (SageMaker Developer Guide, monitoring-cloudwatch.html "SageMaker AI job metrics" and
# training-metrics.html "choose /aws/sagemaker/TrainingJobs, then TrainingJobName"; the SageMaker
# Python SDK's TrainingJobAnalytics queries them the same way). Job names are made per run, so
# widgets find them with a SEARCH on the model's job prefix (components/dashboards.py).
TRAINING_JOBS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
TRAINING_HOST_DIMENSION = "Host"
TRAINING_JOB_DIMENSION = "TrainingJobName"
for _key, _name in (
    ("training.job_cpu_utilization", "CPUUtilization"),
    ("training.job_memory_utilization", "MemoryUtilization"),
    ("training.job_gpu_utilization", "GPUUtilization"),
):
    register(_key, Metric(TRAINING_JOBS_NAMESPACE, _name, (TRAINING_HOST_DIMENSION,), "Percent",
                          "SageMaker Developer Guide, monitoring-cloudwatch.html#cloudwatch-metrics-jobs (Host)"))

TRAINING_ALGORITHM_METRICS: dict[str, str] = {}
"""Metric definition name (containers/contracts/metrics.py) -> catalogue key."""
for _definition in METRIC_DEFINITIONS:
    TRAINING_ALGORITHM_METRICS[_definition["Name"]] = _key = f"training.algorithm.{_definition['Name']}"
    register(_key, Metric(TRAINING_JOBS_NAMESPACE, _definition["Name"], (TRAINING_JOB_DIMENSION,), "None",
                          "the training job's MetricDefinitions (containers/contracts/metrics.py); "
                          "SageMaker Developer Guide, training-metrics.html"))


# --- Drift detection (components/drift.py, functions/drift; owner: monitoring)
#
# Published by the drift function after each check of an endpoint (functions/drift/detect.py):
# per model (the alarm's metric), per variant, and per feature. Outcome is one of
# functions/drift/outcomes.py OUTCOMES.
for _key, _name, _dimensions, _unit, _source in (
    (drift_outcomes.DETECTED, "DataDriftDetected", ("Model",), "None",
     "1 when a check found drift in any variant of the model, 0 when it found none; nothing when nothing was checked"),
    (drift_outcomes.CHECKS, "DriftChecks", ("Model", "Outcome"), "Count", "1 per variant checked, by its outcome"),
    (drift_outcomes.FEATURE_SCORE, "FeatureDriftPSI", ("Model", "Variant", "Feature"), "None",
     "population stability index of the feature's captured values against its training histogram"),
    (drift_outcomes.DRIFTED_FEATURES, "DriftedFeatures", ("Model", "Variant"), "Count",
     "features flagged after the Benjamini-Hochberg correction"),
    (drift_outcomes.MEAN_PREDICTION, "MeanPredictedProbability", ("Model", "Variant"), "None",
     "mean of the captured scores (the prediction distribution)"),
    (drift_outcomes.BASELINE_POSITIVE_RATE, "BaselinePositiveRate", ("Model", "Variant"), "None",
     "the served version's training positive rate, which the mean score is compared with"),
    (drift_outcomes.ROWS, "CapturedRows", ("Model", "Variant"), "Count", "readable captured rows in the window"),
    (drift_outcomes.MALFORMED, "MalformedCaptureRecords", ("Model", "Variant"), "Count",
     "capture lines in the window that could not be read"),
):
    register(_key, Metric(PLATFORM_NAMESPACE, _name, _dimensions, _unit, f"functions/drift: {_source}"))
