"""The GitHub workflows: valid YAML, the right triggers and gates, and every `deploy.py` call
parsed by the driver's own argument parser, so a renamed flag breaks this test, not a deploy."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from automation import deploy, stacks
from automation.backend import SECRETS_PROVIDER_ENV
from automation.driver import Operation

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
EXPRESSION_RE = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PR_NUMBER_EXPRESSIONS = {"github.event.number", "github.event.pull_request.number"}


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    return workflow[True]  # YAML 1.1 reads the bare key `on` as the boolean True


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield job_name, job, step


def substitute(text: str, pr_number: str = "123") -> str:
    """Replace GitHub expressions with what they evaluate to in a run: a PR number or a token."""
    return EXPRESSION_RE.sub(lambda m: pr_number if m.group(1) in PR_NUMBER_EXPRESSIONS else "EXPR", text)


def deploy_invocations(script: str, pr_number: str = "123") -> list[list[str]]:
    """The argument lists of every `automation/deploy.py` call in a `run:` script."""
    calls = []
    lexer = shlex.shlex(substitute(script.replace("\\\n", " "), pr_number), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    for index, token in enumerate(tokens):
        if token.endswith("automation/deploy.py"):
            args = []
            rest = tokens[index + 1:]
            for position, arg in enumerate(rest):
                following = rest[position + 1] if position + 1 < len(rest) else ""
                # A shell operator (|, &&, ;, >...) ends the command, as does a redirection's fd (2>&1).
                if set(arg) <= set("();<>|&") or (arg.isdigit() and following[:1] in "<>" and following):
                    break
                args.append(arg)
            calls.append(args)
    return calls


def all_invocations() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, _, step in steps(yaml.safe_load(path.read_text())):
            for args in deploy_invocations(step.get("run", "")):
                found.append((path.name, job_name, args))
    return found


def test_workflows_are_valid_yaml_with_triggers_and_jobs():
    paths = sorted(WORKFLOWS.glob("*.yml"))
    assert [p.name for p in paths] == ["deploy.yml", "pr-cleanup.yml", "pr-preview.yml"]
    for path in paths:
        workflow = yaml.safe_load(path.read_text())
        assert workflow["name"] and triggers(workflow) and workflow["jobs"], path.name
        for _, job, step in steps(workflow):
            assert ("uses" in step) != ("run" in step), step  # each step does one thing
            assert job["runs-on"] == "ubuntu-latest"


def test_the_helper_finds_calls_and_stops_at_shell_operators():
    script = "venv/bin/python automation/deploy.py pr-${{ github.event.number }} --yes 2>&1 | tee deploy.txt"
    assert deploy_invocations(script) == [["pr-123", "--yes"]]
    assert deploy_invocations("a && venv/bin/python automation/deploy.py dev \\\n  --preview; b") == [["dev", "--preview"]]


def test_every_deploy_call_uses_flags_the_driver_accepts():
    invocations = all_invocations()
    assert len(invocations) >= 6
    for workflow, job, args in invocations:
        try:
            _, request = deploy.parse_request(args)
        except SystemExit:
            pytest.fail(f"{workflow} job {job}: deploy.py {' '.join(args)} is rejected by the driver's parser")
        assert request.stack.name in ("dev", "prod", "pr-123"), (workflow, args)


@pytest.mark.parametrize("pr_number, accepted", [("1", True), ("123", True), ("0", False), ("abc", False)])
def test_pr_stack_names_in_workflows_match_the_drivers_pattern(pr_number, accepted):
    pr_calls = []
    for path in WORKFLOWS.glob("pr-*.yml"):
        for _, _, step in steps(yaml.safe_load(path.read_text())):
            pr_calls += deploy_invocations(step.get("run", ""), pr_number)
    assert len(pr_calls) == 3
    for args in pr_calls:
        assert bool(stacks.PR_STACK_RE.match(args[0])) is accepted, args


def test_pr_preview_plans_offline_then_deploys_its_stack_and_comments():
    workflow = load("pr-preview.yml")
    assert triggers(workflow) == {"pull_request": {"types": ["opened", "synchronize", "reopened"]}}
    assert workflow["concurrency"] == {"group": "stack-pr-${{ github.event.number }}", "cancel-in-progress": False}
    job_steps = [step for _, _, step in steps(workflow)]
    calls = [(i, args) for i, step in enumerate(job_steps) for args in deploy_invocations(step.get("run", ""))]
    (plan_at, plan), (deploy_at, up) = calls
    assert plan == ["pr-123", "--offline"]
    assert deploy.parse_request(up)[1].operation is Operation.UP and "--yes" in up
    assert job_steps[deploy_at]["if"] == "env.DEPLOY == 'true'"
    credentials = next(i for i, s in enumerate(job_steps) if s.get("uses", "").startswith("aws-actions/"))
    assert plan_at < credentials < deploy_at  # the offline plan never has credentials
    comment = job_steps[-1]
    assert comment["uses"].startswith("actions/github-script@") and comment["if"] == "always()"
    assert "plan.txt" in comment["with"]["script"] and "deploy.txt" in comment["with"]["script"]
    assert workflow["permissions"]["pull-requests"] == "write"


def test_pr_close_destroys_and_removes_the_stack_in_the_same_concurrency_group():
    workflow = load("pr-cleanup.yml")
    assert triggers(workflow) == {"pull_request": {"types": ["closed"]}}
    assert workflow["concurrency"]["group"] == load("pr-preview.yml")["concurrency"]["group"]
    ((_, _, args),) = [(w, j, a) for w, j, a in all_invocations() if w == "pr-cleanup.yml"]
    request = deploy.parse_request(args)[1]
    assert (request.operation, request.remove, request.yes) == (Operation.DESTROY, True, True)


def test_push_to_main_deploys_dev_and_prod_waits_for_the_production_approval():
    workflow = load("deploy.yml")
    assert triggers(workflow)["push"] == {"branches": ["main"]}
    assert "workflow_dispatch" in triggers(workflow)
    dev, prod = workflow["jobs"]["dev"], workflow["jobs"]["prod"]
    assert prod["needs"] == "dev" and prod["environment"] == "production"
    assert dev["concurrency"]["group"] == "stack-dev" and prod["concurrency"]["group"] == "stack-prod"
    assert not dev["concurrency"]["cancel-in-progress"] and not prod["concurrency"]["cancel-in-progress"]
    deploys = {job: deploy.parse_request(args)[1] for w, job, args in all_invocations()
               if w == "deploy.yml" and "--offline" not in args}
    assert {job: (r.stack.name, r.operation, r.yes) for job, r in deploys.items()} == {
        "dev": ("dev", Operation.UP, True), "prod": ("prod", Operation.UP, True)}
    # prod needs an explicit secrets provider: the job hands one to the driver.
    assert prod["env"][SECRETS_PROVIDER_ENV] == "${{ vars.PROD_SECRETS_PROVIDER }}"


def test_jobs_that_deploy_set_up_with_the_readmes_command_and_a_backend():
    readme_setup = re.search(r"^(python3 -m venv venv && venv/bin/pip install -r requirements-dev\.txt)",
                             (ROOT / "README.md").read_text(), re.MULTILINE).group(1)
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job_name, job in workflow["jobs"].items():
            runs = [step.get("run", "") for step in job["steps"]]
            calls = [args for run in runs for args in deploy_invocations(run)]
            if not calls:
                continue
            assert readme_setup in runs, (path.name, job_name)
            assert runs.index(readme_setup) < min(i for i, run in enumerate(runs) if deploy_invocations(run))
            if any("--offline" not in args for args in calls):  # a real deploy: state must outlive the runner
                env = {**workflow.get("env", {}), **job.get("env", {})}
                assert env["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}", (path.name, job_name)
                assert any(s.get("uses", "").startswith("pulumi/actions@") for s in job["steps"])
