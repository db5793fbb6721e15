"""How long a function may still run, so it can stop cleanly before Lambda stops it.

Lambda ends an invocation at its timeout without warning; work in flight is lost and nothing
after it runs (no metrics, no summary). A function asks `Deadline.near()` before taking on more
work and stops while `margin_seconds` remain: enough to finish what is in flight and report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    remaining_ms: Callable[[], int]  # the Lambda context's get_remaining_time_in_millis
    margin_seconds: float

    def near(self) -> bool:
        return self.remaining_ms() <= self.margin_seconds * 1000

    @staticmethod
    def never() -> Deadline:
        """For runs outside Lambda (scripts, tests that do not exercise the deadline)."""
        return Deadline(lambda: 2**62, 0.0)
