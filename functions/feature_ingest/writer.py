"""PutRecord for many records at once, with a bounded number in flight and retries that back off.

At most `concurrency` requests are in flight; `submit` waits for a free slot, so a big file never
queues more than that in memory. Each record is sent until Feature Store takes it, refuses it
(ValidationError: the row is rejected with Feature Store's message), or `max_attempts` requests
ended in a throttle or a server error. Retrying is safe: a record is identified by its
identifier and event time, and the online store keeps the latest event time per identifier, so
the same record sent twice leaves the same state (the offline store, append-only, may hold the
row twice; point-in-time reads take one, automation/training_set.py).

Anything else (access denied, a missing group, retries used up) is a failure of the whole
ingestion, not of a row: the writer stops accepting records and reports it, and the caller
fails loudly so the object is ingested again, whole.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from functions.feature_ingest.schema import Record
from functions.shared.retry import Backoff, error_code, is_transient

# PutRecord's errors that mean "this record", not "this ingestion" (its API model declares
# ValidationError for a record Feature Store will not take).
RECORD_ERRORS = frozenset({"ValidationError", "ValidationException"})


@dataclass
class WriteReport:
    written: list[int] = field(default_factory=list)  # line numbers
    refused: list[tuple[int, str, Any]] = field(default_factory=list)  # (line, Feature Store's message, raw row)
    unfinished: list[int] = field(default_factory=list)  # lines neither written nor refused
    retries: int = 0
    failure: str | None = None  # why the writer stopped early
    newest_event_time: dt.datetime | None = None  # of the records written

    @property
    def failed(self) -> bool:
        return self.failure is not None


class RecordWriter:
    def __init__(self, client: Any, feature_group: str, *, concurrency: int, max_attempts: int,
                 backoff: Backoff | None = None, sleep: Callable[[float], None] = time.sleep):
        self._client = client
        self._group = feature_group
        self._max_attempts = max_attempts
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="put-record")
        self._lock = threading.Lock()
        self._futures: list[Future] = []
        self.report = WriteReport()

    def submit(self, line: int, record: Record, raw: Any) -> bool:
        """Queue one record (`raw`: the row, for a dead letter); False, nothing queued, once the
        writer has failed."""
        self._slots.acquire()
        if self.report.failed:
            self._slots.release()
            return False
        future = self._pool.submit(self._put, line, record, raw)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)
        return True

    def finish(self) -> WriteReport:
        """Wait for everything in flight; the report accounts for every submitted line."""
        for future in self._futures:
            future.result()
        self._pool.shutdown(wait=True)
        return self.report

    def _put(self, line: int, record: Record, raw: Any) -> None:
        request = {"FeatureGroupName": self._group, "Record": record.feature_values()}
        for attempt in range(self._max_attempts):
            if attempt:
                self._count_retry()
                self._sleep(self._backoff.wait(attempt - 1))
            try:
                self._client.put_record(**request)
            except Exception as error:  # noqa: BLE001 - every error is classified below
                verdict = self._classify(error, attempt)
                if verdict == "retry":
                    continue
                self._settle(line, verdict, error, raw)
                return
            with self._lock:
                self.report.written.append(line)
                newest = self.report.newest_event_time
                if newest is None or record.event_time > newest:
                    self.report.newest_event_time = record.event_time
            return

    def _classify(self, error: Exception, attempt: int) -> str:
        if isinstance(error, ClientError) and error_code(error) in RECORD_ERRORS:
            return "refused"
        if is_transient(error) and attempt + 1 < self._max_attempts:
            return "retry"
        return "fail"

    def _settle(self, line: int, verdict: str, error: Exception, raw: Any) -> None:
        with self._lock:
            if verdict == "refused":
                self.report.refused.append((line, str(error), raw))
                return
            self.report.unfinished.append(line)
            if self.report.failure is None:
                self.report.failure = f"PutRecord failed for line {line} ({error_code(error)}): {error}"

    def _count_retry(self) -> None:
        with self._lock:
            self.report.retries += 1

