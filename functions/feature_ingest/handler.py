"""Lambda entry point of feature ingestion: an S3 event (or a direct invoke) in, a summary out.

Environment (set by components/feature_store.py): FEATURE_GROUPS, INGEST_PREFIX,
INGEST_CONCURRENCY, INGEST_MAX_ATTEMPTS, STOP_MARGIN_SECONDS, METRICS (see ingest.Settings).
Retries of PutRecord are the function's own (writer.py), so the runtime client makes one attempt
per call and the counts say how many retries there were.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from typing import Any

import boto3
from botocore.config import Config

from functions.feature_ingest.ingest import Clients, IngestionIncompleteError, Settings, ingest_object
from functions.shared.deadline import Deadline
from functions.shared.events import objects_of

logger = logging.getLogger()
logger.setLevel(logging.INFO)


@functools.cache
def _clients(concurrency: int) -> Clients:
    return Clients(
        s3=boto3.client("s3"),
        sagemaker=boto3.client("sagemaker"),
        featurestore=boto3.client("sagemaker-featurestore-runtime", config=Config(
            retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=max(10, concurrency))),
        cloudwatch=boto3.client("cloudwatch"),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings.from_environment(os.environ)
    deadline = Deadline(context.get_remaining_time_in_millis, settings.stop_margin_seconds)
    clients = _clients(settings.concurrency)
    summaries = []
    for obj in objects_of(event):
        try:
            summary = ingest_object(obj, clients, settings, deadline)
        except IngestionIncompleteError as error:
            logger.error(json.dumps({"ingestion": "incomplete", "why": error.why, **error.summary.as_dict()}))
            raise
        logger.info(json.dumps({"ingestion": "complete", **summary.as_dict()}))
        summaries.append(summary.as_dict())
    return {"ingested": summaries}
