"""The GitHub workflows: valid YAML, the right triggers and gates, and every `deploy.py` call
parsed by the driver's own argument parser, so a renamed flag breaks this test, not a deploy.

Credentials are checked as classes, each by a function that lists the problems of one workflow
and is run against the real workflows (no problems) and against deliberately broken copies of
them (a problem each): secrets only where a deploy reaches its backend, pull-request workflows
that hold nothing of dev or prod, each environment assuming its own role, dev and prod deployed
from main only, least-privilege tokens, and every action pinned to a commit. zizmor, the GitHub
Actions security linter, must report nothing at its default level (docs/ci-credentials.md)."""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from automation import deploy, stacks
from automation.backend import SECRETS_PROVIDER_ENV
from automation.driver import Operation

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_NAMES = ["deploy.yml", "image-refresh.yml", "pr-cleanup.yml", "pr-preview.yml"]
EXPRESSION_RE = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SHELL_VARIABLE_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
PR_NUMBER_EXPRESSIONS = {"github.event.number", "github.event.pull_request.number"}

SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"
ON_MAIN = "github.ref == 'refs/heads/main'"
PREVIEW_ROLE_CONFIGURED = "vars.AWS_PREVIEW_ROLE_ARN != ''"
PULL_REQUEST_EVENTS = {"pull_request", "pull_request_target"}
# Each GitHub environment holds its own role; a job may assume only its environment's.
ROLE_BY_ENVIRONMENT = {"preview": "AWS_PREVIEW_ROLE_ARN", "dev": "AWS_DEV_ROLE_ARN", "production": "AWS_PROD_ROLE_ARN"}
ENVIRONMENT_BY_STACK = {"dev": "dev", "prod": "production"}  # pr-N stacks: "preview"
MAIN_ONLY_ENVIRONMENTS = {"dev", "production"}
DEV_AND_PROD_SETTINGS = ("AWS_DEV_ROLE_ARN", "AWS_PROD_ROLE_ARN", "PROD_SECRETS_PROVIDER")
SECRETS_RE = re.compile(r"\bsecrets\.")
USES_LINE_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*?))?\s*$", re.MULTILINE)
PINNED_REF_RE = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT_RE = re.compile(r"^v\d+\.\d+\.\d+$")
ZIZMOR = Path(sys.executable).parent / "zizmor"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    return workflow[True]  # YAML 1.1 reads the bare key `on` as the boolean True


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield job_name, job, step


def step_env(workflow: dict, job: dict, step: dict) -> dict:
    """The environment a step's shell sees: workflow, then job, then step `env:`."""
    return {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}


def substitute(text: str, pr_number: str = "123") -> str:
    """Replace GitHub expressions with what they evaluate to in a run: a PR number or a token."""
    return EXPRESSION_RE.sub(lambda m: pr_number if m.group(1) in PR_NUMBER_EXPRESSIONS else "EXPR", text)


def deploy_invocations(script: str, pr_number: str = "123", env: dict | None = None) -> list[list[str]]:
    """The argument lists of every `automation/deploy.py` call in a `run:` script, with the
    script's shell variables ($STACK) taken from the `env:` it runs with."""
    env = env or {}
    expanded = SHELL_VARIABLE_RE.sub(lambda m: env.get(m.group(1), m.group(0)), script.replace("\\\n", " "))
    calls = []
    lexer = shlex.shlex(substitute(expanded, pr_number), posix=True, punctuation_chars=True)
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


def step_invocations(workflow: dict, job: dict, step: dict, pr_number: str = "123") -> list[list[str]]:
    return deploy_invocations(step.get("run", ""), pr_number, step_env(workflow, job, step))


def all_invocations() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job_name, job, step in steps(workflow):
            for args in step_invocations(workflow, job, step):
                found.append((path.name, job_name, args))
    return found


def job_calls(workflow: dict, job_name: str) -> list[list[str]]:
    job = workflow["jobs"][job_name]
    return [args for step in job["steps"] for args in step_invocations(workflow, job, step)]


def strip_expression(condition: str) -> str:
    match = re.fullmatch(r"\$\{\{\s*(.*?)\s*\}\}", condition.strip())
    return match.group(1) if match else condition.strip()


def environment_name(job: dict) -> str | None:
    environment = job.get("environment")
    return environment.get("name") if isinstance(environment, dict) else environment


def write_scopes(job: dict) -> set[str]:
    """The token scopes a job may write; "*" for `write-all`."""
    permissions = job.get("permissions", {})
    if isinstance(permissions, str):  # read-all / write-all
        return {"*"} if permissions == "write-all" else set()
    return {scope for scope, access in permissions.items() if access == "write"}


def can_write(job: dict, scope: str) -> bool:
    return bool({scope, "*"} & write_scopes(job))


def strings_with_paths(node: object, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Every string in a parsed workflow, with the keys and indexes that lead to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings_with_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings_with_paths(value, (*path, index))
    elif isinstance(node, str):
        yield path, node


def reaches_a_backend(workflow: dict, job_name: str, step: dict) -> bool:
    job = workflow["jobs"][job_name]
    return any("--offline" not in args for args in step_invocations(workflow, job, step))


def in_backend_step_env(workflow: dict, path: tuple) -> bool:
    """Whether `path` leads into the `env:` of a step that runs deploy.py against a backend."""
    if len(path) != 6 or (path[0], path[2], path[4]) != ("jobs", "steps", "env"):
        return False
    return reaches_a_backend(workflow, path[1], workflow["jobs"][path[1]]["steps"][path[3]])


# --- The classes of credential mistakes: each function lists one workflow's problems. -------------

def misplaced_secrets(workflow: dict) -> list[str]:
    """Secrets only in the `env:` of a step that runs deploy.py against a backend: never at workflow
    or job level, never on checkout, setup, pip install or the offline plan."""
    return [f"{'.'.join(map(str, path))}: {text}" for path, text in strings_with_paths(workflow)
            if SECRETS_RE.search(text) and not in_backend_step_env(workflow, path)]


def pull_request_exposure(workflow: dict) -> list[str]:
    """A workflow a pull request triggers runs that pull request's workflow file and code: it may
    use the `preview` environment only, from this repository only, and mention nothing of dev or
    prod; a job that runs code holds no write token (the OIDC token of the preview environment aside)."""
    if not PULL_REQUEST_EVENTS & set(triggers(workflow)):
        return []
    text = yaml.safe_dump(workflow)
    problems = [f"mentions {name}" for name in DEV_AND_PROD_SETTINGS if name in text]
    for name, job in workflow["jobs"].items():
        environment = environment_name(job)
        runs_code = any("run" in step or step.get("uses", "").startswith("actions/checkout@") for step in job["steps"])
        if environment not in (None, "preview"):
            problems.append(f"{name}: environment {environment!r}")
        if environment == "preview" and strip_expression(job.get("if", "")) != SAME_REPOSITORY:
            problems.append(f"{name}: enters the preview environment for fork pull requests too")
        if runs_code and write_scopes(job) - {"id-token"}:
            problems.append(f"{name}: runs the pull request's code with write access {sorted(write_scopes(job))}")
    return problems


def role_problems(workflow: dict) -> list[str]:
    """Each job assumes only its own environment's role, and mentions no other environment's;
    a job without an environment gets no OIDC token at all."""
    problems = []
    for name, job in workflow["jobs"].items():
        environment = environment_name(job)
        own_role = ROLE_BY_ENVIRONMENT.get(environment)
        if can_write(job, "id-token") and own_role is None:
            problems.append(f"{name}: an OIDC token without an environment")
        for step in job["steps"]:
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                role = step.get("with", {}).get("role-to-assume")
                if own_role is None or strip_expression(role or "") != f"vars.{own_role}":
                    problems.append(f"{name}: environment {environment!r} assumes {role}")
        text = yaml.safe_dump(job)
        problems += [f"{name}: mentions {other}" for other in ROLE_BY_ENVIRONMENT.values() if other != own_role and other in text]
    return problems


def stack_environment_problems(workflow: dict) -> list[str]:
    """The stack a job deploys decides its environment: pr-N in `preview`, dev in `dev`, prod in
    `production`."""
    problems = []
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            for args in step_invocations(workflow, job, step):
                stack = deploy.parse_request(args)[1].stack
                expected = "preview" if stack.is_pull_request else ENVIRONMENT_BY_STACK.get(stack.name)
                if "--offline" not in args and environment_name(job) != expected:
                    problems.append(f"{name}: deploys {stack.name} in environment {environment_name(job)!r}")
    return problems


def unguarded_deploys(workflow: dict) -> list[str]:
    """Jobs in the dev and production environments run for `main` only, whatever the trigger."""
    return [f"{name}: if {job.get('if')!r}" for name, job in workflow["jobs"].items()
            if environment_name(job) in MAIN_ONLY_ENVIRONMENTS and strip_expression(job.get("if", "")) != ON_MAIN]


def privilege_problems(workflow: dict) -> list[str]:
    """No default token scopes: every job asks for its own; checkouts keep no token in .git/config;
    a job with an environment (credentials) restores no cache another run may have written."""
    problems = [] if workflow.get("permissions") == {} else [f"workflow permissions {workflow.get('permissions')!r}"]
    for name, job in workflow["jobs"].items():
        if "permissions" not in job:
            problems.append(f"{name}: inherits the default token permissions")
        for step in job["steps"]:
            uses, inputs = step.get("uses", ""), step.get("with", {})
            if uses.startswith("actions/checkout@") and inputs.get("persist-credentials") is not False:
                problems.append(f"{name}: checkout persists the token")
            if uses.startswith("actions/setup-python@") and "cache" in inputs and environment_name(job):
                problems.append(f"{name}: restores a cache in a job with credentials")
    return problems


CHECKS: dict[str, Callable[[dict], list[str]]] = {
    "misplaced_secrets": misplaced_secrets,
    "pull_request_exposure": pull_request_exposure,
    "role_problems": role_problems,
    "stack_environment_problems": stack_environment_problems,
    "unguarded_deploys": unguarded_deploys,
    "privilege_problems": privilege_problems,
}
DELETE = object()


def changed(name: str, path: tuple, value: object) -> dict:
    """A copy of a real workflow with one value replaced (or deleted with DELETE)."""
    workflow = copy.deepcopy(load(name))
    *parents, last = path
    node = workflow
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return workflow


SECRET = "${{ secrets.PULUMI_ACCESS_TOKEN }}"
CHECKOUT = {"uses": "actions/checkout@11d5960a326750d5838078e36cf38b85af677262", "with": {"persist-credentials": False}}
BROKEN = [
    # check, workflow, what changes, to what
    ("misplaced_secrets", "deploy.yml", ("env",), {"PULUMI_ACCESS_TOKEN": SECRET}),
    ("misplaced_secrets", "pr-preview.yml", ("jobs", "deploy", "env"), {"PULUMI_ACCESS_TOKEN": SECRET}),
    ("misplaced_secrets", "pr-cleanup.yml", ("jobs", "destroy", "steps", 2, "env"), {"PULUMI_ACCESS_TOKEN": SECRET}),
    ("misplaced_secrets", "deploy.yml", ("jobs", "dev", "steps", 3, "env"), {"PULUMI_CONFIG_PASSPHRASE": SECRET}),
    ("misplaced_secrets", "pr-preview.yml", ("jobs", "plan", "steps", 0, "with", "token"), SECRET),
    ("pull_request_exposure", "pr-preview.yml", ("jobs", "deploy", "environment"), "production"),
    ("pull_request_exposure", "pr-cleanup.yml", ("jobs", "destroy", "environment"), "dev"),
    ("pull_request_exposure", "pr-preview.yml", ("jobs", "deploy", "if"), DELETE),
    ("pull_request_exposure", "pr-preview.yml", ("jobs", "deploy", "if"), f"always() || {SAME_REPOSITORY}"),
    ("pull_request_exposure", "pr-preview.yml", ("jobs", "plan", "permissions", "pull-requests"), "write"),
    ("pull_request_exposure", "pr-preview.yml", ("jobs", "comment", "steps", 0), CHECKOUT),
    ("pull_request_exposure", "pr-cleanup.yml", ("jobs", "destroy", "steps", 5, "env", "MLOPS_SECRETS_PROVIDER"),
     "${{ vars.PROD_SECRETS_PROVIDER }}"),
    ("role_problems", "pr-preview.yml", ("jobs", "deploy", "steps", 3, "with", "role-to-assume"), "${{ vars.AWS_DEV_ROLE_ARN }}"),
    ("role_problems", "deploy.yml", ("jobs", "dev", "steps", 4, "with", "role-to-assume"), "${{ vars.AWS_PROD_ROLE_ARN }}"),
    ("role_problems", "deploy.yml", ("jobs", "prod", "environment"), DELETE),
    ("role_problems", "pr-preview.yml", ("jobs", "plan", "permissions", "id-token"), "write"),
    ("role_problems", "pr-preview.yml", ("jobs", "plan", "permissions"), "write-all"),
    ("stack_environment_problems", "deploy.yml", ("jobs", "prod", "environment"), "dev"),
    ("stack_environment_problems", "pr-cleanup.yml", ("jobs", "destroy", "environment"), DELETE),
    ("unguarded_deploys", "deploy.yml", ("jobs", "dev", "if"), DELETE),
    ("unguarded_deploys", "deploy.yml", ("jobs", "prod", "if"), "github.ref != 'refs/heads/main'"),
    ("unguarded_deploys", "deploy.yml", ("jobs", "prod", "if"), "${{ github.ref == 'refs/heads/main' || inputs.force }}"),
    ("privilege_problems", "deploy.yml", ("permissions",), {"contents": "read", "id-token": "write"}),
    ("privilege_problems", "pr-cleanup.yml", ("jobs", "destroy", "permissions"), DELETE),
    ("privilege_problems", "deploy.yml", ("jobs", "dev", "steps", 0, "with"), DELETE),
    ("privilege_problems", "pr-preview.yml", ("jobs", "deploy", "steps", 1, "with", "cache"), "pip"),
]


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
@pytest.mark.parametrize("check", CHECKS)
def test_workflows_have_no_credential_problems(check, name):
    assert CHECKS[check](load(name)) == []


@pytest.mark.parametrize("check, name, path, value", BROKEN,
                         ids=[f"{c}-{n}-{'.'.join(map(str, p))}" for c, n, p, _ in BROKEN])
def test_each_check_finds_its_problem_in_a_broken_copy(check, name, path, value):
    assert CHECKS[check](changed(name, path, value))


def test_the_broken_copies_cover_every_check():
    assert {check for check, *_ in BROKEN} == set(CHECKS)


# --- Pinned actions ----------------------------------------------------------------------------

def unpinned_uses(text: str) -> list[str]:
    """`uses:` lines not pinned to a full commit SHA with its release tag as a comment (`# v4.4.0`):
    a tag or branch can be moved to other code after review; a commit cannot."""
    return [match.group(0).strip() for match in USES_LINE_RE.finditer(text)
            if not PINNED_REF_RE.match(match["ref"]) or not VERSION_COMMENT_RE.match(match["comment"] or "")]


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_action_is_pinned_to_a_commit_with_its_tag(name):
    text = (WORKFLOWS / name).read_text()
    in_yaml = [step["uses"] for _, _, step in steps(load(name)) if "uses" in step]
    assert [match["ref"] for match in USES_LINE_RE.finditer(text)] == in_yaml  # the scan sees every `uses:`
    assert unpinned_uses(text) == []


def test_each_action_has_one_commit_and_tag_across_workflows():
    pins: dict[str, set[tuple[str, str]]] = {}
    for name in WORKFLOW_NAMES:
        for match in USES_LINE_RE.finditer((WORKFLOWS / name).read_text()):
            action, commit = match["ref"].split("@")
            pins.setdefault(action, set()).add((commit, match["comment"]))
    assert {action: len(versions) for action, versions in pins.items()} == dict.fromkeys(pins, 1), pins


@pytest.mark.parametrize("line", [
    "      - uses: actions/checkout@v4",
    "      - uses: actions/checkout@11d5960a326750d5838078e36cf38b85af677262",
    "        uses: actions/checkout@11d5960a326750d5838078e36cf38b85af67726 # v4.4.0",
    "        uses: actions/checkout@main # v4.4.0",
    "        uses: pulumi/actions@8582a9e8cc630786854029b4e09281acd6794b58 # latest",
])
def test_the_pin_check_rejects_tags_branches_short_shas_and_missing_versions(line):
    assert unpinned_uses(f"steps:\n{line}\n") == [line.strip()]


# --- zizmor ------------------------------------------------------------------------------------

def run_zizmor(*targets: Path) -> tuple[list[dict], subprocess.CompletedProcess]:
    """zizmor's findings at its default persona, offline (no GitHub API), honouring only the inline
    `# zizmor: ignore[...]` comments of the workflows themselves (no config file)."""
    if not ZIZMOR.exists():
        pytest.fail(f"zizmor is not installed in this venv ({ZIZMOR} is missing): run the README's setup, "
                    "`python3 -m venv venv && venv/bin/pip install -r requirements-dev.txt`")
    result = subprocess.run([str(ZIZMOR), "--offline", "--no-config", "--no-progress", "--color", "never",
                             "--format", "json", *map(str, targets)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    try:
        return json.loads(result.stdout), result
    except json.JSONDecodeError:
        pytest.fail(f"zizmor failed (exit {result.returncode}): {result.stderr}")


def describe(finding: dict) -> str:
    location = finding["locations"][0]
    path = location["symbolic"]["key"]["Local"]["verbatim_path"]
    line = location["concrete"]["location"]["start_point"]["row"] + 1
    determinations = finding["determinations"]
    return (f"{path}:{line} {finding['ident']} ({determinations['severity']}, confidence {determinations['confidence']}): "
            f"{finding['desc']}: {location['symbolic']['annotation']}")


def test_zizmor_finds_nothing_in_the_workflows():
    findings, result = run_zizmor(WORKFLOWS.relative_to(ROOT))
    assert findings == [], "zizmor findings:\n" + "\n".join(map(describe, findings))
    assert result.returncode == 0, result.stderr
    for name in WORKFLOW_NAMES:  # it audited every workflow, rather than skipping one it could not read
        assert f"completed .github/workflows/{name}" in result.stderr, result.stderr


def test_zizmor_reports_what_it_should_in_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "name: broken\n"
        "on: pull_request\n"
        "jobs:\n"
        "  greet:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    findings, result = run_zizmor(broken)
    assert {"unpinned-uses", "template-injection", "artipacked"} <= {f["ident"] for f in findings}, findings
    assert result.returncode != 0


# --- Triggers, gates and the driver's flags ---------------------------------------------------

def test_workflows_are_valid_yaml_with_triggers_and_jobs():
    paths = sorted(WORKFLOWS.glob("*.yml"))
    assert [p.name for p in paths] == WORKFLOW_NAMES
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
    env = {"STACK": "pr-${{ github.event.number }}"}
    assert deploy_invocations('venv/bin/python automation/deploy.py "$STACK" --offline 2>&1 | tee plan.txt', "7", env) == [
        ["pr-7", "--offline"]]
    assert deploy_invocations("venv/bin/python automation/deploy.py ${STACK} $OTHER", "7", env) == [["pr-7", "$OTHER"]]


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
        workflow = yaml.safe_load(path.read_text())
        for _, job, step in steps(workflow):
            pr_calls += step_invocations(workflow, job, step, pr_number)
    assert len(pr_calls) == 3
    for args in pr_calls:
        assert bool(stacks.PR_STACK_RE.match(args[0])) is accepted, args


def test_pr_preview_plans_offline_then_deploys_its_stack_and_comments():
    workflow = load("pr-preview.yml")
    jobs = workflow["jobs"]
    assert triggers(workflow) == {"pull_request": {"types": ["opened", "synchronize", "reopened"]}}
    assert workflow["concurrency"] == {"group": "stack-pr-${{ github.event.number }}", "cancel-in-progress": False}
    # Everyone, forks included, gets the offline plan from a job with no environment and a read-only token.
    assert job_calls(workflow, "plan") == [["pr-123", "--offline"]]
    assert "environment" not in jobs["plan"] and jobs["plan"]["permissions"] == {"contents": "read"}
    # Same-repository pull requests deploy pr-N, after the plan, where the preview role is configured.
    deploy_job = jobs["deploy"]
    assert (deploy_job["needs"], deploy_job["environment"], deploy_job["if"]) == ("plan", "preview", SAME_REPOSITORY)
    (up,) = job_calls(workflow, "deploy")
    assert deploy.parse_request(up)[1].operation is Operation.UP and "--yes" in up
    assert all(PREVIEW_ROLE_CONFIGURED in step["if"] for step in deploy_job["steps"])
    uses = [step.get("uses", "") for step in deploy_job["steps"]]
    credentials = next(i for i, u in enumerate(uses) if u.startswith("aws-actions/"))
    assert credentials < next(i for i, s in enumerate(deploy_job["steps"]) if step_invocations(workflow, deploy_job, s))
    # The comment job runs no code of the pull request, reads both logs, and comments even after a failure.
    comment = jobs["comment"]
    assert set(comment["needs"]) == {"plan", "deploy"} and strip_expression(comment["if"]) == f"always() && {SAME_REPOSITORY}"
    assert comment["permissions"] == {"pull-requests": "write"}
    assert all("run" not in step and not step["uses"].startswith("actions/checkout@") for step in comment["steps"])
    fetch, post = comment["steps"]
    assert post["uses"].startswith("actions/github-script@")
    script = post["with"]["script"]
    assert "logs/plan.txt" in script and "logs/deploy.txt" in script and "${{" not in script
    # Each log the script reads is one that a job uploads under a name the comment job downloads.
    uploads = {step["with"]["name"]: step["with"]["path"] for _, _, step in steps(workflow)
               if step.get("uses", "").startswith("actions/upload-artifact@")}
    assert sorted(uploads.values()) == ["deploy.txt", "plan.txt"]
    assert all(fnmatch.fnmatch(name, fetch["with"]["pattern"]) for name in uploads) and fetch["with"]["path"] == "logs"
    assert all(step["if"].startswith("always()") for _, _, step in steps(workflow)
               if step.get("uses", "").startswith("actions/upload-artifact@"))


def test_pr_close_destroys_and_removes_the_stack_in_the_same_concurrency_group():
    workflow = load("pr-cleanup.yml")
    assert triggers(workflow) == {"pull_request": {"types": ["closed"]}}
    assert workflow["concurrency"]["group"] == load("pr-preview.yml")["concurrency"]["group"]
    ((_, _, args),) = [(w, j, a) for w, j, a in all_invocations() if w == "pr-cleanup.yml"]
    request = deploy.parse_request(args)[1]
    assert (request.operation, request.remove, request.yes) == (Operation.DESTROY, True, True)
    job = workflow["jobs"]["destroy"]
    assert (job["environment"], job["if"]) == ("preview", SAME_REPOSITORY)
    assert all(PREVIEW_ROLE_CONFIGURED in step["if"] for step in job["steps"])
    checkout = job["steps"][0]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.ref }}"  # the base branch's code, not the PR's


def test_push_to_main_deploys_dev_and_prod_waits_for_the_production_approval():
    workflow = load("deploy.yml")
    assert triggers(workflow)["push"] == {"branches": ["main"]}
    assert "workflow_dispatch" in triggers(workflow)
    dev, prod = workflow["jobs"]["dev"], workflow["jobs"]["prod"]
    assert prod["needs"] == "dev" and (dev["environment"], prod["environment"]) == ("dev", "production")
    assert dev["if"] == prod["if"] == ON_MAIN  # "Run workflow" on another branch deploys nothing
    assert dev["concurrency"]["group"] == "stack-dev" and prod["concurrency"]["group"] == "stack-prod"
    assert not dev["concurrency"]["cancel-in-progress"] and not prod["concurrency"]["cancel-in-progress"]
    deploys = {job: deploy.parse_request(args)[1] for w, job, args in all_invocations()
               if w == "deploy.yml" and "--offline" not in args}
    assert {job: (r.stack.name, r.operation, r.yes) for job, r in deploys.items()} == {
        "dev": ("dev", Operation.UP, True), "prod": ("prod", Operation.UP, True)}
    # prod needs an explicit secrets provider: its deploy step hands one to the driver.
    (prod_deploy,) = [step for step in prod["steps"] if reaches_a_backend(workflow, "prod", step)]
    assert prod_deploy["env"][SECRETS_PROVIDER_ENV] == "${{ vars.PROD_SECRETS_PROVIDER }}"
    assert "PULUMI_CONFIG_PASSPHRASE" not in prod_deploy["env"]  # prod never uses the passphrase provider


def test_jobs_that_deploy_set_up_with_the_readmes_command_and_a_backend():
    readme_setup = re.search(r"^(python3 -m venv venv && venv/bin/pip install -r requirements-dev\.txt)",
                             (ROOT / "README.md").read_text(), re.MULTILINE).group(1)
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job_name, job in workflow["jobs"].items():
            runs = [step.get("run", "") for step in job["steps"]]
            calls = [(step, args) for step in job["steps"] for args in step_invocations(workflow, job, step)]
            if not calls:
                continue
            assert readme_setup in runs, (path.name, job_name)
            assert runs.index(readme_setup) < min(i for i, s in enumerate(job["steps"]) if step_invocations(workflow, job, s))
            for step, args in calls:
                if "--offline" not in args:  # a real deploy: state must outlive the runner
                    env = step_env(workflow, job, step)
                    assert env["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}", (path.name, job_name)
                    assert any(s.get("uses", "").startswith("pulumi/actions@") for s in job["steps"])
