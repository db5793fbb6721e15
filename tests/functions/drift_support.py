"""Builders for drift tests: capture lines in SageMaker's data capture format, a registered model
version with its training archives in S3, and the settings the program passes the function."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import tarfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from components import metrics_catalogue
from containers.training import sample_data
from containers.training.baseline_statistics import compute_baseline
from containers.training.distributed import SINGLE_HOST, Group
from functions.drift import outcomes
from functions.drift.detect import Settings

REGION = "us-east-1"
CAPTURE_BUCKET = "capture-bucket"
ARTIFACT_BUCKET = "artifact-bucket"
CAPTURE_PREFIX = "datacapture"
ENDPOINT = "mlops-platform-dev-churn-endpoint"
GROUP = "mlops-platform-dev-churn"
JOB = "mlops-platform-dev-churn-0123456789abcdef0123456789abcdef"


def metric_settings(window_hours: int = 24) -> dict[str, str]:
    """The environment components/drift.py gives the function (the catalogue's entries)."""
    metrics = {key: {"namespace": m.namespace, "name": m.name, "dimensions": list(m.dimensions), "unit": m.unit}
               for key, m in metrics_catalogue.CATALOGUE.items() if key in outcomes.METRIC_KEYS}
    return {"WINDOW_HOURS": str(window_hours), "REPORT_BUCKET": CAPTURE_BUCKET, "REPORT_PREFIX": "drift-reports",
            "METRICS": json.dumps(metrics)}


def settings(window_hours: int = 24) -> Settings:
    return Settings.from_environment(metric_settings(window_hours))


def baseline_document(rows: int = 4000, seed: int = 1) -> dict[str, Any]:
    labels, features = sample_data.generate(rows, seed=seed)
    return compute_baseline(features.astype(float), labels, Group(SINGLE_HOST))


def tar_of(files: dict[str, bytes]) -> bytes:
    """A model.tar.gz / output.tar.gz; the same files give the same bytes (gzip's header holds a
    time, fixed here), so a test can compare an archive with one it builds again later."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def register_version(sagemaker: Any, s3: Any, *, output_archive: bytes | None, model_archive: bytes | None,
                     job: str = JOB) -> str:
    """A version registered as the training pipeline registers one; None archives are not uploaded."""
    prefix = f"churn/training/{job}/output"
    for name, body in (("output.tar.gz", output_archive), ("model.tar.gz", model_archive)):
        if body is not None:
            s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"{prefix}/{name}", Body=body)
    return sagemaker.create_model_package(
        ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/t:src-1",
                                                "ModelDataUrl": f"s3://{ARTIFACT_BUCKET}/{prefix}/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        CustomerMetadataProperties={"training_job": job, "output_data": f"s3://{ARTIFACT_BUCKET}/{prefix}/output.tar.gz"},
    )["ModelPackageArn"]


def csv_body(rows: np.ndarray) -> str:
    return "".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n" for row in rows)


def capture_line(rows: np.ndarray, scores: Sequence[float] | None, at: dt.datetime, *, encoding: str = "CSV",
                 content_type: str = "text/csv") -> str:
    """One line as SageMaker writes it for a request of `rows` answered with `scores`."""
    if content_type == "application/json":
        request = json.dumps({"instances": [[None if np.isnan(v) else float(v) for v in row] for row in rows]})
        answer = json.dumps({"predictions": [{"score": s, "predicted_label": int(s >= 0.5)} for s in scores or []]})
    else:
        request, answer = csv_body(rows), "".join(f"{s!r}\n" for s in scores or [])
    if encoding == "BASE64":
        request, answer = (base64.b64encode(text.encode()).decode() for text in (request, answer))
    line = {"captureData": {"endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": request,
                                              "encoding": encoding}},
            "eventMetadata": {"eventId": f"evt-{at.timestamp()}", "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0"}
    if scores is not None:
        line["captureData"]["endpointOutput"] = {"observedContentType": f"{content_type}; charset=utf-8",
                                                 "mode": "OUTPUT", "data": answer, "encoding": encoding}
    return json.dumps(line)


def capture_key(variant: str, at: dt.datetime, name: str = "capture") -> str:
    return f"{CAPTURE_PREFIX}/{ENDPOINT}/{variant}/{at:%Y/%m/%d/%H}/{name}-{at:%M%S}.jsonl"
