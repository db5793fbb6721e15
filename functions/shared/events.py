"""S3 objects a function is asked to process, from an S3 event notification or a direct invoke.

An S3 notification (`s3:ObjectCreated:*`) carries `Records[].s3.bucket.name`,
`.s3.object.key` (URL-encoded, spaces as `+`) and, on a versioned bucket, `.s3.object.versionId`
(S3 User Guide, "Event message structure"). A direct invoke names one object:
`{"bucket": "...", "key": "...", "version_id": "..."}` (version optional).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


class EventError(ValueError):
    """The event names no object this function can process."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def get_args(self) -> dict[str, str]:
        """GetObject's arguments: the exact version the event is about, when it names one."""
        args = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id:
            args["VersionId"] = self.version_id
        return args


def objects_of(event: Mapping[str, Any]) -> list[S3Object]:
    """Every object an event names, in order."""
    if not isinstance(event, Mapping):
        raise EventError(f"expected an S3 event or {{'bucket': ..., 'key': ...}}, got {type(event).__name__}")
    if "Records" in event:
        return [_from_record(record) for record in event["Records"]]
    bucket, key = event.get("bucket"), event.get("key")
    if not (isinstance(bucket, str) and bucket and isinstance(key, str) and key):
        raise EventError("a direct invoke names one object: {'bucket': '<bucket>', 'key': '<key>'}")
    version = event.get("version_id")
    return [S3Object(bucket, key, version if isinstance(version, str) and version else None)]


def _from_record(record: Any) -> S3Object:
    try:
        s3 = record["s3"]
        return S3Object(s3["bucket"]["name"], unquote_plus(s3["object"]["key"]), s3["object"].get("versionId") or None)
    except (KeyError, TypeError) as error:
        raise EventError(f"not an S3 event record: missing {error}") from None
