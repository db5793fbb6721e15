"""Publishing the platform's own CloudWatch metrics.

Names, namespace and dimension come from the program (components/metrics_catalogue.py, passed
in the function's environment), never typed here, so what a function publishes is what alarms
and dashboards read. PutMetricData took at most 20 values per call for years (1000 since 2023);
batches of 20 work with every botocore and every limit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BATCH = 20


@dataclass(frozen=True)
class MetricNames:
    """The catalogue's entries a function publishes, as the program passes them (JSON)."""

    namespace: str
    dimension: str  # the one dimension every entry takes (the feature group, ...)
    names: Mapping[str, str]  # catalogue key -> metric name

    @classmethod
    def from_json(cls, text: str) -> MetricNames:
        raw = json.loads(text)
        return cls(namespace=raw["namespace"], dimension=raw["dimension"], names=dict(raw["names"]))

    def to_json(self) -> str:
        return json.dumps({"namespace": self.namespace, "dimension": self.dimension, "names": dict(self.names)},
                          sort_keys=True)


def datum(names: MetricNames, key: str, dimension_value: str, value: float, unit: str,
          timestamp: dt.datetime) -> dict[str, Any]:
    return {"MetricName": names.names[key], "Dimensions": [{"Name": names.dimension, "Value": dimension_value}],
            "Timestamp": timestamp, "Value": float(value), "Unit": unit}


def publish(cloudwatch: Any, namespace: str, data: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(data), BATCH):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=list(data[start:start + BATCH]))
