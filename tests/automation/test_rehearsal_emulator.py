"""The rehearsal's emulation of AWS, module by module (automation/rehearsal/moto_fixes.py, training.py,
feature_store.py, cloud.py), in seconds, so a broken emulation shows here and not only as a wrong
step of the 40-second rehearsal (tests/automation/test_rehearse.py).

Each emulation is held to what its module's docstring says AWS does (the AWS documentation it
cites), to botocore's service models, and to the dev stack's offline plan. Where the emulation
differs from AWS, a test marked `xfail(strict=True)` says how; it fails (XPASS) the day the
emulation is fixed, so the mark must go then.

The emulated cloud (`EmulatedAws` with the dev plan applied) is shared by the tests of one class
(`TestEmulatedAws`): a class-scoped fixture, so moto's patches are gone before any other test of
this module runs (the moto_fixes tests check moto with and without the corrections). Tests on it
isolate what they read: each drains the alert queue first and compares invocations by count.
A few tests start an emulator of their own: the endpoint rollouts (plans with a served version) and
the emulator's start and end (what it patches, and that it puts everything back).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import itertools
import json
import os
import random
import re
import tarfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.cloudwatch.models import Dimension, Statistics
from moto.events.models import Rule, events_backends
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import Execution

from automation import training_set
from automation.offline import ACCOUNT_ID, Plan, PlannedResource, load_stack_config
from automation.offline import plan as offline_plan
from automation.rehearsal import moto_fixes, training
from automation.rehearsal.cloud import APPLIED, TRAINING_COMPUTE, Applied, EmulatedAws
from automation.rehearsal.feature_store import OFFLINE_COLUMNS, LocalAthena, RecordingFeatureStore
from components.training_workflow import TRAIN_STATE
from containers.contracts import metrics
from containers.contracts.features import CSV_COLUMNS
from containers.training import sample_data
from tests.functions.feature_support import BUCKET, GROUP_NAME, create_group_in_moto, good_row

# moto warns when it serialises an error code SageMaker's API model does not declare (ValidationException).
pytestmark = pytest.mark.filterwarnings("ignore:Exception\\(SagemakerClientError\\) with code:UserWarning")

REGION = "us-east-1"
MISSING = object()  # a table's "leave this key out"


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    """moto, no corrections."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def corrected_aws(aws) -> Iterator[None]:
    """moto with moto_fixes' corrections."""
    with moto_fixes.corrected():
        yield


def changed(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `document` with the value at `path` replaced (or removed: MISSING)."""
    copy = json.loads(json.dumps(document))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if value is MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


# =====================================================================================================
# moto_fixes
# =====================================================================================================

GROUP = "churn-versions"
METADATA = {"objective_metric": "validation:auc", "objective_value": "0.91", "training_job": "job-1"}


def registered_version(sagemaker: Any) -> str:
    """A version as the pipeline leaves it: pending, reviewed once, with its training metadata."""
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    arn = sagemaker.create_model_package(ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval",
                                         CustomerMetadataProperties=METADATA)["ModelPackageArn"]
    sagemaker.update_model_package(ModelPackageArn=arn, ApprovalDescription="awaiting review")
    return arn


# (UpdateModelPackage's arguments, then the status, description and metadata the version has after it)
UPDATES = {
    "status only": ({"ModelApprovalStatus": "Approved"}, "Approved", "awaiting review", METADATA),
    "description only": ({"ApprovalDescription": "looked at"}, "PendingManualApproval", "looked at", METADATA),
    "one metadata key changed": ({"CustomerMetadataProperties": {"objective_value": "0.93"}}, "PendingManualApproval",
                                 "awaiting review", {**METADATA, "objective_value": "0.93"}),
    "one metadata key added": ({"CustomerMetadataProperties": {"approved_by": "ops"}}, "PendingManualApproval",
                               "awaiting review", {**METADATA, "approved_by": "ops"}),
    "one metadata key removed": ({"CustomerMetadataPropertiesToRemove": ["training_job"]}, "PendingManualApproval",
                                 "awaiting review", {k: v for k, v in METADATA.items() if k != "training_job"}),
    "archived with a reason": ({"ModelApprovalStatus": "Rejected", "ApprovalDescription": "archived",
                                "CustomerMetadataProperties": {"archived": "true"}}, "Rejected", "archived",
                               {**METADATA, "archived": "true"}),
}


@pytest.mark.parametrize(("update", "status", "description", "metadata"), UPDATES.values(), ids=list(UPDATES))
def test_update_model_package_changes_only_what_it_is_given(corrected_aws, update, status, description, metadata):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    arn = registered_version(sagemaker)
    sagemaker.update_model_package(ModelPackageArn=arn, **update)
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert (described["ModelApprovalStatus"], described.get("ApprovalDescription"), described["CustomerMetadataProperties"]) \
        == (status, description, metadata)


def test_delete_model_package_removes_the_version(corrected_aws):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    first = registered_version(sagemaker)
    second = sagemaker.create_model_package(ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval")["ModelPackageArn"]
    sagemaker.delete_model_package(ModelPackageName=first)
    listed = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in listed] == [second]
    with pytest.raises(ClientError, match="ValidationException"):
        sagemaker.describe_model_package(ModelPackageName=first)


@pytest.mark.parametrize("unknown", ["never registered", "deleted already"])
def test_delete_model_package_of_an_unknown_version_is_a_validation_error(corrected_aws, unknown):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    arn = registered_version(sagemaker)
    if unknown == "never registered":
        arn = arn.rsplit("/", 1)[0] + "/9"
    else:
        sagemaker.delete_model_package(ModelPackageName=arn)
    with pytest.raises(ClientError) as raised:
        sagemaker.delete_model_package(ModelPackageName=arn)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert arn in raised.value.response["Error"]["Message"]


def test_a_version_registered_after_a_deletion_gets_a_new_number(corrected_aws):
    """moto numbers a new version (versions in the group) + 1, so without the correction a deletion
    would make the next version reuse the newest number and replace it; SageMaker never reuses one."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    first = registered_version(sagemaker)
    second = sagemaker.create_model_package(ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved")["ModelPackageArn"]
    sagemaker.delete_model_package(ModelPackageName=first)
    third = sagemaker.create_model_package(ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval")["ModelPackageArn"]
    assert third.endswith("/3")
    assert sagemaker.describe_model_package(ModelPackageName=second)["ModelApprovalStatus"] == "Approved"


def minute_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)


def put_values(cloudwatch: Any, values: list[float], dimensions: list[tuple[str, str]], counts: list[float] | None = None) -> None:
    """Raw values, at most 150 per datum (PutMetricData's limit)."""
    data = []
    for start in range(0, len(values), 150):
        datum: dict[str, Any] = {"MetricName": "ModelLatency", "Timestamp": minute_ago(), "Values": values[start:start + 150],
                                 "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions]}
        if counts:
            datum["Counts"] = counts[start:start + 150]
        data.append(datum)
    cloudwatch.put_metric_data(Namespace="Rehearsal", MetricData=data)


def metric_data(cloudwatch: Any, stat: str, dimensions: list[tuple[str, str]]) -> list[float]:
    now = minute_ago()
    query = {"Id": "q", "MetricStat": {"Metric": {"Namespace": "Rehearsal", "MetricName": "ModelLatency",
                                                  "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions]},
                                       "Period": 60, "Stat": stat}}
    answer = cloudwatch.get_metric_data(MetricDataQueries=[query], StartTime=now - dt.timedelta(minutes=5),
                                        EndTime=now + dt.timedelta(minutes=5))
    return answer["MetricDataResults"][0]["Values"]


ENDPOINT, VARIANT = ("EndpointName", "churn-endpoint"), ("VariantName", "champion")
ORDERS = {f"put {put[0][0]} first, queried {query[0][0]} first": (list(put), list(query))
          for put, query in itertools.product([(ENDPOINT, VARIANT), (VARIANT, ENDPOINT)], repeat=2)}


@pytest.mark.parametrize(("put", "query"), ORDERS.values(), ids=list(ORDERS))
def test_get_metric_data_finds_a_metric_whatever_the_order_of_its_dimensions(corrected_aws, put, query):
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    put_values(cloudwatch, [1.0, 2.0, 4.0], put)
    assert metric_data(cloudwatch, "Sum", query) == [7.0]
    # Another variant is another metric, in either order.
    assert metric_data(cloudwatch, "Sum", [ENDPOINT, ("VariantName", "challenger")]) == []
    assert metric_data(cloudwatch, "Sum", [("VariantName", "challenger"), ENDPOINT]) == []


def shuffled(values: list[float]) -> list[float]:
    mixed = list(values)
    random.Random(7).shuffle(mixed)
    return mixed


ONE_TO = {n: [float(v) for v in range(1, n + 1)] for n in (10, 100, 1000)}
# (values posted, counts, the statistic, its nearest-rank value: the ceil(P/100 * N)-th smallest)
PERCENTILES = {
    "p99 of 1..100": (ONE_TO[100], None, "p99", 99.0),
    "p50 of 1..100": (ONE_TO[100], None, "p50", 50.0),
    "p90 of 1..100": (ONE_TO[100], None, "p90", 90.0),
    "p75 of four": ([7.0, 3.0, 9.0, 1.0], None, "p75", 7.0),
    "p99 of one value": ([42.0], None, "p99", 42.0),
    "p99.5 of 1..1000": (ONE_TO[1000], None, "p99.5", 995.0),
    "p0.1 of 1..1000": (ONE_TO[1000], None, "p0.1", 1.0),
    "counts are values repeated": ([1.0, 2.0], [99.0, 1.0], "p99", 1.0),
    # Ranks that floating point gets wrong (14 / 100 * 100 is 14.000000000000002), and the ends CloudWatch takes.
    "p14 of 1..100": (ONE_TO[100], None, "p14", 14.0),
    "p99.9 of 1..1000": (ONE_TO[1000], None, "p99.9", 999.0),
    "p100 of 1..10": (ONE_TO[10], None, "p100", 10.0),
    "p0 of 1..10": (ONE_TO[10], None, "p0", 1.0),
}


@pytest.mark.parametrize(("values", "counts", "stat", "expected"), PERCENTILES.values(), ids=list(PERCENTILES))
def test_percentiles_through_get_metric_data_are_nearest_rank(corrected_aws, values, counts, stat, expected):
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    put_values(cloudwatch, shuffled(values) if counts is None else values, [ENDPOINT, VARIANT], counts)
    assert metric_data(cloudwatch, stat, [VARIANT, ENDPOINT]) == [expected]


# What moto_fixes.corrected() patches, as (owner, attribute).
CORRECTED = [(Dimension, "__lt__"), (SageMakerModelBackend, "update_model_package"), (SageMakerResponse, "delete_model_package"),
             (Execution, "get_start_execution_details"), (Statistics, "get_statistics_for_type"),
             (StateTaskServiceAwsSdk, "_normalise_service_error_name"), (WaitFunction, "_wait_interval"), (retrier_decl, "time")]


def own(owner: Any, attribute: str) -> Any:
    """The attribute as the class or module itself holds it (None when absent)."""
    return vars(owner).get(attribute)


@pytest.mark.parametrize(("owner", "attribute"), CORRECTED, ids=[f"{o.__name__.rsplit('.', 1)[-1]}.{a}" for o, a in CORRECTED])
def test_corrected_patches_only_while_the_block_runs(owner, attribute):
    before = own(owner, attribute)
    with moto_fixes.corrected():
        inside = own(owner, attribute)
    assert inside is not None and inside is not before
    assert own(owner, attribute) is before


def moto_update_forgets(sagemaker: Any, cloudwatch: Any) -> None:
    arn = registered_version(sagemaker)
    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"approved_by": "ops"})
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert "ModelApprovalStatus" not in described and "ApprovalDescription" not in described
    assert described["CustomerMetadataProperties"] == {"approved_by": "ops"}


def moto_cannot_delete(sagemaker: Any, cloudwatch: Any) -> None:
    arn = registered_version(sagemaker)
    with pytest.raises(NotImplementedError):
        sagemaker.delete_model_package(ModelPackageName=arn)


def moto_finds_one_order(sagemaker: Any, cloudwatch: Any) -> None:
    put_values(cloudwatch, [1.0, 2.0], [ENDPOINT, VARIANT])
    assert (metric_data(cloudwatch, "Sum", [ENDPOINT, VARIANT]), metric_data(cloudwatch, "Sum", [VARIANT, ENDPOINT])) == ([3.0], [])


def moto_has_no_percentiles(sagemaker: Any, cloudwatch: Any) -> None:
    put_values(cloudwatch, [1.0, 2.0], [ENDPOINT])
    with pytest.raises(TypeError):  # moto cannot serialise the None it computes for p99
        metric_data(cloudwatch, "p99", [ENDPOINT])


MOTO_ALONE = {"UpdateModelPackage replaces what it is not given": moto_update_forgets,
              "DeleteModelPackage is not implemented": moto_cannot_delete,
              "GetMetricData finds two dimensions in one order only": moto_finds_one_order,
              "percentiles answer nothing": moto_has_no_percentiles}


@pytest.mark.parametrize("behaviour", MOTO_ALONE.values(), ids=list(MOTO_ALONE))
def test_after_the_block_moto_is_moto_again(aws, behaviour):
    """moto 5.2.5's own behaviour, each the reason for one correction: the corrections are scoped to the
    block. (If a moto upgrade fixes one, this fails: the correction may then be dropped.)"""
    with moto_fixes.corrected():
        boto3.client("sagemaker", region_name=REGION).list_model_package_groups()
    behaviour(boto3.client("sagemaker", region_name=REGION), boto3.client("cloudwatch", region_name=REGION))


def test_iso_start_is_the_context_objects_format():
    start = dt.datetime(2019, 3, 26, 22, 14, 13, 192345, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert moto_fixes.iso_start(start) == "2019-03-26T20:14:13.192Z"


# (the service as an aws-sdk Resource names it, the prefix of its errors in Step Functions)
ERROR_PREFIXES = [
    ("sagemaker", "SageMaker"), ("dynamodb", "DynamoDb"), ("sfn", "Sfn"), ("s3", "S3"), ("lambda", "Lambda"),
    pytest.param("acmpca", "AcmPca", marks=pytest.mark.xfail(strict=True, reason=(
        "the developer guide's own example (AcmPca.ResourceNotFoundException for aws-sdk:acmpca): botocore names "
        "the service acm-pca, so aws_error_prefix('acmpca') raises UnknownServiceError (and its serviceId gives ACMPCA). "
        "No state machine of the platform calls ACM PCA; the services it calls are the rows above"))),
]


@pytest.mark.parametrize(("service", "prefix"), ERROR_PREFIXES, ids=["sagemaker", "dynamodb", "sfn", "s3", "lambda", "acmpca"])
def test_aws_sdk_errors_are_prefixed_as_step_functions_names_the_service(service, prefix):
    assert moto_fixes.aws_error_prefix(service) == prefix


# =====================================================================================================
# training
# =====================================================================================================

STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
COMPUTE_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{TRAINING_COMPUTE}"


@pytest.fixture(scope="module")
def deployed_definition(plan_for) -> dict[str, Any]:
    (machine,) = plan_for("dev").of_type(STATE_MACHINE)
    return json.loads(machine.inputs["definition"])


def test_local_training_swaps_only_the_train_states_resource(deployed_definition):
    original = json.loads(json.dumps(deployed_definition))
    swapped = training.with_local_training(deployed_definition, COMPUTE_ARN)
    assert deployed_definition == original, "the deployed definition was changed in place"
    assert {k: v for k, v in swapped.items() if k != "States"} == {k: v for k, v in original.items() if k != "States"}
    assert list(swapped["States"]) == list(original["States"])
    for name, state in original["States"].items():
        if name != TRAIN_STATE:
            assert swapped["States"][name] == state, name
    train, deployed = swapped["States"][TRAIN_STATE], original["States"][TRAIN_STATE]
    assert "TimeoutSecondsPath" in deployed and "TimeoutSecondsPath" not in train
    assert (train["Resource"], deployed["Resource"]) == (COMPUTE_ARN, "arn:aws:states:::sagemaker:createTrainingJob.sync")
    assert "rehearsal" in train["Comment"] and train["Comment"] != deployed["Comment"]
    kept = ("Parameters", "ResultPath", "Catch", "Next")
    assert all(key in deployed for key in kept)
    assert {k: v for k, v in train.items() if k not in ("Resource", "Comment")} == \
        {k: v for k, v in deployed.items() if k not in ("Resource", "Comment", "TimeoutSecondsPath")}


# The state's input, by the JSONPath its Parameters read it with.
RUN_INPUT = {
    "$.job.training_job_name": "churn-20240601T100000Z-1a2b3c", "$.job.hyperparameters": {"num_round": "5"},
    "$.job.run_id": "run-1", "$.run.model_name": "churn",
    "$.run.train_uri": "s3://data/churn/train/", "$.run.train_distribution": "FullyReplicated",
    "$.run.validation_uri": "s3://data/churn/validation/", "$.run.output_uri": "s3://artifacts/churn/training",
    "$.run.resource_config": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
    "$.run.max_runtime_seconds": 3600,
}


def evaluated(template: Any) -> Any:
    """The Parameters as the interpreter evaluates them for RUN_INPUT ("Key.$": path -> "Key": value)."""
    if isinstance(template, dict):
        return {k.removesuffix(".$"): RUN_INPUT[v] if k.endswith(".$") else evaluated(v) for k, v in template.items()}
    if isinstance(template, list):
        return [evaluated(item) for item in template]
    return template


@pytest.fixture(scope="module")
def job_request(deployed_definition) -> dict[str, Any]:
    """The CreateTrainingJob request the deployed Train state builds."""
    return evaluated(deployed_definition["States"][TRAIN_STATE]["Parameters"])


def test_the_request_the_state_machine_builds_is_accepted(job_request):
    training.check_request(job_request)
    assert job_request["AlgorithmSpecification"]["MetricDefinitions"] == metrics.METRIC_DEFINITIONS


# (where the request is broken, the value put there: MISSING removes it)
MALFORMED = {
    "no RoleArn": (("RoleArn",), MISSING),
    "no TrainingJobName": (("TrainingJobName",), MISSING),
    "a job name that is a number": (("TrainingJobName",), 12),
    "a hyperparameter that is a number": (("HyperParameters", "num_round"), 5),
    "an instance count that is text": (("ResourceConfig", "InstanceCount"), "1"),
    "a channel list that is one channel": (("InputDataConfig",), {"ChannelName": "train"}),
    "a metric definition without a regex": (("AlgorithmSpecification", "MetricDefinitions", 0, "Regex"), MISSING),
    "network isolation as text": (("EnableNetworkIsolation",), "true"),
    "a runtime under the minimum": (("StoppingCondition", "MaxRuntimeInSeconds"), 0),
    "an unknown key": (("Hyperparameters",), {"num_round": "5"}),
}


@pytest.mark.parametrize(("path", "value"), MALFORMED.values(), ids=list(MALFORMED))
def test_a_malformed_request_is_refused_naming_the_parameter(job_request, path, value):
    with pytest.raises(ParamValidationError, match=re.escape(str(path[-1]))):
        training.check_request(changed(job_request, path, value))


@pytest.fixture
def channels(aws, tmp_path) -> Any:
    """moto's S3 with the request's data buckets, the sample data set under the channels' prefixes."""
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("data", "artifacts"):
        s3.create_bucket(Bucket=bucket)
    for channel, path in sample_data.write_channels(tmp_path / "sample", rows=300).items():
        s3.upload_file(str(path), "data", f"churn/{channel}/{path.name}")
    return s3


def artifacts(s3: Any) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="artifacts").get("Contents", []))


def members(s3: Any, key: str) -> list[str]:
    body = s3.get_object(Bucket="artifacts", Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        return sorted(archive.getnames())


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


NEVER_PRINTED = {"Name": "validation:f1", "Regex": "f1 score is (-?[0-9.]+)"}
VALIDATION_AUC = next(d for d in metrics.METRIC_DEFINITIONS if d["Name"] == "validation:auc")
DEFINITIONS = {"the contract's": metrics.METRIC_DEFINITIONS, "two, one never printed": [VALIDATION_AUC, NEVER_PRINTED]}


@pytest.mark.parametrize("definitions", DEFINITIONS.values(), ids=list(DEFINITIONS))
def test_a_job_uploads_where_sagemaker_does_and_reports_the_metrics_its_definitions_find(
        channels, job_request, tmp_path, definitions):
    request = changed(job_request, ("AlgorithmSpecification", "MetricDefinitions"), definitions)
    name = request["TrainingJobName"]
    described = training.run_job(request, s3=channels, work_dir=tmp_path / "jobs")
    output = f"churn/training/{name}/output"
    assert artifacts(channels) == [f"{output}/model.tar.gz", f"{output}/output.tar.gz"]
    assert described["ModelArtifacts"] == {"S3ModelArtifacts": f"s3://artifacts/{output}/model.tar.gz"}
    job = tmp_path / "jobs" / name
    assert members(channels, f"{output}/model.tar.gz") == files_under(job / "model") != []
    assert members(channels, f"{output}/output.tar.gz") == files_under(job / "output" / "data") != []
    log = (job / "training.log").read_text()
    found = {d["Name"] for d in definitions if re.search(d["Regex"], log)}
    assert [m["MetricName"] for m in described["FinalMetricDataList"]] == [d["Name"] for d in definitions if d["Name"] in found]
    read_back = metrics.parse_metrics(log)  # the contract's own reader: the last value each regex finds
    assert {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]} == {n: read_back[n][-1] for n in found}
    if definitions is metrics.METRIC_DEFINITIONS:  # the trainer prints every metric of the contract
        assert found == {d["Name"] for d in metrics.METRIC_DEFINITIONS}
    assert (described["TrainingJobStatus"], described["HyperParameters"]) == ("Completed", {"num_round": "5"})


def test_a_failing_job_raises_its_failure_reason_and_uploads_nothing(channels, job_request, tmp_path):
    request = changed(job_request, ("HyperParameters",), {"max_depth": "99"})
    with pytest.raises(training.TrainingJobError) as raised:
        training.run_job(request, s3=channels, work_dir=tmp_path / "jobs")
    failure = (tmp_path / "jobs" / request["TrainingJobName"] / "output" / "failure").read_text().strip()
    assert str(raised.value) == failure and "max_depth" in failure
    assert artifacts(channels) == []


# (the image's exit code, the failure file it writes, the FailureReason; None: the job completes).
# SageMaker decides by the exit code (Developer Guide, "How Amazon SageMaker AI Signals Algorithm
# Success and Failure"); the failure file is only the reason it shows.
ENDINGS = {
    "killed before writing a reason": (137, None, "AlgorithmError: the image exited with code 137"),
    "failed with a reason": (2, "Bad training input: no rows", "Bad training input: no rows"),
    "exited 0 despite a failure file": (0, "a stale reason", None),
}


@pytest.mark.parametrize(("code", "reason", "failure_reason"), ENDINGS.values(), ids=list(ENDINGS))
def test_the_images_exit_code_decides_whether_the_job_failed(channels, job_request, tmp_path, monkeypatch, code, reason, failure_reason):
    entry_point = tmp_path / "train"  # a stand-in image: SM_ROOT is its /opt/ml
    entry_point.write_text(
        "import os, pathlib, sys\n"
        f"reason = {reason!r}\n"
        "if reason:\n"
        "    failure = pathlib.Path(os.environ['SM_ROOT']) / 'output' / 'failure'\n"
        "    failure.parent.mkdir(parents=True, exist_ok=True)\n"
        "    failure.write_text(reason)\n"
        f"sys.exit({code})\n")
    monkeypatch.setattr(training, "ENTRY_POINT", entry_point)
    if failure_reason is None:
        assert training.run_job(job_request, s3=channels, work_dir=tmp_path / "jobs")["TrainingJobStatus"] == "Completed"
        return
    with pytest.raises(training.TrainingJobError) as raised:
        training.run_job(job_request, s3=channels, work_dir=tmp_path / "jobs")
    assert str(raised.value) == failure_reason
    assert artifacts(channels) == []


# =====================================================================================================
# feature_store
# =====================================================================================================

def put_request(customer: str, **values: str) -> dict[str, Any]:
    row = good_row(customer, **values)
    return {"FeatureGroupName": GROUP_NAME, "Record": [{"FeatureName": k, "ValueAsString": v} for k, v in row.items()]}


# (where the PutRecord request is broken, the value put there: MISSING removes it)
BAD_PUTS = {
    "no group": (("FeatureGroupName",), MISSING),
    "an empty group name": (("FeatureGroupName",), ""),
    "no record": (("Record",), MISSING),
    "a record that is not a list": (("Record",), {"FeatureName": "customer_id", "ValueAsString": "c1"}),
    "an empty record": (("Record",), []),
    "a value without its feature name": (("Record", 0, "FeatureName"), MISSING),
    "a value that is a number": (("Record", 2, "ValueAsString"), 12),
    "an unknown key in a value": (("Record", 0, "Value"), "c1"),
    "target stores as text": (("TargetStores",), "OnlineStore"),
    "a zero time to live": (("TtlDuration",), {"Unit": "Days", "Value": 0}),
    "an unknown key": (("Records",), []),
}


@pytest.mark.parametrize(("path", "value"), BAD_PUTS.values(), ids=list(BAD_PUTS))
def test_the_recorder_refuses_what_botocore_refuses_and_records_nothing(path, value):
    store = RecordingFeatureStore()
    with pytest.raises(ParamValidationError, match=re.escape(str(path[-1]))):
        store.put_record(**changed(put_request("c1"), path, value))
    assert store.offline == {}


def test_the_recorder_appends_every_accepted_record_with_the_offline_stores_columns():
    store = RecordingFeatureStore()
    answers = [store.put_record(**put_request(c, tenure_months=t)) for c, t in (("c1", "1"), ("c2", "2"), ("c1", "3"))]
    assert all(answer["ResponseMetadata"]["HTTPStatusCode"] == 200 for answer in answers)
    recorded = store.offline[GROUP_NAME]
    assert [(r["customer_id"], r["tenure_months"]) for r in recorded] == [("c1", "1"), ("c2", "2"), ("c1", "3")]
    assert all(set(OFFLINE_COLUMNS) | set(good_row("c1")) == set(r) and r["is_deleted"] is False for r in recorded)
    written = [dt.datetime.strptime(r["write_time"], "%Y-%m-%d %H:%M:%S.%f") for r in recorded]
    assert written == sorted(written)


AS_OF = dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.UTC)


class Group(NamedTuple):
    """The sample feature group as deployed (moto), with its Glue table: what LocalAthena is given."""

    s3: Any
    sagemaker: Any
    table: tuple[str, str]  # Glue (database, table)
    features: list[str]

    def athena(self, store: RecordingFeatureStore) -> LocalAthena:
        return LocalAthena(store, self.s3, {self.table: (GROUP_NAME, self.features)})


@pytest.fixture
def feature_group(aws) -> Group:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    create_group_in_moto()
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    described = sagemaker.describe_feature_group(FeatureGroupName=GROUP_NAME)
    catalog = described["OfflineStoreConfig"]["DataCatalogConfig"]
    return Group(s3, sagemaker, (catalog["Database"], catalog["TableName"]), [d["FeatureName"] for d in described["FeatureDefinitions"]])


def test_local_athena_answers_the_training_sets_query_over_the_recorded_store(feature_group):
    s3 = feature_group.s3
    store = RecordingFeatureStore()
    for i in range(30):
        store.put_record(**put_request(f"c{i}", event_time="2024-06-01T09:00:00Z"))
    store.put_record(**put_request("c1", event_time="2024-06-01T09:30:00Z", tenure_months="99"))  # an update before as-of
    store.put_record(**put_request("c2", event_time="2024-06-01T10:30:00Z", tenure_months="77"))  # after: never seen
    store.put_record(**put_request("c40", event_time="2024-06-01T11:00:00Z"))  # exists only after as-of
    labels = "customer_id,churned\n" + "".join(f"c{i},{i % 2}\n" for i in [*range(30), 40])
    s3.put_object(Bucket=BUCKET, Key="churn/labels/june.csv", Body=labels.encode())
    request = training_set.Request(feature_group=GROUP_NAME, data_bucket=BUCKET, model="churn", as_of=AS_OF,
                                   labels_uri=f"s3://{BUCKET}/churn/labels/june.csv", validation_fraction=0.3)
    summary = training_set.build(request, sagemaker=feature_group.sagemaker, athena=feature_group.athena(store), s3=s3,
                                 sleep=lambda seconds: None)
    assert (sum(summary["rows"].values()), summary["unlabeled_records"], summary["labels_without_records"]) == (30, 0, 1)
    assert summary["query_result"].startswith(f"{request.prefix}query/")
    tenure = CSV_COLUMNS.index("tenure_months")
    rows = []
    for channel in ("train", "validation"):
        text = s3.get_object(Bucket=BUCKET, Key=f"churn/training-sets/{request.set_name}/{channel}/part-0.csv")["Body"].read()
        rows += list(csv.reader(io.StringIO(text.decode())))[1:]
    assert Counter(row[tenure] for row in rows) == {"12": 29, "99": 1}
    # Athena's SELECT result: a header, every value quoted.
    bucket, key = summary["query_result"].removeprefix("s3://").split("/", 1)
    result = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    assert result[0].startswith('"customer_id","event_time",') and result[1].startswith('"c0","2024-06-01T09:00:00Z",')


def test_a_sql_error_is_a_failed_query_with_the_reason(feature_group):
    athena = feature_group.athena(RecordingFeatureStore())
    started = athena.start_query_execution(QueryString="SELECT * FROM nowhere",
                                           ResultConfiguration={"OutputLocation": f"s3://{BUCKET}/query/"})
    status = athena.get_query_execution(QueryExecutionId=started["QueryExecutionId"])["QueryExecution"]["Status"]
    assert status["State"] == "FAILED" and "no such table: nowhere" in status["StateChangeReason"]
    with pytest.raises(training_set.TrainingSetError, match="FAILED: SQL error: no such table: nowhere"):
        training_set.run_query(athena, "SELECT * FROM nowhere", catalog="AwsDataCatalog", database=feature_group.table[0],
                               workgroup="primary", output_location=f"s3://{BUCKET}/query/", sleep=lambda seconds: None)


def point_in_time(feature_group: Group, store: RecordingFeatureStore) -> tuple[dict[str, Any], list[dict]]:
    """training_set's query over the store, through LocalAthena: its status and the rows of its result."""
    database, table = feature_group.table
    athena = feature_group.athena(store)
    sql = training_set.point_in_time_query(database=database, table=table, record_identifier="customer_id",
                                           event_time="event_time", event_time_type="String", features=feature_group.features,
                                           as_of=AS_OF)
    started = athena.start_query_execution(QueryString=sql, ResultConfiguration={"OutputLocation": f"s3://{BUCKET}/query/"})
    execution = athena.get_query_execution(QueryExecutionId=started["QueryExecutionId"])["QueryExecution"]
    if execution["Status"]["State"] != "SUCCEEDED":
        return execution["Status"], []
    key = execution["ResultConfiguration"]["OutputLocation"].removeprefix(f"s3://{BUCKET}/")
    text = feature_group.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return execution["Status"], list(csv.DictReader(io.StringIO(text)))


def test_the_query_over_an_empty_store_succeeds_with_no_rows(feature_group):
    """The Glue table has every feature's column before any record arrives. (SQLite would otherwise read a
    double-quoted name that is no column as a string: from_iso8601_timestamp('event_time') would fail.)"""
    status, rows = point_in_time(feature_group, RecordingFeatureStore())
    assert (status["State"], rows) == ("SUCCEEDED", [])


def test_a_feature_no_record_has_given_is_empty_in_the_result(feature_group):
    """Athena gives NULL (an empty cell) for it, not its own name as text (SQLite's reading of a missing column)."""
    store = RecordingFeatureStore()
    request = put_request("c1")
    request["Record"] = [value for value in request["Record"] if value["FeatureName"] != "num_products"]
    store.put_record(**request)
    status, rows = point_in_time(feature_group, store)
    assert status["State"] == "SUCCEEDED" and [(row["customer_id"], row["num_products"]) for row in rows] == [("c1", "")]


START = {"QueryString": "SELECT 1", "QueryExecutionContext": {"Catalog": "AwsDataCatalog", "Database": "sagemaker_featurestore"},
         "WorkGroup": "primary", "ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/query/"}}
# (the operation, where its request is broken, the value put there: MISSING removes it)
BAD_QUERIES = {
    "start without a query": ("start_query_execution", ("QueryString",), MISSING),
    "start with a query that is a number": ("start_query_execution", ("QueryString",), 1),
    "start with a database that is a number": ("start_query_execution", ("QueryExecutionContext", "Database"), 5),
    "start with a result location that is text": ("start_query_execution", ("ResultConfiguration",), "s3://b/q/"),
    "start with an unknown key": ("start_query_execution", ("Workgroup",), "primary"),
    "get without an id": ("get_query_execution", ("QueryExecutionId",), MISSING),
    "get with an id that is a number": ("get_query_execution", ("QueryExecutionId",), 1),
    "get with an unknown key": ("get_query_execution", ("QueryId",), "rehearsal-1"),
}


@pytest.mark.parametrize(("operation", "path", "value"), BAD_QUERIES.values(), ids=list(BAD_QUERIES))
def test_athena_requests_are_checked_against_botocores_model(feature_group, operation, path, value):
    athena = feature_group.athena(RecordingFeatureStore())
    good = START if operation == "start_query_execution" else \
        {"QueryExecutionId": athena.start_query_execution(**START)["QueryExecutionId"]}
    with pytest.raises(ParamValidationError, match=re.escape(str(path[-1]))):
        getattr(athena, operation)(**changed(good, path, value))


# =====================================================================================================
# cloud
# =====================================================================================================

class Emulated(NamedTuple):
    cloud: EmulatedAws
    plan: Plan
    first: Applied  # what the first apply created


def planned_names(plan: Plan, type_: str) -> list[str]:
    return [r.inputs["name"] for r in plan.of_type(type_)]


# How to read back, for one planned resource of a type, what the plan says and what the emulator holds.
def _role(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    return r.outputs["name"], cloud.client("iam").get_role(RoleName=r.outputs["name"])["Role"]["RoleName"]


def _bucket(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    name = r.outputs["bucket"]
    buckets = [b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]]
    return (name, "Enabled"), (name if name in buckets else None, cloud.client("s3").get_bucket_versioning(Bucket=name).get("Status"))


def _queue(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    return r.outputs["name"], cloud.client("sqs").get_queue_url(QueueName=r.outputs["name"])["QueueUrl"].rsplit("/", 1)[1]


def _topic(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    return r.outputs["arn"], cloud.client("sns").get_topic_attributes(TopicArn=r.outputs["arn"])["Attributes"]["TopicArn"]


def _package_group(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    name = r.inputs["modelPackageGroupName"]
    return name, cloud.client("sagemaker").describe_model_package_group(ModelPackageGroupName=name)["ModelPackageGroupName"]


def _feature_group(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    group = cloud.client("sagemaker").describe_feature_group(FeatureGroupName=r.inputs["featureGroupName"])
    planned = (r.inputs["featureGroupName"], r.inputs["recordIdentifierFeatureName"], r.inputs["eventTimeFeatureName"],
               [(d["featureName"], d["featureType"]) for d in r.inputs["featureDefinitions"]])
    return planned, (group["FeatureGroupName"], group["RecordIdentifierFeatureName"], group["EventTimeFeatureName"],
                     [(d["FeatureName"], d["FeatureType"]) for d in group["FeatureDefinitions"]])


def _function(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    configuration = cloud.client("lambda").get_function(FunctionName=r.inputs["name"])["Configuration"]
    return (r.inputs["name"], r.inputs["handler"]), (configuration["FunctionName"], configuration["Handler"])


def _state_machine(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    arn = cloud.arn("states", f"stateMachine:{r.inputs['name']}")
    described = cloud.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    planned = training.with_local_training(json.loads(r.inputs["definition"]), cloud.arn("lambda", f"function:{TRAINING_COMPUTE}"))
    return (r.inputs["name"], planned), (described["name"], json.loads(described["definition"]))


def _rule(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    described = cloud.client("events").describe_rule(Name=r.inputs["name"])
    planned = r.inputs.get("scheduleExpression") or json.loads(r.inputs["eventPattern"])
    return (r.inputs["name"], planned), (described["Name"], described.get("ScheduleExpression") or json.loads(described["EventPattern"]))


def _target(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    planned: dict[str, Any] = {"Arn": r.inputs["arn"]}
    if "input" in r.inputs:
        planned["Input"] = r.inputs["input"]
    if "inputTransformer" in r.inputs:
        planned["InputTransformer"] = {"InputPathsMap": r.inputs["inputTransformer"]["inputPaths"],
                                       "InputTemplate": r.inputs["inputTransformer"]["inputTemplate"]}
    targets = cloud.client("events").list_targets_by_rule(Rule=r.inputs["rule"])["Targets"]
    return [planned], [{k: v for k, v in t.items() if k in ("Arn", "Input", "InputTransformer")} for t in targets]


def _alarm(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    (alarm,) = cloud.client("cloudwatch").describe_alarms(AlarmNames=[r.inputs["name"]])["MetricAlarms"]
    inputs = r.inputs
    planned = (inputs["name"], inputs.get("metricName"), [q["id"] for q in inputs.get("metricQueries", [])],
               inputs["threshold"], inputs["comparisonOperator"], inputs["evaluationPeriods"], inputs["alarmActions"])
    return planned, (alarm["AlarmName"], alarm.get("MetricName"), [m["Id"] for m in alarm.get("Metrics", [])],
                     alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"], alarm["AlarmActions"])


def _notification(cloud: EmulatedAws, r: PlannedResource) -> tuple[Any, Any]:
    """Held by the emulator (put_object delivers them), not by moto's S3."""
    return [{**c, "bucket": r.inputs["bucket"]} for c in r.inputs["lambdaFunctions"]], \
        [c for c in cloud.notifications if c["bucket"] == r.inputs["bucket"]]


READ_BACK: dict[str, Callable[[EmulatedAws, PlannedResource], tuple[Any, Any]]] = {
    "aws:iam/role:Role": _role,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:sqs/queue:Queue": _queue,
    "aws:sns/topic:Topic": _topic,
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": _package_group,
    "aws:sagemaker/featureGroup:FeatureGroup": _feature_group,
    "aws:lambda/function:Function": _function,
    "aws:sfn/stateMachine:StateMachine": _state_machine,
    "aws:cloudwatch/eventRule:EventRule": _rule,
    "aws:cloudwatch/eventTarget:EventTarget": _target,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:s3/bucketNotification:BucketNotification": _notification,
}
RULE, ALARM, FUNCTION = "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:lambda/function:Function"
APPROVALS_TARGET = "registry-approvals-alert"  # the registry rule's target: the alert topic


def snapshot(cloud: EmulatedAws) -> dict[str, Any]:
    """What a re-apply must leave as it is."""
    sfn, events, cloudwatch = cloud.client("stepfunctions"), cloud.client("events"), cloud.client("cloudwatch")
    rules = [r["Name"] for r in events.list_rules()["Rules"]]
    return {
        "roles": sorted(r["RoleName"] for r in cloud.client("iam").list_roles()["Roles"]),
        "buckets": sorted(b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]),
        "queues": sorted(cloud.client("sqs").list_queues().get("QueueUrls", [])),
        "subscriptions": sorted(s["SubscriptionArn"] for s in cloud.client("sns").list_subscriptions()["Subscriptions"]),
        "parameters": sorted(p["Name"] for p in cloud.client("ssm").describe_parameters()["Parameters"]),
        "functions": sorted(f["FunctionName"] for f in cloud.client("lambda").list_functions()["Functions"]),
        "machines": {m["name"]: sfn.describe_state_machine(stateMachineArn=m["stateMachineArn"])["definition"]
                     for m in sfn.list_state_machines()["stateMachines"]},
        "targets": {rule: events.list_targets_by_rule(Rule=rule)["Targets"] for rule in rules},
        "alarms": {a["AlarmName"]: (a["StateValue"], a["StateReason"]) for a in cloudwatch.describe_alarms()["MetricAlarms"]},
        "notifications": list(cloud.notifications),
    }


@pytest.fixture(scope="class")
def emulated(plan_for, tmp_path_factory) -> Iterator[Emulated]:
    """The dev plan applied to an emulated cloud, for the tests of one class (torn down at the class's end)."""
    plan = plan_for("dev")
    with EmulatedAws(REGION, tmp_path_factory.mktemp("emulated")) as cloud:
        yield Emulated(cloud, plan, cloud.apply(plan))


class TestEmulatedAws:
    """One emulated cloud with the dev plan applied, shared by the tests of this class."""

    def test_the_read_back_table_covers_every_applied_type_the_plan_has(self, emulated):
        assert list(READ_BACK) == [t for t in APPLIED if emulated.plan.of_type(t)]

    @pytest.mark.parametrize("type_", list(READ_BACK), ids=[t.split(":")[-1] for t in READ_BACK])
    def test_every_planned_resource_is_in_the_emulator_as_planned(self, emulated, type_):
        for resource in emulated.plan.of_type(type_):
            planned, applied = READ_BACK[type_](emulated.cloud, resource)
            assert applied == planned, resource.name

    def test_applying_the_same_plan_again_changes_nothing(self, emulated):
        before = snapshot(emulated.cloud)
        again = emulated.cloud.apply(emulated.plan)
        assert (again.created, again.updated) == ([], [])
        assert snapshot(emulated.cloud) == before

    def test_what_is_not_applied_is_counted_by_type(self, emulated):
        plan, first = emulated.plan, emulated.first
        custom = [r for r in plan.resources if r.custom]
        assert not set(first.left_out) & set(APPLIED)
        assert first.left_out == dict(Counter(r.type for r in custom if r.type not in APPLIED))
        assert sum(first.left_out.values()) + sum(len(plan.of_type(t)) for t in APPLIED) == len(custom)
        assert first.left_out["aws:iam/rolePolicy:RolePolicy"] == len(plan.of_type("aws:iam/role:Role"))
        assert not any(t.startswith("mlops:") for t in first.left_out)  # components are not resources in AWS

    def test_alarms_start_with_insufficient_data(self, emulated):
        names = planned_names(emulated.plan, ALARM)
        alarms = emulated.cloud.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        assert {a["AlarmName"]: (a["StateValue"], a["StateReason"]) for a in alarms} == \
            {name: ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation") for name in names}

    @pytest.fixture
    def alarm_in_alarm(self, emulated) -> Iterator[tuple[str, dict[str, Any]]]:
        """One planned alarm put in ALARM (put back afterwards: the class shares the cloud)."""
        cloudwatch = emulated.cloud.client("cloudwatch")
        name = planned_names(emulated.plan, ALARM)[0]
        (before,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: 1 datapoint",
                                   StateReasonData=json.dumps({"version": "1.0", "recentDatapoints": [3.0]}))
        (set_,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        yield name, set_
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=before["StateValue"], StateReason=before["StateReason"])

    def test_a_reapplied_alarm_keeps_its_state(self, emulated, alarm_in_alarm):
        name, set_ = alarm_in_alarm
        emulated.cloud.apply(emulated.plan)
        (after,) = emulated.cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        assert (after["StateValue"], after["StateReason"]) == ("ALARM", "Threshold Crossed: 1 datapoint")

    def test_a_reapplied_alarm_keeps_its_whole_state(self, emulated, alarm_in_alarm):
        """PutMetricAlarm leaves an existing alarm's state unchanged (API reference); moto makes it anew."""
        name, set_ = alarm_in_alarm
        emulated.cloud.apply(emulated.plan)
        (after,) = emulated.cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        assert (after.get("StateReasonData"), after["StateUpdatedTimestamp"]) == (set_["StateReasonData"], set_["StateUpdatedTimestamp"])

    def test_scheduled_rules_never_match_an_event_put_on_the_bus(self, emulated):
        cloud, plan, _ = emulated
        scheduled = [r.inputs["name"] for r in plan.of_type(RULE) if "scheduleExpression" in r.inputs]
        rules = events_backends[cloud.account][cloud.region].event_buses["default"].rules
        event = {"source": "rehearsal.tests", "detail-type": "Anything", "detail": {"what": "not a schedule"}}
        # The hazard: moto gives a rule without a pattern an empty one, which matches every event.
        assert scheduled and all(rules[name].event_pattern.matches_event(event) for name in scheduled)
        invocations, executions = len(cloud.invocations), len(cloud.executions)
        entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
        assert cloud.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
        assert (cloud.invocations[invocations:], cloud.executions[executions:]) == ([], [])

    @pytest.mark.parametrize("rule", ["churn-archive", "feature-freshness"])
    def test_a_schedule_coming_round_delivers_the_targets_input(self, emulated, rule):
        cloud, plan, _ = emulated
        (name,) = [n for n in planned_names(plan, RULE) if n.endswith(rule)]
        (target,) = [t.inputs for t in plan.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.inputs["rule"] == name]
        count = len(cloud.invocations)
        cloud.fire_schedule(name)
        (invocation,) = cloud.invocations[count:]
        assert invocation.function == target["arn"].rsplit(":", 1)[1] and invocation.error is None
        if "input" in target:  # a constant Input is what the target gets
            assert invocation.event == json.loads(target["input"])
        else:  # otherwise EventBridge's "Scheduled Event" of the rule
            assert (invocation.event["detail-type"], invocation.event["source"], invocation.event["resources"]) == \
                ("Scheduled Event", "aws.events", [cloud.arn("events", f"rule/{name}")])

    def transformed(self, plan: Plan, **values: str) -> dict[str, Any]:
        """The planned InputTransformer applied by hand to a registry event carrying `values`."""
        transformer = plan.get("aws:cloudwatch/eventTarget:EventTarget", APPROVALS_TARGET).inputs["inputTransformer"]
        template = transformer["inputTemplate"]
        for variable in transformer["inputPaths"]:
            template = template.replace(f"<{variable}>", values[variable])
        return json.loads(template)

    def package(self, emulated: Emulated, group: str) -> str:
        sagemaker = emulated.cloud.client("sagemaker")
        if group not in [g["ModelPackageGroupName"] for g in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]]:
            sagemaker.create_model_package_group(ModelPackageGroupName=group)
        emulated.cloud.alerts()  # what earlier tests left
        return sagemaker.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval")["ModelPackageArn"]

    def test_a_version_approved_in_the_registry_reaches_the_alert_topic(self, emulated):
        group = emulated.plan.outputs["model_package_groups"]["churn"]
        arn = self.package(emulated, group)
        emulated.cloud.alerts()
        sagemaker = emulated.cloud.client("sagemaker")
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="looks good")
        changed_at = sagemaker.describe_model_package(ModelPackageName=arn)["LastModifiedTime"]
        (alert,) = emulated.cloud.alerts()
        assert {k: v for k, v in alert.items() if k != "subject"} == self.transformed(
            emulated.plan, version=arn.rsplit("/", 1)[1], description="looks good", group=group, status="Approved", arn=arn,
            changed_at=changed_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def test_a_version_registered_reaches_the_alert_topic(self, emulated):
        group = emulated.plan.outputs["model_package_groups"]["churn"]
        arn = self.package(emulated, group)
        (alert,) = emulated.cloud.alerts()
        expected = self.transformed(emulated.plan, version=arn.rsplit("/", 1)[1], description="-", group=group,
                                    status="PendingManualApproval", arn=arn, changed_at="-")
        unknown = {"approval_description", "changed_at"}  # see the two tests below
        assert {k: v for k, v in alert.items() if k not in unknown | {"subject"}} == \
            {k: v for k, v in expected.items() if k not in unknown}

    def test_a_registered_versions_alert_has_no_placeholder_for_the_missing_description(self, emulated):
        """EventBridge puts nothing for an input path the event lacks (tests/program/test_registry_events.py);
        moto's parser alone would leave the placeholder ('<description>')."""
        self.package(emulated, emulated.plan.outputs["model_package_groups"]["churn"])
        (alert,) = emulated.cloud.alerts()
        assert alert["approval_description"] == ""

    def test_a_registered_versions_alert_says_when(self, emulated):
        """AWS's sample 'SageMaker Model Package State Change' event (tests/program/data) carries
        LastModifiedTime; moto's new version has none, so the emulator gives its creation time."""
        self.package(emulated, emulated.plan.outputs["model_package_groups"]["churn"])
        (alert,) = emulated.cloud.alerts()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", alert["changed_at"])

    def test_a_version_of_a_group_the_rule_does_not_name_sends_nothing(self, emulated):
        self.package(emulated, "mlops-platform-dev-not-planned")
        assert emulated.cloud.alerts() == []

    # (the key put in the feature store bucket, whether the ingestion function runs)
    KEYS = {
        "a CSV file": ("ingest/churn-customers/2024-06-01.csv", True),
        "a JSON Lines file": ("ingest/churn-customers/2024-06-01.jsonl", True),
        "a CSV file in a folder, with a space": ("ingest/churn-customers/june/day 1.csv", True),
        "another suffix": ("ingest/churn-customers/2024-06-01.txt", False),
        "a compressed CSV file": ("ingest/churn-customers/2024-06-01.csv.gz", False),
        "another group's folder": ("ingest/other-group/2024-06-01.csv", False),
        "outside the ingest folder": ("archive/ingest/churn-customers/2024-06-01.csv", False),
        "another case": ("Ingest/churn-customers/2024-06-01.csv", False),
    }

    @pytest.mark.parametrize(("key", "runs"), KEYS.values(), ids=list(KEYS))
    def test_a_file_under_the_ingest_prefix_runs_the_ingestion_once(self, emulated, key, runs):
        cloud, plan, _ = emulated
        bucket = plan.outputs["feature_store_bucket"]
        customer = re.sub(r"\W", "-", key)
        rows = [good_row(f"{customer}-{i}") for i in range(3)]
        body = "".join(json.dumps(r) + "\n" for r in rows) if key.endswith(".jsonl") else \
            ",".join(rows[0]) + "\n" + "".join(",".join(r.values()) + "\n" for r in rows)
        invocations = len(cloud.invocations)
        delivered = cloud.put_object(bucket, key, body.encode())
        assert cloud.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body.encode())
        ran = cloud.invocations[invocations:]
        assert (delivered, len(ran)) == ((1, 1) if runs else (0, 0))
        if runs:
            assert ran[0].function == plan.outputs["feature_ingest_function"] and ran[0].error is None
            (summary,) = ran[0].result["ingested"]
            assert (summary["object"], summary["written"], summary["rejected"]) == (f"s3://{bucket}/{key}", 3, 0)
            recorded = [r["customer_id"] for r in cloud.feature_store.offline[plan.outputs["feature_groups"]["churn-customers"]]]
            assert sorted(recorded[-3:]) == sorted(r["customer_id"] for r in rows)  # written concurrently: any order

    @pytest.mark.parametrize("outcome", ["returns", "raises"])
    def test_a_function_runs_in_its_planned_environment_and_leaves_the_callers(self, emulated, monkeypatch, outcome):
        cloud, plan, _ = emulated
        inputs = plan.get(FUNCTION, "features-freshness-function").inputs
        module_name, handler_name = inputs["handler"].rsplit(".", 1)
        module = importlib.import_module(module_name)
        handler, seen = getattr(module, handler_name), {}

        def spy(event, context):
            seen.update(environ=dict(os.environ), function_name=context.function_name)
            if outcome == "raises":
                raise RuntimeError("the handler failed")
            return handler(event, context)

        monkeypatch.setattr(module, handler_name, spy)
        monkeypatch.setenv("LOOKBACK_SECONDS", "7")  # the caller's own value of a planned variable
        before = dict(os.environ)
        count = len(cloud.invocations)
        if outcome == "raises":
            with pytest.raises(RuntimeError, match="the handler failed"):
                cloud.invoke_function(inputs["name"], {})
        else:
            cloud.invoke_function(inputs["name"], {})
        planned = inputs["environment"]["variables"]
        assert {k: seen["environ"].get(k) for k in planned} == planned
        assert (seen["environ"]["AWS_LAMBDA_FUNCTION_NAME"], seen["function_name"]) == (inputs["name"], inputs["name"])
        assert dict(os.environ) == before
        (invocation,) = cloud.invocations[count:]
        if outcome == "raises":
            assert (invocation.result, invocation.error) == (None, "RuntimeError: the handler failed")
        else:
            group = plan.outputs["feature_groups"]["churn-customers"]
            assert invocation.error is None and list(invocation.result["freshness_seconds"]) == [group]


ENDPOINT_TYPES = ("aws:sagemaker/model:Model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
                  "aws:sagemaker/endpoint:Endpoint")


def serving(**endpoint: Any) -> Plan:
    """The dev stack with its model's endpoint set to `endpoint` (what a rollout writes to the stack file)."""
    models = json.loads(load_stack_config("dev")[0]["mlops-platform:models"])  # structured values come as JSON
    models[0]["endpoint"] = endpoint
    return offline_plan("dev", config_overrides={"models": models})


def endpoint_changes(applied: Applied) -> tuple[list[str], list[str]]:
    kinds = tuple(t.split(":")[-1] + " " for t in ENDPOINT_TYPES)
    return [c for c in applied.created if c.startswith(kinds)], [u for u in applied.updated if u.startswith(kinds)]


# The rehearsal's own endpoint (automation/rehearsal/lifecycle.py's rehearsal_config).
INSTANCES = {"mode": "instances", "instanceType": "ml.m5.large", "instanceCount": 1, "dataCapturePercent": 100}
CHAMPION_1 = {"name": "champion", "weight": 1.0, "modelVersion": 1}
A_B = [{"name": "champion", "weight": 0.7, "modelVersion": 1}, {"name": "challenger", "weight": 0.3, "modelVersion": 2}]


def test_endpoint_configs_are_named_by_content_and_a_new_one_moves_the_endpoint(tmp_path):
    """Endpoint configurations are immutable: a changed one is a new one (Pulumi replaces it under a new
    random suffix), and UpdateEndpoint moves the endpoint to it (moto has none: `_update_endpoint`)."""
    first, second = serving(**INSTANCES, variants=[CHAMPION_1]), serving(**INSTANCES, variants=A_B)
    (endpoint,) = first.of_type("aws:sagemaker/endpoint:Endpoint")
    (config,) = first.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    name = endpoint.inputs["name"]
    with EmulatedAws(REGION, tmp_path) as cloud:
        sagemaker = cloud.client("sagemaker")
        assert endpoint_changes(cloud.apply(first)) == (
            ["Model churn-serving-champion-model", "EndpointConfiguration churn-serving-config", "Endpoint churn-serving-endpoint"], [])
        serving_first = sagemaker.describe_endpoint(EndpointName=name)
        assert serving_first["EndpointConfigName"].startswith(config.inputs["namePrefix"])
        assert endpoint_changes(cloud.apply(first)) == ([], [])  # the same content: the same configuration
        assert sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"] == serving_first["EndpointConfigName"]
        # An endpoint caught mid-update (moto 5.2.5 never shows one): the finished update leaves it InService.
        sagemaker_backends[cloud.account][cloud.region].endpoints[name].endpoint_status = "Updating"

        assert endpoint_changes(cloud.apply(second)) == (
            ["Model churn-serving-challenger-model", "EndpointConfiguration churn-serving-config"], ["Endpoint churn-serving-endpoint"])
        serving_second = sagemaker.describe_endpoint(EndpointName=name)
        new_config = sagemaker.describe_endpoint_config(EndpointConfigName=serving_second["EndpointConfigName"])
        assert serving_second["EndpointConfigName"] != serving_first["EndpointConfigName"]
        # (sorted: the program registers the two models concurrently, so the plan lists them in either order)
        assert sorted(v["ModelName"] for v in new_config["ProductionVariants"]) == \
            sorted(m.inputs["name"] for m in second.of_type("aws:sagemaker/model:Model"))
        assert new_config["DataCaptureConfig"]["InitialSamplingPercentage"] == 100
        assert serving_second["EndpointStatus"] == "InService"
        assert [(v["VariantName"], v["CurrentWeight"]) for v in serving_second["ProductionVariants"]] == \
            [("champion", 0.7), ("challenger", 0.3)]
        sagemaker.describe_endpoint_config(EndpointConfigName=serving_first["EndpointConfigName"])  # the old one is kept

        assert endpoint_changes(cloud.apply(first)) == ([], ["Endpoint churn-serving-endpoint"])  # rolled back, nothing new
        assert sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"] == serving_first["EndpointConfigName"]
        assert [v["VariantName"] for v in sagemaker.describe_endpoint(EndpointName=name)["ProductionVariants"]] == ["champion"]


def test_a_serverless_endpoint_as_dev_ships_it_can_be_applied(tmp_path):
    """Pulumi's serverlessConfig.memorySizeInMb is CreateEndpointConfig's MemorySizeInMB (botocore's
    ProductionVariantServerlessConfig), the one member whose API name is not the input's capitalised."""
    shipped = json.loads(load_stack_config("dev")[0]["mlops-platform:models"])[0]["endpoint"]
    plan = serving(**{**shipped, "variants": [CHAMPION_1]})
    with EmulatedAws(REGION, tmp_path) as cloud:
        cloud.apply(plan)
        (endpoint,) = plan.of_type("aws:sagemaker/endpoint:Endpoint")
        config = cloud.client("sagemaker").describe_endpoint(EndpointName=endpoint.inputs["name"])["EndpointConfigName"]
        (variant,) = cloud.client("sagemaker").describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        assert variant["ServerlessConfig"] == {"MemorySizeInMB": shipped["serverlessMemoryMb"],
                                               "MaxConcurrency": shipped["serverlessMaxConcurrency"]}


# What EmulatedAws patches besides moto_fixes', as (owner, attribute).
EMULATOR_PATCHES = [(Rule, "send_to_targets"), (LambdaFunction, "_invoke_lambda"),
                    (SageMakerModelBackend, "create_model_package"), (SageMakerModelBackend, "update_model_package")]


def test_leaving_the_emulator_restores_moto_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "operator")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    patched = EMULATOR_PATCHES + CORRECTED
    originals = [own(owner, attribute) for owner, attribute in patched]
    before = dict(os.environ)
    with EmulatedAws(REGION, tmp_path) as cloud:
        inside = [own(owner, attribute) for owner, attribute in patched]
        environment = dict(os.environ)
        functions = [f["FunctionName"] for f in cloud.client("lambda").list_functions()["Functions"]]
    assert all(now is not then for now, then in zip(inside, originals, strict=True))
    assert "AWS_PROFILE" not in environment and "AWS_ENDPOINT_URL" not in environment
    assert environment["AWS_DEFAULT_REGION"] == REGION
    assert functions == [TRAINING_COMPUTE]  # answered by moto, in the emulator's region
    assert [own(owner, attribute) for owner, attribute in patched] == originals
    assert Rule.send_to_targets is originals[0]  # moto's own again
    assert dict(os.environ) == before


def test_the_emulator_leaves_nothing_patched_when_it_fails_to_start(tmp_path):
    """A failure while starting (here: the training compute's creation) must not leave moto half-patched."""
    originals = [own(owner, attribute) for owner, attribute in EMULATOR_PATCHES + CORRECTED]
    before = dict(os.environ)
    with mock.patch.object(EmulatedAws, "_create_training_compute", side_effect=RuntimeError("no role")), \
            pytest.raises(RuntimeError, match="no role"):
        with EmulatedAws(REGION, tmp_path):
            pass
    assert [own(owner, attribute) for owner, attribute in EMULATOR_PATCHES + CORRECTED] == originals
    assert dict(os.environ) == before
