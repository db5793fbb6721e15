"""The promotion pipeline's state machine, built as data.

`definition(spec)` is a pure function from names and ARNs to the Amazon States Language document:
components/promotion.py calls it in one `apply` once the ARNs are known, and
tests/functions/test_promotion_workflow.py builds the same spec from moto's ARNs and executes
it, so what is tested is what deploys. One run, started by the experiment's schedule or by hand
(any input; it is not read):

1. `ReadWindow`: the evidence window runs from the experiment's `startedAt` (config) to the
   execution's start. Before `startedAt` there is nothing to judge: the run ends `Unchanged`.
2. `DescribeEndpoint`: the live endpoint's status and variant weights.
3. `ReadMetrics`: one GetMetricData call for both variants' Invocations, 4XX and 5XX errors,
   p99 ModelLatency and OverheadLatency (and the business metric's SampleCount and Sum when
   configured), each over one period that covers the whole window (`WINDOW_PERIOD_SECONDS`).
4. `Decide`: the decision Lambda (functions/promotion/handler.py) with the experiment (from
   config), the window, the endpoint and the metrics. It answers `no_action` when the live
   endpoint is not in a state to judge (Updating, the challenger not live yet, or the weights
   already moved by an earlier decision), else the rule's outcome (functions/promotion/decision.py).
5. On `promote_challenger` (challenger 1, champion 0) or `keep_champion` (champion 1,
   challenger 0), `ShiftTraffic` sets the live weights with UpdateEndpointWeightsAndCapacities.
   The weights are written here, from config, not taken from the function's answer.
6. `RecordDecision` writes the decision record (numbers, window, rule version, execution) to the
   experiment's SSM parameter, where `automation/experiments.py status` and `apply` read it;
   also on `not_enough_evidence`, so `status` shows the evidence so far. `no_action` records
   nothing: the parameter keeps a decision that waits to be applied.
7. `Notify`: promote and keep, and every failure, are published to the alert topic. Waiting is
   not (a run an hour would fill inboxes); the run's output and the record say why it waits.

Failures (endpoint or metrics unreadable, decision failed, shift or record failed) end the
execution Failed after their notification, like the training pipeline; a notification that
cannot be delivered keeps the outcome. AWS calls are retried after any task failure (all of them
are reads or idempotent writes); the Lambda after its transient errors only.

JSONPath ASL with intrinsic functions only (no JSONata), so moto's interpreter runs it as AWS does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components import metrics_catalogue
from components.config import EXPERIMENT_VARIANTS, ModelConfig, PlatformConfig
from components.training_workflow import integration_arn
from functions.promotion.decision import KEEP, PROMOTE, WAIT, BusinessRule, Rule
from functions.promotion.evidence import BUSINESS_QUERIES, ENDPOINT_QUERIES, query_id
from functions.promotion.experiment import Arm, Experiment
from functions.promotion.handler import NO_ACTION

DESCRIBE_INTEGRATION = "aws-sdk:sagemaker:describeEndpoint"
METRICS_INTEGRATION = "aws-sdk:cloudwatch:getMetricData"
DECIDE_INTEGRATION = "lambda:invoke"
SHIFT_INTEGRATION = "aws-sdk:sagemaker:updateEndpointWeightsAndCapacities"
RECORD_INTEGRATION = "aws-sdk:ssm:putParameter"
PUBLISH_INTEGRATION = "sns:publish"
INTEGRATIONS = (DESCRIBE_INTEGRATION, METRICS_INTEGRATION, DECIDE_INTEGRATION, SHIFT_INTEGRATION,
                RECORD_INTEGRATION, PUBLISH_INTEGRATION)

# One GetMetricData period covering any window: 90 days, a multiple of 3600 s as CloudWatch
# requires once the start is more than 63 days ago (MetricStat.Period). A window longer than
# that gets two data points per query, which the decision refuses (functions/promotion/evidence.py):
# an experiment undecided after 90 days is stopped or started anew.
WINDOW_PERIOD_SECONDS = 90 * 24 * 3600
MAX_EXPERIMENT_DAYS = WINDOW_PERIOD_SECONDS // 86400

# Catalogue keys of the SageMaker endpoint metrics the decision reads (components/metrics_catalogue.py,
# the endpoints' section: AWS/SageMaker, per EndpointName and VariantName), by the decision's query key.
ENDPOINT_METRIC_KEYS = {
    "invocations": "endpoint.invocations",
    "errors_4xx": "endpoint.invocation_4xx_errors",
    "errors_5xx": "endpoint.invocation_5xx_errors",
    "model_latency_p99": "endpoint.model_latency",
    "overhead_latency_p99": "endpoint.overhead_latency",
}
VARIANT_DIMENSIONS = ("EndpointName", "VariantName")

# The Lambda errors Step Functions' developer guide retries for lambda:invoke (its recommended Retry).
LAMBDA_TRANSIENT_ERRORS = ("Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                           "Lambda.TooManyRequestsException")
RETRY = {"IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2.0}
SUBJECT_LIMIT = 99  # SNS Publish: a Subject is "less than 100 characters long"

# State names other code refers to (tests, the runbook).
DECIDE_STATE = "Decide"
SHIFT_STATE = "ShiftTraffic"
RECORD_STATE = "RecordDecision"
NOTIFY_STATE = "Notify"


@dataclass(frozen=True)
class Failure:
    """A way the pipeline can fail: its state, the execution's Error, and its subject's words."""

    state: str
    error: str
    subject: str
    comment: str


FAILURES = {
    "endpoint": Failure("EndpointUnreadable", "EndpointUnreadable", "promotion failed: endpoint unreadable",
                        "DescribeEndpoint failed (the endpoint is gone, or access is denied)"),
    "metrics": Failure("MetricsUnreadable", "MetricsUnreadable", "promotion failed: metrics unreadable",
                       "GetMetricData failed"),
    "decision": Failure("DecisionFailed", "DecisionFailed", "promotion failed: no decision",
                        "The decision function failed (its error is in the message)"),
    "shift": Failure("ShiftFailed", "TrafficShiftFailed", "promotion failed: traffic not shifted",
                     "A decision was taken but UpdateEndpointWeightsAndCapacities failed: nothing changed live"),
    "record": Failure("RecordFailed", "RecordFailed", "promotion: traffic shifted, record failed",
                      "Traffic was shifted but the decision could not be recorded; the message carries it"),
}


@dataclass(frozen=True)
class PromotionSpec:
    """The deployed names and ARNs the definition refers to."""

    label: str  # "<project>/<stack>": prefixes notification subjects
    experiment: Experiment
    function_arn: str
    parameter_name: str
    topic_arn: str
    metric_queries: Sequence[Mapping[str, Any]]
    partition: str = "aws"


def definition(spec: PromotionSpec) -> dict[str, Any]:
    """The ASL document for `spec` (see the module docstring for the flow)."""
    states: dict[str, Any] = {}
    states.update(_window_states(spec))
    states.update(_reading_states(spec))
    states.update(_decision_states(spec))
    states.update(_outcome_states(spec))
    states.update(_notification_states(spec))
    return {
        "Comment": f"{spec.label} promotion of model '{spec.experiment.model}': judge the A/B experiment, shift traffic "
                   "to the winner, record and notify",
        "StartAt": "ReadWindow",
        "States": states,
    }


def subject(spec: PromotionSpec, words: str) -> str:
    """`[<project>/<stack>] <model>: <words>` within SNS's limit: with the longest model and stack
    names the model's name is cut, so the words (what happened) stay whole."""
    head, model = f"[{spec.label}] ", spec.experiment.model
    room = SUBJECT_LIMIT - len(head) - len(": ") - len(words)
    if len(model) > room:
        model = model[:max(room - 3, 1)] + "..."
    return f"{head}{model}: {words}"[:SUBJECT_LIMIT]


def _decided_subjects(spec: PromotionSpec) -> dict[str, str]:
    experiment = spec.experiment
    return {
        PROMOTE: f"A/B decision: promote challenger (version {experiment.challenger.model_version})",
        KEEP: f"A/B decision: keep champion (version {experiment.champion.model_version})",
    }


def _window_states(spec: PromotionSpec) -> dict[str, Any]:
    started = spec.experiment.started_at
    return {
        "ReadWindow": {
            "Type": "Pass",
            "Comment": "Evidence counts from the experiment's start to this execution's",
            "Parameters": {"start": started, "end.$": "$$.Execution.StartTime"},
            "ResultPath": "$.window",
            "Next": "CheckWindowOpen",
        },
        # Compared as text: ISO 8601 UTC times of one layout sort as they follow each other (the
        # start time's milliseconds sort below "Z", so the window's first second counts as not open).
        # Timestamp rules are documented for times without fractions, and the context's StartTime has them.
        "CheckWindowOpen": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.window.end", "StringGreaterThan": started, "Next": "DescribeEndpoint"}],
            "Default": "WindowNotOpen",
        },
        "WindowNotOpen": {
            "Type": "Pass",
            "Result": {"outcome": NO_ACTION, "reason": f"no action: the evidence window opens at {started}"},
            "ResultPath": "$.decision",
            "Next": "Unchanged",
        },
    }


def _reading_states(spec: PromotionSpec) -> dict[str, Any]:
    endpoint = spec.experiment.endpoint
    return {
        "DescribeEndpoint": {
            "Type": "Task",
            "Comment": "The live status and variant weights",
            "Resource": integration_arn(spec.partition, DESCRIBE_INTEGRATION),
            "Parameters": {"EndpointName": endpoint},
            "ResultSelector": {"status.$": "$.EndpointStatus", "variants.$": "$.ProductionVariants"},
            "ResultPath": "$.endpoint",
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], **RETRY}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILURES["endpoint"].state}],
            "Next": "ReadMetrics",
        },
        "ReadMetrics": {
            "Type": "Task",
            "Comment": "Every variant's metrics over the window, in one GetMetricData call",
            "Resource": integration_arn(spec.partition, METRICS_INTEGRATION),
            "Parameters": {
                "StartTime": spec.experiment.started_at,
                "EndTime.$": "$.window.end",
                "MetricDataQueries": [dict(query) for query in spec.metric_queries],
                "ScanBy": "TimestampAscending",
            },
            "ResultSelector": {"results.$": "$.MetricDataResults"},
            "ResultPath": "$.metrics",
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], **RETRY}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILURES["metrics"].state}],
            "Next": DECIDE_STATE,
        },
    }


def _decision_states(spec: PromotionSpec) -> dict[str, Any]:
    experiment = spec.experiment
    weights = {
        PROMOTE: [{"VariantName": experiment.champion.variant, "DesiredWeight": 0.0},
                  {"VariantName": experiment.challenger.variant, "DesiredWeight": 1.0}],
        KEEP: [{"VariantName": experiment.champion.variant, "DesiredWeight": 1.0},
               {"VariantName": experiment.challenger.variant, "DesiredWeight": 0.0}],
    }
    return {
        DECIDE_STATE: {
            "Type": "Task",
            "Comment": "The decision rule (functions/promotion); it calls no AWS API",
            "Resource": integration_arn(spec.partition, DECIDE_INTEGRATION),
            "Parameters": {
                "FunctionName": spec.function_arn,
                "Payload": {
                    "experiment": experiment.to_event(),
                    "window.$": "$.window",
                    "endpoint.$": "$.endpoint",
                    "metrics.$": "$.metrics.results",
                    "execution.$": "$$.Execution.Id",
                },
            },
            # The decision replaces the state: the window, endpoint and metrics are in its record.
            "ResultSelector": {"decision": {"outcome.$": "$.Payload.outcome", "reason.$": "$.Payload.reason",
                                            "record.$": "$.Payload.record"}},
            "ResultPath": "$",
            "Retry": [{"ErrorEquals": list(LAMBDA_TRANSIENT_ERRORS), **RETRY}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILURES["decision"].state}],
            "Next": "RouteDecision",
        },
        "RouteDecision": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.decision.outcome", "StringEquals": PROMOTE, "Next": "PromoteChallenger"},
                {"Variable": "$.decision.outcome", "StringEquals": KEEP, "Next": "KeepChampion"},
                {"Variable": "$.decision.outcome", "StringEquals": WAIT, "Next": RECORD_STATE},
            ],
            "Default": "Unchanged",
        },
        "PromoteChallenger": {"Type": "Pass", "Comment": "All traffic to the challenger", "Result": weights[PROMOTE],
                              "ResultPath": "$.weights", "Next": SHIFT_STATE},
        "KeepChampion": {"Type": "Pass", "Comment": "All traffic back to the champion", "Result": weights[KEEP],
                         "ResultPath": "$.weights", "Next": SHIFT_STATE},
        SHIFT_STATE: {
            "Type": "Task",
            "Comment": "Carry the decision out live; the stack file follows with experiments.py apply",
            "Resource": integration_arn(spec.partition, SHIFT_INTEGRATION),
            "Parameters": {"EndpointName": experiment.endpoint, "DesiredWeightsAndCapacities.$": "$.weights"},
            "ResultPath": None,
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], **RETRY}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILURES["shift"].state}],
            "Next": RECORD_STATE,
        },
        RECORD_STATE: {
            "Type": "Task",
            "Comment": "Where experiments.py status and apply read the decision",
            "Resource": integration_arn(spec.partition, RECORD_INTEGRATION),
            "Parameters": {"Name": spec.parameter_name, "Value.$": "States.JsonToString($.decision.record)",
                           "Type": "String", "Overwrite": True},
            "ResultPath": None,
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], **RETRY}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILURES["record"].state}],
            "Next": "WasTrafficShifted",
        },
        "WasTrafficShifted": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.decision.outcome", "StringEquals": PROMOTE, "Next": "Promoted"},
                {"Variable": "$.decision.outcome", "StringEquals": KEEP, "Next": "Kept"},
            ],
            "Default": "Waiting",
        },
        "Waiting": {"Type": "Succeed", "Comment": "Not enough evidence: nothing changed; the record says what is missing"},
        "Unchanged": {"Type": "Succeed", "Comment": "Nothing judged (see $.decision.reason): nothing changed or recorded"},
    }


def _outcome_states(spec: PromotionSpec) -> dict[str, Any]:
    """One Pass per notified outcome, building `$.notification` for the one Notify state."""
    decided = _decided_subjects(spec)
    states = {
        name: {"Type": "Pass", "Parameters": {"succeeded": True, "subject": subject(spec, decided[outcome]),
                                              "message.$": "$.decision.record"},
               "ResultPath": "$.notification", "Next": NOTIFY_STATE}
        for name, outcome in (("Promoted", PROMOTE), ("Kept", KEEP))
    }
    base = {"stack": spec.label, "model": spec.experiment.model, "endpoint": spec.experiment.endpoint,
            "execution.$": "$$.Execution.Id", "cause.$": "States.JsonToString($.error)", "caught_error.$": "$.error.Error"}
    for key, failure in FAILURES.items():
        message = {"outcome": "failed", "error": failure.error, **base}
        if key in ("shift", "record"):
            message["decision.$"] = "$.decision"
        states[failure.state] = {"Type": "Pass", "Comment": failure.comment,
                                 "Parameters": {"succeeded": False, "subject": subject(spec, failure.subject),
                                                "message": message},
                                 "ResultPath": "$.notification", "Next": NOTIFY_STATE}
    return states


def _notification_states(spec: PromotionSpec) -> dict[str, Any]:
    return {
        NOTIFY_STATE: {
            "Type": "Task",
            "Comment": "Tell the alert topic what was decided, or what failed",
            "Resource": integration_arn(spec.partition, PUBLISH_INTEGRATION),
            "Parameters": {"TopicArn": spec.topic_arn, "Subject.$": "$.notification.subject",
                           "Message.$": "States.JsonToString($.notification.message)"},
            "ResultPath": None,
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], **RETRY}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.notification_error",
                       "Next": "NotificationFailed"}],
            "Next": "Finish",
        },
        "NotificationFailed": {"Type": "Pass", "Comment": "The alert topic did not get it; the outcome stands",
                               "Next": "Finish"},
        "Finish": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.notification.succeeded", "BooleanEquals": True, "Next": "Decided"}],
            "Default": "Failed",
        },
        "Decided": {"Type": "Succeed", "Comment": "Traffic shifted to the winner and the decision recorded"},
        "Failed": {"Type": "Fail", "Comment": "See the notification's error and cause",
                   "ErrorPath": "$.notification.message.error", "CausePath": "$.notification.message.cause"},
    }


# --- from the stack config -------------------------------------------------------------------------

def experiment_of(cfg: PlatformConfig, model: ModelConfig, endpoint_name: str) -> Experiment:
    """The experiment configured on `model`'s endpoint, in the decision's terms."""
    experiment = model.endpoint.experiment
    if experiment is None:
        raise ValueError(f"model {model.name!r} has no experiment configured")
    variants = {v.name: v for v in model.endpoint.variants}
    champion, challenger = (variants[name] for name in EXPERIMENT_VARIANTS)
    business = experiment.business_metric
    return Experiment(
        model=model.name, stack=cfg.stack, endpoint=endpoint_name, started_at=experiment.started_at,
        champion=Arm(champion.name, champion.model_version, champion.weight),
        challenger=Arm(challenger.name, challenger.model_version, challenger.weight),
        rule=Rule(min_invocations=experiment.min_invocations_per_variant,
                  significance=experiment.error_rate_significance,
                  latency_tolerance=experiment.p99_latency_tolerance_percent / 100,
                  business=None if business is None else BusinessRule(
                      business.metric_name, business.min_samples_per_variant, business.significance)),
    )


def metric_queries(experiment: Experiment) -> list[dict[str, Any]]:
    """GetMetricData's MetricDataQueries for both variants, ids as functions/promotion/evidence.py reads them."""
    queries = []
    for role, arm in experiment.arms:
        dimensions = [{"Name": "EndpointName", "Value": experiment.endpoint}, {"Name": "VariantName", "Value": arm.variant}]
        metrics = [(key, query.statistic, *_endpoint_metric(key)) for key, query in ENDPOINT_QUERIES.items()]
        if experiment.rule.business is not None:
            metrics += [(key, query.statistic, metrics_catalogue.PLATFORM_NAMESPACE, experiment.rule.business.metric)
                        for key, query in BUSINESS_QUERIES.items()]
        queries += [{"Id": query_id(role, key), "ReturnData": True,
                     "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
                                    "Period": WINDOW_PERIOD_SECONDS, "Stat": statistic}}
                    for key, statistic, namespace, name in metrics]
    return queries


def _endpoint_metric(key: str) -> tuple[str, str]:
    """(namespace, name) of an endpoint metric: the catalogue's entry, checked to be per variant."""
    metric = metrics_catalogue.CATALOGUE[ENDPOINT_METRIC_KEYS[key]]
    if tuple(metric.dimensions) != VARIANT_DIMENSIONS:
        raise ValueError(f"{ENDPOINT_METRIC_KEYS[key]} takes dimensions {metric.dimensions}; the decision reads it per "
                         f"{' and '.join(VARIANT_DIMENSIONS)}")
    return metric.namespace, metric.name


def spec_for(cfg: PlatformConfig, model: ModelConfig, *, endpoint_name: str, function_arn: str, parameter_name: str,
             topic_arn: str, partition: str = "aws") -> PromotionSpec:
    experiment = experiment_of(cfg, model, endpoint_name)
    return PromotionSpec(label=f"{cfg.project}/{cfg.stack}", experiment=experiment, function_arn=function_arn,
                         parameter_name=parameter_name, topic_arn=topic_arn, metric_queries=metric_queries(experiment),
                         partition=partition)
