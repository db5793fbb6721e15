"""SageMaker's training compute, emulated: a CreateTrainingJob request run as the training image runs.

In AWS the state machine's `Train` state calls `sagemaker:createTrainingJob.sync`, SageMaker copies
each channel's S3 prefix into /opt/ml/input/data/<channel>, writes hyperparameters.json,
inputdataconfig.json and resourceconfig.json, starts the image as `train`, reads the final metrics
from its log with the request's MetricDefinitions regexes, and uploads /opt/ml/model as
`<S3OutputPath>/<job>/output/model.tar.gz` and /opt/ml/output/data as `output.tar.gz` (SageMaker
Developer Guide, "How Amazon SageMaker AI Provides Training Information" and "Define metrics").

moto cannot run `.sync` integrations nor a training job, so the rehearsal swaps that one state's
Resource for a Lambda function standing in for SageMaker (`with_local_training`). The state's
Parameters are kept and evaluated by moto's interpreter as deployed; the stand-in checks the
evaluated request against botocore's CreateTrainingJob model, records the job in moto's SageMaker,
does what SageMaker does above with the image's own entry point (containers/training/bin/train)
as a local process, and answers what DescribeTrainingJob answers, which `.sync` puts in the
state's result.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator

from components.training_workflow import TRAIN_STATE
from containers.contracts import metrics

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINT = ROOT / "containers" / "training" / "bin" / "train"
JOB_TIMEOUT_SECONDS = 600


class TrainingJobError(RuntimeError):
    """The local job failed; the message is SageMaker's FailureReason (the image's failure file)."""


def with_local_training(definition: Mapping[str, Any], function_arn: str) -> dict[str, Any]:
    """The deployed definition with `Train` calling the stand-in instead of `createTrainingJob.sync`.

    A Lambda task with Parameters sends the evaluated Parameters as the payload and puts the
    function's answer at the state's ResultPath, as `.sync` puts DescribeTrainingJob's there.
    Everything else of the state (Parameters, ResultPath, Catch, Next) stays as deployed.
    """
    swapped = copy.deepcopy(dict(definition))
    train = swapped["States"][TRAIN_STATE]
    train["Resource"] = function_arn
    train["Comment"] = "rehearsal: the training compute runs locally (automation/rehearsal/training.py)"
    train.pop("TimeoutSecondsPath", None)  # the stand-in has its own timeout
    return swapped


def check_request(request: Mapping[str, Any]) -> None:
    """The request as the state machine built it must be one SageMaker accepts (botocore's model)."""
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape
    report = ParamValidator().validate(dict(request), shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


def run_job(request: Mapping[str, Any], *, s3: Any, work_dir: Path) -> dict[str, Any]:
    """Run one CreateTrainingJob request locally; the DescribeTrainingJob answer of the finished job."""
    name = request["TrainingJobName"]
    root = work_dir / name
    started = dt.datetime.now(dt.UTC)
    _download_channels(s3, request["InputDataConfig"], root)
    _write_configs(root, request)
    code, log = _run_entry_point(root)
    (root / "training.log").write_text(log)
    # SageMaker decides by the exit code; the failure file is the reason it reports (Developer
    # Guide, "How Amazon SageMaker AI Signals Algorithm Success and Failure").
    failure = root / "output" / "failure"
    if code != 0:
        reason = failure.read_text().strip() if failure.exists() else f"AlgorithmError: the image exited with code {code}"
        raise TrainingJobError(reason[:1024])
    output = f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{name}/output"
    _upload(s3, f"{output}/model.tar.gz", _tar_of(root / "model"))
    _upload(s3, f"{output}/output.tar.gz", _tar_of(root / "output" / "data"))
    ended = dt.datetime.now(dt.UTC)
    found = _final_metrics(log, request["AlgorithmSpecification"].get("MetricDefinitions", []))
    return {
        "TrainingJobName": name,
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "HyperParameters": dict(request.get("HyperParameters", {})),
        "ModelArtifacts": {"S3ModelArtifacts": f"{output}/model.tar.gz"},
        "OutputDataConfig": dict(request["OutputDataConfig"]),
        "FinalMetricDataList": [{"MetricName": metric, "Value": value, "Timestamp": ended.isoformat()}
                                for metric, value in found.items()],
        "TrainingStartTime": started.isoformat(),
        "TrainingEndTime": ended.isoformat(),
        "TrainingTimeInSeconds": max(1, round((ended - started).total_seconds())),
    }


def _final_metrics(log: str, definitions: list[Mapping[str, str]]) -> dict[str, float]:
    """SageMaker's FinalMetricDataList: the last value each definition's regex finds in the log."""
    found: dict[str, float] = {}
    for definition in definitions:
        values = [float(m.group(1)) for m in re.finditer(definition["Regex"], log)]
        if values:
            found[definition["Name"]] = values[-1]
    # The names SageMaker would report are those of the request, which the contract also defines.
    assert set(found) <= {d["Name"] for d in metrics.METRIC_DEFINITIONS}
    return found


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _download_channels(s3: Any, channels: list[Mapping[str, Any]], root: Path) -> None:
    for channel in channels:
        bucket, prefix = _s3_parts(channel["DataSource"]["S3DataSource"]["S3Uri"])
        target = root / "input" / "data" / channel["ChannelName"]
        target.mkdir(parents=True, exist_ok=True)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in (item for page in pages for item in page.get("Contents", [])):
            relative = item["Key"][len(prefix):].lstrip("/") or Path(item["Key"]).name
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())


def _write_configs(root: Path, request: Mapping[str, Any]) -> None:
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(request.get("HyperParameters", {})))
    (config / "inputdataconfig.json").write_text(json.dumps({
        c["ChannelName"]: {"ContentType": c.get("ContentType", ""), "TrainingInputMode": "File",
                           "S3DistributionType": c["DataSource"]["S3DataSource"].get("S3DataDistributionType", "FullyReplicated")}
        for c in request["InputDataConfig"]}))
    hosts = [f"algo-{n}" for n in range(1, int(request["ResourceConfig"].get("InstanceCount", 1)) + 1)]
    if len(hosts) > 1:
        raise TrainingJobError("the rehearsal runs one training host; the rehearsal stack trains on one instance")
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": hosts[0], "hosts": hosts,
                                                            "network_interface_name": "eth0"}))


def _run_entry_point(root: Path) -> tuple[int, str]:
    """`docker run IMAGE train`, as a local process with the image's entry point and /opt/ml at `root`:
    its exit code and its log."""
    environment = {**os.environ, "SM_ROOT": str(root), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(ENTRY_POINT), "train"], cwd=root, env=environment, capture_output=True,
                         text=True, timeout=JOB_TIMEOUT_SECONDS, check=False)
    return run.returncode, run.stdout + run.stderr


def _tar_of(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()


def _upload(s3: Any, uri: str, body: bytes) -> None:
    bucket, key = _s3_parts(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
