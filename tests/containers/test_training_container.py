"""The churn training container, run directly in Python with /opt/ml mapped to a temp folder.

No Docker here: the trainer runs both as a subprocess (the way the image runs it, including
the ``bin/train`` entry point and SIGTERM) and in-process through its pure functions. The
Dockerfile and requirements are checked statically against the environment the tests use.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score

from containers.contracts import baseline, features, metrics
from containers.training import local_run, sample_data
from containers.training import train as trainer

REPO = Path(__file__).resolve().parents[2]
CONTAINER = REPO / "containers" / "training"
ENTRYPOINT = CONTAINER / "bin" / "train"

FAST_HYPERPARAMETERS = {"num_round": "25", "max_depth": "4", "eta": "0.3", "early_stopping_rounds": "5"}


def make_root(root: Path, rows: int = 1500, hyperparameters: dict | None = None, seed: int = 11) -> Path:
    """An /opt/ml-shaped folder with sample data and hyperparameters.json."""
    sample_data.write_channels(root / "input" / "data", rows=rows, seed=seed)
    config = root / "input" / "config" / "hyperparameters.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(FAST_HYPERPARAMETERS if hyperparameters is None else hyperparameters))
    return root


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


def failure_text(root: Path) -> str:
    return (root / "output" / "failure").read_text()


# ----------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One training run as the image does it (subprocess, root from $SM_ROOT), shared."""
    root = make_root(tmp_path_factory.mktemp("opt-ml"), rows=2000)
    proc = subprocess.run(
        [sys.executable, "-m", "containers.training.train"],
        cwd=REPO,
        env=subprocess_env(SM_ROOT=str(root)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return {"root": root, "proc": proc}


def test_subprocess_training_succeeds_and_writes_model(trained: dict) -> None:
    proc, root = trained["proc"], trained["root"]
    assert proc.returncode == 0, proc.stderr
    assert not (root / "output" / "failure").exists()
    booster = xgb.Booster()
    booster.load_model(str(root / "model" / trainer.MODEL_FILE))
    assert booster.feature_names == list(features.FEATURE_NAMES)
    metadata = json.loads((root / "model" / trainer.METADATA_FILE).read_text())
    assert metadata["feature_names"] == list(features.FEATURE_NAMES)
    assert metadata["feature_types"] == [f.type for f in features.FEATURES]
    assert metadata["num_boosted_rounds"] == booster.num_boosted_rounds()
    _, rows = sample_data.generate(20, seed=99)
    predictions = booster.predict(xgb.DMatrix(rows, feature_names=metadata["feature_names"]))
    assert predictions.shape == (20,)
    assert np.all((predictions > 0) & (predictions < 1))


def test_evaluation_json_has_every_metric_in_a_plausible_range(trained: dict) -> None:
    root = trained["root"]
    evaluation = json.loads((root / "output" / "data" / "evaluation.json").read_text())
    assert list(evaluation["metrics"]) == list(metrics.METRIC_NAMES)
    assert evaluation["objective_metric"] == metrics.OBJECTIVE_METRIC == "validation:auc"
    assert 0.75 <= evaluation["metrics"]["validation:auc"] <= 0.97  # learnable, not perfect
    assert evaluation["objective_value"] == evaluation["metrics"]["validation:auc"]
    assert 0.0 < evaluation["metrics"]["validation:logloss"] < 0.6
    assert evaluation["rows"] == {"train": 1600, "validation": 400}
    assert evaluation["interrupted"] is False
    matrix = evaluation["binary_classification_metrics"]["confusion_matrix"]
    assert sum(v for row in matrix.values() for v in row.values()) == 400
    accuracy = (matrix["0"]["0"] + matrix["1"]["1"]) / 400
    assert accuracy == pytest.approx(evaluation["metrics"]["validation:accuracy"])
    # the copy that travels with the model is the same document
    assert (root / "model" / "evaluation.json").read_text() == (root / "output/data/evaluation.json").read_text()


def test_baseline_json_describes_every_feature(trained: dict) -> None:
    root = trained["root"]
    document = json.loads((root / "output" / "data" / "baseline.json").read_text())
    assert document["format_version"] == baseline.FORMAT_VERSION
    assert document["feature_names"] == list(features.FEATURE_NAMES)
    assert set(document["features"]) == set(features.FEATURE_NAMES)
    assert document["row_count"] == 1600
    train_csv = np.genfromtxt(root / "input/data/train/train.csv", delimiter=",", names=True)
    assert document["positive_rate"] == pytest.approx(train_csv[features.TARGET].mean())
    for feature in features.FEATURES:
        entry = document["features"][feature.name]
        column = train_csv[feature.name]
        assert entry["type"] == feature.type
        assert entry["count"] == 1600 and entry["missing"] == 0
        assert entry["mean"] == pytest.approx(column.mean())
        assert entry["std"] == pytest.approx(column.std())
        assert (entry["min"], entry["max"]) == (column.min(), column.max())
        quantiles = [entry["quantiles"][key] for key, _ in baseline.QUANTILES]
        assert quantiles == sorted(quantiles)
        assert entry["min"] <= quantiles[0] and quantiles[-1] <= entry["max"]
        histogram = entry["histogram"]
        assert len(histogram["bin_edges"]) == len(histogram["counts"]) + 1
        assert histogram["bin_edges"] == sorted(histogram["bin_edges"])
        assert math.fsum(histogram["counts"]) == pytest.approx(1.0, abs=1e-9)
        # the stdlib helper drift detection uses bins the training data identically
        assert baseline.histogram_fractions(column.tolist(), histogram["bin_edges"]) == pytest.approx(histogram["counts"])
    contract = document["features"]["contract_type"]["histogram"]
    assert contract["bin_edges"] == [-0.5, 0.5, 1.5, 2.5]  # one bin per category


def test_every_metric_definition_matches_the_printed_output(trained: dict) -> None:
    stdout = trained["proc"].stdout
    lines = stdout.splitlines()
    evaluation = json.loads((trained["root"] / "output/data/evaluation.json").read_text())
    for definition in metrics.METRIC_DEFINITIONS:
        regex = re.compile(definition["Regex"])
        assert regex.groups == 1, definition
        captured = [float(m.group(1)) for line in lines for m in regex.finditer(line)]
        assert captured, f"{definition['Name']} never matched the trainer's output"
        if definition["Name"] in metrics.METRIC_NAMES:
            # a final metric matches one line only, whose value is the saved model's
            assert captured == pytest.approx([evaluation["metrics"][definition["Name"]]], abs=1e-6)
        else:
            assert len(captured) == evaluation["rounds_trained"]  # one per round: the curve
    assert metrics.final_metrics(stdout) == pytest.approx(evaluation["metrics"], abs=1e-6)


def test_final_auc_is_what_xgboost_reported_for_the_best_round(trained: dict) -> None:
    evaluation = json.loads((trained["root"] / "output/data/evaluation.json").read_text())
    per_round = metrics.parse_metrics(trained["proc"].stdout)
    best = evaluation["best_iteration"]
    for name in ("validation:auc", "validation:logloss"):
        curve = per_round[metrics.ITERATION_PREFIX + name]
        assert evaluation["metrics"][name] == pytest.approx(curve[best], abs=1e-5)


# ----------------------------------------------------------------------------- in-process


def test_pure_run_training_and_metrics_agree_with_sklearn(tmp_path: Path) -> None:
    root = make_root(tmp_path, rows=1200, hyperparameters={"num_round": "15", "early_stopping_rounds": "0"})
    lines: list[str] = []
    outcome = trainer.run_training(trainer.SageMakerPaths(root), log=lines.append)
    assert outcome.rounds_trained == 15 and not outcome.interrupted
    assert lines[-1].startswith("[final]")
    assert sum(line.startswith("[iteration ") for line in lines) == 15

    booster = xgb.Booster()
    booster.load_model(str(outcome.model_file))
    validation = trainer.load_channel(trainer.SageMakerPaths(root), "validation")
    probabilities = booster.predict(xgb.DMatrix(validation.features, feature_names=list(features.FEATURE_NAMES)))
    y, predicted = validation.labels, probabilities >= 0.5
    assert outcome.metrics["validation:auc"] == pytest.approx(roc_auc_score(y, probabilities), abs=1e-9)
    assert outcome.metrics["validation:logloss"] == pytest.approx(log_loss(y, probabilities), abs=1e-7)
    assert outcome.metrics["validation:accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert outcome.metrics["validation:precision"] == pytest.approx(precision_score(y, predicted))
    assert outcome.metrics["validation:recall"] == pytest.approx(recall_score(y, predicted))
    assert outcome.metrics["validation:f1"] == pytest.approx(f1_score(y, predicted))


def test_roc_auc_handles_ties_like_sklearn() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = rng.integers(0, 5, 300) / 4  # heavy ties
    assert trainer.roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_channel_reader_matches_columns_by_name_and_ignores_extras(tmp_path: Path) -> None:
    labels, rows = sample_data.generate(30, seed=4)
    header = ["customer_id", *reversed(features.FEATURE_NAMES), features.TARGET]
    folder = tmp_path / "input" / "data" / "train" / "part=1"
    folder.mkdir(parents=True)
    lines = [",".join(header)]
    for i, (label, row) in enumerate(zip(labels, rows, strict=True)):
        lines.append(",".join([f"c{i}", *(repr(v) for v in reversed(row.tolist())), str(label)]))
    (folder / "data.CSV").write_text("\n".join(lines) + "\n")
    dataset = trainer.load_channel(trainer.SageMakerPaths(tmp_path), "train")
    np.testing.assert_array_equal(dataset.features, rows)
    np.testing.assert_array_equal(dataset.labels, labels)


def test_empty_cells_are_missing_values(tmp_path: Path) -> None:
    folder = tmp_path / "input" / "data" / "train"
    folder.mkdir(parents=True)
    row = ["1", ""] + ["1"] * (len(features.FEATURE_NAMES) - 1)
    (folder / "a.csv").write_text(",".join(features.CSV_COLUMNS) + "\n" + ",".join(row) + "\n")
    dataset = trainer.load_channel(trainer.SageMakerPaths(tmp_path), "train")
    assert math.isnan(dataset.features[0, 0]) and dataset.features[0, 1] == 1.0


def test_stop_request_ends_training_after_the_current_round() -> None:
    labels, rows = sample_data.generate(600, seed=5)
    train = trainer.Dataset(rows[:500].astype(float), labels[:500].astype(float))
    validation = trainer.Dataset(rows[500:].astype(float), labels[500:].astype(float))
    calls = []
    lines: list[str] = []

    def stop_requested() -> bool:
        calls.append(1)
        return len(calls) >= 3  # "SIGTERM" arrives during the third round

    result = trainer.train_model(
        train,
        validation,
        trainer.Hyperparameters(num_round=500, early_stopping_rounds=0),
        stop_requested=stop_requested,
        log=lines.append,
    )
    assert result.interrupted and not result.early_stopped
    assert result.rounds_trained == 3
    assert result.booster.num_boosted_rounds() == 3
    # the round that was cut short still printed its metric line
    assert [line.split("]")[0] for line in lines] == ["[iteration 0", "[iteration 1", "[iteration 2"]


def test_stop_before_training_saves_nothing_and_exits_143(tmp_path: Path) -> None:
    root = make_root(tmp_path, rows=300)
    assert trainer.execute(root, stop_requested=lambda: True, log=lambda line: None) == 143
    assert "before training began" in failure_text(root)
    assert not (root / "model" / trainer.MODEL_FILE).exists()


# ----------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("hyperparameters", "expected"),
    [
        ({"max_dept": "3"}, ["'max_dept' is not a known hyperparameter", "max_depth"]),
        ({"eta": "fast"}, ["eta: 'fast' is not a number in (0, 1]"]),
        ({"num_round": "0"}, ["num_round: '0' is out of range", "[1, 5000]"]),
        ({"max_depth": "21"}, ["max_depth: '21' is out of range", "[1, 20]"]),
        ({"subsample": "0"}, ["subsample: '0' is out of range", "(0, 1]"]),
        ({"min_child_weight": "-1"}, ["min_child_weight: '-1' is out of range", ">= 0"]),
        ({"num_round": "2.5"}, ["num_round: '2.5' is not an integer"]),
        ({"num_round": 10}, ["num_round: got int 10", "string"]),
        ({"eta": "nan"}, ["eta: 'nan' is not a number"]),
        # every problem in one message, not just the first
        ({"eta": "2", "seed": "-1"}, ["eta: '2' is out of range", "seed: '-1' is out of range"]),
    ],
)
def test_bad_hyperparameters_fail_with_a_reason_naming_them(tmp_path: Path, hyperparameters: dict, expected: list[str]) -> None:
    root = make_root(tmp_path, rows=200, hyperparameters=hyperparameters)
    assert trainer.execute(root, log=lambda line: None) == trainer.EXIT_BAD_INPUT == 1
    reason = failure_text(root)
    assert reason.startswith("Bad training input: invalid hyperparameters")
    for fragment in expected:
        assert fragment in reason
    assert not (root / "model" / trainer.MODEL_FILE).exists()


def _rewrite(path: Path, change) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(change(lines)) + "\n")


def _drop_column(name: str):
    def change(lines: list[str]) -> list[str]:
        index = lines[0].split(",").index(name)
        return [",".join(c for i, c in enumerate(line.split(",")) if i != index) for line in lines]

    return change


def _set_cell(line_no: int, name: str, value: str):
    def change(lines: list[str]) -> list[str]:
        index = lines[0].split(",").index(name)
        cells = lines[line_no].split(",")
        cells[index] = value
        lines[line_no] = ",".join(cells)
        return lines

    return change


def _remove_validation(root: Path) -> None:
    validation = root / "input/data/validation/validation.csv"
    validation.unlink()
    validation.parent.rmdir()


TRAIN, VALIDATION = "input/data/train/train.csv", "input/data/validation/validation.csv"
# What each breakage does to an /opt/ml root, and the reason the job must give.
BREAKAGES = {
    "missing_validation": (_remove_validation, "channel 'validation' is missing"),
    "no_csv_files": (lambda root: (root / TRAIN).rename((root / TRAIN).with_suffix(".txt")),
                     "channel 'train' is empty: no .csv files"),
    "header_only": (lambda root: _rewrite(root / VALIDATION, lambda lines: lines[:1]),
                    "channel 'validation' is empty: its 1 CSV file(s) have no data rows"),
    "no_label_column": (lambda root: _rewrite(root / TRAIN, _drop_column("churned")),
                        "header lacks required column(s) churned"),
    "no_feature_column": (lambda root: _rewrite(root / VALIDATION, _drop_column("support_calls")),
                          "header lacks required column(s) support_calls"),
    "text_in_feature": (lambda root: _rewrite(root / TRAIN, _set_cell(7, "monthly_charges", "lots")),
                        "column 'monthly_charges': 'lots' is not a number"),
    "bad_label": (lambda root: _rewrite(root / TRAIN, _set_cell(3, "churned", "2")),
                  "label 'churned' is '2'; it must be 0 or 1"),
    "fraction_in_int_feature": (lambda root: _rewrite(root / TRAIN, _set_cell(5, "tenure_months", "3.5")),
                                "column 'tenure_months': '3.5' is not a whole number (tenure_months is an int feature)"),
    "one_class": (lambda root: _rewrite(root / TRAIN, lambda lines: [lines[0]] + ["0" + line[1:] for line in lines[1:]]),
                  "channel 'train' has only label 0"),
    "bad_json": (lambda root: (root / "input/config/hyperparameters.json").write_text("{num_round: 3"),
                 "hyperparameters.json is not valid JSON"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_bad_input_fails_with_exit_1_and_a_useful_reason(tmp_path: Path, breakage: str) -> None:
    root = make_root(tmp_path, rows=200)
    break_it, expected = BREAKAGES[breakage]
    break_it(root)
    assert trainer.execute(root, log=lambda line: None) == trainer.EXIT_BAD_INPUT
    assert expected in failure_text(root)


def test_bad_cell_reason_points_at_file_and_line(tmp_path: Path) -> None:
    root = make_root(tmp_path, rows=200)
    train_csv = root / "input/data/train/train.csv"
    lines = train_csv.read_text().splitlines()
    lines[4] = lines[4].replace(",", ",x", 1)
    train_csv.write_text("\n".join(lines) + "\n")
    assert trainer.execute(root, log=lambda line: None) == 1
    assert f"{train_csv}:5: column 'tenure_months'" in failure_text(root)


def test_unexpected_error_exits_2_and_says_it_is_not_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_root(tmp_path, rows=200)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(trainer, "train_model", broken)
    assert trainer.execute(root, log=lambda line: None) == trainer.EXIT_UNEXPECTED == 2
    reason = failure_text(root)
    assert "Unexpected error (RuntimeError: disk on fire)" in reason
    assert "not bad input" in reason


def test_success_removes_a_stale_failure_file(tmp_path: Path) -> None:
    root = make_root(tmp_path, rows=300, hyperparameters={"num_round": "3"})
    (root / "output").mkdir()
    (root / "output" / "failure").write_text("old failure")
    assert trainer.execute(root, log=lambda line: None) == 0
    assert not (root / "output" / "failure").exists()


def test_entrypoint_script_accepts_sagemakers_train_argument_and_fails_bad_input(tmp_path: Path) -> None:
    """SageMaker runs ``docker run IMAGE train`` -> ``train train``; bad input must exit 1."""
    assert os.access(ENTRYPOINT, os.X_OK), "bin/train must be executable"
    root = make_root(tmp_path, rows=200, hyperparameters={"num_round": "many"})
    proc = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "train", "--root", str(root)],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "num_round: 'many' is not an integer in [1, 5000]" in failure_text(root)
    assert "num_round" in proc.stderr  # the reason also reaches the job's log


def test_entrypoint_without_the_code_on_pythonpath_is_an_unexpected_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["SM_ROOT"] = str(tmp_path)
    proc = subprocess.run([sys.executable, str(ENTRYPOINT), "train"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2  # a broken image must not be reported as the user's bad input
    assert "cannot be imported" in failure_text(tmp_path)


def test_started_as_serve_the_training_image_refuses(tmp_path: Path) -> None:
    assert trainer.main(["serve", "--root", str(tmp_path)]) == 1
    assert "training image" in failure_text(tmp_path)


# ----------------------------------------------------------------------------- SIGTERM


def test_sigterm_stops_training_saves_the_model_and_exits_143(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        rows=3000,
        hyperparameters={"num_round": "5000", "eta": "0.01", "max_depth": "6", "early_stopping_rounds": "0"},
    )
    stderr_file = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(ENTRYPOINT), "train", "--root", str(root)],
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while True:
            line = lines.get(timeout=20)
            assert line is not None, "trainer exited before its first round: " + "".join(seen)
            seen.append(line)
            if line.startswith("[iteration 0]"):
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == trainer.EXIT_STOPPED == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr_file.close()
    reader.join(timeout=5)
    while (line := lines.get_nowait() if not lines.empty() else None) is not None:
        seen.append(line)
    output = "".join(seen)

    assert "SIGTERM received" in output
    assert "[final]" in output  # final metrics still printed for SageMaker
    booster = xgb.Booster()
    booster.load_model(str(root / "model" / trainer.MODEL_FILE))
    assert 1 <= booster.num_boosted_rounds() < 5000
    evaluation = json.loads((root / "output/data/evaluation.json").read_text())
    assert evaluation["interrupted"] is True
    assert evaluation["rounds_trained"] == booster.num_boosted_rounds()
    assert (root / "output/data/baseline.json").exists()
    assert "stopped by SIGTERM" in failure_text(root)


# ----------------------------------------------------------------------------- sample data


def test_sample_data_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    first = sample_data.write_channels(tmp_path / "a", rows=500, seed=7)
    second = sample_data.write_channels(tmp_path / "b", rows=500, seed=7)
    other = sample_data.write_channels(tmp_path / "c", rows=500, seed=8)
    for channel in ("train", "validation"):
        assert first[channel].read_bytes() == second[channel].read_bytes()
        assert first[channel].read_bytes() != other[channel].read_bytes()


def test_sample_data_cli_writes_the_channel_layout(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "containers.training.sample_data", str(tmp_path / "cli"), "--rows", "300", "--seed", "7"],
        cwd=REPO,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    expected = sample_data.write_channels(tmp_path / "api", rows=300, seed=7)
    for channel in ("train", "validation"):
        written = tmp_path / "cli" / channel / f"{channel}.csv"
        assert written.read_bytes() == expected[channel].read_bytes()
    lines = (tmp_path / "cli" / "train" / "train.csv").read_text().splitlines()
    assert lines[0].split(",") == ["churned", *features.FEATURE_NAMES]
    assert len(lines) == 1 + 240
    assert len((tmp_path / "cli" / "validation" / "validation.csv").read_text().splitlines()) == 1 + 60
    int_columns = [i + 1 for i, f in enumerate(features.FEATURES) if f.type == "int"]
    for line in lines[1:]:
        cells = line.split(",")
        assert cells[0] in ("0", "1")
        assert all("." not in cells[i] for i in int_columns)


def test_sample_data_has_a_sensible_churn_rate() -> None:
    labels, _ = sample_data.generate(5000)
    assert 0.1 < labels.mean() < 0.35


# ----------------------------------------------------------------------------- local run


def test_local_run_trains_into_a_folder_and_refuses_foreign_ones(tmp_path: Path, capsys) -> None:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        out = tmp_path / "ml"
        args = ["--out", str(out), "--rows", "400", "--hyperparameter", "num_round=5"]
        assert local_run.main(args) == 0
        assert local_run.main(args) == 0  # a rerun into its own folder is fine
        printed = capsys.readouterr().out
        assert f"model:      {out / 'model' / trainer.MODEL_FILE}" in printed
        assert "validation:auc = " in printed
        hyperparameters = json.loads((out / "input/config/hyperparameters.json").read_text())
        assert hyperparameters["num_round"] == "5"
        assert all(isinstance(v, str) for v in hyperparameters.values())

        assert local_run.main(["--out", str(out), "--rows", "400", "--hyperparameter", "eta=0"]) == 1
        assert "eta: '0' is out of range" in capsys.readouterr().out

        foreign = tmp_path / "home"
        foreign.mkdir()
        (foreign / "thesis.tex").write_text("keep me")
        assert local_run.main(["--out", str(foreign)]) == 1
        assert (foreign / "thesis.tex").read_text() == "keep me"
        assert "not empty" in capsys.readouterr().err
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ----------------------------------------------------------------------------- the image


def test_requirements_pin_exactly_what_the_tests_run_with() -> None:
    pins = {}
    for line in (CONTAINER / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"unpinned requirement: {line}"
            pins[name.strip().lower()] = version.strip()
    assert "xgboost" not in pins, "plain xgboost drags CUDA; use xgboost-cpu"
    assert "xgboost-cpu" in pins
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, name
    # the pins are the whole closure: every dependency of a pinned package is pinned too
    for name in pins:
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" in requirement:
                continue
            dependency = re.split(r"[ <>=!;\[(]", requirement, maxsplit=1)[0].lower()
            assert dependency in pins, f"{name} needs {dependency}, which is not pinned"


def test_dockerfile_follows_the_image_rules() -> None:
    text = (CONTAINER / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    base = re.search(r"^FROM python:(\d+)\.(\d+)\.(\d+)-slim-bookworm$", text, re.M)
    assert base, "base image must be an exact python:X.Y.Z-slim-bookworm tag"
    assert (int(base.group(1)), int(base.group(2))) == sys.version_info[:2]
    assert 'ENTRYPOINT ["train"]' in instructions
    assert re.search(r"^ENV PYTHONUNBUFFERED=1", text, re.M)
    assert not re.search(r"^USER ", text, re.M)
    assert not re.search(r"(?i)(secret|password|access_key|token)\s*=", text)
    # The build context is containers/ (shared contracts), filtered by the Dockerfile's own ignore file.
    context = CONTAINER.parent
    copies = [line.split()[1:-1] for line in instructions if line.startswith("COPY ")]
    allowed = [p[1:] for p in (CONTAINER / "Dockerfile.dockerignore").read_text().split() if p.startswith("!")]
    for sources in copies:
        for source in sources:
            matched = list(context.glob(source))
            assert matched, f"COPY {source} matches nothing in the build context"
            for path in matched:
                relative = path.relative_to(context).as_posix()
                assert any(Path(relative).match(pattern) for pattern in allowed), f"{relative} is dockerignored"
    copied = {path.relative_to(context).as_posix() for sources in copies for source in sources for path in context.glob(source)}
    assert {"training/train.py", "contracts/features.py", "contracts/metrics.py", "contracts/hyperparameters.py",
            "contracts/baseline.py", "__init__.py", "training/__init__.py", "contracts/__init__.py"} <= copied
    # Nothing of another image reaches this one.
    assert all(p.split("/")[0] in ("__init__.py", "contracts", "training") for p in copied)
