"""The driver's real path (`deploy.py ENV` without --offline), against a test double of the
Automation API.

There is no Pulumi CLI here, and the Automation API shells out to it, so `FakeAutomation` stands
in for `pulumi.automation.create_or_select_stack` / `select_stack` and the Stack they return. It
records which stack is opened, from which work dir, with which backend environment and secrets
provider, and which operations run in which order with which arguments; it replays engine events
built with the Automation API's own `EngineEvent.from_json` and raises the Automation API's own
errors, built by its own `create_command_error` from the stderr the CLI prints. What these tests
cannot prove is that the CLI really behaves like that: docs/troubleshooting.md says so too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.automation import (
    CommandResult,
    ConfigValue,
    DestroyResult,
    EngineEvent,
    LocalWorkspaceOptions,
    OutputValue,
    PreviewResult,
    RefreshResult,
    UpdateSummary,
    UpResult,
)
from pulumi.automation.errors import create_command_error

from automation import deploy, stacks
from automation.driver import ExitCode, Operation, Request, System, run

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2030, 1, 15)
KMS = "awskms://alias/mlops-platform-prod-secrets?region=us-east-1"
BUCKET_URN = "urn:pulumi:{stack}::mlops-platform::mlops:components:SecureBucket$aws:s3/bucket:Bucket::data"
KEY_URN = "urn:pulumi:{stack}::mlops-platform::mlops:components:PlatformKey$aws:kms/key:Key::platform-key"


# -- the test double -------------------------------------------------------------------------
def step_event(kind: str, op: str, urn: str, retain: bool = False) -> EngineEvent:
    """An engine event as the CLI streams it (JSON), parsed by the Automation API itself."""
    type_ = urn.split("::")[2].rsplit("$", 1)[-1]
    metadata: dict[str, Any] = {"op": op, "urn": urn, "type": type_, "provider": ""}
    if retain:
        metadata["old"] = {"type": type_, "urn": urn, "retainOnDelete": True, "protect": False}
    return EngineEvent.from_json({"sequence": 1, "timestamp": 0, kind: {"metadata": metadata}})


def failed_event(urn: str) -> EngineEvent:
    type_ = urn.split("::")[2].rsplit("$", 1)[-1]
    return EngineEvent.from_json({"sequence": 2, "timestamp": 0, "resOpFailedEvent": {
        "metadata": {"op": "create", "urn": urn, "type": type_, "provider": ""}, "status": 1, "steps": 1}})


def diagnostic(message: str, urn: str | None = None, severity: str = "error") -> EngineEvent:
    body = {"message": message, "color": "never", "severity": severity}
    if urn:
        body["urn"] = urn
    return EngineEvent.from_json({"sequence": 3, "timestamp": 0, "diagnosticEvent": body})


def cli_error(stderr: str, stdout: str = ""):
    """The error the Automation API raises when the CLI exits non-zero with this stderr."""
    return create_command_error(CommandResult(stdout=stdout, stderr=stderr, code=255))


def summary(**changes: int) -> UpdateSummary:
    return UpdateSummary(kind="update", start_time=dt.datetime(2030, 1, 15), message="", environment={}, config={},
                         result="succeeded", resource_changes=changes)


class FakeWorkspace:
    def __init__(self, automation: FakeAutomation):
        self.automation = automation

    def remove_stack(self, stack_name: str, **kwargs: Any) -> None:
        self.automation.calls.append(("remove_stack", stack_name, kwargs))
        error = self.automation.errors.get("remove_stack")
        if error is not None:
            raise error
        self.automation.backend.discard(stack_name)


class FakeStack:
    """A Stack: each operation records its arguments, replays scripted events, then raises or returns."""

    def __init__(self, automation: FakeAutomation, name: str):
        self.automation = automation
        self.name = name
        self.workspace = FakeWorkspace(automation)

    def _operate(self, op: str, kwargs: dict[str, Any]) -> None:
        recorded = {k: v for k, v in kwargs.items() if k != "on_event"}
        self.automation.calls.append((op, self.name, recorded))
        if op in self.automation.hooks:  # a test's stand-in for what the engine finds when it runs
            self.automation.hooks[op]()
        for event in self.automation.events.get(op, []):
            kwargs["on_event"](event)
        error = self.automation.errors.get(op)
        if error is not None:
            raise error

    def up(self, **kwargs: Any) -> UpResult:
        self._operate("up", kwargs)
        return UpResult("", "", summary(create=2, same=15), self.automation.outputs)

    def preview(self, **kwargs: Any) -> PreviewResult:
        self._operate("preview", kwargs)
        return PreviewResult("", "", self.automation.preview_changes)

    def refresh(self, **kwargs: Any) -> RefreshResult:
        self._operate("refresh", kwargs)
        return RefreshResult("", "", summary(same=17))

    def destroy(self, **kwargs: Any) -> DestroyResult:
        self._operate("destroy", kwargs)
        return DestroyResult("", "", summary(delete=17))

    def outputs(self) -> dict[str, OutputValue]:
        self.automation.calls.append(("outputs", self.name, {}))
        error = self.automation.errors.get("outputs")
        if error is not None:
            raise error
        return self.automation.outputs

    def get_config(self, key: str, *, path: bool = False) -> ConfigValue:
        """What `pulumi config get KEY --json` answers: the value in the stack's file, or the CLI's error."""
        self.automation.calls.append(("get_config", self.name, {"key": key}))
        stack_file = Path(self.automation.work_dir) / f"Pulumi.{self.name}.yaml"
        config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
        if key not in config:
            raise cli_error(f"error: configuration key '{key}' not found for stack '{self.name}'")
        return ConfigValue(value=str(config[key]), secret=False)


class FakeAutomation:
    """Stands in for pulumi.automation's create_or_select_stack / select_stack and a backend."""

    def __init__(self, backend: set[str] | None = None):
        self.backend = set(backend or ())
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.opened: list[tuple[str, str, LocalWorkspaceOptions]] = []
        self.events: dict[str, list[EngineEvent]] = {}
        self.errors: dict[str, BaseException] = {}
        self.hooks: dict[str, Callable[[], None]] = {}
        self.outputs = {"environment": OutputValue("dev", False), "data_bucket": OutputValue("mlops-dev-data", False),
                        "token": OutputValue("s3cr3t", True)}
        self.preview_changes = {"create": 2, "same": 15}

    def create_or_select_stack(self, stack_name: str, work_dir: str, opts: LocalWorkspaceOptions) -> FakeStack:
        self.work_dir = work_dir
        self.calls.append(("create_or_select_stack", stack_name, {"work_dir": work_dir}))
        self.opened.append((stack_name, work_dir, opts))
        self.backend.add(stack_name)
        return FakeStack(self, stack_name)

    def select_stack(self, stack_name: str, work_dir: str, opts: LocalWorkspaceOptions) -> FakeStack:
        self.work_dir = work_dir
        self.calls.append(("select_stack", stack_name, {"work_dir": work_dir}))
        self.opened.append((stack_name, work_dir, opts))
        if stack_name not in self.backend:
            raise cli_error(f"error: no stack named '{stack_name}' found")
        return FakeStack(self, stack_name)

    def ops(self) -> list[str]:
        return [call[0] for call in self.calls]


class Clock:
    """Each reading is 1.5 s after the previous one, so elapsed times are predictable."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 1.5
        return self.now


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A work dir with the project's own Pulumi.yaml and stack files (never the checkout)."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


PASSPHRASE_ENV = {"PULUMI_CONFIG_PASSPHRASE": "test"}


def no_aws_client(service: str, region: str | None) -> Any:
    """The default AWS client factory of these tests: a test that reaches AWS must say which client."""
    raise AssertionError(f"unexpected AWS client: {service} in {region}")


def make_system(project: Path, automation: FakeAutomation, *, environ: dict[str, str] | None = None,
                interactive: bool = False, answers: list[str] | None = None, cli: bool = True,
                aws: bool = True, aws_client: Any = no_aws_client) -> System:
    answers = list(answers or [])
    system = System(
        work_dir=project,
        environ=PASSPHRASE_ENV if environ is None else environ,
        home=project / "home",  # no ~/.pulumi/credentials.json: no existing login
        which=lambda name: f"/usr/local/bin/{name}" if cli else None,
        has_aws_credentials=lambda: aws,
        create_or_select_stack=automation.create_or_select_stack,
        select_stack=automation.select_stack,
        interactive=interactive,
        prompt=lambda question: system.prompts.append(question) or answers.pop(0),
        out=io.StringIO(),
        err=io.StringIO(),
        clock=Clock(),
        today=lambda: TODAY,
        aws_client=aws_client,
    )
    system.prompts = []  # type: ignore[attr-defined]
    return system


def request(stack: str, operation: Operation = Operation.UP, **flags: Any) -> Request:
    return Request(stack=stacks.parse_stack_name(stack), operation=operation, **flags)


# -- deploy, preview, refresh, outputs --------------------------------------------------------
def test_up_opens_the_projects_own_stack_with_the_default_backend_then_runs_up(project):
    automation = FakeAutomation()
    automation.events["up"] = [step_event("resourcePreEvent", "create", BUCKET_URN.format(stack="dev")),
                               step_event("resOutputsEvent", "create", BUCKET_URN.format(stack="dev")),
                               step_event("resOutputsEvent", "same", KEY_URN.format(stack="dev")),
                               step_event("resOutputsEvent", "update", KEY_URN.format(stack="dev"))]
    system = make_system(project, automation)

    assert run(request("dev", yes=True), system) == ExitCode.OK

    assert automation.ops() == ["create_or_select_stack", "up"]
    (name, work_dir, opts), = automation.opened
    assert (name, work_dir) == ("dev", str(project))
    state = (project / ".pulumi-state").resolve().as_uri()
    assert opts.env_vars == {"PULUMI_BACKEND_URL": state}
    assert opts.secrets_provider == "passphrase"
    assert automation.calls[1][2] == {"color": "never", "message": "automation/deploy.py up"}
    out = system.out.getvalue()
    assert f"up stack 'dev' · backend {state} (default) · secrets passphrase (default for non-production stacks)" in out
    # One line per completed operation (the pre-event and the unchanged key print nothing),
    # each with the elapsed time and a running count.
    lines = [line for line in out.splitlines() if "] " in line]
    assert len(lines) == 2
    assert lines[0].split()[:5] == ["0:01", "[", "1]", "+", "created"] and lines[0].endswith("aws:s3/bucket:Bucket  data")
    assert lines[1].split()[1:4] == ["[", "2]", "~"] and "updated" in lines[1] and lines[1].endswith("platform-key")
    assert "Done in " in out and ": 2 created, 15 unchanged." in out
    assert "Outputs of stack 'dev':" in out and "data_bucket  mlops-dev-data" in out and "token        [secret]" in out
    assert "s3cr3t" not in out
    assert system.err.getvalue() == ""


def test_up_without_yes_previews_asks_then_deploys(project):
    automation = FakeAutomation()
    system = make_system(project, automation, interactive=True, answers=["y"])
    assert run(request("dev"), system) == ExitCode.OK
    assert automation.ops() == ["create_or_select_stack", "preview", "up"]
    assert system.prompts == ["Deploy these changes to stack 'dev'? [y/N] "]


def test_declining_the_prompt_deploys_nothing(project):
    automation = FakeAutomation()
    system = make_system(project, automation, interactive=True, answers=["n"])
    assert run(request("dev"), system) == ExitCode.NOT_CONFIRMED
    assert automation.ops() == ["create_or_select_stack", "preview"]
    assert system.err.getvalue() == "error: not confirmed: nothing was deployed\n"


def test_without_yes_and_without_a_terminal_nothing_runs(project):
    automation = FakeAutomation()
    system = make_system(project, automation, interactive=False)
    assert run(request("dev"), system) == ExitCode.NOT_CONFIRMED
    assert automation.calls == []
    assert "pass --yes to up stack 'dev' without a terminal" in system.err.getvalue()


def test_preview_changes_nothing_and_says_so(project):
    automation = FakeAutomation()
    automation.events["preview"] = [step_event("resourcePreEvent", "create", BUCKET_URN.format(stack="dev")),
                                    step_event("resourcePreEvent", "same", KEY_URN.format(stack="dev"))]
    system = make_system(project, automation)
    assert run(request("dev", Operation.PREVIEW), system) == ExitCode.OK
    assert automation.ops() == ["create_or_select_stack", "preview", "outputs"]
    out = system.out.getvalue()
    assert "[  1] +  create" in out and out.count("] ") == 1
    assert "Preview: 2 to create, 15 unchanged; nothing was changed." in out


def test_refresh_and_outputs_select_an_existing_stack_and_never_create_one(project):
    automation = FakeAutomation(backend={"dev"})
    system = make_system(project, automation)
    assert run(request("dev", Operation.REFRESH, yes=True), system) == ExitCode.OK
    assert run(request("dev", Operation.OUTPUTS), system) == ExitCode.OK
    assert automation.ops() == ["select_stack", "refresh", "outputs", "select_stack", "outputs"]


def test_json_prints_only_the_outputs_on_stdout(project):
    automation = FakeAutomation()
    automation.events["up"] = [step_event("resOutputsEvent", "create", BUCKET_URN.format(stack="dev"))]
    system = make_system(project, automation)
    assert run(request("dev", yes=True, json=True), system) == ExitCode.OK
    assert json.loads(system.out.getvalue()) == {"data_bucket": "mlops-dev-data", "environment": "dev",
                                                 "token": "[secret]"}
    assert "created" in system.err.getvalue()  # progress still streams, on stderr


def test_outputs_need_no_aws_credentials(project):
    automation = FakeAutomation(backend={"dev"})
    system = make_system(project, automation, aws=False)
    assert run(request("dev", Operation.OUTPUTS, json=True), system) == ExitCode.OK
    assert json.loads(system.out.getvalue())["environment"] == "dev"


# -- pull-request stacks ----------------------------------------------------------------------
def test_pr_stack_is_created_from_the_template_before_the_stack_is_opened(project):
    automation = FakeAutomation()
    system = make_system(project, automation)
    path = project / "Pulumi.pr-123.yaml"

    assert run(request("pr-123", Operation.PREVIEW), system) == ExitCode.OK

    assert automation.ops() == ["create_or_select_stack", "preview", "outputs"]
    config = yaml.safe_load(path.read_text())["config"]
    template = yaml.safe_load(stacks.TEMPLATE.read_text())["config"]
    assert config == {**template, "mlops-platform:pullRequest": "123", "mlops-platform:expires": "2030-01-22"}
    assert "wrote Pulumi.pr-123.yaml from automation/templates/Pulumi.preview.yaml (expires 2030-01-22)" \
        in system.out.getvalue()


def test_pr_destroy_remove_destroys_then_removes_the_stack_and_its_config(project):
    automation = FakeAutomation(backend={"pr-123"})
    (project / "Pulumi.pr-123.yaml").write_text(stacks.render_pr_config(stacks.parse_stack_name("pr-123"), TODAY))
    system = make_system(project, automation)

    assert run(request("pr-123", Operation.DESTROY, yes=True, remove=True), system) == ExitCode.OK

    # outputs: the teardown looks for model package groups to empty (this stack exported none).
    assert automation.ops() == ["select_stack", "outputs", "destroy", "remove_stack"]
    assert automation.calls[3] == ("remove_stack", "pr-123", {})
    assert not (project / "Pulumi.pr-123.yaml").exists()
    assert automation.backend == set()
    assert "Removed stack 'pr-123' and Pulumi.pr-123.yaml." in system.out.getvalue()


@pytest.mark.parametrize("config_left_behind", [True, False])
def test_removing_a_pr_stack_that_was_never_deployed_cleans_up_and_succeeds(project, config_left_behind):
    automation = FakeAutomation(backend=set())
    if config_left_behind:
        (project / "Pulumi.pr-7.yaml").write_text("config: {}\n")
    system = make_system(project, automation)
    assert run(request("pr-7", Operation.DESTROY, yes=True, remove=True), system) == ExitCode.OK
    assert automation.ops() == ["select_stack"]
    assert not (project / "Pulumi.pr-7.yaml").exists()
    assert "stack 'pr-7' does not exist in" in system.out.getvalue()


def test_removing_dev_keeps_its_committed_config(project):
    automation = FakeAutomation(backend={"dev"})
    system = make_system(project, automation)
    assert run(request("dev", Operation.DESTROY, yes=True, remove=True), system) == ExitCode.OK
    assert automation.calls[-1] == ("remove_stack", "dev", {"preserve_config": True})
    assert (project / "Pulumi.dev.yaml").exists()


REMOVING = "removing stack 'pr-123' from the backend (its resources are destroyed)"


@pytest.mark.parametrize("stderr, code, message", [
    ("error: 'pr-123' still has resources; removal rejected; pass --force to override", ExitCode.FAILED,
     f"{REMOVING} failed: the backend still records resources in it, so it refused; run `deploy.py pr-123 --destroy "
     "--remove` again (never `pulumi stack rm --force`: whatever still exists in AWS would be tracked by nothing)"),
    ("error: [409] Conflict: Another update is currently in progress.", ExitCode.CONCURRENT_UPDATE,
     "another update of stack 'pr-123' is in progress"),
    ("error: getting secrets manager: passphrase must be set with PULUMI_CONFIG_PASSPHRASE", ExitCode.BACKEND,
     "the backend or secrets provider refused stack 'pr-123': getting secrets manager: passphrase must be set"),
    ("error: could not remove stack: blob (key \".pulumi/stacks/mlops-platform/pr-123.json\") (code=Unknown): "
     "AccessDenied: Access Denied\n\tstatus code: 403", ExitCode.FAILED,
     f"{REMOVING} failed: status code: 403"),
], ids=["still-has-resources", "locked", "secrets", "backend-refuses"])
def test_a_failed_stack_removal_is_one_line_and_keeps_the_config(project, stderr, code, message):
    automation = FakeAutomation(backend={"pr-123"})
    automation.errors["remove_stack"] = cli_error(stderr)
    (project / "Pulumi.pr-123.yaml").write_text(stacks.render_pr_config(stacks.parse_stack_name("pr-123"), TODAY))
    system = make_system(project, automation)

    assert run(request("pr-123", Operation.DESTROY, yes=True, remove=True), system) == code

    err = system.err.getvalue()
    assert err.startswith(f"error: {message}") and err.count("\n") == 1 and "Traceback" not in err
    assert automation.ops()[-2:] == ["destroy", "remove_stack"]
    assert (project / "Pulumi.pr-123.yaml").exists()  # the next run needs it to remove the stack


@pytest.mark.parametrize("deployed", [True, False], ids=["after-destroy", "never-deployed"])
def test_a_pr_config_that_cannot_be_deleted_is_one_line(project, monkeypatch, deployed):
    """What Path.unlink raises when the file cannot go (read-only checkout, another process): as root on
    this machine permissions cannot make it fail, so the double raises it."""
    def refuse(stack: stacks.StackRef, work_dir: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(stack.config_path(work_dir)))

    monkeypatch.setattr(stacks, "remove_pr_config", refuse)
    automation = FakeAutomation(backend={"pr-123"} if deployed else set())
    system = make_system(project, automation)

    assert run(request("pr-123", Operation.DESTROY, yes=True, remove=True), system) == ExitCode.FAILED

    path = project / "Pulumi.pr-123.yaml"
    assert system.err.getvalue() == (
        f"error: deleting Pulumi.pr-123.yaml in {project} failed: [Errno 13] Permission denied: '{path}'; fix the "
        "file's permissions (or delete it by hand) and run the same command again\n")


def test_a_pr_config_that_cannot_be_written_is_a_config_error(project):
    """A dangling symlink where the file goes: exists() is False, and writing through it fails (for root too)."""
    (project / "Pulumi.pr-5.yaml").symlink_to(project / "no-such-dir" / "Pulumi.pr-5.yaml")
    automation = FakeAutomation()
    system = make_system(project, automation)
    assert run(request("pr-5", Operation.PREVIEW), system) == ExitCode.CONFIG
    err = system.err.getvalue()
    assert "Pulumi.pr-5.yaml" in err and err.count("\n") == 1 and "Traceback" not in err
    assert automation.calls == []


# -- destroy safety ---------------------------------------------------------------------------
def prod_request(**flags: Any) -> Request:
    return request("prod", Operation.DESTROY, secrets_provider=KMS, **flags)


@pytest.mark.parametrize("flags, interactive, answers, message", [
    ({}, True, [], "refusing to destroy production stack 'prod' without --yes and the stack name "
                   "(typed at the prompt, or --confirm prod)"),
    ({"yes": True}, False, [], "destroying production stack 'prod' needs its name and there is no terminal to "
                               "type it: pass --confirm prod"),
    ({"yes": True}, True, ["yes"], "'yes' is not 'prod': nothing was destroyed"),
    ({"yes": True, "confirm": "dev"}, False, [], "'dev' is not 'prod': nothing was destroyed"),
    ({"confirm": "prod"}, False, [], "refusing to destroy production stack 'prod' without --yes"),
])
def test_prod_destroy_is_refused_without_yes_and_the_typed_name(project, flags, interactive, answers, message):
    automation = FakeAutomation(backend={"prod"})
    system = make_system(project, automation, interactive=interactive, answers=answers)
    assert run(prod_request(**flags), system) == ExitCode.NOT_CONFIRMED
    assert automation.calls == []  # refused before the stack is even opened
    assert system.err.getvalue().startswith(f"error: {message}")


@pytest.mark.parametrize("flags, answers", [({"yes": True, "confirm": "prod"}, []), ({"yes": True}, ["prod"])])
def test_prod_destroy_runs_with_yes_and_the_name(project, flags, answers):
    automation = FakeAutomation(backend={"prod"})
    system = make_system(project, automation, interactive=bool(answers), answers=answers)
    assert run(prod_request(**flags), system) == ExitCode.OK
    assert automation.ops() == ["select_stack", "destroy"]
    assert system.prompts == (["Type the stack name (prod) to destroy every resource in it: "] if answers else [])
    assert automation.opened[0][2].secrets_provider == KMS


def test_a_stack_marked_production_in_components_environments_gets_the_prod_rules(project, monkeypatch):
    """The one documented place (PRODUCTION_STACKS) decides which stacks get the prod rules."""
    from components import environments

    shutil.copy(project / "Pulumi.prod.yaml", project / "Pulumi.live.yaml")
    monkeypatch.setattr(environments, "PRODUCTION_STACKS", frozenset({"prod", "live"}))
    automation = FakeAutomation(backend={"live"})
    system = make_system(project, automation)

    assert run(request("live", Operation.DESTROY, yes=True), system) == ExitCode.BACKEND  # no passphrase for prod
    assert "stack 'live': production stacks need an explicit secrets provider" in system.err.getvalue()
    system = make_system(project, automation)
    assert run(request("live", Operation.DESTROY, yes=True, secrets_provider=KMS), system) == ExitCode.NOT_CONFIRMED
    assert "pass --confirm live" in system.err.getvalue()
    assert automation.calls == []


def test_a_stack_file_saying_prod_does_not_make_a_stack_production(project):
    """`environment: prod` in a non-production stack's file no longer buys (or dodges) the prod rules.

    Such a file is a config error, reported by the stack file validation (exit 3) when it runs
    before the driver; where it does not, the stack is treated as what its name says: dev.
    """
    shutil.copy(project / "Pulumi.prod.yaml", project / "Pulumi.live.yaml")
    automation = FakeAutomation(backend={"live"})
    system = make_system(project, automation)
    code = run(request("live", Operation.DESTROY, yes=True), system)
    err = system.err.getvalue()
    assert "production" not in err and "--confirm" not in err
    if code == ExitCode.CONFIG:
        assert automation.calls == []
    else:
        assert code == ExitCode.OK
        assert automation.opened[0][2].secrets_provider == "passphrase"  # a dev stack's default, never prod's
        assert automation.ops() == ["select_stack", "outputs", "destroy"]


def test_dev_destroy_asks_on_a_terminal_and_refuses_without_one(project):
    automation = FakeAutomation(backend={"dev"})
    asked = make_system(project, automation, interactive=True, answers=["y"])
    assert run(request("dev", Operation.DESTROY), asked) == ExitCode.OK
    assert asked.prompts == ["Destroy every resource of stack 'dev'? [y/N] "]
    silent = make_system(project, automation)
    assert run(request("dev", Operation.DESTROY), silent) == ExitCode.NOT_CONFIRMED
    assert silent.err.getvalue() == "error: pass --yes to destroy stack 'dev' (no terminal to confirm on)\n"
    assert automation.ops() == ["select_stack", "outputs", "destroy"]


def test_protected_resources_are_explained_never_forced(project):
    urn = KEY_URN.format(stack="prod")
    automation = FakeAutomation(backend={"prod"})
    automation.events["destroy"] = [diagnostic(
        f"resource {urn} cannot be deleted because it is protected. To unprotect the resource, either remove the "
        f"`protect` flag from the resource in your Pulumi program and run `pulumi up`, or use the command:\n"
        f"`pulumi state unprotect '{urn}'`", urn=urn)]
    automation.errors["destroy"] = cli_error("error: update failed")
    system = make_system(project, automation)

    assert run(prod_request(yes=True, confirm="prod"), system) == ExitCode.PROTECTED

    err = system.err.getvalue().splitlines()
    assert err[0] == ("error: destroy of stack 'prod' stopped: 1 protected resource(s) cannot be deleted, and this "
                      "driver never forces it")
    assert err[1] == f"  {urn}"
    assert "`pulumi state unprotect --stack prod '<urn>'` (or `--all`), then run this destroy again" in err[2]
    assert "prod must keep `protect: true`" in err[3]
    assert automation.ops() == ["select_stack", "destroy"]  # no retry, no unprotect


def test_retained_resources_are_reported_after_destroy(project):
    urn = BUCKET_URN.format(stack="dev")
    automation = FakeAutomation(backend={"dev"})
    automation.events["destroy"] = [step_event("resOutputsEvent", "delete", urn, retain=True)]
    system = make_system(project, automation)
    assert run(request("dev", Operation.DESTROY, yes=True), system) == ExitCode.OK
    out = system.out.getvalue()
    assert "-  deleted" in out and "aws:s3/bucket:Bucket  data  (retained in AWS)" in out
    assert "has no outputs" not in out
    assert "1 resource(s) were retained in AWS (retain_on_delete)" in out and f"  {urn}" in out


# -- errors: one line, a distinct exit code ---------------------------------------------------
def test_missing_cli_is_reported_with_the_install_hint(project):
    automation = FakeAutomation()
    system = make_system(project, automation, cli=False)
    assert run(request("dev", yes=True), system) == ExitCode.NO_CLI
    assert system.err.getvalue() == (
        "error: the Pulumi CLI is not installed (no `pulumi` on PATH): install it with "
        "`curl -fsSL https://get.pulumi.com | sh` (or see https://www.pulumi.com/docs/install/); "
        "`deploy.py dev --offline` plans without it\n")
    assert automation.calls == []


INSTALL = "install it with `curl -fsSL https://get.pulumi.com | sh` (or see https://www.pulumi.com/docs/install/)"
SH = "#!/bin/sh\n"


@pytest.mark.parametrize("pulumi, mode, message", [
    (None, None, "the Pulumi CLI could not be started ([Errno 2] No such file or directory: 'pulumi')"),
    (SH + "echo 'panic: runtime error' >&2; exit 2\n", 0o755, "`pulumi version` failed with exit code 2: the "
                                                              "installed CLI is broken"),
    (SH + "echo v3\n", 0o755, "the Pulumi CLI fails the Automation API's version check: Could not parse the Pulumi CLI "
                              "version. This is probably an internal error. If you are sure you have the correct "
                              "version, set PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true."),
    (SH + "echo v2.25.2\n", 0o755, "the Pulumi CLI fails the Automation API's version check: Minimum version "
                                   "requirement failed. The minimum CLI version requirement is 3.1.0, your current "
                                   "CLI version is 2.25.2. Please update the Pulumi CLI."),
    (SH + "echo v4.0.0\n", 0o755, "the Pulumi CLI fails the Automation API's version check: Major version mismatch."),
    (SH + "printf 'v3.\\377\\n'\n", 0o755, "`pulumi version` printed something that is not a version (not UTF-8 "
                                            "text)"),
    (SH + "echo v3.200.0\n", 0o644, "the Pulumi CLI could not be started ([Errno 13] Permission denied: 'pulumi')"),
    ("\x7fELF\x02garbage, not a program for this machine", 0o755, "the Pulumi CLI could not be started ([Errno 8] "
                                                                 "Exec format error: 'pulumi')"),
    ("#!/nonexistent/interpreter\n", 0o755, "the Pulumi CLI could not be started ([Errno 2] No such file or "
                                            "directory: 'pulumi')"),
], ids=["missing", "exits-non-zero", "unparseable-version", "too-old", "major-too-new", "not-utf8",
        "not-executable", "not-a-program", "broken-interpreter"])
def test_every_way_the_clis_version_check_fails_is_exit_4_in_one_line(project, monkeypatch, pulumi, mode, message):
    """No double: pulumi.automation's own LocalWorkspace runs `pulumi version` on a `pulumi` made for
    each case (PATH holds nothing else), and raises whatever the SDK raises for it."""
    from pulumi import automation as auto

    bin_dir = project / "bin"
    bin_dir.mkdir()
    if pulumi is not None:
        (bin_dir / "pulumi").write_bytes(pulumi.encode("latin-1"))
        (bin_dir / "pulumi").chmod(mode)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", raising=False)
    system = make_system(project, FakeAutomation())
    system.select_stack = auto.select_stack

    assert run(request("dev", Operation.OUTPUTS), system) == ExitCode.NO_CLI

    err = system.err.getvalue()
    assert err.startswith(f"error: {message}") and err.endswith(f": {INSTALL}\n")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_version_check_that_never_answers_is_exit_4(project):
    """The SDK passes no timeout to `pulumi version` (so it cannot raise TimeoutExpired today); should it
    ever, the driver's table covers it: the double raises what subprocess would."""
    automation = FakeAutomation()
    system = make_system(project, automation)

    def hangs(*args: Any, **kwargs: Any) -> Any:
        raise subprocess.TimeoutExpired(["pulumi", "version"], 30)

    system.create_or_select_stack = hangs
    assert run(request("dev", Operation.PREVIEW), system) == ExitCode.NO_CLI
    assert system.err.getvalue() == f"error: `pulumi version` did not answer within 30 s: {INSTALL}\n"


def test_a_cli_that_breaks_after_the_stack_is_opened_is_exit_4(project):
    """Every later command starts the binary again (subprocess.Popen): OSError there is the same failure."""
    automation = FakeAutomation()
    automation.errors["up"] = PermissionError(13, "Permission denied", "pulumi")
    system = make_system(project, automation)
    assert run(request("dev", yes=True), system) == ExitCode.NO_CLI
    assert system.err.getvalue() == (f"error: the Pulumi CLI could not be started ([Errno 13] Permission denied: "
                                     f"'pulumi'): {INSTALL}\n")


def test_deploy_py_without_the_cli_exits_4(tmp_path):
    """The script end to end, with the real System: a PATH without `pulumi`."""
    result = subprocess.run([sys.executable, str(ROOT / "automation" / "deploy.py"), "dev", "--yes"],
                            capture_output=True, text=True, timeout=60, env={"PATH": str(tmp_path)})
    assert result.returncode == ExitCode.NO_CLI == 4
    assert result.stderr.startswith("error: the Pulumi CLI is not installed (no `pulumi` on PATH)")
    assert result.stdout == ""


# -- a Python without the dependencies --------------------------------------------------------
# `python -I -S` is this very interpreter without site-packages: none of the project's
# dependencies (the system /usr/bin/python3 here has PyYAML from Debian, so it would not do).
BARE_PYTHON = [sys.executable, "-I", "-S"]
SETUP_LINE = ("deploy.py: error: this Python ({python}) lacks the project's dependencies (yaml, pulumi, pulumi_aws, "
              "boto3, botocore not found) and there is no usable venv/ to run instead; set up from the repository "
              "root with `python3 -m venv venv && venv/bin/pip install -r requirements-dev.txt` (README, Quick start), "
              "then run `venv/bin/python automation/deploy.py ...`\n")


def checkout_copy(tmp_path: Path, venv_python: str | None) -> Path:
    """The driver's code in a fresh folder, with `venv/bin/python` a script running `venv_python` (or none).

    The script logs each start, so a test can count how often the driver re-ran itself.
    """
    root = tmp_path / "checkout"
    for package in ("automation", "components"):
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    if venv_python is not None:
        (root / "venv" / "bin").mkdir(parents=True)
        script = root / "venv" / "bin" / "python"
        script.write_text(f'#!/bin/sh\necho started >> "{root}/venv-starts.log"\nexec {venv_python} "$@"\n')
        script.chmod(0o755)
    return root


def run_bare(root: Path, *args: str) -> subprocess.CompletedProcess:
    bare = subprocess.run([*BARE_PYTHON, "-c", "import yaml"], capture_output=True)
    assert bare.returncode != 0, "the bare interpreter has PyYAML: this test would prove nothing"
    return subprocess.run([*BARE_PYTHON, str(root / "automation" / "deploy.py"), *args], capture_output=True, text=True,
                          timeout=120, env={"PATH": os.environ["PATH"]}, cwd=root)


def starts(root: Path) -> int:
    log = root / "venv-starts.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_without_dependencies_or_a_venv_it_says_how_to_set_up(tmp_path):
    root = checkout_copy(tmp_path, venv_python=None)
    result = run_bare(root, "dev", "--offline")
    assert result.returncode == ExitCode.SETUP == 11
    assert result.stderr == SETUP_LINE.format(python=sys.executable)
    assert result.stdout == ""


def test_without_dependencies_it_reruns_itself_with_the_projects_venv(tmp_path):
    root = checkout_copy(tmp_path, venv_python=sys.executable)
    result = run_bare(root, "--help")
    assert result.returncode == ExitCode.OK, result.stderr
    assert "exit codes:" in result.stdout and " 11  setup " in result.stdout
    assert starts(root) == 1


def test_a_venv_that_lacks_them_too_is_run_once_never_in_a_loop(tmp_path):
    root = checkout_copy(tmp_path, venv_python=" ".join(BARE_PYTHON))
    result = run_bare(root, "dev", "--offline")
    assert result.returncode == ExitCode.SETUP
    assert result.stderr == SETUP_LINE.format(python=sys.executable)
    assert starts(root) == 1


def test_a_broken_venv_python_is_not_run(tmp_path):
    root = checkout_copy(tmp_path, venv_python=None)
    (root / "venv" / "bin").mkdir(parents=True)
    (root / "venv" / "bin" / "python").symlink_to(root / "venv" / "bin" / "python3.99")  # dangling
    result = run_bare(root, "dev")
    assert result.returncode == ExitCode.SETUP
    assert result.stderr == SETUP_LINE.format(python=sys.executable)


def test_no_aws_credentials_stops_before_the_stack_is_opened(project):
    automation = FakeAutomation()
    system = make_system(project, automation, aws=False)
    assert run(request("dev", yes=True), system) == ExitCode.NO_AWS_CREDENTIALS
    assert system.err.getvalue().startswith("error: no AWS credentials found (environment, ~/.aws profiles, SSO, "
                                            "instance role): run `aws configure sso`")
    assert automation.calls == []


def test_missing_stack_file_is_a_config_error(project):
    (project / "Pulumi.dev.yaml").unlink()
    system = make_system(project, FakeAutomation())
    assert run(request("dev", yes=True), system) == ExitCode.CONFIG
    assert system.err.getvalue().startswith(f"error: no stack config Pulumi.dev.yaml in {project}")


def test_unknown_stack_in_the_backend(project):
    automation = FakeAutomation(backend=set())
    system = make_system(project, automation)
    assert run(request("dev", Operation.REFRESH, yes=True), system) == ExitCode.STACK_NOT_FOUND
    assert system.err.getvalue().startswith("error: stack 'dev' does not exist in file://")
    assert "deploy it first (`deploy.py dev`)" in system.err.getvalue()


@pytest.mark.parametrize("stderr", [
    "error: [409] Conflict: Another update is currently in progress.",
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete "
    "the lock file with `pulumi cancel`.",
])
def test_concurrent_update(project, stderr):
    automation = FakeAutomation()
    automation.errors["up"] = cli_error(stderr)
    system = make_system(project, automation)
    assert run(request("dev", yes=True), system) == ExitCode.CONCURRENT_UPDATE
    assert system.err.getvalue() == (
        "error: another update of stack 'dev' is in progress: wait for it to finish; if none is running, an interrupted "
        "one left its lock: `pulumi cancel --stack dev` releases it (docs/troubleshooting.md)\n")
    assert automation.ops() == ["create_or_select_stack", "up"]


def test_failed_update_names_the_resources_that_failed(project):
    urn = BUCKET_URN.format(stack="dev")
    automation = FakeAutomation()
    automation.events["up"] = [
        step_event("resourcePreEvent", "create", urn),
        diagnostic("creating S3 Bucket (mlops-platform-dev-data-x): BucketAlreadyExists\n  status code: 409", urn=urn),
        failed_event(urn),
        diagnostic("update failed"),
    ]
    automation.errors["up"] = cli_error("error: update failed")
    system = make_system(project, automation)

    assert run(request("dev", yes=True), system) == ExitCode.FAILED

    assert system.err.getvalue().splitlines() == [
        "error: up of stack 'dev' failed: 1 resource(s) failed",
        "  aws:s3/bucket:Bucket data: creating S3 Bucket (mlops-platform-dev-data-x): BucketAlreadyExists",
    ]
    assert "!! failed" in system.out.getvalue()


def test_a_program_config_error_is_a_config_error_with_every_problem(project):
    automation = FakeAutomation()
    automation.events["preview"] = [diagnostic(
        "Stack 'dev' has 2 config problem(s); nothing was deployed:\n  - a\n  - b")]
    automation.errors["preview"] = cli_error("error: preview failed")
    system = make_system(project, automation)
    assert run(request("dev", Operation.PREVIEW), system) == ExitCode.CONFIG
    assert system.err.getvalue().splitlines() == [
        "error: Stack 'dev' has 2 config problem(s); nothing was deployed:", "  - a", "  - b"]


def test_credentials_rejected_by_the_provider(project):
    automation = FakeAutomation()
    automation.errors["up"] = cli_error("error: unable to validate AWS credentials.\nerror: No valid credential "
                                        "sources found.")
    system = make_system(project, automation)
    assert run(request("dev", yes=True), system) == ExitCode.NO_AWS_CREDENTIALS
    assert "AWS rejected the credentials for stack 'dev': No valid credential sources found." in system.err.getvalue()


def test_wrong_passphrase_is_a_backend_error(project):
    automation = FakeAutomation(backend={"dev"})
    automation.errors["outputs"] = cli_error("error: getting stack outputs: incorrect passphrase")
    system = make_system(project, automation)
    assert run(request("dev", Operation.OUTPUTS), system) == ExitCode.BACKEND
    assert system.err.getvalue() == ("error: the backend or secrets provider refused stack 'dev': getting stack "
                                     "outputs: incorrect passphrase\n")


def test_unclassified_failure_shows_the_clis_last_line(project):
    automation = FakeAutomation()
    automation.errors["up"] = cli_error("warning: something\nerror: plugin aws 7.0.0 could not be installed")
    system = make_system(project, automation)
    assert run(request("dev", yes=True), system) == ExitCode.FAILED
    assert system.err.getvalue() == ("error: up of stack 'dev' failed: error: plugin aws 7.0.0 could not be "
                                     "installed\n")


def test_prod_without_a_secrets_provider_says_how_to_set_one(project):
    automation = FakeAutomation()
    system = make_system(project, automation)
    assert run(request("prod", yes=True), system) == ExitCode.BACKEND
    assert system.err.getvalue() == (
        "error: stack 'prod': production stacks need an explicit secrets provider; pass --secrets-provider "
        "awskms://alias/mlops-platform-prod-secrets?region=us-east-1 or set MLOPS_SECRETS_PROVIDER "
        "(see docs/runbook.md, Deployment)\n")
    assert automation.calls == []


def test_passphrase_unset_is_explained(project):
    system = make_system(project, FakeAutomation(), environ={})
    assert run(request("dev", yes=True), system) == ExitCode.BACKEND
    assert "stack 'dev' uses the passphrase secrets provider and PULUMI_CONFIG_PASSPHRASE is not set" \
        in system.err.getvalue()


def test_interrupt_exits_130(project):
    automation = FakeAutomation()
    automation.errors["up"] = KeyboardInterrupt()
    system = make_system(project, automation)
    assert run(request("dev", yes=True), system) == ExitCode.INTERRUPTED
    assert system.err.getvalue().startswith("error: interrupted;")


# -- the command line -------------------------------------------------------------------------
def test_flags_become_the_request():
    _, req = deploy.parse_request(["pr-42", "--destroy", "--remove", "--yes", "--json", "--confirm", "pr-42"])
    assert req == Request(stack=stacks.StackRef("pr-42", 42), operation=Operation.DESTROY, yes=True, json=True,
                          remove=True, confirm="pr-42")
    _, req = deploy.parse_request(["prod", "--secrets-provider", KMS])
    assert (req.operation, req.secrets_provider) == (Operation.UP, KMS)


@pytest.mark.parametrize("argv, message", [
    (["dev", "--remove"], "--remove only goes with --destroy"),
    (["dev", "--preview", "--confirm", "dev"], "--confirm only goes with --destroy"),
    (["dev", "--offline", "--destroy"], "--offline only plans: it cannot destroy"),
    (["dev", "--offline", "--secrets-provider", KMS], "--offline uses no backend and no secrets provider"),
    (["dev", "--preview", "--destroy"], "not allowed with argument"),
    (["pr123"], "pull-request stacks are named pr-<number>"),
    (["PROD"], "expected dev, prod, pr-<number>"),
    (["acme/mlops-platform/dev"], "expected dev, prod, pr-<number>"),
])
def test_usage_errors_exit_2(capsys, argv, message):
    assert deploy.main(argv) == ExitCode.USAGE
    assert message in capsys.readouterr().err


def test_main_hands_the_request_to_the_driver(project):
    automation = FakeAutomation()
    system = make_system(project, automation)
    assert deploy.main(["dev", "--preview", "--json"], system=system) == ExitCode.OK
    assert automation.ops() == ["create_or_select_stack", "preview", "outputs"]


def test_help_lists_every_exit_code(capsys):
    assert deploy.main(["--help"]) == 0
    out = capsys.readouterr().out
    for code in ExitCode:
        assert f"{code.value:>3}  {code.name.lower()}" in out
    assert len({code.value for code in ExitCode}) == len(ExitCode)
    assert ExitCode.SETUP == 11 and ExitCode.TEARDOWN == 12


def usage_error_of(capsys, argv: list[str], project: Path) -> str:
    """Run main() on argv with a driver that must not be reached; the one usage line it printed."""
    automation = FakeAutomation()
    system = make_system(project, automation)
    assert deploy.main(argv, system=system) == ExitCode.USAGE
    assert automation.calls == [] and system.out.getvalue() == system.err.getvalue() == ""
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deploy.py: error: ")
    assert lines[0].isprintable() and len(lines[0]) < 600
    return lines[0]


@pytest.mark.parametrize("flag", ["--d", "--de", "--des", "--destr", "--pre", "--prev", "--ref", "--out", "--off",
                                  "--rem", "--conf", "--confirm-", "--secrets", "--secrets-prov", "--js", "--ye",
                                  "--y", "--h", "--he", "--hel"])
def test_abbreviated_flags_are_rejected_not_guessed(capsys, project, monkeypatch, flag):
    """`--d` must not mean `--destroy` (argparse's default allows any unambiguous prefix)."""
    monkeypatch.setattr(deploy, "run_offline", lambda *a, **k: pytest.fail("--off ran an offline plan"))
    argv = ["pr-42", flag] + (["pr-42"] if flag.startswith(("--conf", "--secrets")) else [])
    line = usage_error_of(capsys, argv, project)
    assert f"unrecognized arguments: {flag}" in line


@pytest.mark.parametrize("name, shown_as", [
    ("dev\x1b[31m", "'dev\\x1b[31m'"),
    ("dev\n--destroy", "'dev\\n--destroy'"),
    ("\x00", "'\\x00'"),
    ("pr-1\r", "'pr-1\\r'"),
    ("\u202edev", "'\\u202edev'"),  # right-to-left override
    ("\udcff\udcfe", "'\\udcff\\udcfe'"),  # undecodable argv bytes, as Python's surrogateescape passes them
    ("dév", "'dév'"),
    ("", "''"),
    ("d" * 100_000, "'" + "d" * 60 + "...' (100000 characters)"),
    ("pr-" + "9" * 5000, "'pr-" + "9" * 57 + "...' (5003 characters)"),  # int() refuses >4300 digits
    ("a" * 101, "'" + "a" * 60 + "...' (101 characters)"),
])
def test_stack_names_that_cannot_be_stacks_are_one_safe_usage_line(capsys, project, name, shown_as):
    line = usage_error_of(capsys, [name, "--preview"], project)
    assert line.startswith(f"deploy.py: error: stack name {shown_as}: expected dev, prod, pr-<number>")


@pytest.mark.parametrize("argv, message", [
    (["dev", "--destroy", "--confirm", "dev\x1b[2J"], "--confirm 'dev\\x1b[2J': not a stack name"),
    (["dev", "--destroy", "--confirm", "x" * 100_000], "--confirm '" + "x" * 60 + "...' (100000 characters): not a"),
    (["dev", "--destroy", "--confirm", ""], "--confirm '': not a stack name"),
    (["dev", "--secrets-provider", "awskms://alias/k\x00"], "--secrets-provider 'awskms://alias/k\\x00': expected "
                                                           "passphrase, default, or a key service URL"),
    (["dev", "--secrets-provider", "awskms://alias/a b"], "--secrets-provider 'awskms://alias/a b': expected"),
    (["dev", "--secrets-provider", "file:///etc/passwd"], "--secrets-provider 'file:///etc/passwd': expected"),
    (["dev", "--secrets-provider", "awskms://" + "k" * 2000], "longer than 1024 characters"),
    (["dev", "--secrets-provider", ""], "--secrets-provider '': expected"),
    (["dev", "\x1b]0;owned\x07"], "unrecognized arguments: \\x1b]0;owned\\x07"),
    (["dev", "--yes=\x1b[1m"], "argument --yes/-y: ignored explicit argument '\\x1b[1m'"),
    (["dev", "x" * 100_000], "unrecognized arguments: " + "x" * 100),
])
def test_flag_values_that_cannot_work_are_one_safe_usage_line(capsys, project, argv, message):
    assert message in usage_error_of(capsys, argv, project)


def test_a_secrets_provider_from_the_environment_is_checked_too(project):
    system = make_system(project, FakeAutomation(), environ={**PASSPHRASE_ENV, "MLOPS_SECRETS_PROVIDER": "awskms:/x"})
    assert run(request("dev", yes=True), system) == ExitCode.BACKEND
    assert system.err.getvalue().startswith("error: MLOPS_SECRETS_PROVIDER 'awskms:/x': expected passphrase, default")


class CliMustNotRun:
    """A System whose machine has no `pulumi`: anything past that check fails the test."""

    def __init__(self, work_dir: Path):
        self.system = System(
            work_dir=work_dir, environ={}, home=work_dir / "home", which=lambda name: None,
            has_aws_credentials=self.unexpected, create_or_select_stack=self.unexpected, select_stack=self.unexpected,
            interactive=False, prompt=self.unexpected, out=io.StringIO(), err=io.StringIO(), clock=Clock(),
            today=lambda: TODAY, aws_client=self.unexpected)

    @staticmethod
    def unexpected(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the driver went past the missing CLI: {args} {kwargs}")


FLAG_TOKENS = ["--preview", "--refresh", "--destroy", "--outputs", "--yes", "-y", "--json", "--offline", "--remove",
               "--confirm", "--secrets-provider", "--help", "-h", "--", "-", "--d", "--pre", "--yes=1", "-yy"]
ANY_CHARACTER = st.characters(exclude_categories=())  # control characters, surrogates, unassigned code points
ARGUMENT = st.one_of(
    st.sampled_from(FLAG_TOKENS),
    st.sampled_from(["dev", "prod", "pr-7", "pr-0", "pr7", "staging", "passphrase", "awskms://alias/k"]),
    st.text(ANY_CHARACTER, max_size=12),
    st.builds(lambda char, count: char * count, ANY_CHARACTER, st.integers(90, 20_000)),
)


@settings(max_examples=250, deadline=None, derandomize=True)
@given(argv=st.lists(ARGUMENT, max_size=6))
def test_no_argument_list_ever_ends_in_a_traceback(tmp_path_factory, argv):
    """Whatever argv holds, main() returns an ExitCode and prints only printable one-line messages.

    The offline plan is stubbed (its own tests run it) and the machine has no CLI, so nothing
    slow or real runs; the CLI double fails the test if the driver goes past that check.
    """
    work_dir = tmp_path_factory.getbasetemp() / "argv-property"
    work_dir.mkdir(exist_ok=True)
    guard = CliMustNotRun(work_dir)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch.object(deploy, "run_offline", return_value=ExitCode.OK):
        code = deploy.main(list(argv), system=guard.system)
    assert isinstance(code, ExitCode)
    printed = out.getvalue() + err.getvalue() + guard.system.out.getvalue() + guard.system.err.getvalue()
    assert "Traceback" not in printed
    assert all(line.isprintable() for line in printed.splitlines())
    if code == ExitCode.USAGE:
        assert err.getvalue().count("\n") == 1
