"""The lifecycle rehearsal (automation/rehearse.py), run whole, and broken on purpose.

The whole rehearsal runs once per module with smaller traffic (`SMALL`: the same code and steps,
fewer records and requests), so a change that breaks a contract between two parts of the platform
fails here: the trainer's metric lines and the state machine's MetricDefinitions, the registered
artifact and the inference server, the capture format and the drift check, the drift alarm's event
and the retraining input, the promotion decision and the endpoint's weights, the archiver and the
registry. Then each contract is broken on purpose (a table), and the rehearsal must stop at the
step that depends on it, say WRONG there, run no later step, still tear down, and exit 1.

What this cannot show: the rehearsal's own emulation against real AWS (it is checked against
AWS's documentation and botocore's models instead: tests/automation/test_rehearsal_*.py).
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import socket
from pathlib import Path

import pytest

from automation import rehearse
from automation.rehearsal import hosting, lifecycle
from automation.rehearsal.lifecycle import Sizes

SMALL = Sizes(feature_records=2000, rollout_requests=60, experiment_requests=300, drifted_requests=30)
STEP_LINE = re.compile(r"^(?P<name>.+?)\s+(?P<result>ok|WRONG)\s+(?P<seconds>\d+\.\d)$")


def children() -> set[int]:
    """Processes whose parent is this one (Linux /proc): a rehearsal must leave none."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def summary_rows(output: str) -> dict[str, str]:
    table = output.split("\nstep ", 1)[1].split("\n\n", 1)[0]
    return {m["name"]: m["result"] for m in map(STEP_LINE.match, table.splitlines()[1:]) if m and m["name"] != "total"}


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory):
    """One whole rehearsal; its exit code, output, kept folder, the child processes it left, and
    every address this process tried to connect to that is not loopback."""
    keep = tmp_path_factory.mktemp("rehearsal") / "kept"
    out = io.StringIO()
    before = children()
    remote: list[object] = []
    connect = socket.socket.connect

    def loopback_only(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not ipaddress.ip_address(address[0]).is_loopback:
            remote.append(address)
            raise OSError("the rehearsal must not leave the machine")
        return connect(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", loopback_only)
        code = rehearse.main(["--keep", str(keep)], out=out, sizes=SMALL)
    return code, out.getvalue(), keep, children() - before, remote


def test_every_step_of_the_lifecycle_is_right(rehearsed):
    code, output, *_ = rehearsed
    assert code == rehearse.EXIT_OK, output
    rows = summary_rows(output)
    assert list(rows) == [*lifecycle.STEPS, "tear down"]
    assert set(rows.values()) == {"ok"}


def test_the_outcomes_are_the_lifecycles(rehearsed):
    code, output, keep, *_ = rehearsed
    assert code == rehearse.EXIT_OK, output
    assert "version 1 registered" in output and "version 2 registered" in output
    assert "promote_challenger: version 2 over 1" in output
    assert "retraining started with" in output and "version 3 registered" in output
    assert "version 3 serves; version 1 archived (artifacts in GLACIER_IR)" in output
    # The operator's view: the registry's table through models.py, live weights, the report.
    assert re.search(r"^\s+3\s+Approved\s+validation:auc \S+\s+\S+\s+champion \(weight 1\)$", output, re.MULTILINE), output
    assert re.search(r"^\s+2\s+Approved\s.*previous of champion$", output, re.MULTILINE), output
    assert "live weights of mlops-platform-dev-churn-endpoint: {'champion': 1.0}" in output
    assert "champion: checked, drifted monthly_charges, support_calls" in output


def test_the_kept_folder_holds_what_an_operator_inspects(rehearsed):
    code, output, keep, *_ = rehearsed
    assert code == rehearse.EXIT_OK, output
    captures = list((keep / "captures").rglob("*.jsonl"))
    assert captures, "no capture files kept"
    first = json.loads(captures[0].read_text().splitlines()[0])
    assert set(first) == {"captureData", "eventMetadata", "eventVersion"}
    report = json.loads((keep / "reports" / "drift-report.json").read_text())
    assert report["drift_detected"] is True
    svgs = sorted(p.name for p in (keep / "reports" / "dashboards").glob("*.svg"))
    assert len(svgs) == 4, svgs  # model performance, training pipeline, endpoints, feature store
    assert "rollout churn 1 --yes" in (keep / "console.txt").read_text()
    assert [r["ok"] for r in json.loads((keep / "summary.json").read_text())] == [True] * 9
    assert "modelVersion: 3" in (keep / "project" / "Pulumi.dev.yaml").read_text()


def test_nothing_is_left_running_and_nothing_left_the_machine(rehearsed):
    _, output, _, left, remote = rehearsed
    assert left == set(), output
    assert remote == []


def _break_capture(monkeypatch):
    """The proxy writes the request body base64-encoded while calling it CSV: not SageMaker's format."""
    original = hosting.capture_line

    def broken(*args, **kwargs):
        line = json.loads(original(*args, **kwargs))
        line["captureData"]["endpointInput"]["data"] = "not,the,rows"
        return json.dumps(line)

    monkeypatch.setattr(hosting, "capture_line", broken)


def _break_features(monkeypatch):
    """The sample records gain a column the feature group does not define."""
    original = lifecycle.feature_samples.write

    def broken(out_dir, rows, end, seed=lifecycle.sample_data.DEFAULT_SEED):
        paths = original(out_dir, rows, end, seed)
        lines = paths["records"].read_text().splitlines()
        paths["records"].write_text("\n".join([lines[0] + ",extra"] + [line + ",1" for line in lines[1:]]) + "\n")
        return paths

    monkeypatch.setattr(lifecycle.feature_samples, "write", broken)


def _break_retraining_input(monkeypatch):
    """The drift alarm's event names another alarm than the retraining rule listens for."""
    from automation.rehearsal import alarms

    original = alarms.apply

    def broken(alarm_inputs, *args, **kwargs):
        return original({**alarm_inputs, "name": alarm_inputs["name"] + "-renamed"}, *args, **kwargs)

    monkeypatch.setattr(alarms, "apply", broken)


@pytest.mark.parametrize(("breaks", "wrong_step"), [
    (_break_features, "ingest features, build a training set"),
    (_break_capture, "approve and roll out version 1"),
    (_break_retraining_input, "drift, alarm, retraining"),
], ids=["ingestion-contract", "capture-contract", "drift-to-retraining"])
def test_a_broken_contract_stops_the_rehearsal_at_its_step(monkeypatch, breaks, wrong_step):
    breaks(monkeypatch)
    out = io.StringIO()
    before = children()
    code = rehearse.main([], out=out, sizes=SMALL)
    output = out.getvalue()
    assert code == rehearse.EXIT_WRONG, output
    rows = summary_rows(output)
    assert list(rows)[-2:] == [wrong_step, "tear down"], output
    assert rows[wrong_step] == "WRONG" and rows["tear down"] == "ok"
    assert all(result == "ok" for name, result in rows.items() if name != wrong_step)
    assert children() - before == set()


@pytest.mark.parametrize(("content", "message"), [
    ("file", "missing or empty"),
    ("folder", "missing or empty"),
    ("under-a-file", "Not a directory"),
])
def test_keep_refuses_what_it_cannot_use_and_touches_nothing(tmp_path, content, message, capsys):
    mine = tmp_path / "mine.txt"
    mine.write_text("mine")
    target = {"file": mine, "folder": tmp_path, "under-a-file": mine / "kept"}[content]
    assert rehearse.main(["--keep", str(target)], out=io.StringIO()) == rehearse.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"] and mine.read_text() == "mine"
