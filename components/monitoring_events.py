"""Image scan findings to the alert topic: the EventBridge documents, as pure functions of names.

The platform's repositories scan every image on push (basic scanning, `scan_on_push`), and ECR
sends "ECR Image Scan" when a scan completes (Amazon ECR User Guide, "Amazon ECR events and
EventBridge", event for a completed image scan): `detail.scan-status`, `detail.repository-name`,
`detail.image-digest`, `detail.image-tags` and `detail.finding-severity-counts`, which "will only
return a value for a severity level if one exists". So the rule matches completed scans of this
stack's repositories with at least one finding at `ALERT_SEVERITIES` (numeric matching on each
level, joined with `$or`; a level that is absent matches nothing).

The message quotes every placeholder, each a whole JSON string: a severity with no findings has
no value in the event, and EventBridge then creates no variable for it, which "will not appear in
the output" (EventBridge User Guide, "Transforming target input", common issues): inside quotes
that leaves an empty string and valid JSON. Values are inserted unescaped; repository names,
digests, counts and times hold no quote or backslash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SOURCE = "aws.ecr"
DETAIL_TYPE = "ECR Image Scan"
ALERT_SEVERITIES = ("CRITICAL", "HIGH")
OUTCOME = "image_scan_findings"
INPUT_PATHS = {
    "repository": "$.detail.repository-name",
    "digest": "$.detail.image-digest",
    **{severity.lower(): f"$.detail.finding-severity-counts.{severity}" for severity in ALERT_SEVERITIES},
    "time": "$.time",
}


def scan_findings_pattern(repository_names: Sequence[str]) -> dict[str, Any]:
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {
            "repository-name": sorted(repository_names),
            "scan-status": ["COMPLETE"],
            "$or": [{"finding-severity-counts": {severity: [{"numeric": [">", 0]}]}} for severity in ALERT_SEVERITIES],
        },
    }


def scan_findings_template(label: str) -> str:
    """The alert's body, JSON like the platform's other notifications; `label` is `<project>/<stack>`."""
    counts = ", ".join(f'"{severity.lower()}": "<{severity.lower()}>"' for severity in ALERT_SEVERITIES)
    return ("{"
            f'"outcome": "{OUTCOME}", '
            f'"message": "[{label}] an image scan found {" or ".join(ALERT_SEVERITIES)} vulnerabilities", '
            f'"repository": "<repository>", "image_digest": "<digest>", {counts}, "scanned_at": "<time>"'
            "}")
