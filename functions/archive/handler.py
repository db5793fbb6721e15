"""Lambda entry point of archiving, started by one EventBridge schedule per model package group.

Scheduled event (components/archiving.py): `{"model_package_group", "keep", "protected_versions",
"dry_run": false}`. Invoked by hand: the same with `"dry_run": true` lists what a run would do and
changes nothing; `{"restore": "<model package ARN>"}` undoes the archiving of one version.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from typing import Any

import boto3

from functions.archive import archive

logger = logging.getLogger()
logger.setLevel(logging.INFO)


@functools.cache
def _clients() -> dict[str, Any]:
    return {name: boto3.client(name) for name in ("s3", "sagemaker")}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    clients = _clients()
    if "restore" in event:
        decision = archive.restore(clients["sagemaker"], clients["s3"], str(event["restore"]))
        result = {"restored": decision.as_dict()}
    else:
        request = archive.Request.from_event(event)
        decisions = archive.archive(clients["sagemaker"], clients["s3"], request, dt.datetime.now(dt.UTC))
        result = {**archive.summary(decisions, request), "decisions": [d.as_dict() for d in decisions]}
    logger.info(json.dumps(result))
    return result
