"""The sample model's lifecycle, step by step, against the emulated AWS (see automation/rehearse.py).

Each step drives the platform's own code the way an operator or AWS would, then checks the outcome
a contract between two parts promises: the version the pipeline registers is the artifact the
server loads, the capture lines the proxy writes are what the drift check reads, the drift alarm's
event starts the model's training run, the promotion decision moves the weights the endpoint
reports. A step whose outcome is wrong raises `RehearsalError`; the rehearsal stops there.

The rehearsal stack is dev's stack file with four changes (`rehearsal_config`), each for a reason:
- the endpoint serves from instances with data capture at 100 %, as prod's does: SageMaker's
  serverless endpoints (dev's) capture nothing and serve one variant, so drift detection and A/B
  experiments exist only on instance endpoints;
- approval is manual, as in prod, so approving a version is a step of its own;
- the threshold is 0.75 and one version is kept unarchived, so the sample's deliberately weak
  first version registers and is archived at the end.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from automation import experiments, feature_samples, models, training_set
from automation.driver import System
from automation.offline import ROOT
from automation.rehearsal import alarms, dashboards
from automation.rehearsal.cloud import EmulatedAws, RehearsalError
from automation.rehearsal.feature_store import LocalAthena
from automation.rehearsal.serving import EmulatedDeploy
from containers.contracts.features import FEATURE_NAMES
from containers.contracts.model_metadata import DECISION_THRESHOLD
from containers.training import sample_data
from functions.drift.capture import Captured
from functions.promotion.decision import PROMOTE

STACK = "dev"
MODEL = "churn"
GROUP = "churn-customers"
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", f"Pulumi.{STACK}.yaml")
BUSINESS_METRIC = "PredictionCorrect"
# Version 1 ranks customers well (validation AUC about 0.85, over the threshold) but learns so
# slowly that no score reaches the decision threshold: it never flags a churner. Version 2 is the
# stack's own defaults. Same trees, same depth, so the same cost per prediction.
TIMID_HYPERPARAMETERS = {"eta": "0.001"}
DEFAULT_HYPERPARAMETERS: dict[str, str] = {}
ROWS_PER_REQUEST = 10
METRICS_SETTLE_SECONDS = 1.5
STEPS = ("deploy the dev stack's plan", "ingest features, build a training set", "train version 1",
         "approve and roll out version 1", "train version 2", "A/B experiment, promotion", "drift, alarm, retraining",
         "roll out version 3, archive old versions")


@dataclass(frozen=True)
class Sizes:
    """How much the rehearsal does; the test runs a smaller one through the same code."""

    feature_records: int = 4000
    rollout_requests: int = 200
    experiment_requests: int = 400  # of ROWS_PER_REQUEST labelled rows each
    drifted_requests: int = 60  # of 100 rows each, to outweigh the undrifted traffic in the window


@dataclass
class Outcome:
    """What a step saw, for the progress line and the summary table."""

    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def rehearsal_config(text: str) -> str:
    """Dev's stack file as the rehearsal deploys it (the module docstring says why each change)."""
    document = yaml.safe_load(text)
    config = document["config"]
    model = next(m for m in config["mlops-platform:models"] if m["name"] == MODEL)
    model["threshold"] = 0.75
    model["endpoint"] = {"mode": "instances", "instanceType": "ml.m5.large", "instanceCount": 1,
                         "dataCapturePercent": 100, "variants": [{"name": "champion", "weight": 1.0}]}
    config["mlops-platform:approval"] = "manual"
    config.setdefault("mlops-platform:retention", {})["modelVersionsToKeep"] = 1
    return yaml.safe_dump(document, sort_keys=False)


class Lifecycle:
    """The steps, in order, sharing one emulated AWS and one deploy."""

    def __init__(self, cloud: EmulatedAws, project: Path, sizes: Sizes):
        self.cloud, self.project, self.sizes = cloud, project, sizes
        self.deploy = EmulatedDeploy(cloud)
        self.rng = np.random.default_rng(sample_data.DEFAULT_SEED + 1)
        self.versions: dict[str, int] = {}  # role -> registered version number
        self.training_set = ""
        self.drift_report: dict[str, Any] = {}
        self.console: list[str] = []  # what the operator commands printed

    @property
    def steps(self) -> list[tuple[str, Callable[[], Outcome]]]:
        actions = [self.deploy_stack, self.ingest_features,
                   lambda: self.train("first", TIMID_HYPERPARAMETERS), self.roll_out_first,
                   lambda: self.train("second", DEFAULT_HYPERPARAMETERS), self.experiment,
                   self.drift, self.archive]
        return list(zip(STEPS, actions, strict=True))

    # -- helpers -----------------------------------------------------------------------------------
    @property
    def plan(self) -> Any:
        return self.deploy.plan

    @property
    def endpoint_name(self) -> str:
        return self.plan.outputs["endpoints"][MODEL]

    def _system(self) -> System:
        out, err = io.StringIO(), io.StringIO()
        return System(work_dir=self.project, environ={}, home=self.project, which=lambda name: None,
                      has_aws_credentials=lambda: True, create_or_select_stack=None, select_stack=None,
                      interactive=False, prompt=input, out=out, err=err, clock=lambda: 0.0,
                      today=lambda: dt.datetime.now(dt.UTC).date(),
                      aws_client=lambda service, region: self.cloud.client(service))

    def command(self, main: Callable[..., int], argv: Sequence[str], **extra: Any) -> str:
        """An operator command (models.py, experiments.py) run against the emulator; its output, or the step fails."""
        system = self._system()
        code = main(list(argv), system=system, deploy=self.deploy, **extra)
        shown = f"$ {Path(main.__module__.replace('.', '/')).name}.py {' '.join(argv)}"
        self.console += [shown, *system.out.getvalue().splitlines(), *system.err.getvalue().splitlines()]
        if code != 0:
            raise RehearsalError(f"`{shown[2:]}` exited {code}: {system.err.getvalue().strip()}")
        return system.out.getvalue()

    def alerts(self, expected: str) -> list[dict[str, Any]]:
        found = self.cloud.alerts()
        if not any(expected in json.dumps(alert) for alert in found):
            raise RehearsalError(f"no notification mentioning {expected!r} reached the alert topic's subscriber; "
                                 f"it received {[a.get('message', a.get('outcome')) for a in found]}")
        return found

    def _version_of(self, execution: dict[str, Any]) -> int:
        if execution["status"] != "SUCCEEDED":
            raise RehearsalError(f"the training run ended {execution['status']}: {execution.get('error')} "
                                 f"{execution.get('cause', '')[:300]}")
        output = json.loads(execution["output"])
        arn = output.get("registration", {}).get("ModelPackageArn")
        if not arn:
            raise RehearsalError(f"the training run succeeded without registering a version (outcome "
                                 f"{output.get('notification', {}).get('message', {}).get('outcome')})")
        return int(arn.rsplit("/", 1)[1])

    # -- 1 -----------------------------------------------------------------------------------------------
    def deploy_stack(self) -> Outcome:
        for name in PROJECT_FILES[:-1]:
            shutil.copy(ROOT / name, self.project / name)
        (self.project / PROJECT_FILES[-1]).write_text(rehearsal_config((ROOT / PROJECT_FILES[-1]).read_text()))
        from automation import offline

        plan = offline.plan(STACK, self.project)
        self.deploy.deploy(plan)
        if plan.outputs["endpoints"]:
            raise RehearsalError(f"a new stack has no trained version, yet it planned endpoints {plan.outputs['endpoints']}")
        machines = self.cloud.client("stepfunctions").list_state_machines()["stateMachines"]
        return Outcome(f"{len(plan.resources)} planned resources; {len(machines)} state machine(s), "
                       f"buckets, registry group, topic, rules and functions in the emulator")

    # -- 2 -----------------------------------------------------------------------------------------------
    def ingest_features(self) -> Outcome:
        outputs = self.plan.outputs
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        files = feature_samples.write(self.cloud.work_dir / "features", self.sizes.feature_records, now)
        group = outputs["feature_groups"][GROUP]
        key = f"ingest/{GROUP}/{now:%Y-%m-%d}.csv"
        if self.cloud.put_object(outputs["feature_store_bucket"], key, files["records"].read_bytes()) != 1:
            raise RehearsalError(f"no planned S3 notification sends {key} to the ingestion function")
        (summary,) = self.cloud.invocations[-1].result["ingested"]
        if summary["written"] != self.sizes.feature_records or summary["rejected"]:
            raise RehearsalError(f"ingestion wrote {summary['written']} of {self.sizes.feature_records} rows "
                                 f"({summary['rejected']} rejected)")
        labels = f"{MODEL}/labels/{now:%Y-%m-%d}.csv"
        self.cloud.client("s3").put_object(Bucket=outputs["data_bucket"], Key=labels, Body=files["labels"].read_bytes())
        built = self._build_training_set(group, outputs["data_bucket"], labels, now)
        self.cloud.fire_schedule(self._rule_named("feature-freshness"))
        return Outcome(f"{summary['written']} records ingested into {group}; training set of "
                       f"{built['rows']['train']} + {built['rows']['validation']} rows", {"ingestion": summary, "training_set": built})

    def _build_training_set(self, group: str, bucket: str, labels: str, as_of: dt.datetime) -> dict[str, Any]:
        sagemaker, s3 = self.cloud.client("sagemaker"), self.cloud.client("s3")
        described = sagemaker.describe_feature_group(FeatureGroupName=group)
        catalog = described["OfflineStoreConfig"]["DataCatalogConfig"]
        features = [d["FeatureName"] for d in described["FeatureDefinitions"]]
        athena = LocalAthena(self.cloud.feature_store, s3, {(catalog["Database"], catalog["TableName"]): (group, features)})
        request = training_set.Request(feature_group=group, data_bucket=bucket, model=MODEL, as_of=as_of,
                                       labels_uri=f"s3://{bucket}/{labels}", name="rehearsal")
        built = training_set.build(request, sagemaker=sagemaker, athena=athena, s3=s3, sleep=lambda seconds: None)
        if sum(built["rows"].values()) != self.sizes.feature_records:
            raise RehearsalError(f"the training set holds {built['rows']} rows, not the {self.sizes.feature_records} labelled records")
        self.training_set = built["training_set"]
        # The model's current data, which scheduled and drift-started runs train on.
        for channel in ("train", "validation"):
            source = f"{MODEL}/training-sets/rehearsal/{channel}/part-0.csv"
            s3.copy_object(Bucket=bucket, Key=f"{MODEL}/{channel}/part-0.csv", CopySource={"Bucket": bucket, "Key": source})
        return built

    def _rule_named(self, suffix: str) -> str:
        names = [r.inputs["name"] for r in self.plan.of_type("aws:cloudwatch/eventRule:EventRule")
                 if r.inputs["name"].endswith(suffix)]
        if len(names) != 1:
            raise RehearsalError(f"the plan has {len(names)} rules named *{suffix}: {names}")
        return names[0]

    # -- 3, 5 ------------------------------------------------------------------------------------------
    def train(self, role: str, hyperparameters: dict[str, str]) -> Outcome:
        """A run on the feature store's training set, as an operator starts one (runbook, section 6)."""
        payload = {"model_name": MODEL, "hyperparameters": hyperparameters, "training_set": self.training_set}
        arn = self.cloud.start_execution(self.plan.outputs["training_state_machine_arn"], payload)
        version = self._version_of(self.cloud.wait_for_execution(arn))
        self.versions[role] = version
        self.alerts("new version registered")
        described = self._package(version)
        if described["ModelApprovalStatus"] != "PendingManualApproval":
            raise RehearsalError(f"version {version} arrived {described['ModelApprovalStatus']}, not PendingManualApproval")
        metadata = described["CustomerMetadataProperties"]
        return Outcome(f"version {version} registered, {metadata['objective_metric']} {float(metadata['objective_value']):.3f}, "
                       "pending approval", {"version": version, "metadata": metadata})

    def _package(self, version: int) -> dict[str, Any]:
        group = self.plan.outputs["model_package_groups"][MODEL]
        arn = f"arn:aws:sagemaker:{self.cloud.region}:{self.cloud.account}:model-package/{group}/{version}"
        return self.cloud.client("sagemaker").describe_model_package(ModelPackageName=arn)

    # -- 4 -----------------------------------------------------------------------------------------------
    def roll_out_first(self) -> Outcome:
        version = self.versions["first"]
        self.command(models.main, [STACK, "approve", MODEL, str(version), "--reason", "rehearsal: validation AUC over threshold"])
        self.alerts(f"version {version} is now Approved")
        self.command(models.main, [STACK, "rollout", MODEL, str(version), "--yes"])
        endpoint = self.deploy.endpoint(self.endpoint_name)
        labels, rows = sample_data.generate(self.sizes.rollout_requests, seed=int(self.rng.integers(1 << 30)))
        scores = [self._score(endpoint.invoke(_csv(row[None, :]), "text/csv")) for row in rows]
        endpoint.flush()
        captured = self._captured_rows("champion")
        if len(captured.rows) != len(rows) or captured.malformed or not np.allclose(captured.features(), rows.astype(float)):
            raise RehearsalError(f"{len(rows)} requests answered; the drift check reads {len(captured.rows)} rows back from "
                                 f"the capture ({captured.malformed} malformed lines), not the rows sent")
        if not np.allclose(captured.scores, scores):
            raise RehearsalError("the captured answers are not the scores the endpoint returned")
        return Outcome(f"version {version} serves; {len(rows)} requests answered, {len(captured.rows)} captured in SageMaker's "
                       f"format (mean score {np.mean(scores):.3f})")

    def _score(self, invocation: Any) -> float:
        if invocation.status != 200:
            raise RehearsalError(f"the endpoint answered {invocation.status}: {invocation.body[:200]!r}")
        return float(invocation.body.decode().strip().splitlines()[0])

    def _captured_rows(self, variant: str) -> Captured:
        """Every capture line of a variant, read by the drift check's own reader."""
        s3 = self.cloud.client("s3")
        bucket = self.plan.outputs["capture_bucket"]
        location = self.plan.outputs["endpoint_captures"][MODEL]  # s3://<bucket>/capture/<endpoint>/
        prefix = f"{location.removeprefix(f's3://{bucket}/').rstrip('/')}/{variant}/"
        captured = Captured(width=len(FEATURE_NAMES))
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in (item for page in pages for item in page.get("Contents", [])):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            captured.add_lines(body.splitlines())
        return captured

    # -- 6 -----------------------------------------------------------------------------------------------
    def experiment(self) -> Outcome:
        first, second = self.versions["first"], self.versions["second"]
        self.command(models.main, [STACK, "approve", MODEL, str(second), "--reason", "rehearsal: candidate for an A/B test"])
        # Evidence counts from the experiment's start, a whole hour after the command; the rehearsal
        # compresses time by starting it as if two hours ago. The latency guardrail allows the
        # challenger ten times the champion's p99 (config's most): both servers share two cores with
        # the rehearsal itself, so the p99 of a few hundred requests measures the machine, not the model.
        started = lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)  # noqa: E731
        self.command(experiments.main, [STACK, "start", MODEL, "--challenger", str(second), "--weight", "0.5",
                                        "--min-invocations", "100", "--latency-tolerance-percent", "1000",
                                        "--business-metric", BUSINESS_METRIC, "--business-min-samples", "500", "--yes"],
                     now=started)
        counts = self._labelled_traffic(self.deploy.endpoint(self.endpoint_name))
        # GetMetricData's window ends when the pipeline runs, cut to the whole second (as moto cuts it):
        # data of the last moments would be left out. In AWS the pipeline runs hours after the traffic.
        time.sleep(METRICS_SETTLE_SECONDS)
        before = len(self.cloud.executions)
        self.cloud.fire_schedule(self._rule_named(f"{MODEL}-promotion"))
        arn = self.cloud.executions[before]
        execution = self.cloud.wait_for_execution(arn)
        if execution["status"] != "SUCCEEDED":
            raise RehearsalError(f"the promotion pipeline ended {execution['status']}: {execution.get('cause', '')[:300]}")
        record = json.loads(self.cloud.client("ssm").get_parameter(Name=f"/mlops-platform/{STACK}/experiments/{MODEL}")
                            ["Parameter"]["Value"])
        if record.get("outcome") != PROMOTE:
            raise RehearsalError(f"the pipeline decided {record.get('outcome')} ({record.get('reason')}); the challenger "
                                 f"flags churners and the champion never does, so it should promote. Traffic: {counts}")
        moved = self.deploy.live_weights(self.endpoint_name)
        self.command(experiments.main, [STACK, "apply", MODEL, "--yes"])
        serving = self.deploy.served[self.endpoint_name].variants
        after = self.deploy.live_weights(self.endpoint_name)
        if after != {"champion": 1.0} or not serving["champion"].endswith(f"-v{second}"):
            raise RehearsalError(f"after apply the endpoint serves {serving} at {after}, not version {second} alone")
        return Outcome(f"{record['outcome']}: version {second} over {first} ({record.get('reason', '')}); weights moved to "
                       f"{moved}, then the stack file serves version {second} alone", {"record": record, "traffic": counts})

    def _labelled_traffic(self, endpoint: Any) -> dict[str, dict[str, int]]:
        """Requests of labelled rows, and the application's business metric per answered prediction."""
        labels, rows = sample_data.generate(self.sizes.experiment_requests * ROWS_PER_REQUEST, seed=int(self.rng.integers(1 << 30)))
        counts: dict[str, dict[str, int]] = {}
        data: list[dict[str, Any]] = []
        for start in range(0, len(rows), ROWS_PER_REQUEST):
            invocation = endpoint.invoke(_csv(rows[start:start + ROWS_PER_REQUEST]), "text/csv")
            if invocation.status != 200:
                raise RehearsalError(f"the endpoint answered {invocation.status}: {invocation.body[:200]!r}")
            scores = [float(line) for line in invocation.body.decode().split()]
            correct = [int((score >= DECISION_THRESHOLD) == bool(label))
                       for score, label in zip(scores, labels[start:start + ROWS_PER_REQUEST], strict=True)]
            tally = counts.setdefault(invocation.variant, {"requests": 0, "labels": 0, "correct": 0})
            tally["requests"] += 1
            tally["labels"] += len(correct)
            tally["correct"] += sum(correct)
            dimensions = [{"Name": "EndpointName", "Value": self.endpoint_name}, {"Name": "VariantName", "Value": invocation.variant}]
            data += [{"MetricName": BUSINESS_METRIC, "Dimensions": dimensions, "Value": float(value)} for value in correct]
        cloudwatch = self.cloud.client("cloudwatch")
        for start in range(0, len(data), 1000):
            cloudwatch.put_metric_data(Namespace="MLOpsPlatform", MetricData=data[start:start + 1000])
        endpoint.flush()
        return counts

    # -- 7 -----------------------------------------------------------------------------------------------
    def drift(self) -> Outcome:
        endpoint = self.deploy.endpoint(self.endpoint_name)
        for _ in range(self.sizes.drifted_requests):
            _, rows = sample_data.generate(100, seed=int(self.rng.integers(1 << 30)))
            rows = rows.astype(float)
            rows[:, 1] *= 1.8  # monthly charges up 80 %
            rows[:, 3] += 4  # four more support calls each
            self._score(endpoint.invoke(_csv(rows), "text/csv"))
        endpoint.flush()
        started_before = len(self.cloud.executions)
        self.cloud.fire_schedule(self._rule_named(f"{MODEL}-drift-check"))
        result = self.cloud.invocations[-1].result
        if not result.get("drift_detected"):
            raise RehearsalError(f"the drift check found no drift in deliberately drifted traffic: {result}")
        self.drift_report = self._report(result["report"])
        alarm = next(r for r in self.plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if r.inputs["name"].endswith("-data-drift"))
        time.sleep(METRICS_SETTLE_SECONDS)  # the check's metric, just published, must be inside the evaluated range
        evaluation = alarms.evaluate(alarm.inputs, self.cloud.client("cloudwatch"), dt.datetime.now(dt.UTC))
        if evaluation.state != "ALARM":
            raise RehearsalError(f"the drift alarm evaluates to {evaluation.state}: {evaluation.reason}")
        alarms.apply(alarm.inputs, evaluation, self.cloud.client("cloudwatch"), self.cloud.client("events"),
                     self.cloud.account, self.cloud.region, dt.datetime.now(dt.UTC))
        started = self.cloud.executions[started_before:]
        if len(started) != 1:
            raise RehearsalError(f"the drift alarm's change into ALARM started {len(started)} training runs, not one")
        given = json.loads(self.cloud.client("stepfunctions").describe_execution(executionArn=started[0])["input"])
        if given.get("model_name") != MODEL or given.get("retrain_trigger", {}).get("alarm") != alarm.inputs["name"]:
            raise RehearsalError(f"the retraining run was started with {given}")
        version = self._version_of(self.cloud.wait_for_execution(started[0]))
        self.versions["retrained"] = version
        drifted = sorted({f for v in self.drift_report.get("variants", []) for f in v.get("drifted_features") or []})
        return Outcome(f"drift in {drifted or 'the traffic'}; alarm ALARM; retraining started with "
                       f"{json.dumps({k: given[k] for k in ('model_name', 'retrain_trigger')})[:90]}...; version {version} registered",
                       {"drift": result, "retraining_input": given})

    def _report(self, uri: str) -> dict[str, Any]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return json.loads(self.cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    # -- 8 -----------------------------------------------------------------------------------------------
    def archive(self) -> Outcome:
        """The retrained version replaces version 2, which stays as the rollback target; version 1 is
        then older than the newest kept and served by nothing, so the daily archiver archives it."""
        retrained = self.versions["retrained"]
        self.command(models.main, [STACK, "approve", MODEL, str(retrained), "--reason", "rehearsal: retrained on drift"])
        self.command(models.main, [STACK, "rollout", MODEL, str(retrained), "--yes"])
        self.cloud.fire_schedule(self._rule_named(f"{MODEL}-archive"))
        result = self.cloud.invocations[-1].result
        archived = sorted(d["version"] for d in result["decisions"] if d.get("action") == "archive")
        expected = [self.versions["first"]]
        if archived != expected:
            raise RehearsalError(f"the archiver archived versions {archived}; expected {expected} (older than the newest "
                                 f"one kept and served by no variant): {result}")
        package = self._package(self.versions["first"])
        url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        bucket, _, key = url.removeprefix("s3://").partition("/")
        storage = self.cloud.client("s3").head_object(Bucket=bucket, Key=key).get("StorageClass", "STANDARD")
        if storage != "GLACIER_IR":
            raise RehearsalError(f"version {expected[0]}'s model artifact is in {storage} after archiving")
        return Outcome(f"version {retrained} serves; version {expected[0]} archived (artifacts in {storage}); version "
                       f"{self.versions['second']} kept as the rollback target", {"archive": result})

    # -- the operator's view ------------------------------------------------------------------------------
    def operator_view(self, out_dir: Path) -> list[str]:
        """What an operator would look at in AWS: the registry table, live weights, drift report, dashboards
        (written under `out_dir`, which --keep keeps)."""
        listing = self.command(models.main, [STACK, "list", MODEL])
        weights = self.deploy.live_weights(self.endpoint_name)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "drift-report.json").write_text(json.dumps(self.drift_report, indent=2, default=str))
        now = dt.datetime.now(dt.UTC)
        written = dashboards.render_all(self.plan, self.cloud.client("cloudwatch"), now - dt.timedelta(hours=1),
                                        now + dt.timedelta(minutes=5), out_dir / "dashboards")
        drift = [f"  {v['variant']}: {v['outcome']}, drifted {', '.join(v.get('drifted_features') or []) or 'nothing'}"
                 for v in self.drift_report.get("variants", [])]
        return [*listing.rstrip().splitlines(), "", f"live weights of {self.endpoint_name}: {weights}",
                f"drift report ({self.drift_report.get('checked_at', '-')}, drift detected: "
                f"{self.drift_report.get('drift_detected')}):", *drift,
                f"dashboards rendered from the emulated CloudWatch data: {', '.join(p.name for p in written)}"]


def _csv(rows: np.ndarray) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[repr(float(v)) for v in row] for row in rows])
    return out.getvalue().encode()
