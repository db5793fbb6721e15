"""Physical names for AWS resources: project + stack + purpose, within each service's limits.

Every physical name carries the stack because dev and pr-N stacks may share one account. A name
that would exceed its service's limit is cut and given a hash of the full name, so it stays
stable across runs and distinct from every other shortened name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameLimit:
    max_length: int
    # Characters outside this class are replaced by '-'.
    invalid: str
    lowercase: bool = False


LIMITS: dict[str, NameLimit] = {
    # SageMaker: models, endpoints, endpoint configs, model package groups, training jobs.
    "sagemaker": NameLimit(63, r"[^a-zA-Z0-9-]"),
    # name_prefix of an endpoint configuration: the provider appends a 26-character unique id.
    "sagemaker_prefix": NameLimit(37, r"[^a-zA-Z0-9-]"),
    # Feature group names allow '_' too, and 64 characters.
    "feature_group": NameLimit(64, r"[^a-zA-Z0-9_-]"),
    "s3": NameLimit(63, r"[^a-z0-9-]", lowercase=True),
    # bucket_prefix may be 37 characters (AWS appends 26 to make the name unique); 36 here
    # plus the '-' that separates the suffix.
    "s3_prefix": NameLimit(36, r"[^a-z0-9-]", lowercase=True),
    "iam_role": NameLimit(64, r"[^\w+=,.@-]"),
    "iam_policy": NameLimit(128, r"[^\w+=,.@-]"),
    "lambda": NameLimit(64, r"[^a-zA-Z0-9_-]"),
    "state_machine": NameLimit(80, r"[^a-zA-Z0-9_-]"),
    "events_rule": NameLimit(64, r"[^a-zA-Z0-9._-]"),
    "sns": NameLimit(256, r"[^a-zA-Z0-9_-]"),
    "ecr": NameLimit(256, r"[^a-z0-9._/-]", lowercase=True),
    "log_group": NameLimit(512, r"[^a-zA-Z0-9_./#-]"),
    "alarm": NameLimit(255, r"[^a-zA-Z0-9 _./#:-]"),
    "dashboard": NameLimit(255, r"[^a-zA-Z0-9_-]"),
    "kms_alias": NameLimit(250, r"[^a-zA-Z0-9/_-]"),
    "schedule": NameLimit(64, r"[^a-zA-Z0-9._-]"),
}
HASH_LENGTH = 8


def shorten(name: str, max_length: int) -> str:
    """Cut `name` to `max_length`, ending in a hash of the whole name when it had to be cut."""
    if len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_LENGTH]
    head = name[: max_length - HASH_LENGTH - 1].rstrip("-_.")
    return f"{head}-{digest}"


@dataclass(frozen=True)
class Namer:
    """Builds every physical name of one stack; the one place names are made."""

    project: str
    stack: str

    def unshortened(self, purpose: str) -> str:
        return f"{self.project}-{self.stack}-{purpose}"

    def name(self, purpose: str, kind: str = "sagemaker") -> str:
        """The physical name of `purpose` (e.g. "churn-endpoint") for a resource of `kind`."""
        limit = LIMITS[kind]
        full = self.unshortened(purpose)
        if limit.lowercase:
            full = full.lower()
        full = re.sub(limit.invalid, "-", full)
        return shorten(full, limit.max_length)

    def pattern(self) -> str:
        """`<project>-<stack>-*`: matches every name this stack makes, for policies that must
        also cover what other components add later (alarms, rules, topics)."""
        return f"{self.project}-{self.stack}-*"

    def bucket_prefix(self, purpose: str) -> str:
        """A prefix for S3 bucket names: AWS appends a unique suffix (names are global)."""
        return self.name(purpose, "s3_prefix").rstrip("-") + "-"
