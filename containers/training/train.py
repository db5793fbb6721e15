"""SageMaker training entry point for the sample churn model (xgboost, binary:logistic).

It follows the SageMaker training contract for a bring-your-own container, under a root that
defaults to ``/opt/ml`` and can be moved (``--root`` or env ``SM_ROOT``) so the same code
runs in tests and on a laptop with that layout in a temp folder:

    input/config/hyperparameters.json   every value a string (CreateTrainingJob's rule)
    input/data/train/**.csv             channel "train": CSV files with a header row
    input/data/validation/**.csv        channel "validation": same format
    model/                              uploaded by SageMaker as model.tar.gz
        xgboost-model.json              the booster (xgboost JSON format, feature names set)
        model-metadata.json             feature names/order/types, threshold, versions
        evaluation.json, baseline.json  copies, so each model version carries its own
    output/data/                        uploaded by SageMaker as output.tar.gz
        evaluation.json                 final metrics (see ``build_evaluation``)
        baseline.json                   training-data baseline for drift detection
                                        (format: ``containers/contracts/baseline.py``)
    output/failure                      one paragraph; SageMaker shows it as FailureReason
    input/config/resourceconfig.json    the job's hosts; absent or one host: single-host training

With several hosts every host trains the one model on its own shard of the train channel
together with the others (``distributed.py``: XGBoost's collective, its tracker on the first
host); the drift baseline and the train metrics cover every host's rows; only the leader (the
first host by name) prints metric lines and writes the model folder and ``output/data``.

CSV columns are matched by header name, so order does not matter; the label ``churned``
and every feature of ``features.py`` must be present, extra columns (for example the
feature store's ``customer_id`` and ``event_time``) are ignored, empty cells are missing
values (xgboost handles them), labels must be 0 or 1.

Metrics are printed per boosting round and once more at the end with the ``metrics.py``
helpers, which also hold the regexes SageMaker parses them with.

Exit codes: 0 success; 1 bad input (hyperparameters, missing/empty channel, missing
columns, non-numeric cells, a host without training data); 2 unexpected error (a bug or an
infrastructure problem); 3 the hosts of a multi-host job could not train together (tracker
unreachable, a host lost; bounded waits, see ``distributed.py``); 143 (128 + SIGTERM)
stopped by SIGTERM, which is what StopTrainingJob sends: training ends after the current
round, the model trained so far, its metrics and baseline are saved (SageMaker uploads them
for a stopped job) and ``output/failure`` says it was stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from containers.contracts import hyperparameters as hyperparameter_schema
from containers.contracts import metrics, model_metadata
from containers.contracts.features import FEATURE_NAMES, FEATURES, TARGET, Feature, parse_value
from containers.contracts.hyperparameters import Hyperparameters
from containers.training import baseline_statistics, distributed
from containers.training.distributed import Group
from containers.training.errors import EmptyChannelError, HostsError, StoppedBeforeTrainingError, TrainingInputError

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_UNEXPECTED = 2
EXIT_HOSTS = 3
EXIT_STOPPED = 143  # 128 + SIGTERM(15): the conventional code for "ended by SIGTERM"

DEFAULT_ROOT = "/opt/ml"
ROOT_ENV_VAR = "SM_ROOT"
CHANNELS = ("train", "validation")
# What the model folder holds and the decision threshold are the serving contract too.
MODEL_FILE = model_metadata.MODEL_FILE
METADATA_FILE = model_metadata.METADATA_FILE
EVALUATION_FILE = model_metadata.EVALUATION_FILE
BASELINE_FILE = model_metadata.BASELINE_FILE
DECISION_THRESHOLD = model_metadata.DECISION_THRESHOLD
FAILURE_REASON_LIMIT = 1024  # SageMaker keeps only the first 1024 characters

Log = Callable[[str], None]
StopRequested = Callable[[], bool]


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class SageMakerPaths:
    """The ``/opt/ml`` layout under a movable root, so tests can use a temp folder."""

    root: Path

    @property
    def hyperparameters(self) -> Path:
        return self.root / "input" / "config" / "hyperparameters.json"

    @property
    def resource_config(self) -> Path:
        return self.root / "input" / "config" / "resourceconfig.json"

    def channel(self, name: str) -> Path:
        return self.root / "input" / "data" / name

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"


# --------------------------------------------------------------------------- hyperparameters


def xgboost_params(hyperparameters: Hyperparameters) -> dict[str, Any]:
    """The ``params`` dict for ``xgb.train``; the round count and early stopping go apart."""
    return {
        "objective": "binary:logistic",
        "eval_metric": ["auc", "logloss"],
        "tree_method": "hist",
        "max_depth": hyperparameters.max_depth,
        "eta": hyperparameters.eta,
        "subsample": hyperparameters.subsample,
        "colsample_bytree": hyperparameters.colsample_bytree,
        "min_child_weight": hyperparameters.min_child_weight,
        "gamma": hyperparameters.gamma,
        "lambda": hyperparameters.reg_lambda,
        "alpha": hyperparameters.reg_alpha,
        "scale_pos_weight": hyperparameters.scale_pos_weight,
        "seed": hyperparameters.seed,
    }


def parse_hyperparameters(raw: Mapping[str, object]) -> Hyperparameters:
    """Validate a hyperparameters.json mapping with the shared schema; every problem in one error."""
    try:
        return hyperparameter_schema.parse(raw)
    except hyperparameter_schema.HyperparameterError as exc:
        raise TrainingInputError(str(exc)) from exc


def load_hyperparameters(path: Path) -> Hyperparameters:
    """Read hyperparameters.json; a missing file means all defaults (SageMaker writes ``{}``)."""
    if not path.exists():
        return Hyperparameters()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrainingInputError(f"{path} is not valid JSON: {exc}") from exc
    return parse_hyperparameters(raw)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Dataset:
    """One channel's rows: features in ``FEATURE_NAMES`` order (NaN = missing), 0/1 labels."""

    features: np.ndarray
    labels: np.ndarray
    files: tuple[Path, ...] = ()

    @property
    def rows(self) -> int:
        return int(self.labels.shape[0])


def _read_csv(path: Path) -> tuple[list[list[float]], list[float]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return [], []
        header = [column.strip() for column in header]
        missing = [c for c in (TARGET, *FEATURE_NAMES) if c not in header]
        if missing:
            raise TrainingInputError(
                f"{path}: header lacks required column(s) {', '.join(missing)}; the file "
                f"needs a header row naming the label {TARGET!r} and every feature in "
                f"features.py ({', '.join(FEATURE_NAMES)}); found: {', '.join(header)}"
            )
        label_at = header.index(TARGET)
        feature_at = [(f, header.index(f.name)) for f in FEATURES]
        rows: list[list[float]] = []
        labels: list[float] = []
        for line_no, cells in enumerate(reader, start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise TrainingInputError(f"{path}:{line_no}: {len(cells)} cells but the header has {len(header)}")
            label_text = cells[label_at].strip()
            if label_text not in ("0", "1", "0.0", "1.0"):
                raise TrainingInputError(f"{path}:{line_no}: label {TARGET!r} is {label_text!r}; it must be 0 or 1")
            labels.append(float(label_text))
            row = []
            for feature, at in feature_at:
                row.append(_parse_cell(path, line_no, feature, cells[at]))
            rows.append(row)
        return rows, labels


def _parse_cell(path: Path, line_no: int, feature: Feature, cell: str) -> float:
    """One cell by the rule serving applies to request bodies too (features.parse_value)."""
    try:
        return parse_value(feature, cell)
    except ValueError as exc:
        raise TrainingInputError(f"{path}:{line_no}: column {feature.name!r}: {exc}") from None


def load_channel(paths: SageMakerPaths, name: str) -> Dataset:
    """Read every ``*.csv`` under a channel folder (sorted, recursive: S3 prefixes nest)."""
    folder = paths.channel(name)
    if not folder.is_dir():
        raise EmptyChannelError(
            name,
            f"channel {name!r} is missing: {folder} does not exist; the training job needs "
            f"InputDataConfig channels named {' and '.join(repr(c) for c in CHANNELS)}",
        )
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if not files:
        raise EmptyChannelError(name, f"channel {name!r} is empty: no .csv files under {folder}")
    all_rows: list[list[float]] = []
    all_labels: list[float] = []
    for path in files:
        rows, labels = _read_csv(path)
        all_rows.extend(rows)
        all_labels.extend(labels)
    if not all_labels:
        raise EmptyChannelError(name, f"channel {name!r} is empty: its {len(files)} CSV file(s) have no data rows")
    features = np.asarray(all_rows, dtype=np.float64).reshape(len(all_rows), len(FEATURES))
    return Dataset(features, np.asarray(all_labels, dtype=np.float64), tuple(files))


def _positives(dataset: Dataset) -> int:
    return int(np.count_nonzero(dataset.labels == 1))


def _require_both_classes(name: str, positives: int, rows: int) -> None:
    """Counts, not labels: on several hosts the train channel's counts are the hosts' totals."""
    if positives in (0, rows):
        raise TrainingInputError(
            f"channel {name!r} has only label {int(positives == rows)}; a binary classifier "
            f"needs both 0 and 1 in {name} (and AUC is undefined otherwise)"
        )


def _dmatrix(dataset: Dataset) -> xgb.DMatrix:
    return xgb.DMatrix(
        dataset.features,
        label=dataset.labels,
        feature_names=list(FEATURE_NAMES),
        feature_types=[f.type for f in FEATURES],
        missing=math.nan,
    )


# --------------------------------------------------------------------------- metrics


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties get average ranks); no sklearn needed."""
    labels = np.asarray(labels)
    positives = labels == 1
    n_pos = int(positives.sum())
    n_neg = int(labels.shape[0] - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes")
    _, inverse, counts = np.unique(np.asarray(scores), return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float = DECISION_THRESHOLD) -> dict[str, float]:
    """logloss, auc, accuracy, precision, recall, f1 (0 when undefined, like sklearn)."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-15, 1 - 1e-15)
    predicted = p >= threshold
    actual = y == 1
    tp = float(np.sum(predicted & actual))
    fp = float(np.sum(predicted & ~actual))
    fn = float(np.sum(~predicted & actual))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "logloss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "auc": roc_auc(y, p),
        "accuracy": float(np.mean(predicted == actual)),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


def confusion_matrix(labels: np.ndarray, probabilities: np.ndarray, threshold: float = DECISION_THRESHOLD) -> dict[str, dict[str, int]]:
    """``{actual: {predicted: count}}`` with "0"/"1" keys, Model Monitor's layout."""
    actual = np.asarray(labels).astype(int)
    predicted = (np.asarray(probabilities) >= threshold).astype(int)
    return {str(a): {str(p): int(np.sum((actual == a) & (predicted == p))) for p in (0, 1)} for a in (0, 1)}


# --------------------------------------------------------------------------- training


class _PrintMetrics(xgb.callback.TrainingCallback):
    """Prints each round's metrics with the metrics.py format SageMaker parses, or (on a host other
    than the leader) a progress line no MetricDefinition matches: SageMaker reads every host's log."""

    def __init__(self, log: Log, metric_lines: bool = True) -> None:
        super().__init__()
        self._log = log
        self._metric_lines = metric_lines

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        if not self._metric_lines:
            self._log(f"round {epoch} trained")
            return False
        latest = {f"{data}:{name}": float(history[-1]) for data, by_metric in evals_log.items() for name, history in by_metric.items()}
        ordered = {name: latest[name] for name in metrics.ITERATION_METRICS if name in latest}
        self._log(metrics.format_iteration_line(epoch, ordered))
        return False


class _StopWhenRequested(xgb.callback.TrainingCallback):
    """Ends training after the current round once a stop was requested (SIGTERM)."""

    def __init__(self, stop_requested: StopRequested) -> None:
        super().__init__()
        self._stop_requested = stop_requested
        self.stopped = False

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        if self._stop_requested():
            self.stopped = True
        return self.stopped


@dataclass
class TrainingResult:
    """The model to save (cut to its best round) and how training ended."""

    booster: xgb.Booster
    rounds_trained: int
    best_iteration: int
    early_stopped: bool
    interrupted: bool


def train_model(
    train: Dataset,
    validation: Dataset,
    hyperparameters: Hyperparameters,
    *,
    stop_requested: StopRequested = lambda: False,
    log: Log = print,
    metric_lines: bool = True,
) -> TrainingResult:
    """Train with per-round metric lines, early stopping on validation logloss, and a stop hook.

    Early stopping watches logloss (smoother than AUC); the returned booster keeps only
    the rounds up to the best one, so the saved file needs no ``iteration_range``. Inside a
    group of hosts XGBoost reduces every round's metrics over all hosts, so every host stops
    at the same round; ``stop_requested`` must then be the group's decision too.
    """
    dtrain = _dmatrix(train)
    dvalidation = _dmatrix(validation)
    stopper = _StopWhenRequested(stop_requested)
    # Order matters: xgboost stops calling callbacks once one asks to stop, and the metric
    # line of the last round must still be printed.
    callbacks: list[xgb.callback.TrainingCallback] = [_PrintMetrics(log, metric_lines), stopper]
    if hyperparameters.early_stopping_rounds > 0:
        callbacks.append(
            xgb.callback.EarlyStopping(
                rounds=hyperparameters.early_stopping_rounds,
                metric_name="logloss",
                data_name="validation",
                save_best=False,
            )
        )
    booster = xgb.train(
        xgboost_params(hyperparameters),
        dtrain,
        num_boost_round=hyperparameters.num_round,
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        callbacks=callbacks,
        verbose_eval=False,
    )
    rounds = booster.num_boosted_rounds()
    best_attr = booster.attr("best_iteration")
    best = int(best_attr) if best_attr is not None else rounds - 1
    early_stopped = not stopper.stopped and hyperparameters.early_stopping_rounds > 0 and rounds < hyperparameters.num_round
    if best + 1 < rounds:
        booster = booster[: best + 1]
    return TrainingResult(booster, rounds, best, early_stopped, stopper.stopped)


def train_metrics(booster: xgb.Booster, train: Dataset, group: Group) -> dict[str, float]:
    """``train:logloss`` and ``train:auc`` over every host's train rows.

    logloss is the mean over all rows. AUC does not split into per-host parts: it is the hosts'
    AUCs weighted by their positive x negative pairs, the definition XGBoost uses for the
    per-round train:auc across workers (``src/metric/auc.cc``, ``GlobalRatio``), so the final
    value matches the curve; on one host it is the plain AUC.
    """
    y = train.labels
    p = np.clip(booster.predict(_dmatrix(train)), 1e-15, 1 - 1e-15)
    positives = _positives(train)
    pairs = float(positives) * float(train.rows - positives)
    local = np.array([-np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)), roc_auc(y, p) * pairs if pairs else 0.0,
                      pairs, train.rows], dtype=np.float64)
    loss, weighted_auc, all_pairs, rows = group.sum(local)
    return {"train:logloss": float(loss / rows), "train:auc": float(weighted_auc / all_pairs)}


def final_metrics(booster: xgb.Booster, train_values: Mapping[str, float], validation: Dataset) -> dict[str, float]:
    """Every metric of ``metrics.METRIC_NAMES`` for the model as saved (validation: the whole channel)."""
    validation_scores = classification_metrics(validation.labels, booster.predict(_dmatrix(validation)))
    values = dict(train_values)
    values.update({f"validation:{k}": v for k, v in validation_scores.items()})
    return {name: values[name] for name in metrics.METRIC_NAMES}


def build_evaluation(
    result: TrainingResult,
    values: Mapping[str, float],
    hyperparameters: Hyperparameters,
    train_rows: int,
    validation: Dataset,
) -> dict[str, Any]:
    """evaluation.json: what the pipeline's threshold check and the registry read.

    ``metrics`` is keyed by the METRIC_DEFINITIONS names (so it equals what SageMaker
    reports as FinalMetricDataList); ``binary_classification_metrics`` repeats the
    validation metrics in SageMaker Model Monitor's model-quality layout so it can be
    attached to a model package as ModelQuality statistics.
    """
    probabilities = result.booster.predict(_dmatrix(validation))
    sm_metrics: dict[str, Any] = {
        "confusion_matrix": confusion_matrix(validation.labels, probabilities),
    }
    for key in ("auc", "accuracy", "precision", "recall", "f1"):
        sm_metrics[key] = {"value": values[f"validation:{key}"], "standard_deviation": "NaN"}
    return {
        "format_version": 1,
        "objective_metric": metrics.OBJECTIVE_METRIC,
        "objective_type": metrics.OBJECTIVE_TYPE,
        "objective_value": values[metrics.OBJECTIVE_METRIC],
        "metrics": dict(values),
        "decision_threshold": DECISION_THRESHOLD,
        "best_iteration": result.best_iteration,
        "num_boosted_rounds": result.booster.num_boosted_rounds(),
        "rounds_trained": result.rounds_trained,
        "early_stopped": result.early_stopped,
        "interrupted": result.interrupted,
        "rows": {"train": train_rows, "validation": validation.rows},
        "hyperparameters": hyperparameters.as_strings(),
        "binary_classification_metrics": sm_metrics,
    }


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


@dataclass
class TrainingOutcome:
    """What ``run_training`` produced on this host; ``interrupted`` means SIGTERM cut training short.

    Only the leader writes files: on the other hosts of a multi-host job ``model_file`` is None
    and ``metrics`` is empty.
    """

    metrics: dict[str, float]
    interrupted: bool
    rounds_trained: int
    model_file: Path | None
    written: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class _Inputs:
    """This host's channels, or why it could not read them (reported to every host first)."""

    train: Dataset | None = None
    validation: Dataset | None = None
    problem: TrainingInputError | None = None


def _read_inputs(paths: SageMakerPaths, log: Log) -> _Inputs:
    try:
        train = load_channel(paths, "train")
        validation = load_channel(paths, "validation")
        # Validation is whole on every host (FullyReplicated); train's classes are checked over all hosts.
        _require_both_classes("validation", _positives(validation), validation.rows)
    except TrainingInputError as exc:
        return _Inputs(problem=exc)
    for name, dataset in (("train", train), ("validation", validation)):
        log(f"channel {name}: {dataset.rows} rows from {len(dataset.files)} file(s)")
    return _Inputs(train, validation)


def _check_train_rows(train: Dataset, group: Group, log: Log) -> int:
    """The job's train row count; both labels must occur among all hosts' rows together."""
    rows = distributed.rows_per_host(train.rows, group)
    positives = _positives(train)
    pairs = float(positives) * float(train.rows - positives)
    all_positives, all_pairs = group.sum(np.array([positives, pairs], dtype=np.float64))
    if group.hosts.count > 1:
        log(f"host {group.hosts.current}: {train.rows} of {sum(rows)} train rows; per host: "
            + ", ".join(f"{name}={count}" for name, count in zip(group.hosts.names, rows, strict=True)))
    _require_both_classes("train", int(all_positives), sum(rows))
    if all_pairs == 0:
        raise TrainingInputError(
            "every host's shard of the train channel holds one label only, so train:auc cannot be computed "
            "across hosts (and each host sees one class); shuffle the rows before splitting them into objects"
        )
    return sum(rows)


def run_training(
    paths: SageMakerPaths,
    *,
    stop_requested: StopRequested = lambda: False,
    log: Log = print,
) -> TrainingOutcome:
    """The whole job on this host, from the /opt/ml layout to the model and artifacts; raises on failure.

    On several hosts (``resourceconfig.json``) every host trains the one model on its shard with
    the others, and only the leader writes it (``distributed.py``); on one host the same code
    runs with a one-host group.
    """
    hosts = distributed.read_hosts(paths.resource_config)
    settings = distributed.Settings.from_environment(os.environ)
    hyperparameters = load_hyperparameters(paths.hyperparameters)
    log(f"hyperparameters: {json.dumps(hyperparameters.as_strings(), sort_keys=True)}")
    inputs = _read_inputs(paths, log)
    with distributed.join(hosts, settings, log) as group:
        distributed.check_inputs(group, inputs.problem)
        train, validation = inputs.train, inputs.validation
        assert train is not None and validation is not None  # check_inputs raised otherwise
        train_rows = _check_train_rows(train, group, log)
        baseline = baseline_statistics.compute_baseline(train.features, train.labels, group)
        if group.any(stop_requested()):
            raise StoppedBeforeTrainingError("stopped (SIGTERM) before training began; no model was saved")
        result = train_model(train, validation, hyperparameters, stop_requested=lambda: group.any(stop_requested()),
                             log=log, metric_lines=hosts.is_leader)
        train_values = train_metrics(result.booster, train, group)
    if not hosts.is_leader:
        log(f"host {hosts.current}: trained {result.rounds_trained} round(s) with the other hosts; "
            f"the leader {hosts.leader} writes the model and its metrics")
        return TrainingOutcome({}, result.interrupted, result.rounds_trained, None)
    values = final_metrics(result.booster, train_values, validation)
    log(metrics.format_final_line(values))
    evaluation = build_evaluation(result, values, hyperparameters, train_rows, validation)
    written = _write_artifacts(paths, result, evaluation, baseline)
    return TrainingOutcome(values, result.interrupted, result.rounds_trained, written[0], written)


def _write_artifacts(paths: SageMakerPaths, result: TrainingResult, evaluation: Mapping[str, Any],
                     baseline: Mapping[str, Any]) -> list[Path]:
    """The model folder and output/data (the model file first)."""
    model_file = paths.model_dir / MODEL_FILE
    model_file.parent.mkdir(parents=True, exist_ok=True)
    result.booster.save_model(str(model_file))
    written = [model_file]
    metadata = model_metadata.build(xgboost_version=xgb.__version__, best_iteration=result.best_iteration,
                                    num_boosted_rounds=result.booster.num_boosted_rounds(),
                                    interrupted=result.interrupted)
    documents = (
        (paths.model_dir / METADATA_FILE, metadata),
        (paths.model_dir / EVALUATION_FILE, evaluation),
        (paths.model_dir / BASELINE_FILE, baseline),
        (paths.output_data_dir / EVALUATION_FILE, evaluation),
        (paths.output_data_dir / BASELINE_FILE, baseline),
    )
    for path, document in documents:
        _write_json(path, document)
        written.append(path)
    return written


# --------------------------------------------------------------------------- process


def write_failure(paths: SageMakerPaths, reason: str) -> None:
    """Write the FailureReason SageMaker shows; never raises (we are already failing)."""
    text = " ".join(reason.split())
    try:
        paths.failure_file.parent.mkdir(parents=True, exist_ok=True)
        paths.failure_file.write_text(text[:FAILURE_REASON_LIMIT] + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"could not write {paths.failure_file}: {exc}", file=sys.stderr, flush=True)
    print(f"FAILURE: {text}", file=sys.stderr, flush=True)


def execute(
    root: Path,
    *,
    stop_requested: StopRequested = lambda: False,
    log: Log = print,
) -> int:
    """Run the job and turn every ending into an exit code plus ``output/failure``."""
    paths = SageMakerPaths(Path(root))
    if paths.failure_file.exists():  # a local rerun must not keep an old failure around
        paths.failure_file.unlink()
    try:
        outcome = run_training(paths, stop_requested=stop_requested, log=log)
    except TrainingInputError as exc:
        write_failure(paths, f"Bad training input: {exc}")
        return EXIT_BAD_INPUT
    except StoppedBeforeTrainingError as exc:
        write_failure(paths, f"Training {exc}.")
        return EXIT_STOPPED
    except HostsError as exc:
        write_failure(paths, str(exc))
        return EXIT_HOSTS
    except Exception as exc:  # noqa: BLE001 - the last line of defence must catch everything
        traceback.print_exc()
        write_failure(
            paths,
            f"Unexpected error ({type(exc).__name__}: {exc}). This is a bug in the training "
            "container or an infrastructure problem, not bad input; the job's CloudWatch log "
            "has the traceback.",
        )
        return EXIT_UNEXPECTED
    if outcome.interrupted or stop_requested():
        write_failure(paths, _stopped_reason(outcome))
        return EXIT_STOPPED
    if outcome.model_file is not None:
        log(f"model: {outcome.model_file}")
    return EXIT_OK


def _stopped_reason(outcome: TrainingOutcome) -> str:
    saved = ("the leader host saved the model trained so far, its metrics and baseline" if outcome.model_file is None else
             f"the model trained so far, its metrics and baseline were saved "
             f"({metrics.OBJECTIVE_METRIC}={outcome.metrics[metrics.OBJECTIVE_METRIC]:.6f})")
    return f"Training stopped by SIGTERM (StopTrainingJob) after {outcome.rounds_trained} round(s); {saved}."


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``train [train] [--root DIR]``; SageMaker runs the image as ``docker run IMAGE train``."""
    parser = argparse.ArgumentParser(description="Train the sample churn model (SageMaker contract).")
    parser.add_argument("mode", nargs="?", default="train", help='"train" (SageMaker passes it as the argument)')
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(os.environ.get(ROOT_ENV_VAR, DEFAULT_ROOT)),
        help=f"the /opt/ml folder (default: ${ROOT_ENV_VAR} or {DEFAULT_ROOT})",
    )
    args = parser.parse_args(argv)
    if args.mode != "train":
        write_failure(
            SageMakerPaths(args.root),
            f"This is the training image; it was started with {args.mode!r} instead of "
            "'train' (an inference endpoint must use the inference image).",
        )
        return EXIT_BAD_INPUT

    stop = threading.Event()

    def on_sigterm(signum: int, frame: object) -> None:
        print("SIGTERM received: stopping after the current boosting round", flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    return distributed.end_process(execute(args.root, stop_requested=stop.is_set, log=_print_flush))


def _print_flush(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
