"""What serving adds to the shared contracts: the cell rules of ``features.py`` (``parse_value``,
``check_number``) and the model folder's metadata (``model_metadata.py``), checked against what
the training image really writes."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
import xgboost as xgb
from hypothesis import given, settings
from hypothesis import strategies as st
from inference_support import train_model

from containers.contracts import features, model_metadata
from containers.training import train as trainer

INT = features.feature_by_name("tenure_months")
FLOAT = features.feature_by_name("monthly_charges")


@pytest.mark.parametrize(
    ("feature", "text", "expected"),
    [
        (INT, "12", 12.0),
        (INT, " 12 ", 12.0),
        (INT, "+3", 3.0),
        (INT, "12.0", 12.0),
        (INT, "1e2", 100.0),
        (FLOAT, "70.5", 70.5),
        (FLOAT, "-.5", -0.5),
        (FLOAT, "5.", 5.0),
        (FLOAT, "1E-3", 0.001),
    ],
)
def test_parse_value_reads_plain_decimal_text(feature: features.Feature, text: str, expected: float) -> None:
    assert features.parse_value(feature, text) == expected


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_an_empty_cell_is_a_missing_value(text: str) -> None:
    assert math.isnan(features.parse_value(FLOAT, text))


@pytest.mark.parametrize(
    ("feature", "text", "reason"),
    [
        (FLOAT, "abc", "'abc' is not a number"),
        (FLOAT, "nan", "'nan' is not a number"),
        (FLOAT, "inf", "'inf' is not a number"),
        (FLOAT, "1_000", "'1_000' is not a number"),
        (FLOAT, "\u0661\u0662", "is not a number"),  # Arabic-Indic digits: float() takes them, data files never mean them
        (FLOAT, "0x10", "'0x10' is not a number"),
        (FLOAT, "1,5", "'1,5' is not a number"),
        (FLOAT, "1e999", "'1e999' is not finite"),
        (INT, "12.5", "'12.5' is not a whole number (tenure_months is an int feature)"),
        (INT, "1e-1", "is not a whole number"),
    ],
)
def test_parse_value_refuses_what_training_refuses(feature: features.Feature, text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        features.parse_value(feature, text)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("feature", "value", "reason"),
    [
        (FLOAT, math.inf, "inf is not finite"),
        (FLOAT, math.nan, "nan is not finite"),
        (INT, 2.5, "2.5 is not a whole number (tenure_months is an int feature)"),
        (FLOAT, 10**400, "too large to be a number"),
    ],
)
def test_check_number_refuses_non_finite_and_fractional_ints(feature: features.Feature, value: float, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        features.check_number(feature, value)
    assert reason in str(caught.value)


def _training_reads(feature: features.Feature, text: str) -> float:
    """What the training image makes of ``text`` in ``feature``'s column of a training file."""
    with tempfile.TemporaryDirectory() as root:
        channel = Path(root) / "input" / "data" / "train"
        channel.mkdir(parents=True)
        cells = ["0"] + [text if f is feature else "0" for f in features.FEATURES]
        (channel / "rows.csv").write_text(",".join(features.CSV_COLUMNS) + "\n" + ",".join(cells) + "\n")
        dataset = trainer.load_channel(trainer.SageMakerPaths(Path(root)), "train")
        return float(dataset.features[0][features.FEATURE_NAMES.index(feature.name)])


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr), st.text(alphabet="0123456789.eE+-_ na", max_size=6)))
def test_parse_value_agrees_with_the_training_reader(text: str) -> None:
    """The trainer's reader and the shared rule accept and refuse the same cells, with the same values."""
    for feature in (INT, FLOAT):
        try:
            expected = _training_reads(feature, text)
        except trainer.TrainingInputError:
            with pytest.raises(ValueError):
                features.parse_value(feature, text)
        else:
            value = features.parse_value(feature, text)
            assert value == expected or (math.isnan(value) and math.isnan(expected))


# ----------------------------------------------------------------------------- model metadata


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_model(tmp_path_factory.mktemp("opt-ml"))


def test_the_training_image_writes_exactly_the_contract_document(model_dir: Path) -> None:
    written = json.loads((model_dir / model_metadata.METADATA_FILE).read_text())
    booster = xgb.Booster(model_file=str(model_dir / model_metadata.MODEL_FILE))
    expected = model_metadata.build(
        xgboost_version=xgb.__version__,
        best_iteration=written["best_iteration"],
        num_boosted_rounds=booster.num_boosted_rounds(),
        interrupted=False,
    )
    assert written == expected
    assert model_metadata.problems_of(written) == []
    parsed = model_metadata.parse(written)
    assert parsed.feature_names == features.FEATURE_NAMES
    assert parsed.feature_types == tuple(f.type for f in features.FEATURES)
    assert parsed.decision_threshold == trainer.DECISION_THRESHOLD


def test_file_names_are_the_ones_the_trainer_uses() -> None:
    assert (trainer.MODEL_FILE, trainer.METADATA_FILE, trainer.EVALUATION_FILE, trainer.BASELINE_FILE) == (
        model_metadata.MODEL_FILE,
        model_metadata.METADATA_FILE,
        model_metadata.EVALUATION_FILE,
        model_metadata.BASELINE_FILE,
    )


def _valid() -> dict:
    return model_metadata.build(xgboost_version="3.2.0", best_iteration=9, num_boosted_rounds=10, interrupted=False)


def _with(**changes: object) -> dict:
    document = _valid()
    for key, value in changes.items():
        if value is KeyError:
            del document[key]
        else:
            document[key] = value
    return document


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "model-metadata.json must hold a JSON object, got list"),
        (_with(format_version=2), "format_version is 2, but this image serves 1"),
        (_with(format_version=KeyError), "format_version is missing"),
        (_with(feature_names=list(reversed(features.FEATURE_NAMES))), "feature_names is ['days_since_last_login'"),
        (_with(feature_names=[*features.FEATURE_NAMES, "extra"]), "feature_names is"),
        (_with(feature_types=["float"] * len(features.FEATURES)), "feature_types is ['float'"),
        (_with(objective="reg:squarederror"), "objective is 'reg:squarederror', but this image serves 'binary:logistic'"),
        (_with(target="other"), "target is 'other'"),
        (_with(model_format="ubj"), "model_format is 'ubj'"),
        (_with(model_file="../secrets"), "model_file must be a file name inside the model folder, got '../secrets'"),
        (_with(model_file=""), "model_file must be a file name"),
        (_with(model_file=KeyError), "model_file is missing"),
        (_with(decision_threshold=1.5), "decision_threshold must be a number between 0 and 1"),
        (_with(decision_threshold=True), "decision_threshold must be a number"),
        (_with(decision_threshold="0.5"), "decision_threshold must be a number"),
        (_with(num_boosted_rounds=0), "num_boosted_rounds must be a positive integer, got 0"),
        (_with(xgboost_version=None), "xgboost_version must be a version string, got None"),
    ],
)
def test_metadata_a_server_must_refuse(document: object, problem: str) -> None:
    problems = model_metadata.problems_of(document)
    assert any(problem in p for p in problems), problems
    with pytest.raises(model_metadata.MetadataError) as caught:
        model_metadata.parse(document)
    assert caught.value.problems == problems


def test_every_problem_is_reported_at_once() -> None:
    problems = model_metadata.problems_of(_with(format_version=3, objective="x", decision_threshold=7))
    assert len(problems) == 3
