"""The runbook's four CloudWatch dashboards, as pure functions from names to dashboard bodies.

Every line of every widget comes from an entry of components/metrics_catalogue.py (namespace,
name and dimension names), with dimension values taken from the stack's resources: the state
machine's ARN, the training job prefix of each model, the endpoints and their variants, the
feature groups, the models whose drift is checked. Nothing here types a metric name. Widgets of
parts a stack does not have are left out: no endpoint, no endpoint widgets; no endpoint that
captures its requests (serverless ones cannot), no drift widgets; no feature group, no feature
store dashboard.

Training jobs are named per run (`<job prefix>-<run id>`), so their widgets use metric SEARCH
expressions on the model's job prefix (CloudWatch User Guide, "CloudWatch search expression
syntax": a term with non-alphanumeric characters matches the consecutive tokens, so the prefix
matches that model's jobs; other models whose prefix extends it are excluded with NOT).

Body structure and limits (CloudWatch API Reference, "Dashboard Body Structure and Syntax", and
"CloudWatch search expression syntax"): at most 500 widgets; x 0-23, width 1-24 on the 24-column
grid, height 1-1000; at most 500 metrics and expressions per widget, and 100 search expressions;
a search query of at most 1024 characters; periods are multiples of 60; `region` is required on
metric widgets. `check_limits` holds every body to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components import training_workflow
from components.config import PlatformConfig
from components.metrics_catalogue import CATALOGUE, TRAINING_ALGORITHM_METRICS, Metric
from containers.contracts.features import FEATURE_NAMES
from containers.contracts.metrics import ITERATION_METRICS, ITERATION_PREFIX, METRIC_SPECS
from functions.drift import outcomes as drift

GRID_COLUMNS = 24
MAX_WIDGETS = 500
MAX_METRICS_PER_WIDGET = 500
MAX_SEARCHES_PER_WIDGET = 100
MAX_SEARCH_LENGTH = 1024
MAX_HEIGHT = 1000

# The four dashboards (physical name suffix -> title).
MODEL_PERFORMANCE = "model-performance"
TRAINING_PIPELINE = "training-pipeline"
INFERENCE_ENDPOINTS = "inference-endpoints"
FEATURE_STORE = "feature-store"
TITLES = {
    MODEL_PERFORMANCE: "Model performance overview",
    TRAINING_PIPELINE: "Training pipeline status",
    INFERENCE_ENDPOINTS: "Inference endpoint health",
    FEATURE_STORE: "Feature store",
}

# Catalogue keys of the serving metrics (components/inference_endpoint.py registers them).
ENDPOINT_INVOCATIONS = "endpoint.invocations"
ENDPOINT_4XX = "endpoint.invocation_4xx_errors"
ENDPOINT_5XX = "endpoint.invocation_5xx_errors"
ENDPOINT_MODEL_LATENCY = "endpoint.model_latency"
ENDPOINT_OVERHEAD_LATENCY = "endpoint.overhead_latency"
ENDPOINT_CPU = "endpoint.cpu_utilization"
ENDPOINT_MEMORY = "endpoint.memory_utilization"
ENDPOINT_SERVERLESS_CONCURRENCY = "endpoint.serverless_concurrency_utilization"
LATENCY_PERCENTILES = ("p50", "p95", "p99")


@dataclass(frozen=True)
class ModelView:
    """One configured model as the dashboards see it."""

    name: str
    job_prefix: str  # training jobs are "<job_prefix>-<run id>"
    objective_metric: str  # a final metric of containers/contracts/metrics.py
    threshold: float


def model_views(cfg: PlatformConfig) -> tuple[ModelView, ...]:
    return tuple(ModelView(m.name, training_workflow.job_prefix(cfg, m.name), m.objective_metric, m.threshold)
                 for m in cfg.models)


@dataclass(frozen=True)
class EndpointView:
    model: str
    endpoint_name: str
    variants: tuple[str, ...]
    serverless: bool
    captured: bool  # it captures its requests, so the drift function checks it


@dataclass(frozen=True)
class DashboardInputs:
    region: str
    state_machine_arn: str
    models: tuple[ModelView, ...]
    endpoints: tuple[EndpointView, ...] = ()
    feature_groups: tuple[str, ...] = ()  # physical names
    alarms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # dashboard -> alarm ARNs to show

    @property
    def drift_models(self) -> tuple[str, ...]:
        """Models whose endpoint captures its requests: the drift function checks them."""
        return tuple(dict.fromkeys(e.model for e in self.endpoints if e.captured))


# --- Metric lines ---------------------------------------------------------------------------------

def metric(key: str, dimensions: Mapping[str, str], *, stat: str, label: str, **render: Any) -> list[Any]:
    """One widget line for catalogue entry `key`: [namespace, name, dim, value, ..., {rendering}]."""
    entry = CATALOGUE[key]
    line: list[Any] = [entry.namespace, entry.name]
    for name, value in entry.dimensioned(**dimensions).items():
        line += [name, value]
    return [*line, {"stat": stat, "label": label, **render}]


def _quoted(text: str) -> str:
    """An exact-match term of a search expression (", \\, ( and ) escaped)."""
    for character in ('\\', '"', "(", ")"):
        text = text.replace(character, "\\" + character)
    return f'"{text}"'


def search(key: str, term: str, *, stat: str, period: int, label: str, exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
    """A SEARCH over catalogue entry `key`'s metrics whose (single) dimension matches `term`."""
    entry = CATALOGUE[key]
    (dimension,) = entry.dimensions
    terms = " ".join([f"MetricName={_quoted(entry.name)}", term, *(f"NOT {e}" for e in exclude)])
    query = f"{{{_quoted(entry.namespace)},{dimension}}} {terms}"
    return [{"expression": f"SEARCH('{query}', '{stat}', {period})", "label": label}]


def _others_extending(models: Sequence[ModelView], model: ModelView) -> list[str]:
    return [m.job_prefix for m in models if m is not model and m.job_prefix.startswith(model.job_prefix + "-")]


# --- Widgets and layout ----------------------------------------------------------------------

@dataclass(frozen=True)
class Widget:
    width: int
    height: int
    body: dict[str, Any]  # type and properties


def graph(region: str, title: str, lines: Sequence[list[Any]], *, period: int = 300, width: int = 12, height: int = 6,
          view: str = "timeSeries", y_label: str = "", annotations: Sequence[dict[str, Any]] = ()) -> Widget:
    properties: dict[str, Any] = {"title": title, "region": region, "view": view, "period": period,
                                  "stacked": False, "metrics": [list(line) for line in lines]}
    if y_label:
        properties["yAxis"] = {"left": {"label": y_label, "showUnits": False}}
    if annotations:
        properties["annotations"] = {"horizontal": list(annotations)}
    return Widget(width, height, {"type": "metric", "properties": properties})


def text(markdown: str, *, width: int = GRID_COLUMNS, height: int = 2) -> Widget:
    return Widget(width, height, {"type": "text", "properties": {"markdown": markdown}})


def alarm_status(region: str, title: str, alarm_arns: Sequence[str]) -> Widget:
    return Widget(GRID_COLUMNS, 2, {"type": "alarm", "properties": {"title": title, "region": region,
                                                                     "alarms": sorted(alarm_arns)}})


def layout(widgets: Sequence[Widget]) -> dict[str, Any]:
    """Widgets left to right in rows of the 24-column grid; a row is as tall as its tallest widget."""
    placed, x, y, row_height = [], 0, 0, 0
    for widget in widgets:
        if x + widget.width > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        placed.append({**widget.body, "x": x, "y": y, "width": widget.width, "height": widget.height})
        x, row_height = x + widget.width, max(row_height, widget.height)
    return {"start": "-PT24H", "periodOverride": "inherit", "widgets": placed}


def _header(inputs: DashboardInputs, dashboard: str, description: str) -> list[Widget]:
    widgets = [text(f"# {TITLES[dashboard]}\n{description}")]
    if inputs.alarms.get(dashboard):
        widgets.append(alarm_status(inputs.region, "Alarms", inputs.alarms[dashboard]))
    return widgets


# --- The dashboards --------------------------------------------------------------------------

def training_pipeline(inputs: DashboardInputs) -> dict[str, Any]:
    """Executions started/succeeded/failed, run duration, loss curves, and training job utilisation."""
    region, machine = inputs.region, {"StateMachineArn": inputs.state_machine_arn}
    widgets = _header(inputs, TRAINING_PIPELINE, "Runs of the training state machine and the SageMaker jobs they start.")
    widgets.append(graph(region, "Executions", [
        metric("training.executions_started", machine, stat="Sum", label="started"),
        metric("training.executions_succeeded", machine, stat="Sum", label="succeeded"),
        metric("training.executions_failed", machine, stat="Sum", label="failed", color="#d62728"),
    ], period=3600))
    widgets.append(graph(region, "Run duration (training job included)", [
        metric("training.execution_time", machine, stat="Maximum", label="longest run"),
        metric("training.execution_time", machine, stat="Average", label="average run"),
    ], period=3600, y_label="milliseconds"))
    for model in inputs.models:
        exclude = _others_extending(inputs.models, model)
        curves = [search(TRAINING_ALGORITHM_METRICS[ITERATION_PREFIX + name], model.job_prefix, stat="Average", period=60,
                         label=name, exclude=exclude) for name in ITERATION_METRICS if name.endswith("logloss")]
        widgets.append(graph(region, f"{model.name}: loss curves (per boosting round)", curves, period=60))
        usage = [search(key, model.job_prefix, stat="Average", period=60, label=label, exclude=exclude)
                 for key, label in (("training.job_cpu_utilization", "CPU %"),
                                    ("training.job_memory_utilization", "memory %"),
                                    ("training.job_gpu_utilization", "GPU %"))]
        widgets.append(graph(region, f"{model.name}: training job CPU, memory, GPU (per host)", usage, period=60,
                             y_label="percent"))
    return layout(widgets)


def model_performance(inputs: DashboardInputs) -> dict[str, Any]:
    """The objective of every training run against its threshold; with endpoints, drift per
    feature, the prediction distribution and the drift checks' outcomes."""
    region = inputs.region
    widgets = _header(inputs, MODEL_PERFORMANCE, "A run whose objective meets the threshold registers a new version.")
    for model in inputs.models:
        comparison = METRIC_SPECS[model.objective_metric].comparison
        widgets.append(graph(region, f"{model.name}: {model.objective_metric} per training run", [
            search(TRAINING_ALGORITHM_METRICS[model.objective_metric], model.job_prefix, stat="Maximum", period=3600,
                   label=model.objective_metric, exclude=_others_extending(inputs.models, model))],
            period=3600, annotations=[{"label": f"registers when {comparison} threshold", "value": model.threshold,
                                       "color": "#2ca02c"}]))
    for endpoint in inputs.endpoints:
        if endpoint.captured:
            widgets += _drift_widgets(region, endpoint)
    if inputs.drift_models:
        widgets.append(graph(region, "Drift checks by outcome", [
            metric(drift.CHECKS, {"Model": model, "Outcome": outcome}, stat="Sum", label=f"{model} {outcome}")
            for model in inputs.drift_models for outcome in drift.OUTCOMES], period=3600))
    return layout(widgets)


def _drift_widgets(region: str, endpoint: EndpointView) -> list[Widget]:
    model, widgets = endpoint.model, []
    for variant in endpoint.variants:
        where = {"Model": model, "Variant": variant}
        widgets.append(graph(region, f"{model}/{variant}: drift per feature (PSI)", [
            metric(drift.FEATURE_SCORE, {**where, "Feature": feature}, stat="Maximum", label=feature)
            for feature in FEATURE_NAMES], period=3600,
            annotations=[{"label": "drifts at or above", "value": drift.PSI_THRESHOLD, "color": "#d62728"}]))
        widgets.append(graph(region, f"{model}/{variant}: prediction distribution", [
            metric(drift.MEAN_PREDICTION, where, stat="Average", label="mean predicted probability"),
            metric(drift.BASELINE_POSITIVE_RATE, where, stat="Average", label="training positive rate"),
        ], period=3600))
        widgets.append(graph(region, f"{model}/{variant}: captured rows", [
            metric(drift.ROWS, where, stat="Sum", label="readable rows"),
            metric(drift.MALFORMED, where, stat="Sum", label="malformed lines"),
            metric(drift.DRIFTED_FEATURES, where, stat="Maximum", label="drifted features", yAxis="right"),
        ], period=3600))
    widgets.append(graph(region, f"{model}: drift detected", [
        metric(drift.DETECTED, {"Model": model}, stat="Maximum", label="drift detected (1)")], period=3600))
    return widgets


def inference_endpoints(inputs: DashboardInputs) -> dict[str, Any] | None:
    """Per variant: invocations, errors, latency percentiles, utilisation or serverless concurrency."""
    if not inputs.endpoints:
        return None
    region = inputs.region
    widgets = _header(inputs, INFERENCE_ENDPOINTS, "Every variant of every endpoint; latencies in microseconds.")
    for endpoint in inputs.endpoints:
        for variant in endpoint.variants:
            where = {"EndpointName": endpoint.endpoint_name, "VariantName": variant}
            name = f"{endpoint.model}/{variant}"
            widgets.append(graph(region, f"{name}: invocations and errors", [
                metric(ENDPOINT_INVOCATIONS, where, stat="Sum", label="invocations"),
                metric(ENDPOINT_4XX, where, stat="Sum", label="4xx"),
                metric(ENDPOINT_5XX, where, stat="Sum", label="5xx", color="#d62728"),
            ], period=60, width=8))
            widgets.append(graph(region, f"{name}: model latency", [
                metric(ENDPOINT_MODEL_LATENCY, where, stat=p, label=p) for p in LATENCY_PERCENTILES], period=60, width=8,
                y_label="microseconds"))
            widgets.append(graph(region, f"{name}: overhead latency", [
                metric(ENDPOINT_OVERHEAD_LATENCY, where, stat=p, label=p) for p in LATENCY_PERCENTILES], period=60, width=8,
                y_label="microseconds"))
            if endpoint.serverless:
                usage = [metric(ENDPOINT_SERVERLESS_CONCURRENCY, where, stat="Maximum", label="concurrency used")]
            else:
                usage = [metric(ENDPOINT_CPU, where, stat="Average", label="CPU %"),
                         metric(ENDPOINT_MEMORY, where, stat="Average", label="memory %")]
            widgets.append(graph(region, f"{name}: {'serverless concurrency' if endpoint.serverless else 'utilisation'}",
                                 usage, period=60, width=GRID_COLUMNS, height=4))
    return layout(widgets)


def feature_store(inputs: DashboardInputs) -> dict[str, Any] | None:
    """Per group: freshness, ingestion counts and rejects, online serving latency."""
    if not inputs.feature_groups:
        return None
    region = inputs.region
    widgets = _header(inputs, FEATURE_STORE, "Freshness is the age of the newest ingested event time.")
    for group in inputs.feature_groups:
        where = {"FeatureGroupName": group}
        serving = {"FeatureGroupName": group, "OperationName": "GetRecord"}
        widgets.append(graph(region, f"{group}: freshness", [
            metric("feature_store.freshness_seconds", where, stat="Maximum", label="age of newest event")],
            period=900, width=8, y_label="seconds"))
        widgets.append(graph(region, f"{group}: ingestion", [
            metric("feature_store.ingest_rows_written", where, stat="Sum", label="rows written"),
            metric("feature_store.ingest_rows_rejected", where, stat="Sum", label="rows rejected", color="#d62728"),
        ], period=3600, width=8))
        widgets.append(graph(region, f"{group}: online serving latency (GetRecord)", [
            metric("feature_store.latency", serving, stat=p, label=p) for p in LATENCY_PERCENTILES],
            period=300, width=8, y_label="microseconds"))
    return layout(widgets)


BUILDERS = {
    MODEL_PERFORMANCE: model_performance,
    TRAINING_PIPELINE: training_pipeline,
    INFERENCE_ENDPOINTS: inference_endpoints,
    FEATURE_STORE: feature_store,
}


def bodies(inputs: DashboardInputs) -> dict[str, dict[str, Any]]:
    """The dashboards this stack has, by name suffix (those without content are left out)."""
    built = {name: builder(inputs) for name, builder in BUILDERS.items()}
    return {name: body for name, body in built.items() if body is not None}


# --- Limits ------------------------------------------------------------------------------------

def check_limits(body: Mapping[str, Any]) -> list[str]:
    """Every way `body` breaks the documented limits (see the module docstring); [] when none."""
    problems = []
    widgets = body.get("widgets", [])
    if len(widgets) > MAX_WIDGETS:
        problems.append(f"{len(widgets)} widgets, more than {MAX_WIDGETS}")
    for index, widget in enumerate(widgets):
        problems += [f"widget {index}: {p}" for p in _widget_problems(widget)]
    return problems


def _widget_problems(widget: Mapping[str, Any]) -> list[str]:
    problems = []
    x, width, height = widget.get("x", 0), widget.get("width", 6), widget.get("height", 6)
    if not (0 <= x <= GRID_COLUMNS - 1 and 1 <= width <= GRID_COLUMNS and x + width <= GRID_COLUMNS):
        problems.append(f"x {x} width {width} outside the {GRID_COLUMNS}-column grid")
    if not 1 <= height <= MAX_HEIGHT or widget.get("y", 0) < 0:
        problems.append(f"height {height} or y {widget.get('y')} out of range")
    if widget["type"] != "metric":
        return problems
    properties = widget["properties"]
    lines = properties.get("metrics", [])
    searches = [line[0]["expression"] for line in lines if isinstance(line[0], dict) and "SEARCH(" in line[0]["expression"]]
    if not properties.get("region"):
        problems.append("no region")
    if len(lines) > MAX_METRICS_PER_WIDGET or len(searches) > MAX_SEARCHES_PER_WIDGET:
        problems.append(f"{len(lines)} lines, {len(searches)} searches")
    problems += [f"search query of {len(s)} characters" for s in searches if len(_search_query(s)) > MAX_SEARCH_LENGTH]
    periods = [properties.get("period", 300)] + [line[-1].get("period", 300) for line in lines if isinstance(line[-1], dict)]
    problems += [f"period {p} is not a multiple of 60" for p in periods if p % 60 or p < 60]
    return problems


def _search_query(expression: str) -> str:
    return expression.split("SEARCH('", 1)[1].rsplit("',", 2)[0]


def metric_of(line: Sequence[Any]) -> tuple[Metric | None, dict[str, str]]:
    """The catalogue entry a plain metric line names and its dimensions (for tests and renderers)."""
    namespace, name, *rest = line
    pairs = [value for value in rest if not isinstance(value, dict)]
    dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
    entry = next((m for m in CATALOGUE.values() if (m.namespace, m.name) == (namespace, name)
                  and set(m.dimensions) == set(dimensions)), None)
    return entry, dimensions


def to_json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), sort_keys=True)
