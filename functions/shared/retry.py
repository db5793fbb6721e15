"""Which AWS errors deserve another attempt, and how long to wait before it.

Throttles and server errors (5xx) are worth retrying; anything else (a rejected request, missing
access) fails the same way again. The throttling codes are the ones botocore's own retry handler
treats as throttles (botocore/retries/standard.py, `ThrottlingErrorDetector`), stated here so the
behaviour does not depend on the botocore version Lambda's runtime ships. Waits use "full
jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform draw between zero
and a capped exponential, so throttled writers spread out instead of retrying in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
    "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
})
# Server-side codes some services return with a 5xx status (Feature Store's InternalFailure and
# ServiceUnavailable are declared in its API model); the status alone already qualifies.
SERVER_ERROR_CODES = frozenset({"InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable"})


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return type(error).__name__


def is_throttle(error: BaseException) -> bool:
    return isinstance(error, ClientError) and error_code(error) in THROTTLING_CODES


def is_transient(error: BaseException) -> bool:
    """A throttle, a server error, or a connection that failed before an answer came."""
    if isinstance(error, (ConnectionError, HTTPClientError)):
        return True
    if not isinstance(error, ClientError):
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
    return is_throttle(error) or error_code(error) in SERVER_ERROR_CODES or status >= 500


@dataclass(frozen=True)
class Backoff:
    """Waits before attempt 2, 3, ...: uniform in [0, min(cap, base * 2**retry)]."""

    base_seconds: float = 0.1
    cap_seconds: float = 5.0
    draw: Callable[[float, float], float] = random.uniform

    def wait(self, retry: int) -> float:
        """The pause before retry number `retry` (0 for the first retry)."""
        return self.draw(0.0, min(self.cap_seconds, self.base_seconds * 2 ** retry))
