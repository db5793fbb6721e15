"""Where moto 5.2 differs from AWS in a way the rehearsal depends on, corrected while it runs.

Each correction follows AWS's documentation (the same ones tests/functions/test_state_machine.py
and test_promotion_workflow.py apply):
- `$$.Execution.StartTime` is the ISO 8601 string of the context object ("2019-03-26T20:14:13.192Z",
  Step Functions developer guide, "Context object"); moto hands the interpreter a datetime that no
  intrinsic can format.
- AWS SDK integration errors are prefixed with the service's name as the developer guide's
  exception prefix table gives it ("SageMaker", botocore's serviceId); moto uses the lowercase
  resource name.
- Percentile statistics (`p99`): moto's CloudWatch answers them with nothing. The stand-in is the
  nearest-rank percentile of the raw values posted; CloudWatch's own estimate differs in detail.
- UpdateModelPackage changes only what the request names (SageMaker API reference: the
  approval status and description are optional; customer metadata is updated key by key, which
  is why `CustomerMetadataPropertiesToRemove` exists); moto sets omitted ones to nothing and
  replaces the whole metadata, which would erase a version's objective and training outputs
  when it is approved or archived.
- DeleteModelPackage, which moto's SageMaker lacks, removes the version (what a dev stack's
  teardown does before `pulumi destroy`, automation/teardown.py), and a later version still gets
  a new number (SageMaker never reuses one).
- GetMetricData finds a metric whatever the order of its dimensions (CloudWatch identifies a
  metric by its set of dimensions); moto sorts them with a comparison that compares a value with
  a name, so with two dimensions a query finds data only in the order it was put.
- Retry intervals and Wait states are not slept: the rehearsal has no time to wait 10 minutes for
  a retry, and nothing in it depends on the clock advancing during one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from collections.abc import Iterator
from fractions import Fraction
from types import SimpleNamespace
from typing import Any
from unittest import mock

import botocore.session
from moto.cloudwatch.models import Dimension, Statistics
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import Execution

_PERCENTILE = re.compile(r"p(100(?:\.0+)?|\d{1,2}(?:\.\d+)?)")  # p0 to p100, as CloudWatch takes them


def iso_start(start: dt.datetime) -> str:
    """A start time as the context object writes it: ISO 8601, milliseconds, Z."""
    start = start.astimezone(dt.UTC)
    return start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"


def aws_error_prefix(service_name: str) -> str:
    known = {"dynamodb": "DynamoDb", "sfn": "Sfn"}  # moto's own bindings, kept
    return known.get(service_name.lower()) or \
        botocore.session.get_session().get_service_model(service_name).service_id.replace(" ", "")


def nearest_rank(values: list[float], percentile: str) -> float | None:
    """The nearest-rank percentile; the rank is computed exactly (14 % of 100 is rank 14, not 15)."""
    ordered = sorted(values)
    rank = math.ceil(Fraction(percentile) * len(ordered) / 100)
    return ordered[max(rank, 1) - 1] if ordered else None


def _delete_model_package(self: Any) -> str:
    backend = self.sagemaker_backend
    arn = self._get_param("ModelPackageName")
    deleted = backend.model_packages.pop(backend.model_package_name_mapping.get(arn, arn), None)
    if deleted is None:
        raise ValidationError(f"Model package {arn} not found")
    if deleted.model_package_group_name:
        tombstones = backend.__dict__.setdefault("rehearsal_deleted_versions", {})
        tombstones[deleted.model_package_group_name] = tombstones.get(deleted.model_package_group_name, 0) + 1
    return "{}"


def _numbering_past_deletions(original: Any) -> Any:
    """SageMaker never reuses a version number; moto numbers a new version (versions in the group) + 1,
    so while it numbers one, each deleted version of the group stands in the registry as a tombstone."""

    def create_model_package(self: Any, *args: Any, **kwargs: Any) -> Any:
        group = kwargs.get("model_package_group_name")
        deleted = self.__dict__.get("rehearsal_deleted_versions", {}).get(group, 0)
        tombstones = {f"rehearsal-deleted:{group}:{n}": SimpleNamespace(model_package_group_name=group) for n in range(deleted)}
        self.model_packages.update(tombstones)
        try:
            return original(self, *args, **kwargs)
        finally:
            for key in tombstones:
                self.model_packages.pop(key, None)

    return create_model_package


def _dimension_before(self: Any, other: Any) -> bool:
    return (self.name or "", self.value or "") < (other.name or "", other.value or "")


@contextlib.contextmanager
def corrected() -> Iterator[None]:
    """The corrections of the module docstring, for the duration of the block (process-wide)."""
    original_details = Execution.get_start_execution_details
    original_statistic = Statistics.get_statistics_for_type

    def start_execution_details(self: Any) -> Any:
        details = original_details(self)
        details.start_time = iso_start(self.start_date)
        return details

    def statistic(self: Any, stat: str) -> Any:
        match = _PERCENTILE.fullmatch(stat)
        if match is None:
            return original_statistic(self, stat)
        return nearest_rank(self.metric_single_values_list, match.group(1))

    original_update = SageMakerModelBackend.update_model_package

    def update_model_package(self: Any, model_package_arn: str, model_approval_status: str | None,
                             approval_description: str | None, customer_metadata_properties: dict[str, str] | None,
                             *args: Any, **kwargs: Any) -> str:
        package = self.model_packages.get(self.model_package_name_mapping.get(model_package_arn, model_package_arn))
        if package is not None:
            model_approval_status = model_approval_status or package.model_approval_status
            approval_description = approval_description if approval_description is not None else package.approval_description
            customer_metadata_properties = {**(package.customer_metadata_properties or {}), **(customer_metadata_properties or {})}
        return original_update(self, model_package_arn, model_approval_status, approval_description,
                               customer_metadata_properties, *args, **kwargs)

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(Dimension, "__lt__", _dimension_before))
        stack.enter_context(mock.patch.object(SageMakerModelBackend, "update_model_package", update_model_package))
        stack.enter_context(mock.patch.object(SageMakerResponse, "delete_model_package", _delete_model_package, create=True))
        stack.enter_context(mock.patch.object(SageMakerModelBackend, "create_model_package",
                                              _numbering_past_deletions(SageMakerModelBackend.create_model_package)))
        stack.enter_context(mock.patch.object(Execution, "get_start_execution_details", start_execution_details))
        stack.enter_context(mock.patch.object(Statistics, "get_statistics_for_type", statistic))
        stack.enter_context(mock.patch.object(StateTaskServiceAwsSdk, "_normalise_service_error_name",
                                              staticmethod(aws_error_prefix)))
        stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", lambda self, env, seconds: None))
        stack.enter_context(mock.patch.object(retrier_decl, "time", mock.Mock(sleep=lambda seconds: None)))
        yield
