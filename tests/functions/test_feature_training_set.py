"""The training set from the offline store (automation/training_set.py).

Athena cannot run here. The point-in-time SQL is run instead, word for word, on SQLite: the
offline store's table is created in an attached database named like the Glue database, and the
two Trino functions the query calls are registered with Trino's meaning for these inputs
(from_iso8601_timestamp: an ISO-8601 text to an instant; from_unixtime: Unix seconds to an
instant; both compared as instants). Window functions, quoting and the rest are standard SQL that
both engines read the same way. The table test then shows, case by case, that events after the
point in time never reach the training set. The Athena calls themselves go through botocore's
Stubber (request shapes checked against botocore's Athena model), S3 and DescribeFeatureGroup
through moto, and the files written are read back by the training container's own loader.
The training state machine's states that take a set as input (`CheckTrainingSet`,
`UseTrainingSet`) run in moto's Step Functions interpreter, as deployed, between the model's
`Configure` state and a stand-in for the rest of the run.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import time

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from automation import training_set
from automation.training_set import Request, TrainingSetError, point_in_time_query
from components import training_workflow
from containers.contracts.features import CSV_COLUMNS, FEATURE_NAMES
from tests.functions.feature_support import BUCKET, CFG, GROUP, GROUP_NAME, REGION, create_group_in_moto, good_row

AS_OF = dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.UTC)
DATABASE, TABLE = "sagemaker_featurestore", "mlops_platform_dev_churn_customers_1717000000"


def instant(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def offline_store(records: list[dict], event_time_type: str = "String") -> sqlite3.Connection:
    """The offline store's table as SageMaker's Glue table has it: the features, then
    write_time, api_invocation_time and is_deleted."""
    db = sqlite3.connect(":memory:")
    db.create_function("from_iso8601_timestamp", 1, instant, deterministic=True)
    db.create_function("from_unixtime", 1, float, deterministic=True)
    db.execute(f'ATTACH DATABASE ":memory:" AS "{DATABASE}"')
    columns = ["customer_id", "event_time", "tenure_months", "write_time", "api_invocation_time", "is_deleted"]
    db.execute(f'CREATE TABLE "{DATABASE}"."{TABLE}" ({", ".join(columns)})')
    for record in records:
        db.execute(f'INSERT INTO "{DATABASE}"."{TABLE}" VALUES (?, ?, ?, ?, ?, ?)',
                   [record.get(c, False) if c == "is_deleted" else record.get(c) for c in columns])
    return db


def selected(db: sqlite3.Connection, event_time_type: str = "String", as_of: dt.datetime = AS_OF) -> dict[str, str]:
    sql = point_in_time_query(database=DATABASE, table=TABLE, record_identifier="customer_id", event_time="event_time",
                              event_time_type=event_time_type, features=["customer_id", "event_time", "tenure_months"],
                              as_of=as_of)
    return {row[0]: row[2] for row in db.execute(sql)}


def rec(customer: str, event_time: str, tenure: str, written: str = "2024-06-01 12:00:00", deleted: bool = False) -> dict:
    return {"customer_id": customer, "event_time": event_time, "tenure_months": tenure, "write_time": written,
            "api_invocation_time": written, "is_deleted": deleted}


# (records in the offline store, the tenure each customer has in the set as of 10:00Z; absent: not in it)
POINT_IN_TIME = {
    "a later update never leaks": ([rec("c1", "2024-06-01T09:00:00Z", "5"), rec("c1", "2024-06-01T11:00:00Z", "6")],
                                   {"c1": "5"}),
    "an update exactly at the point in time counts": ([rec("c1", "2024-06-01T08:00:00Z", "5"),
                                                       rec("c1", "2024-06-01T10:00:00.000Z", "6")], {"c1": "6"}),
    "a millisecond after does not": ([rec("c1", "2024-06-01T08:00:00Z", "5"), rec("c1", "2024-06-01T10:00:00.001Z", "6")],
                                     {"c1": "5"}),
    "an entity that only appears later is absent": ([rec("c2", "2024-06-01T12:00:00Z", "1")], {}),
    "the latest of several earlier updates wins, whatever the write order": (
        [rec("c1", "2024-06-01T09:30:00Z", "7", written="2024-06-01 09:31:00"),
         rec("c1", "2024-06-01T08:00:00Z", "4", written="2024-06-01 11:00:00")], {"c1": "7"}),
    "a deletion before the point in time removes the entity": (
        [rec("c1", "2024-06-01T08:00:00Z", "5"), rec("c1", "2024-06-01T09:00:00Z", "5", deleted=True)], {}),
    "a deletion after it does not": (
        [rec("c1", "2024-06-01T08:00:00Z", "5"), rec("c1", "2024-06-01T11:00:00Z", "5", deleted=True)], {"c1": "5"}),
    "the same event ingested twice: the later write": (
        [rec("c1", "2024-06-01T09:00:00Z", "5", written="2024-06-01 09:00:05"),
         rec("c1", "2024-06-01T09:00:00Z", "8", written="2024-06-01 09:10:00")], {"c1": "8"}),
    "event times in other time zones compare as instants": (
        [rec("c1", "2024-06-01T11:30:00+02:00", "3"), rec("c1", "2024-06-01T10:30:00-01:00", "9")], {"c1": "3"}),
    "entities are independent": (
        [rec("c1", "2024-06-01T09:00:00Z", "1"), rec("c2", "2024-06-01T09:59:59Z", "2"), rec("c2", "2024-06-01T10:00:01Z", "3"),
         rec("c3", "2024-06-01T10:30:00Z", "4")], {"c1": "1", "c2": "2"}),
}


@pytest.mark.parametrize("records, expected", POINT_IN_TIME.values(), ids=list(POINT_IN_TIME))
def test_the_snapshot_holds_each_entitys_latest_record_as_of_the_point_in_time(records, expected):
    assert selected(offline_store(records)) == expected


def test_unix_second_event_times_select_the_same_way():
    records = [rec("c1", str(instant("2024-06-01T09:00:00Z")), "5"), rec("c1", str(instant("2024-06-01T10:00:01Z")), "6")]
    assert selected(offline_store(records), "Fractional") == {"c1": "5"}


def test_the_query_filters_before_it_ranks():
    """Ranking first and filtering after would drop an entity whose newest record is later."""
    sql = point_in_time_query(database=DATABASE, table=TABLE, record_identifier="customer_id", event_time="event_time",
                              event_time_type="String", features=["customer_id"], as_of=AS_OF)
    inner = sql[sql.index("FROM (") : sql.index(') AS "as_of"')]
    assert "WHERE" in inner and "row_number()" in inner
    assert "from_iso8601_timestamp('2024-06-01T10:00:00.000Z')" in inner


# --- Labels, split and the training container's layout ----------------------------------------------

def feature_record(customer: str) -> dict[str, str]:
    return {k: v for k, v in good_row(customer).items()}


def test_records_join_their_labels_and_each_entity_lands_on_one_side_only():
    records = [feature_record(f"c{i}") for i in range(200)]
    labels = {f"c{i}": str(i % 2) for i in range(0, 220, 1) if i % 10}  # c0, c10... unlabelled; c200+ unknown
    parts = training_set.split(records, labels, "customer_id", 0.25)
    assert parts.unlabeled == 20 and parts.labels_without_records == 18
    assert len(parts.train) + len(parts.validation) == 180
    assert 0.15 < len(parts.validation) / 180 < 0.35
    assert parts.train and all(len(row) == len(CSV_COLUMNS) for row in parts.train + parts.validation)
    again = training_set.split(reversed(records), labels, "customer_id", 0.25)  # the split does not depend on order
    assert sorted(again.validation) == sorted(parts.validation)


def test_the_written_files_are_what_the_training_container_reads(tmp_path):
    from containers.training.train import SageMakerPaths, load_channel

    parts = training_set.split([feature_record(f"c{i}") for i in range(50)], {f"c{i}": str(i % 2) for i in range(50)},
                               "customer_id", 0.3)
    paths = SageMakerPaths(tmp_path)
    for channel, rows in (("train", parts.train), ("validation", parts.validation)):
        paths.channel(channel).mkdir(parents=True)
        (paths.channel(channel) / "part-0.csv").write_bytes(training_set.csv_bytes(rows))
        dataset = load_channel(paths, channel)
        assert dataset.rows == len(rows) and dataset.features.shape[1] == len(FEATURE_NAMES)
    header = next(csv.reader(io.StringIO(training_set.csv_bytes([]).decode())))
    assert tuple(header) == CSV_COLUMNS


@pytest.mark.parametrize("text, problem", [
    ("customer_id,label\nc1,1\n", "needs the columns customer_id and churned"),
    ("customer_id,churned\nc1,yes\n", "line 2: churned is 'yes'"),
    ("customer_id,churned\nc1,1\nc1,0\n", "line 3: 'c1' is labelled twice"),
])
def test_bad_labels_are_refused_with_the_line(text, problem):
    with pytest.raises(TrainingSetError, match=problem):
        training_set.read_labels(text, "customer_id")


# --- The whole run, with Athena stubbed --------------------------------------------------------------

def athena_result(records: list[dict[str, str]]) -> str:
    """What Athena writes for a SELECT: a header, every value quoted, empty for NULL."""
    columns = [f.name for f in GROUP.features]
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
        [columns] + [[r.get(c, "") for c in columns] for r in records])
    return out.getvalue()


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        create_group_in_moto()
        yield boto3.client("s3", region_name=REGION)


def test_build_queries_the_groups_table_and_writes_both_channels(aws):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    table = sagemaker.describe_feature_group(FeatureGroupName=GROUP_NAME)["OfflineStoreConfig"]["DataCatalogConfig"]
    aws.put_object(Bucket=BUCKET, Key="churn/labels/june.csv",
                   Body="customer_id,churned\n" + "".join(f"c{i},{i % 2}\n" for i in range(40)))
    request = Request(feature_group=GROUP_NAME, data_bucket=BUCKET, model="churn", as_of=AS_OF,
                      labels_uri=f"s3://{BUCKET}/churn/labels/june.csv", validation_fraction=0.3)
    output = f"{request.prefix}query/"
    aws.put_object(Bucket=BUCKET, Key="churn/training-sets/as-of-20240601T100000Z/query/q-1.csv",
                   Body=athena_result([feature_record(f"c{i}") for i in range(45)]))
    athena = botocore.session.get_session().create_client("athena", region_name=REGION, aws_access_key_id="x",
                                                          aws_secret_access_key="x")
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"}, {
            "QueryString": point_in_time_query(
                database=table["Database"], table=table["TableName"], record_identifier="customer_id",
                event_time="event_time", event_time_type="String", features=[f.name for f in GROUP.features], as_of=AS_OF),
            "QueryExecutionContext": {"Catalog": "AwsDataCatalog", "Database": "sagemaker_featurestore"},
            "WorkGroup": "primary", "ResultConfiguration": {"OutputLocation": output}})
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "RUNNING"}}},
                          {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", {"QueryExecution": {
            "Status": {"State": "SUCCEEDED"}, "ResultConfiguration": {"OutputLocation": f"{output}q-1.csv"}}},
            {"QueryExecutionId": "q-1"})
        waits: list[float] = []
        summary = training_set.build(request, sagemaker=sagemaker, athena=athena, s3=aws, sleep=waits.append)
        stub.assert_no_pending_responses()
    assert summary["training_set"] == f"s3://{BUCKET}/churn/training-sets/as-of-20240601T100000Z/"
    assert summary["rows"]["train"] + summary["rows"]["validation"] == 40 and summary["unlabeled_records"] == 5
    assert summary["start_execution_input"] == {"model_name": "churn", "training_set": summary["training_set"]}
    assert waits == [training_set.QUERY_POLL_SECONDS]
    train = aws.get_object(Bucket=BUCKET, Key="churn/training-sets/as-of-20240601T100000Z/train/part-0.csv")["Body"]
    rows = list(csv.reader(io.StringIO(train.read().decode())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) - 1 == summary["rows"]["train"]


@pytest.mark.parametrize("states, message", [
    (["FAILED"], "q-1 FAILED: table not found"),
    (["RUNNING"] * 3, "still RUNNING after 4 s"),
])
def test_a_query_that_fails_or_never_ends_stops_the_build(states, message):
    athena = botocore.session.get_session().create_client("athena", region_name=REGION, aws_access_key_id="x",
                                                          aws_secret_access_key="x")
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        for state in states:
            stub.add_response("get_query_execution", {"QueryExecution": {
                "Status": {"State": state, "StateChangeReason": "table not found"}}})
        with pytest.raises(TrainingSetError, match=message):
            training_set.run_query(athena, "SELECT 1", catalog="AwsDataCatalog", database="d", workgroup="primary",
                                   output_location="s3://b/q/", sleep=lambda _: None, timeout_seconds=4)


# --- A training run takes the set as input ------------------------------------------------------------

def run_fragment(payload: dict) -> dict:
    """The deployed states between choosing the model and checking hyperparameters, executed by
    moto's Step Functions interpreter; what follows them is a stand-in that ends the run."""
    spec = training_workflow.spec_for(CFG, image_uri="image", inference_image_uri="inference",
                                      training_role_arn="arn:aws:iam::123456789012:role/t",
                                      kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
                                      topic_arn="arn:aws:sns:us-east-1:123456789012:t", data_bucket="data",
                                      artifact_bucket="artifacts", package_groups={"churn": "group"})
    states = training_workflow.definition(spec)["States"]
    names = ("Configure-churn", training_workflow.TRAINING_SET_CHECK_STATE, training_workflow.USE_TRAINING_SET_STATE)
    fragment = {"StartAt": "Configure-churn", "States": {
        **{name: states[name] for name in names},
        "CheckHyperparametersGiven": {"Type": "Succeed"},
        training_workflow.OUTCOMES["invalid_training_set"].state: {"Type": "Fail", "Error": "InvalidTrainingSet"}}}
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name=f"fragment-{time.monotonic_ns()}", definition=json.dumps(fragment),
                                   roleArn="arn:aws:iam::123456789012:role/pipeline")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"model_name": "churn", **payload}))["executionArn"]
    for _ in range(500):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.01)
    raise AssertionError("the fragment did not finish")


@pytest.fixture
def sfn_aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


SET = "s3://data/churn/training-sets/as-of-20240601T100000Z/"


@pytest.mark.parametrize("payload, train, validation", [
    ({}, "s3://data/churn/train/", "s3://data/churn/validation/"),  # as before the feature store
    ({"training_set": None}, "s3://data/churn/train/", "s3://data/churn/validation/"),
    ({"training_set": SET}, f"{SET}train/", f"{SET}validation/"),
])
def test_a_run_trains_on_the_set_it_names_or_on_the_models_data_prefix(sfn_aws, payload, train, validation):
    described = run_fragment(payload)
    assert described["status"] == "SUCCEEDED"
    run = json.loads(described["output"])["run"]
    assert (run["train_uri"], run["validation_uri"]) == (train, validation)
    # Everything else the run was configured with is kept.
    assert run["model_name"] == "churn" and run["output_uri"] == "s3://artifacts/churn/training"
    assert "resource_config" in run and "threshold" in run


@pytest.mark.parametrize("value", [5, "churn/training-sets/x/", "s3://data/churn/training-sets/x", {"uri": SET}])
def test_a_training_set_that_is_not_an_s3_prefix_stops_the_run_before_anything_runs(sfn_aws, value):
    described = run_fragment({"training_set": value})
    assert (described["status"], described.get("error")) == ("FAILED", "InvalidTrainingSet")
