"""Multi-host training: several hosts train one model through XGBoost's collective.

No Docker and no SageMaker here: each host is a process running the image's entry point
(``bin/train train``) with its own /opt/ml folder (``algo-1``, ``algo-2``, ...) laid out by
``local_cluster`` the way SageMaker lays out a multi-instance job (its share of the train objects,
the whole validation channel, ``resourceconfig.json``), the tracker on 127.0.0.1 and a free port.
What only SageMaker can show is not tested: its host names resolving (``_resolve`` retries them),
port 9099 being free on the first host, and which objects ShardedByS3Key gives each host (the
local deal is round robin; SageMaker documents "approximately 1/n of the objects").

The statistics behind the baseline are also checked in-process, the hosts simulated by threads
that reduce through a barrier, so hypothesis can try many splits of many data sets quickly.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import botocore.session
import numpy as np
import pytest
import xgboost as xgb
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from xgboost import collective

from automation import offline
from containers.contracts import baseline as baseline_format
from containers.contracts import metrics
from containers.contracts.features import FEATURES
from containers.training import distributed, local_cluster
from containers.training import train as trainer
from containers.training.baseline_statistics import compute_baseline
from containers.training.distributed import Group, Hosts
from containers.training.errors import HostsError, TrainingInputError

ROWS = 2400
OBJECTS = 6
# Early stopping stays on: every host must stop at the same round, or the group would hang.
FAST = {"num_round": "40", "max_depth": "4", "eta": "0.3", "early_stopping_rounds": "3"}
LONG = {"num_round": "5000", "max_depth": "4", "eta": "0.01", "early_stopping_rounds": "0"}
HAPPY_TIMEOUT = 120  # generous: the machine is shared, and a healthy run never waits this long
FAILURE_TIMEOUT = 3  # TRAINING_HOST_TIMEOUT_SECONDS where a failure is found by waiting, so those take seconds
JOIN_TIMEOUT = 20  # where it is found at once (a killed host): room for the hosts' start-up to differ
SLACK = 25  # what a busy 2-core machine may add to the bound: process start-up, scheduling
VALIDATION_TOLERANCE = 0.01
"""|validation metric on N hosts - on one host| allowed for auc and logloss. The model is not
bit-identical: each host sketches its own shard's feature quantiles and XGBoost merges the
sketches, so split candidates differ slightly from one host's exact ones (measured here: within
0.002 for 1,500 to 20,000 rows)."""


# ----------------------------------------------------------------------------- running hosts


class Cluster:
    """A local multi-host job: its hosts' folders, processes and logs."""

    def __init__(self, out: Path, hosts: int, *, objects: int = OBJECTS, hyperparameters: dict | None = None,
                 timeout: int = HAPPY_TIMEOUT):
        self.roots = local_cluster.prepare(out, hosts, rows=ROWS, seed=11, objects=objects,
                                           hyperparameters=FAST if hyperparameters is None else hyperparameters)
        self.out = out
        self.env = local_cluster.environment(local_cluster.free_port(), hosts, timeout)
        self.processes: dict[str, subprocess.Popen] = {}
        self.codes: dict[str, int] = {}

    def start(self, *hosts: str) -> None:
        names = hosts or tuple(self.roots)
        logs = {name: open(self.out / f"{name}.log", "w", encoding="utf-8") for name in names}  # noqa: SIM115
        self.processes.update(local_cluster.start({name: self.roots[name] for name in names}, self.env, logs))
        for handle in logs.values():
            handle.close()  # the child has its own copy

    def wait(self, host: str, timeout: float) -> tuple[int, float]:
        """The host's exit code and how long it took to end from now."""
        started = time.monotonic()
        self.codes[host] = self.processes[host].wait(timeout=timeout)
        return self.codes[host], time.monotonic() - started

    def wait_all(self, timeout: float = HAPPY_TIMEOUT + SLACK) -> dict[str, int]:
        for host in self.processes:
            self.wait(host, timeout)
        return self.codes

    def log(self, host: str) -> str:
        return (self.out / f"{host}.log").read_text(encoding="utf-8")

    def wait_for_line(self, host: str, start: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.startswith(start) for line in self.log(host).splitlines()):
                return
            assert self.processes[host].poll() is None, f"{host} ended before {start!r}:\n{self.log(host)}"
            time.sleep(0.1)
        raise AssertionError(f"{host} never printed {start!r}:\n{self.log(host)}")

    def failure(self, host: str) -> str:
        return (self.roots[host] / "output" / "failure").read_text(encoding="utf-8")

    def kill(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait()


@pytest.fixture
def cluster(tmp_path: Path):
    """Builds Clusters and kills whatever they left running."""
    made: list[Cluster] = []

    def make(hosts: int, **options) -> Cluster:
        made.append(Cluster(tmp_path / f"job-{len(made)}", hosts, **options))
        return made[-1]

    yield make
    for job in made:
        job.kill()


@pytest.fixture(scope="module")
def single_host(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same data on one host, trained in-process: what N hosts must agree with."""
    (root,) = local_cluster.prepare(tmp_path_factory.mktemp("single"), 1, rows=ROWS, seed=11, objects=OBJECTS,
                                    hyperparameters=FAST).values()
    assert trainer.execute(root, log=lambda line: None) == trainer.EXIT_OK
    return _artifacts(root)


@pytest.fixture(scope="module", params=[2, 3], ids=["2-hosts", "3-hosts"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One successful run per host count, shared by the tests that read it."""
    job = Cluster(tmp_path_factory.mktemp(f"hosts-{request.param}"), request.param)
    try:
        job.start()
        codes = job.wait_all()
    finally:
        job.kill()
    return {"job": job, "codes": codes, "leader": _artifacts(job.roots["algo-1"])}


def _artifacts(root: Path) -> dict:
    read = lambda relative: json.loads((root / relative).read_text())  # noqa: E731
    return {"evaluation": read("output/data/evaluation.json"), "baseline": read("output/data/baseline.json"),
            "model_baseline": read("model/baseline.json"), "root": root}


# ----------------------------------------------------------------------------- one model comes out


def test_every_host_succeeds_and_only_the_leader_writes_the_model(trained: dict) -> None:
    job = trained["job"]
    assert set(trained["codes"].values()) == {0}, {host: job.log(host) for host in job.roots}
    leader = job.roots["algo-1"]
    names = {"xgboost-model.json", "model-metadata.json", "evaluation.json", "baseline.json"}
    assert {p.name for p in (leader / "model").iterdir()} == names
    assert {p.name for p in (leader / "output" / "data").iterdir()} == {"evaluation.json", "baseline.json"}
    for host, root in job.roots.items():
        assert not (root / "output" / "failure").exists(), host
        if host != "algo-1":
            assert not (root / "model").exists() or not any((root / "model").iterdir()), host
            assert not (root / "output" / "data").exists(), host
    booster = xgb.Booster()
    booster.load_model(str(leader / "model" / "xgboost-model.json"))
    evaluation = trained["leader"]["evaluation"]
    assert booster.num_boosted_rounds() == evaluation["num_boosted_rounds"]
    assert evaluation["rows"] == {"train": 1920, "validation": 480}  # every host's rows, the whole validation


def test_the_validation_metric_is_within_the_tolerance_of_single_host_training(trained: dict, single_host: dict) -> None:
    ours, theirs = trained["leader"]["evaluation"]["metrics"], single_host["evaluation"]["metrics"]
    for name in ("validation:auc", "validation:logloss"):
        assert abs(ours[name] - theirs[name]) <= VALIDATION_TOLERANCE, (name, ours[name], theirs[name])
    assert ours["validation:auc"] > 0.75  # a real model, not two equally bad ones


def test_the_baseline_equals_the_single_host_baseline(trained: dict, single_host: dict) -> None:
    """Over the whole training set, not the leader's shard: the documents are equal, bit for bit."""
    assert trained["leader"]["baseline"] == single_host["baseline"]
    assert trained["leader"]["model_baseline"] == single_host["baseline"]
    assert trained["leader"]["baseline"]["row_count"] == 1920


def test_metric_lines_come_from_the_leader_only_and_every_host_prints_progress(trained: dict) -> None:
    job, evaluation = trained["job"], trained["leader"]["evaluation"]
    rounds = evaluation["rounds_trained"]
    assert rounds < int(FAST["num_round"]), "early stopping should have ended this run (all hosts at once)"
    leader_log = job.log("algo-1")
    assert metrics.final_metrics(leader_log) == pytest.approx(evaluation["metrics"], abs=1e-6)
    assert len(metrics.parse_metrics(leader_log)["iteration:validation:auc"]) == rounds
    for host in list(job.roots)[1:]:
        log = job.log(host)
        assert all(not values for values in metrics.parse_metrics(log).values()), host
        assert [line for line in log.splitlines() if line.startswith("round ")] == [f"round {i} trained" for i in range(rounds)]
        assert f"host {host}: trained {rounds} round(s)" in log


def test_the_final_validation_metrics_are_the_whole_validation_sets(trained: dict) -> None:
    """The threshold reads the leader's [final] line: metrics of the saved model on all of validation."""
    root = trained["leader"]["root"]
    booster = xgb.Booster()
    booster.load_model(str(root / "model" / "xgboost-model.json"))
    validation = trainer.load_channel(trainer.SageMakerPaths(root), "validation")
    expected = trainer.classification_metrics(validation.labels, booster.predict(trainer._dmatrix(validation)))
    final = trained["leader"]["evaluation"]["metrics"]
    assert {k: final[f"validation:{k}"] for k in expected} == pytest.approx(expected)


# ----------------------------------------------------------------------------- failures


def _kill_during_training(job: Cluster, victim: str, how: signal.Signals) -> None:
    job.start()
    job.wait_for_line("algo-2", "round 3 trained")
    job.processes[victim].send_signal(how)


SCENARIOS = {
    # name: (what happens, TRAINING_HOST_TIMEOUT_SECONDS, the host that must fail, fragments of its reason)
    "worker killed": (lambda job: _kill_during_training(job, "algo-2", signal.SIGKILL), JOIN_TIMEOUT, "algo-1",
                      ["Host algo-1 lost the other hosts while training together"]),
    "leader killed": (lambda job: _kill_during_training(job, "algo-1", signal.SIGKILL), JOIN_TIMEOUT, "algo-2",
                      ["Host algo-2 lost the other hosts while training together"]),
    "worker frozen": (lambda job: _kill_during_training(job, "algo-2", signal.SIGSTOP), 5, "algo-1",
                      ["Host algo-1 lost the other hosts", "did not answer for 5 s"]),
    "leader never starts": (lambda job: job.start("algo-2"), FAILURE_TIMEOUT, "algo-2",
                            ["Host algo-2 could not reach the XGBoost tracker on the first host algo-1",
                             f"within {FAILURE_TIMEOUT} s"]),
    "worker never starts": (lambda job: job.start("algo-1"), FAILURE_TIMEOUT, "algo-1",
                            [f"The 2 hosts could not start training together within {FAILURE_TIMEOUT} s"]),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_lost_host_fails_the_job_with_a_reason_within_the_bound(cluster, scenario: str) -> None:
    """Killed hosts are noticed at once (their connections close), silent ones after the timeout;
    the bound checked is the timeout plus SLACK, against XGBoost's default of 30 minutes."""
    happen, timeout, survivor, fragments = SCENARIOS[scenario]
    job = cluster(2, hyperparameters=LONG, timeout=timeout)
    happen(job)
    code, took = job.wait(survivor, timeout=timeout + SLACK)
    assert code == trainer.EXIT_HOSTS == 3, job.log(survivor)
    assert took <= timeout + SLACK
    if "killed" in scenario:
        assert took < timeout, "a dead host's closed connections must fail the others at once, not by the timeout"
    reason = job.failure(survivor)
    for fragment in fragments:
        assert fragment in reason, reason
    assert not (job.roots[survivor] / "model" / "xgboost-model.json").exists()


def test_sigterm_on_one_host_stops_every_host_at_the_same_round(cluster) -> None:
    """StopTrainingJob signals every host, not at the same instant; the hosts agree on the round to stop
    after (one that went on alone would wait for the others forever), and the leader saves that model."""
    job = cluster(2, hyperparameters=LONG)
    job.start()
    job.wait_for_line("algo-2", "round 3 trained")
    job.processes["algo-2"].send_signal(signal.SIGTERM)
    codes = job.wait_all(timeout=60)
    assert codes == {"algo-1": trainer.EXIT_STOPPED, "algo-2": trainer.EXIT_STOPPED}
    evaluation = json.loads((job.roots["algo-1"] / "output/data/evaluation.json").read_text())
    assert evaluation["interrupted"] is True
    rounds = evaluation["rounds_trained"]
    assert f"host algo-2: trained {rounds} round(s)" in job.log("algo-2")
    assert "stopped by SIGTERM" in job.failure("algo-1") and "the leader host saved" in job.failure("algo-2")


@pytest.mark.parametrize("layout", ["empty folder", "no folder"])
def test_fewer_objects_than_hosts_fails_every_host_with_a_clear_reason(cluster, layout: str) -> None:
    job = cluster(3, objects=2)
    train = job.roots["algo-3"] / "input" / "data" / "train"
    assert not any(train.iterdir())  # round robin over 2 objects leaves the third host nothing
    if layout == "no folder":
        train.rmdir()
    job.start()
    codes = job.wait_all(timeout=60)
    assert codes == {"algo-1": 1, "algo-2": 1, "algo-3": 1}
    for host in job.roots:
        reason = job.failure(host)
        assert reason.startswith("Bad training input: host(s) algo-3 received no training data"), reason
        assert "needs at least 3 CSV objects" in reason
    assert "On this host (algo-3): channel 'train' is" in job.failure("algo-3")
    assert not (job.roots["algo-1"] / "model" / "xgboost-model.json").exists()


# ----------------------------------------------------------------------------- the pieces


@pytest.mark.parametrize(("document", "expected"), [
    (None, Hosts("algo-1", ("algo-1",))),
    ({"current_host": "algo-2", "hosts": ["algo-2", "algo-1"], "network_interface_name": "eth0"},
     Hosts("algo-2", ("algo-1", "algo-2"))),
    ({"current_host": "algo-10", "hosts": ["algo-2", "algo-10", "algo-1"]}, Hosts("algo-10", ("algo-1", "algo-10", "algo-2"))),
    ({"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]}, "must name this host"),
    ({"current_host": "algo-1", "hosts": ["algo-1", "algo-1"]}, "distinct host names"),
    ({"current_host": "algo-1", "hosts": []}, "must name this host"),
    ({"hosts": ["algo-1"]}, "current_host=None"),
    ("{not json", "is not valid JSON"),
])
def test_the_hosts_come_from_resourceconfig(tmp_path: Path, document, expected) -> None:
    path = tmp_path / "resourceconfig.json"
    if document is not None:
        path.write_text(document if isinstance(document, str) else json.dumps(document))
    if isinstance(expected, Hosts):
        hosts = distributed.read_hosts(path)
        assert hosts == expected
        assert hosts.leader == "algo-1" and hosts.names[hosts.rank] == hosts.current  # ranks follow sorted names
    else:
        with pytest.raises(HostsError, match=expected):
            distributed.read_hosts(path)


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, distributed.Settings(600, 9099, None)),
    ({"TRAINING_HOST_TIMEOUT_SECONDS": "5", "TRAINING_TRACKER_PORT": "7000", "TRAINING_TRACKER_ADDRESS": "127.0.0.1"},
     distributed.Settings(5, 7000, "127.0.0.1")),
    ({"TRAINING_HOST_TIMEOUT_SECONDS": "0"}, "TRAINING_HOST_TIMEOUT_SECONDS='0' must be a whole number in [1, 86400]"),
    ({"TRAINING_HOST_TIMEOUT_SECONDS": "soon"}, "TRAINING_HOST_TIMEOUT_SECONDS='soon'"),
    ({"TRAINING_TRACKER_PORT": "70000"}, "TRAINING_TRACKER_PORT='70000' must be a whole number in [1, 65535]"),
])
def test_settings_come_from_the_environment(environ: dict, expected) -> None:
    if isinstance(expected, distributed.Settings):
        assert distributed.Settings.from_environment(environ) == expected
    else:
        with pytest.raises(TrainingInputError, match=expected.replace("[", r"\[").replace("]", r"\]")):
            distributed.Settings.from_environment(environ)


def test_objects_are_dealt_to_hosts_round_robin() -> None:
    objects = [Path(f"part-{i:05d}.csv") for i in (4, 0, 3, 1, 2)]
    assert local_cluster.assign_objects(objects, ["algo-1", "algo-2"]) == {
        "algo-1": [Path("part-00000.csv"), Path("part-00002.csv"), Path("part-00004.csv")],
        "algo-2": [Path("part-00001.csv"), Path("part-00003.csv")],
    }
    assert local_cluster.assign_objects(objects[:1], ["algo-1", "algo-2"])["algo-2"] == []


def test_xgboost_errors_are_reported_without_their_stack_trace() -> None:
    error = xgb.core.XGBoostError(
        "[20:03:07] /workspace/src/collective/result.cc:83: [histogram.h:197|20:03:07]:\n\n"
        "- [allgather.cc:50|20:03:07]: Ring allgather failed, current iteration:0\n"
        "- [socket.h:79|20:03:07]: Invalid socket output. Broken pipe\nStack trace:\n  [bt] (0) libxgboost.so")
    assert distributed.xgboost_reason(error) == "Ring allgather failed, current iteration:0; Invalid socket output. Broken pipe"
    assert distributed.xgboost_reason(xgb.core.XGBoostError("plain")) == "plain"


class _Exchange:
    """What XGBoost's allreduce does, for threads: every host's array in, the reduction out to all."""

    REDUCE = {collective.Op.SUM: np.sum, collective.Op.MIN: np.min, collective.Op.MAX: np.max}

    def __init__(self, hosts: int):
        self.barrier = threading.Barrier(hosts)
        self.parts: list[np.ndarray | None] = [None] * hosts
        self.result: np.ndarray | None = None

    def reduce(self, rank: int, values: np.ndarray, op: collective.Op) -> np.ndarray:
        self.parts[rank] = values
        if self.barrier.wait() == 0:
            self.result = self.REDUCE[op](np.stack(self.parts), axis=0).astype(values.dtype)
        self.barrier.wait()
        result = self.result.copy()
        self.barrier.wait()
        return result


class _ThreadGroup(Group):
    def __init__(self, hosts: Hosts, exchange: _Exchange):
        super().__init__(hosts)
        self._exchange = exchange

    def _reduce(self, values: np.ndarray, op: collective.Op) -> np.ndarray:
        return self._exchange.reduce(self.hosts.rank, np.ascontiguousarray(values), op)


def _baselines_on_hosts(features: np.ndarray, labels: np.ndarray, host_of_row: np.ndarray, hosts: int) -> list[dict]:
    names = tuple(f"algo-{i}" for i in range(1, hosts + 1))
    exchange, results, errors = _Exchange(hosts), [None] * hosts, []

    def run(rank: int) -> None:
        try:
            mine = host_of_row == rank
            results[rank] = compute_baseline(features[mine], labels[mine], _ThreadGroup(Hosts(names[rank], names), exchange))
        except BaseException as exc:  # noqa: BLE001 - reported below, with the barrier broken for the others
            errors.append(exc)
            exchange.barrier.abort()

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(hosts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


finite = st.floats(min_value=-1e100, max_value=1e100, allow_nan=False, allow_subnormal=True)
cells = st.one_of(finite, st.integers(-5, 30).map(float), st.just(math.nan), st.sampled_from([0.0, -0.0, 1e-310]))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), rows=st.integers(1, 60), hosts=st.integers(1, 4))
def test_the_baseline_does_not_depend_on_how_rows_are_split_over_hosts(data, rows: int, hosts: int) -> None:
    features = data.draw(arrays(np.float64, (rows, len(FEATURES)), elements=cells))
    labels = data.draw(arrays(np.int64, rows, elements=st.integers(0, 1)))
    host_of_row = data.draw(arrays(np.int64, rows, elements=st.integers(0, hosts - 1)))
    single = compute_baseline(features, labels, Group(distributed.SINGLE_HOST))
    for result in _baselines_on_hosts(features, labels, host_of_row, hosts):
        assert json.dumps(result) == json.dumps(single)  # bit for bit, NaN-safe


@settings(max_examples=60, deadline=None)
@given(columns=st.integers(1, 80).flatmap(lambda rows: arrays(np.float64, (rows, len(FEATURES)), elements=cells)))
def test_the_baseline_statistics_are_numpys(columns: np.ndarray) -> None:
    """Quantiles equal np.quantile exactly; the mean is the correctly rounded one; std is numpy's to rounding."""
    document = compute_baseline(columns, np.zeros(columns.shape[0]), Group(distributed.SINGLE_HOST))
    for index, feature in enumerate(FEATURES):
        values = columns[:, index][~np.isnan(columns[:, index])]
        entry = document["features"][feature.name]
        assert (entry["count"], entry["missing"]) == (values.size, columns.shape[0] - values.size)
        if not values.size:
            assert entry["mean"] is None and entry["quantiles"] == {}
            continue
        expected = np.quantile(values, [p for _, p in baseline_format.QUANTILES]) + 0.0
        assert list(entry["quantiles"].values()) == expected.tolist()
        assert entry["mean"] == float(sum(map(Fraction, values.tolist())) / values.size)
        assert entry["std"] == pytest.approx(float(values.std()), rel=1e-9, abs=1e-300)
        assert (entry["min"], entry["max"]) == (float(values.min()) + 0.0, float(values.max()) + 0.0)
        assert sum(entry["histogram"]["counts"]) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- the plan


def _channels(plan: offline.Plan, model: str) -> dict[str, str]:
    """Each channel's S3DataDistributionType as the model's runs send it (the Train state reads $.run)."""
    (machine,) = plan.of_type("aws:sfn/stateMachine:StateMachine")
    states = json.loads(machine.inputs["definition"])["States"]
    run = states[f"Configure-{model}"]["Result"]
    found = {}
    for channel in states["Train"]["Parameters"]["InputDataConfig"]:
        source = channel["DataSource"]["S3DataSource"]
        if "S3DataDistributionType.$" in source:
            path = source["S3DataDistributionType.$"]
            assert path.startswith("$.run.")
            found[channel["ChannelName"]] = run[path.removeprefix("$.run.")]
        else:
            found[channel["ChannelName"]] = source["S3DataDistributionType"]
    return found


def test_the_train_channel_is_sharded_exactly_when_a_model_trains_on_several_instances() -> None:
    """One plan, three models: 1, 2 and 100 instances (the config's range is 1 to 100)."""
    churn = yaml.safe_load((offline.ROOT / "Pulumi.dev.yaml").read_text())["config"]["mlops-platform:models"][0]
    counts = {"churn": 1, "churn-pair": 2, "churn-wide": 100}
    models = [{**churn, "name": name, "trainingInstanceCount": count, "endpoint": {"mode": "serverless"}}
              for name, count in counts.items()]
    plan = offline.plan("dev", config_overrides={"models": models})
    allowed = botocore.session.get_session().get_service_model("sagemaker").shape_for("S3DataDistribution").enum
    for name, count in counts.items():
        channels = _channels(plan, name)
        assert channels == {"train": "ShardedByS3Key" if count > 1 else "FullyReplicated",
                            "validation": "FullyReplicated"}, name
        assert set(channels.values()) <= set(allowed)
        (machine,) = plan.of_type("aws:sfn/stateMachine:StateMachine")
        run = json.loads(machine.inputs["definition"])["States"][f"Configure-{name}"]["Result"]
        assert run["resource_config"]["InstanceCount"] == count


# ----------------------------------------------------------------------------- the entry point


def test_a_single_host_resourceconfig_trains_as_before(tmp_path: Path) -> None:
    """local_run writes SageMaker's one-host resourceconfig.json; nothing joins, nothing waits."""
    proc = subprocess.run([sys.executable, "-m", "containers.training.local_run", "--out", str(tmp_path / "ml"),
                           "--rows", "400", "--hyperparameter", "num_round=3"],
                          cwd=local_cluster.REPO, env={**os.environ, "PYTHONPATH": str(local_cluster.REPO)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "joining" not in proc.stdout
    assert (tmp_path / "ml" / "model" / "xgboost-model.json").exists()
