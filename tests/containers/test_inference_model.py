"""Loading and scoring the training image's model folder (``containers/inference/model.py``): the
served probabilities are the trainer's own, and every folder the server cannot serve exactly is
refused with a reason a person can act on."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from inference_support import train_model

from containers.contracts import features, model_metadata
from containers.inference import model
from containers.inference.model import ModelLoadError
from containers.training import train as trainer


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_model(tmp_path_factory.mktemp("opt-ml"))


def test_loaded_model_scores_like_the_trainer(model_dir: Path) -> None:
    loaded = model.load(model_dir)
    validation = trainer.load_channel(trainer.SageMakerPaths(model_dir.parent), "validation").features
    validation[::5, 2] = np.nan  # missing values too
    booster = xgb.Booster(model_file=str(model_dir / model_metadata.MODEL_FILE))
    expected = booster.predict(
        xgb.DMatrix(validation, feature_names=list(features.FEATURE_NAMES), feature_types=[f.type for f in features.FEATURES])
    )
    np.testing.assert_array_equal(loaded.predict(validation), expected)
    assert loaded.feature_count == len(features.FEATURES)
    assert loaded.metadata.decision_threshold == 0.5


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _edit_metadata(**changes: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / model_metadata.METADATA_FILE
        document = json.loads(path.read_text())
        document.update(changes)
        path.write_text(json.dumps(document))

    return edit


def _other_feature_names(folder: Path) -> None:
    """A booster trained on differently named columns, with our schema's metadata beside it."""
    names = [f"f{i}" for i in range(len(features.FEATURES))]
    data = xgb.DMatrix(np.arange(18, dtype=float).reshape(2, -1), label=[0, 1], feature_names=names)
    xgb.train({"objective": "binary:logistic"}, data, 2).save_model(str(folder / model_metadata.MODEL_FILE))


BROKEN_FOLDERS = [
    ("no folder", lambda folder: shutil.rmtree(folder), "does not exist; set SM_MODEL_DIR or pass --model-dir"),
    ("no metadata", lambda folder: (folder / model_metadata.METADATA_FILE).unlink(), "model-metadata.json is missing (the folder holds"),
    ("empty folder", lambda folder: [p.unlink() for p in folder.iterdir()], "is missing (the folder holds nothing)"),
    ("metadata not JSON", lambda folder: (folder / model_metadata.METADATA_FILE).write_text("{"), "is not readable JSON"),
    (
        "another feature order",
        _edit_metadata(feature_names=list(reversed(features.FEATURE_NAMES))),
        "does not match this image's contracts: feature_names is ['days_since_last_login'",
    ),
    ("another objective", _edit_metadata(objective="reg:squarederror"), "objective is 'reg:squarederror'"),
    ("a newer format", _edit_metadata(format_version=2), "format_version is 2, but this image serves 1"),
    (
        "model file missing",
        lambda folder: (folder / model_metadata.MODEL_FILE).unlink(),
        "xgboost-model.json is missing; model-metadata.json names it as the model file",
    ),
    ("model file elsewhere", _edit_metadata(model_file="../model.json"), "model_file must be a file name inside the model folder"),
    ("model file corrupt", lambda folder: (folder / model_metadata.MODEL_FILE).write_text('{"learner": 1'), "is not an xgboost model"),
    ("model of other columns", _other_feature_names, "was trained on features ['f0', 'f1'"),
]


@pytest.mark.parametrize(("case", "breakage", "reason"), BROKEN_FOLDERS, ids=[case for case, _, _ in BROKEN_FOLDERS])
def test_a_folder_that_cannot_be_served_exactly_fails_with_a_reason(
    model_dir: Path, tmp_path: Path, case: str, breakage: Callable[[Path], None], reason: str
) -> None:
    folder = _copy(model_dir, tmp_path / "model")
    breakage(folder)
    with pytest.raises(ModelLoadError) as caught:
        model.load(folder)
    assert reason in str(caught.value)


def test_a_version_mismatch_is_logged_not_refused(model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _copy(model_dir, tmp_path / "model")
    _edit_metadata(xgboost_version="2.1.0")(folder)
    with caplog.at_level("WARNING", logger="containers.inference.model"):
        loaded = model.load(folder)
    assert loaded.metadata.xgboost_version == "2.1.0"
    assert f"model trained with xgboost 2.1.0, served with {xgb.__version__}" in caplog.text
