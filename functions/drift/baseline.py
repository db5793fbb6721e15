"""The training baseline of the model version a variant serves, read from the registry and S3.

The training pipeline registers each version with its `ModelDataUrl` (the job's `model.tar.gz`)
and, in its customer metadata, `output_data`: the job's `output.tar.gz`, which holds only
`evaluation.json` and `baseline.json` (components/training_workflow.py, RegisterModelVersion).
The small archive is read first; the model archive, which carries a copy of `baseline.json`
(containers/contracts/model_metadata.py), when it is missing.

Every way this can fail is one of two outcomes, never an exception: `BaselineMissingError` (no such
version, no archive, no baseline.json in it) and `BaselineUnreadableError` (an archive or document that
is not what the trainer writes: corrupt, not JSON, another format version, bins that do not add up).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from functions.drift.statistics import Histogram

BASELINE_FILE = "baseline.json"
FORMAT_VERSION = 1  # containers/contracts/baseline.py FORMAT_VERSION
FEATURE_TYPES = ("int", "float")
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "ValidationException", "ResourceNotFound"})
# An archive bigger than this is not read into memory (the model archive of a large model).
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024


class BaselineMissingError(Exception):
    """There is no baseline to compare with."""


class BaselineUnreadableError(Exception):
    """There is a baseline, but not one this function can use."""


@dataclass(frozen=True)
class Baseline:
    source: str  # where it was read (s3://...)
    feature_names: tuple[str, ...]
    histograms: Mapping[str, Histogram]  # features with values in training; others are not compared
    positive_rate: float
    row_count: int


def locations(sagemaker: Any, model_package_arn: str) -> list[str]:
    """The archives that hold the version's baseline, in the order to try them."""
    try:
        package = sagemaker.describe_model_package(ModelPackageName=model_package_arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_CODES:
            raise BaselineMissingError(f"model version {model_package_arn} does not exist") from None
        raise BaselineUnreadableError(f"model version {model_package_arn}: {_code(error)}") from None
    found = [package.get("CustomerMetadataProperties", {}).get("output_data")]
    for container in package.get("InferenceSpecification", {}).get("Containers", []):
        found.append(container.get("ModelDataUrl"))
    found = [uri for uri in found if isinstance(uri, str) and uri.startswith("s3://")]
    if not found:
        raise BaselineMissingError(f"model version {model_package_arn} names no artifacts")
    return list(dict.fromkeys(found))


def load(sagemaker: Any, s3: Any, model_package_arn: str) -> Baseline:
    """The baseline of a version; BaselineMissingError or BaselineUnreadableError says why there is none."""
    missing = []
    for uri in locations(sagemaker, model_package_arn):
        try:
            return parse(_read_member(s3, uri), uri)
        except BaselineMissingError as reason:
            missing.append(str(reason))
    raise BaselineMissingError("; ".join(missing))


def _read_member(s3: Any, uri: str) -> dict[str, Any]:
    location = urlparse(uri)
    try:
        head = s3.head_object(Bucket=location.netloc, Key=location.path.lstrip("/"))
        if head["ContentLength"] > MAX_ARCHIVE_BYTES:
            raise BaselineMissingError(f"{uri} is {head['ContentLength']} bytes, more than this function reads")
        body = s3.get_object(Bucket=location.netloc, Key=location.path.lstrip("/"))["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_CODES:
            raise BaselineMissingError(f"{uri} does not exist") from None
        raise BaselineUnreadableError(f"{uri}: {_code(error)}") from None
    except BotoCoreError as error:
        raise BaselineUnreadableError(f"{uri}: {error}") from None
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
            member = next((m for m in archive.getmembers() if m.isfile() and m.name.lstrip("./") == BASELINE_FILE), None)
            if member is None:
                raise BaselineMissingError(f"{uri} holds no {BASELINE_FILE}")
            document = json.loads(archive.extractfile(member).read())  # type: ignore[union-attr]
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineUnreadableError(f"{uri}: {error}") from None
    if not isinstance(document, dict):
        raise BaselineUnreadableError(f"{uri}: {BASELINE_FILE} is not a JSON object")
    return document


def _code(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'error')}: {details.get('Message', '')}".strip()


def parse(document: Mapping[str, Any], source: str) -> Baseline:
    """Check a baseline.json document against its format (containers/contracts/baseline.py)."""
    if document.get("format_version") != FORMAT_VERSION:
        raise BaselineUnreadableError(f"{source}: format_version {document.get('format_version')!r}, expected {FORMAT_VERSION}")
    try:
        names = tuple(str(name) for name in document["feature_names"])
        features = document["features"]
        positive_rate = float(document["positive_rate"])
        row_count = int(document["row_count"])
        histograms = {name: _histogram(name, features[name]) for name in names}
    except (KeyError, TypeError, ValueError) as error:
        raise BaselineUnreadableError(f"{source}: {type(error).__name__} {error}") from None
    if not names or row_count < 1 or not 0.0 <= positive_rate <= 1.0:
        raise BaselineUnreadableError(f"{source}: no features, no rows or a positive rate outside [0, 1]")
    return Baseline(source, names, {name: h for name, h in histograms.items() if h is not None}, positive_rate, row_count)


def _histogram(name: str, entry: Mapping[str, Any]) -> Histogram | None:
    """A feature's histogram; None for a feature that had no values in training (nothing to compare)."""
    if entry["type"] not in FEATURE_TYPES:
        raise ValueError(f"feature {name} has type {entry['type']!r}")
    edges = np.asarray(entry["histogram"]["bin_edges"], dtype=float)
    fractions = np.asarray(entry["histogram"]["counts"], dtype=float)
    count = int(entry["count"])
    if count == 0 and edges.size == 0:
        return None
    if (edges.size != fractions.size + 1 or fractions.size < 1 or not np.all(np.diff(edges) > 0)
            or np.any(fractions < 0) or abs(fractions.sum() - 1.0) > 1e-6 or count < 1):
        raise ValueError(f"feature {name} has a histogram whose bins do not add up")
    # One bin per integer (edges at k - 0.5): the trainer's categorical binning.
    categorical = entry["type"] == "int" and bool(np.all(np.diff(edges) == 1.0)) and edges[0] % 1 == 0.5
    return Histogram(edges, fractions, count, categorical)
