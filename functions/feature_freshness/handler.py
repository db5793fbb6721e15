"""Lambda entry point of the freshness check, started by an EventBridge schedule.

Environment (set by components/feature_store.py): FEATURE_GROUPS (JSON list of names),
LOOKBACK_SECONDS, METRICS (see freshness.Settings). The event's content is not used.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
from typing import Any

import boto3

from functions.feature_freshness.freshness import Settings, measure

logger = logging.getLogger()
logger.setLevel(logging.INFO)


@functools.cache
def _cloudwatch() -> Any:
    return boto3.client("cloudwatch")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings.from_environment(os.environ)
    ages = measure(_cloudwatch(), settings, dt.datetime.now(dt.UTC))
    logger.info(json.dumps({"freshness_seconds": ages}))
    return {"freshness_seconds": ages}
