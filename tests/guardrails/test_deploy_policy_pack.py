"""`deploy.py` runs the project's policy pack with every `up` and `preview`, through the
Automation API's `policy_packs` (pulumi.automation Stack.up/preview), against a test double of
the Automation API: there is no Pulumi CLI here to run a pack for real (test_policy_pack.py
starts the pack's own entry point instead)."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from pulumi.automation import PreviewResult, UpdateSummary, UpResult

from automation import deploy, stacks
from automation.driver import ExitCode, Operation, Request, System, run

ROOT = Path(__file__).resolve().parents[2]


class Stack:
    """A Stack recording each operation with its arguments."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]]):
        self.calls = calls

    def _record(self, op: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((op, {k: v for k, v in kwargs.items() if k != "on_event"}))

    def up(self, **kwargs: Any) -> UpResult:
        self._record("up", kwargs)
        summary = UpdateSummary(kind="update", start_time=dt.datetime(2030, 1, 1), message="", environment={}, config={},
                                result="succeeded", resource_changes={"same": 1})
        return UpResult("", "", summary, {})

    def preview(self, **kwargs: Any) -> PreviewResult:
        self._record("preview", kwargs)
        return PreviewResult("", "", {"same": 1})

    def refresh(self, **kwargs: Any) -> Any:
        self._record("refresh", kwargs)
        return UpResult("", "", None, {})

    def outputs(self) -> dict[str, Any]:
        return {}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    return tmp_path


def deploy_with(project: Path, request: Request) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    system = System(work_dir=project, environ={"PULUMI_CONFIG_PASSPHRASE": "test"}, home=project / "home",
                    which=lambda name: f"/usr/bin/{name}", has_aws_credentials=lambda: True,
                    create_or_select_stack=lambda name, work_dir, opts: Stack(calls),
                    select_stack=lambda name, work_dir, opts: Stack(calls), interactive=False,
                    prompt=lambda question: "", out=io.StringIO(), err=io.StringIO(), clock=lambda: 0.0,
                    today=lambda: dt.date(2030, 1, 1), aws_client=lambda service, region: None)
    assert run(request, system) == ExitCode.OK, system.err.getvalue()
    return calls


def _request(argv: list[str]) -> Request:
    return deploy.parse_request(argv)[1]


@pytest.mark.parametrize("argv, operation", [(["dev", "--yes"], "up"), (["dev", "--preview"], "preview")])
def test_up_and_preview_run_the_projects_pack_by_default(project, argv, operation):
    calls = deploy_with(project, _request(argv))
    ((op, kwargs),) = [call for call in calls if call[0] == operation]
    assert kwargs["policy_packs"] == [str(project / "policy")]


def test_refresh_runs_no_pack(project):
    """The CLI runs policy packs only where it plans resources: refresh takes no `policy_packs`."""
    calls = deploy_with(project, _request(["dev", "--refresh", "--yes"]))
    assert calls == [("refresh", {"color": "never", "message": "automation/deploy.py refresh"})]


def test_no_policy_pack_runs_none(project):
    calls = deploy_with(project, _request(["dev", "--yes", "--no-policy-pack"]))
    assert "policy_packs" not in dict(calls)["up"]


def test_a_named_pack_replaces_the_default(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    (other / "PulumiPolicy.yaml").write_text("runtime: python\n")
    calls = deploy_with(project, _request(["dev", "--preview", "--policy-pack", str(other)]))
    assert dict(calls)["preview"]["policy_packs"] == [str(other.resolve())]


def test_without_a_pack_in_the_project_nothing_is_passed(project):
    shutil.rmtree(project / "policy")
    calls = deploy_with(project, Request(stack=stacks.parse_stack_name("dev"), operation=Operation.UP, yes=True))
    assert "policy_packs" not in dict(calls)["up"]


def test_the_repositorys_own_pack_is_the_default():
    assert (ROOT / "policy" / "PulumiPolicy.yaml").is_file() and (ROOT / "policy" / "__main__.py").is_file()


@pytest.mark.parametrize("argv, message", [
    (["dev", "--policy-pack", "nowhere"], "--policy-pack 'nowhere': no PulumiPolicy.yaml there"),
    (["dev", "--destroy", "--no-policy-pack"], "--no-policy-pack only goes with `up` and --preview"),
    (["dev", "--offline", "--policy-pack", "policy"], "--policy-pack only goes with `up` and --preview"),
    (["dev", "--policy-pack", "policy", "--no-policy-pack"], "not allowed with argument"),
])
def test_policy_pack_flags_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        deploy.parse_request(argv)
    assert exit_.value.code == ExitCode.USAGE
    assert message in capsys.readouterr().err
