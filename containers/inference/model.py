"""Step 1 and 3 of a request: load the model the training image wrote, and score rows with it.

``load`` refuses anything it cannot serve exactly as it was trained, with a reason a person can
act on: a missing file, metadata of another format or feature schema than
``containers/contracts`` (the training/serving skew check), a booster whose own feature names
disagree with its metadata. The server answers /ping with 503 and that reason.

Scoring uses ``Booster.inplace_predict`` on a float64 array in metadata order (no DMatrix per
request: measured 0.08 ms against 0.15 ms for one row of the sample model). Each worker uses
one xgboost thread: the server runs one worker per CPU, so more threads would only contend.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from containers.contracts import model_metadata
from containers.contracts.model_metadata import METADATA_FILE, ModelMetadata

log = logging.getLogger(__name__)


class ModelLoadError(Exception):
    """The model folder cannot be served; the message says why and what to check."""


@dataclass(frozen=True)
class Model:
    """A loaded booster and the metadata it was checked against."""

    booster: xgb.Booster
    metadata: ModelMetadata

    @property
    def feature_count(self) -> int:
        return len(self.metadata.feature_names)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Positive-class probabilities (float32, one per row) for rows in metadata feature order."""
        return self.booster.inplace_predict(rows)


def _read_metadata(model_dir: Path) -> ModelMetadata:
    path = model_dir / METADATA_FILE
    if not model_dir.is_dir():
        raise ModelLoadError(f"model folder {model_dir} does not exist; set SM_MODEL_DIR or pass --model-dir")
    if not path.is_file():
        present = ", ".join(sorted(p.name for p in model_dir.iterdir())) or "nothing"
        raise ModelLoadError(
            f"{path} is missing (the folder holds {present}); this image serves the folder the training image writes"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(f"{path} is not readable JSON: {exc}") from exc
    try:
        return model_metadata.parse(document)
    except model_metadata.MetadataError as exc:
        raise ModelLoadError(f"{path} does not match this image's contracts: {exc}") from exc


def _read_booster(model_dir: Path, metadata: ModelMetadata) -> xgb.Booster:
    path = model_dir / metadata.model_file
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing; {METADATA_FILE} names it as the model file")
    booster = xgb.Booster()
    try:
        booster.load_model(str(path))
    except xgb.core.XGBoostError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path} is not an xgboost model xgboost {xgb.__version__} can load: {first_line}") from exc
    names = tuple(booster.feature_names or ())
    if names != metadata.feature_names:
        raise ModelLoadError(
            f"{path} was trained on features {list(names)}, but {METADATA_FILE} lists {list(metadata.feature_names)}"
        )
    booster.set_param({"nthread": 1})
    try:  # the first prediction configures the booster: pay for it here, not in a request
        booster.inplace_predict(np.full((1, len(names)), np.nan))
    except xgb.core.XGBoostError as exc:
        raise ModelLoadError(f"{path} loads but cannot predict: {str(exc).strip()[:300]}") from exc
    return booster


def load(model_dir: Path) -> Model:
    """The model in ``model_dir``, checked against the contracts; raises ModelLoadError."""
    model_dir = Path(model_dir)
    metadata = _read_metadata(model_dir)
    booster = _read_booster(model_dir, metadata)
    if metadata.xgboost_version != xgb.__version__:
        log.warning(
            "model trained with xgboost %s, served with %s: predictions can differ slightly",
            metadata.xgboost_version,
            xgb.__version__,
        )
    return Model(booster, metadata)
