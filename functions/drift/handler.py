"""Lambda entry point of the drift check, started by one EventBridge schedule per endpoint.

The event is the schedule's constant input (components/drift.py): `{"model", "endpoint",
"capture_uri", "variants": [{"name", "model_package_arn"}]}`. Environment: WINDOW_HOURS,
REPORT_BUCKET, REPORT_PREFIX and METRICS (detect.Settings). Returns a summary of the report.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from typing import Any

import boto3

from functions.drift.detect import Check, Settings, run

logger = logging.getLogger()
logger.setLevel(logging.INFO)


@functools.cache
def _clients() -> dict[str, Any]:
    return {name: boto3.client(name) for name in ("s3", "sagemaker", "cloudwatch")}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = run(Check.from_event(event), _clients(), Settings.from_environment(os.environ), dt.datetime.now(dt.UTC))
    return {"report": report["report"], "drift_detected": report["drift_detected"],
            "outcomes": {v["variant"]: v["outcome"] for v in report["variants"]}}
