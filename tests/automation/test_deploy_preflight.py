"""The driver's preflight: `deploy.py ENV` (and `--preview`) read and validate the stack file the
way `deploy.py ENV --offline` does before any backend, secrets provider or CLI is touched, and
refuse a broken one with exit code 3. Operations that do not run the program (destroy, refresh,
outputs) skip it, so a stack whose file is broken can still be torn down.

Runs against the Automation API test double of test_deploy.py (there is no Pulumi CLI here).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from test_deploy import TODAY, FakeAutomation, make_system, request

from automation.driver import ExitCode, Operation, run

ROOT = Path(__file__).resolve().parents[2]
DEV = (ROOT / "Pulumi.dev.yaml").read_text()
PROD = (ROOT / "Pulumi.prod.yaml").read_text()
NS = "mlops-platform"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def replaced(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


BROKEN = [
    pytest.param("dev", DEV + "  mlops-platform:models: []\n",
                 [f"error: Pulumi.dev.yaml:{DEV.count(chr(10)) + 1}:3: duplicate key 'mlops-platform:models' (first at "
                  f"line 6); YAML does not allow a key twice in one mapping"], id="duplicate-key"),
    pytest.param("dev", "config:\n  x: !!python/object/apply:os.system [ls]\n",
                 ["error: Pulumi.dev.yaml:2:6: the tag !!python/object/apply:os.system is not allowed: stack files hold "
                  "plain values (text, numbers, true/false, null, lists and mappings)"], id="python-tag"),
    pytest.param("dev", replaced(DEV, "threshold: 0.8", "threshold: 1.2"),
                 ["error: Stack 'dev' has 1 config problem(s); nothing was deployed:",
                  f"  - {NS}:models[0].threshold: got 1.2; validation:auc lies in [0, 1]; a version is registered when "
                  "validation:auc >= threshold, so pick a value in that range"], id="threshold"),
    pytest.param("dev", replaced(DEV, "mlops-platform:models:", "mlops-platfrom:models:"),
                 ["error: Stack 'dev' has 2 config problem(s); nothing was deployed:",
                  "  - mlops-platfrom:models: unknown namespace 'mlops-platfrom'; did you mean 'mlops-platform:models'? "
                  "Keys are 'mlops-platform:<key>' (or just '<key>') for the platform and 'aws:<key>' for the AWS provider",
                  f"  - {NS}:models: got (missing); required: a list of objects"], id="namespace"),
    pytest.param("prod", replaced(PROD, "environment: prod", "environment: dev"),
                 ["error: Stack 'prod' has 1 config problem(s); nothing was deployed:",
                  f"  - {NS}:environment: got 'dev'; stack 'prod' is production (PRODUCTION_STACKS in "
                  "components/environments.py) and always gets the prod rules: declare 'prod' or leave the key out"],
                 id="prod-declares-dev"),
]


@pytest.mark.parametrize("operation", [Operation.UP, Operation.PREVIEW])
@pytest.mark.parametrize("stack, text, expected", BROKEN)
def test_a_broken_stack_file_stops_deploy_and_preview_before_anything_is_touched(project, operation, stack, text,
                                                                                expected):
    (project / f"Pulumi.{stack}.yaml").write_text(text)
    automation = FakeAutomation()
    system = make_system(project, automation)
    assert run(request(stack, operation, yes=True, secrets_provider="awskms://alias/k"), system) == ExitCode.CONFIG
    assert automation.calls == [] and automation.opened == []
    assert system.err.getvalue().splitlines() == expected
    assert system.out.getvalue() == ""  # not even the backend line: the backend was never resolved
    assert not (project / ".pulumi-state").exists()


@pytest.mark.parametrize("operation, step", [(Operation.DESTROY, "destroy"), (Operation.REFRESH, "refresh"),
                                             (Operation.OUTPUTS, "outputs")])
def test_operations_that_do_not_run_the_program_work_with_a_broken_file(project, operation, step):
    (project / "Pulumi.dev.yaml").write_text(DEV + "  mlops-platform:models: []\n")
    automation = FakeAutomation(backend={"dev"})
    system = make_system(project, automation)
    assert run(request("dev", operation, yes=True), system) == ExitCode.OK, system.err.getvalue()
    assert automation.ops()[0] == "select_stack" and step in automation.ops()


def test_a_valid_stack_file_passes_the_preflight(project):
    automation = FakeAutomation()
    system = make_system(project, automation)
    assert run(request("dev", Operation.PREVIEW), system) == ExitCode.OK, system.err.getvalue()
    assert automation.ops() == ["create_or_select_stack", "preview", "outputs"]


def test_problems_with_secret_values_are_left_to_the_program(project):
    """A `secure:` value cannot be decrypted before the CLI runs: only the program sees it."""
    (project / "Pulumi.dev.yaml").write_text(replaced(DEV, "    emails: []", "    emails:\n      - secure: v1:abcdef"))
    automation = FakeAutomation()
    system = make_system(project, automation)
    assert run(request("dev", Operation.PREVIEW), system) == ExitCode.OK, system.err.getvalue()
    # ...but the other problems of the same file are still reported.
    (project / "Pulumi.dev.yaml").write_text(replaced(replaced(DEV, "    emails: []", "    emails:\n      - secure: v1:a"),
                                                      "threshold: 0.8", "threshold: -1"))
    system = make_system(project, automation)
    assert run(request("dev", Operation.PREVIEW), system) == ExitCode.CONFIG
    assert system.err.getvalue().splitlines() == [
        "error: Stack 'dev' has 1 config problem(s); nothing was deployed:",
        f"  - {NS}:models[0].threshold: got -1; validation:auc lies in [0, 1]; a version is registered when "
        "validation:auc >= threshold, so pick a value in that range"]


def test_a_pr_stacks_expiry_moves_with_each_deploy(project):
    automation = FakeAutomation()
    system = make_system(project, automation)
    path = project / "Pulumi.pr-123.yaml"
    assert run(request("pr-123", Operation.UP, yes=True), system) == ExitCode.OK, system.err.getvalue()
    assert yaml.safe_load(path.read_text())["config"][f"{NS}:expires"] == "2030-01-22"
    path.write_text(path.read_text() + "encryptionsalt: v1:salt\n")  # what `pulumi stack init` adds

    system = make_system(project, automation)
    system.today = lambda: TODAY + dt.timedelta(days=5)
    assert run(request("pr-123", Operation.UP, yes=True), system) == ExitCode.OK, system.err.getvalue()
    document = yaml.safe_load(path.read_text())
    assert document["config"][f"{NS}:expires"] == "2030-01-27"
    assert document["encryptionsalt"] == "v1:salt"


def test_a_pr_config_for_another_pull_request_is_refused(project):
    automation = FakeAutomation()
    system = make_system(project, automation)
    assert run(request("pr-123", Operation.PREVIEW), system) == ExitCode.OK
    path = project / "Pulumi.pr-123.yaml"
    path.write_text(replaced(path.read_text(), f"{NS}:pullRequest: '123'", f"{NS}:pullRequest: '124'"))
    system = make_system(project, automation)
    assert run(request("pr-123", Operation.PREVIEW), system) == ExitCode.CONFIG
    assert system.err.getvalue().splitlines()[1] == (f"  - {NS}:pullRequest: got 124; stack 'pr-123' belongs to pull "
                                                     "request 123: use '123'")


def test_a_broken_pull_request_template_is_a_config_error_not_a_traceback(project, monkeypatch):
    """The PR template is read when a pr-N stack file is written; if it is malformed the driver
    says so in one line with exit code 3 (the template itself is held valid by test_pr_stacks)."""
    from automation import stackfile, stacks

    def broken_template(*args, **kwargs):
        raise stackfile.StackFileError("Pulumi.preview.yaml", "duplicate key 'config' (first at line 1)")

    monkeypatch.setattr(stacks, "ensure_pr_config", broken_template)
    automation = FakeAutomation()
    system = make_system(project, automation)
    assert run(request("pr-7", Operation.UP, yes=True), system) == ExitCode.CONFIG
    assert system.err.getvalue().splitlines() == [
        "error: writing Pulumi.pr-7.yaml failed: Pulumi.preview.yaml: duplicate key 'config' (first at line 1)"]
    assert automation.calls == [] and automation.opened == []
