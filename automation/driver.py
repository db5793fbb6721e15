"""The real path of `deploy.py`: one stack, one operation, through Pulumi's Automation API.

It drives the project's own `Pulumi.yaml` from the repository root (a local program, not an inline
one), so `pulumi up --stack dev` and `deploy.py dev` run the very same program and stack files.
Everything outside this module (the Automation API, the environment, the terminal, the clock)
arrives in a `System`, so tests drive the whole flow against a test double of the Automation API.

Every failure a user can act on becomes `DeployError(code, message, details)`: one line saying what
happened and what to do, a distinct exit code, and optional detail lines (failed resources).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from automation import backend as backends
from automation import stacks, teardown
from automation.exit_codes import ExitCode
from automation.stacks import StackRef
from components.environments import is_production

# The project's CrossGuard pack (policy/), relative to the work dir; the Automation API's `up`
# and `preview` take `policy_packs` (pulumi.automation Stack.up/preview), `refresh` and `destroy`
# do not: the CLI runs policy packs only where it plans resources.
DEFAULT_POLICY_PACK = "policy"
POLICY_PACK_STEPS = ("preview", "up")
INSTALL_HINT = "install it with `curl -fsSL https://get.pulumi.com | sh` (or see https://www.pulumi.com/docs/install/)"


class Operation(enum.Enum):
    UP = "up"
    PREVIEW = "preview"
    REFRESH = "refresh"
    DESTROY = "destroy"
    OUTPUTS = "outputs"

    @property
    def runs_program(self) -> bool:
        """Operations that run __main__.py and so need the stack's config file."""
        return self in (Operation.UP, Operation.PREVIEW)

    @property
    def touches_aws(self) -> bool:
        """Operations whose providers call AWS (reading outputs only reads state)."""
        return self is not Operation.OUTPUTS


@dataclass(frozen=True)
class Request:
    """One invocation of the driver, as parsed from the command line."""

    stack: StackRef
    operation: Operation = Operation.UP
    yes: bool = False
    json: bool = False
    remove: bool = False
    confirm: str | None = None
    secrets_provider: str | None = None
    # CrossGuard packs run with `up` and `preview` (the operations the CLI runs packs for). None:
    # the project's own pack, <work dir>/policy, when it is there; () runs none.
    policy_packs: tuple[str, ...] | None = None


@dataclass
class System:
    """Everything the driver uses from outside: the Automation API, environment, terminal, clock.

    `create_or_select_stack` and `select_stack` have the signatures of the functions of that name
    in `pulumi.automation` (stack name, `work_dir=`, `opts=` a LocalWorkspaceOptions).
    `aws_client(service, region)` makes a boto3 client (region None: botocore's own resolution).
    """

    work_dir: Path
    environ: Mapping[str, str]
    home: Path
    which: Callable[[str], str | None]
    has_aws_credentials: Callable[[], bool]
    create_or_select_stack: Callable[..., Any]
    select_stack: Callable[..., Any]
    interactive: bool
    prompt: Callable[[str], str]
    out: TextIO
    err: TextIO
    clock: Callable[[], float]
    today: Callable[[], dt.date]
    aws_client: Callable[[str, str | None], Any]


class DeployError(Exception):
    """An outcome the user can act on: one line, a distinct exit code, optional detail lines."""

    def __init__(self, code: ExitCode, message: str, details: Iterable[str] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = list(details)


def shown(text: str, limit: int = 60) -> str:
    """A string from the user, safe to print on one line: quoted, escaped (repr), cut at `limit`.

    Stack names, --confirm values and typed answers are echoed in messages; a control character
    or an ANSI escape must not reach the terminal raw, and a 100,000-character argument must not
    become a 100,000-character message.
    """
    if len(text) <= limit:
        return repr(text)
    head = repr(text[:limit])
    return f"{head[:-1]}...{head[-1]} ({len(text)} characters)"


# What the engine says, matched in diagnostics and in the CLI's stderr.
PROTECTED_RE = re.compile(r"cannot be deleted because it is protected|refusing to delete protected resource|"
                          r"as it is currently marked for protection", re.IGNORECASE)
CONFIG_PROBLEMS_RE = re.compile(r"Stack '[^']+' has \d+ config problem\(s\)")
CREDENTIALS_RE = re.compile(r"no valid credential sources|NoCredentialProviders|failed to refresh cached credentials|"
                            r"ExpiredToken|InvalidClientTokenId|UnrecognizedClientException", re.IGNORECASE)
BACKEND_RE = re.compile(r"passphrase must be set|incorrect passphrase|PULUMI_ACCESS_TOKEN must be set|"
                        r"getting secrets manager|failed to decrypt", re.IGNORECASE)
URN_RE = re.compile(r"urn:pulumi:[^\s'\"`]+")
# `pulumi stack rm` on a stack whose state still lists resources (pkg/cmd/pulumi/stack/stack_rm.go).
STILL_HAS_RESOURCES_RE = re.compile(r"still has resources; removal rejected", re.IGNORECASE)


def run(request: Request, system: System) -> int:
    """Carry out the request; print progress, a summary and outputs; return the exit code."""
    try:
        return _Driver(request, system).run()
    except DeployError as failure:
        print(f"error: {failure.message}", file=system.err)
        for line in failure.details:
            print(f"  {line}", file=system.err)
        return failure.code
    except KeyboardInterrupt:
        print(f"error: interrupted; if stack '{request.stack.name}' stays locked, see docs/troubleshooting.md "
              f"(exit code {ExitCode.CONCURRENT_UPDATE.value})", file=system.err)
        return ExitCode.INTERRUPTED


class _Driver:
    def __init__(self, request: Request, system: System):
        self.request = request
        self.system = system
        self.stack = request.stack
        self.op = request.operation
        # The stack's name decides, never a key in its file (components/environments.py).
        self.production = is_production(self.stack.name)
        # In --json mode stdout carries the JSON only; everything for humans goes to stderr.
        self.say_to = system.err if request.json else system.out

    def say(self, line: str = "") -> None:
        print(line, file=self.say_to, flush=True)

    def run(self) -> int:
        system, stack, op = self.system, self.stack, self.op
        if not system.which("pulumi"):
            raise DeployError(ExitCode.NO_CLI, f"the Pulumi CLI is not installed (no `pulumi` on PATH): {INSTALL_HINT}; "
                                               f"`deploy.py {stack.name} --offline` plans without it")
        config_path = stack.config_path(system.work_dir)
        if stack.is_pull_request and op.touches_aws:
            # The program (and the CLI, for aws:region) read it; `--destroy --remove` deletes it again.
            if self._file_step(ExitCode.CONFIG, f"writing {config_path.name}",
                               lambda: stacks.ensure_pr_config(stack, system.work_dir, system.today())):
                self.say(f"wrote {config_path.name} from automation/templates/{stacks.TEMPLATE.name} "
                         f"(expires {stacks.expiry(system.today())})")
        elif not stack.is_pull_request and not config_path.exists():
            raise DeployError(ExitCode.CONFIG, f"no stack config {config_path.name} in {system.work_dir}: stacks are "
                                               "dev, prod, pr-<number>, or a name with its own Pulumi.<name>.yaml")
        self._preflight_config(config_path)
        production = self.production

        try:
            backend = backends.resolve_backend(system.environ, system.home, system.work_dir)
            secrets = backends.resolve_secrets(stack.name, production, self.request.secrets_provider,
                                               stacks.recorded_secrets_provider(config_path), backend, system.environ)
        except backends.SetupError as error:
            raise DeployError(ExitCode.BACKEND, str(error)) from None
        self.say(f"{op.value} stack '{stack.name}' · backend {backend.describe()} · secrets {secrets.describe()}")
        if production and backend.is_default_local:
            self.say(f"warning: production state in a local folder ({backend.url}); use a shared backend "
                     "(PULUMI_BACKEND_URL=s3://...) so others and CI see the same state")

        if op.touches_aws and not system.has_aws_credentials():
            raise DeployError(ExitCode.NO_AWS_CREDENTIALS,
                              "no AWS credentials found (environment, ~/.aws profiles, SSO, instance role): run "
                              "`aws configure sso` / `aws sso login`, or export AWS_PROFILE or AWS_ACCESS_KEY_ID")
        if op.runs_program:
            self._warn_about_live_weights()
        if op is Operation.DESTROY:
            self._confirm_destroy(production)
        elif op in (Operation.UP, Operation.REFRESH) and not self.request.yes and not system.interactive:
            raise DeployError(ExitCode.NOT_CONFIRMED, f"pass --yes to {op.value} stack '{stack.name}' without a "
                                                      "terminal to confirm on (`--preview` shows the changes without "
                                                      "making them)")

        from pulumi.automation import LocalWorkspaceOptions

        options = LocalWorkspaceOptions(work_dir=str(system.work_dir), env_vars=dict(backend.env),
                                        secrets_provider=secrets.provider)
        handle = self._open(options, backend)
        if handle is None:
            return ExitCode.OK
        return self._operate(handle)

    # -- preflight -------------------------------------------------------------------------
    def _preflight_config(self, config_path: Path) -> None:
        """Read and validate the stack file as `deploy.py --offline` does, before any backend or CLI.

        Only for operations that run the program: destroy, refresh and outputs of a stack whose
        file is broken must still work. Secure values cannot be decrypted here, so problems with
        a secret key are left to the program, which sees the real value.
        """
        if not self.op.runs_program:
            return
        from automation import offline
        from automation.stackfile import ProjectError
        from components.config import ConfigError, parse_cli_config

        work_dir = self.system.work_dir
        try:
            project = offline.load_project(work_dir)
            values, secret_keys = offline.load_stack_config(self.stack.name, work_dir, project, config_path)
            parse_cli_config(project["name"], self.stack.name, values)
        except ProjectError as error:
            raise DeployError(ExitCode.CONFIG, str(error)) from None
        except ConfigError as error:
            problems = [p for p in error.problems if not p.startswith(tuple(secret_keys))] if secret_keys else error.problems
            if problems:
                raise DeployError(ExitCode.CONFIG, str(ConfigError(self.stack.name, problems)).splitlines()[0],
                                  [f"- {p}" for p in problems]) from None

    def _warn_about_live_weights(self) -> None:
        """A promotion pipeline may have moved an endpoint's live weights away from the stack file
        (automation/live_weights.py): say so before anything is previewed or deployed, and go on."""
        from automation import live_weights  # reads the stack's config, like _preflight_config

        for line in live_weights.warnings(self.stack.name, self.system.work_dir, self.system.aws_client):
            self.say(line)

    # -- confirmation ----------------------------------------------------------------------
    def _confirm_destroy(self, production: bool) -> None:
        name, request = self.stack.name, self.request
        if production:
            if not request.yes:
                raise DeployError(ExitCode.NOT_CONFIRMED, f"refusing to destroy production stack '{name}' without "
                                                          f"--yes and the stack name (typed at the prompt, or "
                                                          f"--confirm {name})")
            typed = request.confirm
            if typed is None:
                if not self.system.interactive:
                    raise DeployError(ExitCode.NOT_CONFIRMED, f"destroying production stack '{name}' needs its name "
                                                              f"and there is no terminal to type it: pass --confirm {name}")
                typed = self.system.prompt(f"Type the stack name ({name}) to destroy every resource in it: ").strip()
            if typed != name:
                raise DeployError(ExitCode.NOT_CONFIRMED, f"{shown(typed)} is not '{name}': nothing was destroyed")
            return
        if request.confirm is not None:
            if request.confirm != name:
                raise DeployError(ExitCode.NOT_CONFIRMED,
                                  f"--confirm {shown(request.confirm)} is not '{name}': nothing was destroyed")
            return
        if request.yes:
            return
        if not self.system.interactive:
            raise DeployError(ExitCode.NOT_CONFIRMED,
                              f"pass --yes to destroy stack '{name}' (no terminal to confirm on)")
        self._ask(f"Destroy every resource of stack '{name}'? [y/N] ", "nothing was destroyed")

    def _ask(self, question: str, declined: str) -> None:
        answer = self.system.prompt(question).strip().lower()
        if answer not in ("y", "yes"):
            raise DeployError(ExitCode.NOT_CONFIRMED, f"not confirmed: {declined}")

    # -- the stack -------------------------------------------------------------------------
    def _open(self, options: Any, backend: backends.Backend) -> Any | None:
        """Select (or, to deploy or preview, create) the stack; None when a PR stack is already gone."""
        from pulumi.automation import CommandError, StackNotFoundError

        create = self.op.runs_program
        opener = self.system.create_or_select_stack if create else self.system.select_stack
        try:
            return opener(self.stack.name, work_dir=str(self.system.work_dir), opts=options)
        except StackNotFoundError:
            if self.op is Operation.DESTROY and self.request.remove and self.stack.is_pull_request:
                config_name = self.stack.config_path(self.system.work_dir).name
                removed = self._file_step(ExitCode.FAILED, f"deleting {config_name}",
                                          lambda: stacks.remove_pr_config(self.stack, self.system.work_dir))
                self.say(f"stack '{self.stack.name}' does not exist in {backend.describe()}: nothing to destroy"
                         + (f"; removed {config_name}" if removed else ""))
                if self.request.json:
                    print("{}", file=self.system.out)
                return None
            raise DeployError(ExitCode.STACK_NOT_FOUND,
                              f"stack '{self.stack.name}' does not exist in {backend.describe()}: deploy it first "
                              f"(`deploy.py {self.stack.name}`), or point PULUMI_BACKEND_URL at the backend that "
                              "holds it") from None
        except CommandError as error:
            raise self._classify(error, _Progress(self.say_to, self.system.clock, planning=True)) from None
        except _cli_start_failures() as error:
            raise _cli_unusable(error) from None

    def _operate(self, handle: Any) -> int:
        op, name = self.op, self.stack.name
        if op is Operation.OUTPUTS:
            self._print_outputs(self._call(handle.outputs, None))
            return ExitCode.OK
        if op is Operation.UP and not self.request.yes:
            changes = self._run_step("preview", handle.preview, planning=True).change_summary
            if not _has_changes(changes):
                self.say("No changes to make.")
                self._print_outputs(self._call(handle.outputs, None))
                return ExitCode.OK
            self._ask(f"Deploy these changes to stack '{name}'? [y/N] ", "nothing was deployed")
        elif op is Operation.REFRESH and not self.request.yes:
            self._ask(f"Refresh stack '{name}' state from AWS? [y/N] ", "nothing was refreshed")

        if op is Operation.PREVIEW:
            result = self._run_step("preview", handle.preview, planning=True)
            self.say(f"Preview: {_describe_changes(result.change_summary, planning=True)}; nothing was changed.")
            outputs = self._call(handle.outputs, None)
        elif op is Operation.UP:
            result = self._run_step("up", handle.up, planning=False)
            outputs = result.outputs
        elif op is Operation.REFRESH:
            result = self._run_step("refresh", handle.refresh, planning=False)
            outputs = self._call(handle.outputs, None)
        else:
            return self._destroy(handle)
        self._print_outputs(outputs)
        return ExitCode.OK

    def _destroy(self, handle: Any) -> int:
        """Empty what SageMaker would not let Pulumi delete (never in prod), destroy, then maybe remove."""
        if not self.production:
            self._empty_model_package_groups(handle)
        self._run_step("destroy", handle.destroy, planning=False)
        if self.request.remove:
            self._remove(handle)
        if self.request.json:
            self._print_outputs({})  # scripts always get a JSON document
        return ExitCode.OK

    def _empty_model_package_groups(self, handle: Any) -> None:
        """Delete the model versions in the groups this stack exported, so its destroy can delete the groups.

        Reads the groups from the stack's own outputs (teardown.owned_groups keeps only names with
        the stack's prefix) and the region from its `aws:region` config; nothing is called in AWS
        when the stack exported no group (never deployed, or deployed before the registry existed).
        """
        name = self.stack.name
        outputs = self._call(handle.outputs, None) or {}
        groups = teardown.owned_groups(name, {key: _plain(value) for key, value in outputs.items()})
        if not groups:
            return
        region = self._call(handle.get_config, None, f"reading aws:region of stack '{name}'", key="aws:region").value
        self.say(f"Emptying {len(groups)} model package group(s) of stack '{name}' in {region} before destroy...")
        try:
            sagemaker = teardown.connect(self.system.aws_client, region)
            for emptied in teardown.empty_model_package_groups(name, groups, sagemaker):
                self.say(f"  {emptied.describe()}")
        except teardown.TeardownError as error:
            raise DeployError(ExitCode.TEARDOWN, f"{error}; nothing was destroyed. The deploying identity needs "
                                                 "sagemaker:DescribeModelPackageGroup, sagemaker:ListModelPackages and "
                                                 "sagemaker:DeleteModelPackage on this stack's groups (docs/runbook.md, "
                                                 "Teardown); run the same command again once it has them") from None

    STEP_LABELS = {"preview": "Previewing", "up": "Updating", "refresh": "Refreshing", "destroy": "Destroying"}

    def _policy_packs(self) -> list[str]:
        """The packs for `up` and `preview`: the request's, else the project's own when present."""
        if self.request.policy_packs is not None:
            return list(self.request.policy_packs)
        own = self.system.work_dir / DEFAULT_POLICY_PACK
        return [str(own)] if (own / "PulumiPolicy.yaml").is_file() else []

    def _run_step(self, verb: str, method: Callable[..., Any], planning: bool) -> Any:
        progress = _Progress(self.say_to, self.system.clock, planning=planning)
        self.say(f"{self.STEP_LABELS[verb]} stack '{self.stack.name}'...")
        packs = self._policy_packs() if verb in POLICY_PACK_STEPS else []
        result = self._call(method, progress, on_event=progress.on_event, color="never",
                            message=f"automation/deploy.py {self.op.value}", **({"policy_packs": packs} if packs else {}))
        if not planning:
            changes = result.summary.resource_changes if result.summary else {}
            self.say(f"Done in {_clock(progress.elapsed())}: {_describe_changes(changes or {}, planning=False)}.")
            if progress.retained:
                self.say(f"{len(progress.retained)} resource(s) were retained in AWS (retain_on_delete), "
                         "removed from state only; delete them by hand if you mean to (docs/runbook.md, Teardown):")
                for urn in progress.retained:
                    self.say(f"  {urn}")
        return result

    def _call(self, method: Callable[..., Any], progress: _Progress | None, action: str | None = None,
              **kwargs: Any) -> Any:
        """Run one Automation API call; its failures become DeployErrors (`action` names it in them)."""
        from pulumi.automation import CommandError

        try:
            return method(**kwargs)
        except CommandError as error:  # ConcurrentUpdateError and the rest: see _classify
            raise self._classify(error, progress or _Progress(self.say_to, self.system.clock, True), action) from None
        except _cli_start_failures() as error:  # the CLI binary vanished or broke since the stack was opened
            raise _cli_unusable(error) from None

    def _file_step(self, code: ExitCode, action: str, step: Callable[[], Any]) -> Any:
        """Write or delete a generated stack file; an OS refusal or a malformed file (the PR template,
        an existing Pulumi.pr-N.yaml) is one line, never a traceback."""
        from automation.stackfile import ProjectError

        try:
            return step()
        except ProjectError as error:
            raise DeployError(ExitCode.CONFIG, f"{action} failed: {error}") from None
        except OSError as error:
            raise DeployError(code, f"{action} in {self.system.work_dir} failed: {_one_line(error)}; fix the "
                                    "file's permissions (or delete it by hand) and run the same command again") from None

    def _remove(self, handle: Any) -> None:
        """Remove the destroyed stack from the backend; a pr-N stack's generated config goes too."""
        name, config_name = self.stack.name, self.stack.config_path(self.system.work_dir).name
        action = f"removing stack '{name}' from the backend (its resources are destroyed)"
        if self.stack.is_pull_request:
            self._call(handle.workspace.remove_stack, None, action, stack_name=name)
            self._file_step(ExitCode.FAILED, f"deleting {config_name}",
                            lambda: stacks.remove_pr_config(self.stack, self.system.work_dir))
            self.say(f"Removed stack '{name}' and {config_name}.")
        else:
            # Committed stack files are source: keep them, so the stack can be deployed again.
            self._call(handle.workspace.remove_stack, None, action, stack_name=name, preserve_config=True)
            self.say(f"Removed stack '{name}' from the backend; {config_name} stays.")

    # -- errors ----------------------------------------------------------------------------
    def _concurrent_message(self) -> str:
        name = self.stack.name
        return (f"another update of stack '{name}' is in progress: wait for it to finish; if none is running, an "
                f"interrupted one left its lock: `pulumi cancel --stack {name}` releases it (docs/troubleshooting.md)")

    def _classify(self, error: Exception, progress: _Progress, action: str | None = None) -> DeployError:
        """Map a CommandError (and the engine events seen before it) to what the user must do.

        `action` names what failed ("removing stack 'x' ..."); by default the operation itself.
        """
        from pulumi.automation import ConcurrentUpdateError, StackNotFoundError

        name = self.stack.name
        action = action or f"{self.op.value} of stack '{name}'"
        if isinstance(error, ConcurrentUpdateError):
            return DeployError(ExitCode.CONCURRENT_UPDATE, self._concurrent_message())
        if isinstance(error, StackNotFoundError):
            return DeployError(ExitCode.STACK_NOT_FOUND, f"stack '{name}' does not exist in the backend: deploy it first")
        stderr = _stderr_of(error)
        messages = [message for _, message in progress.errors]
        text = "\n".join([*messages, stderr])

        if PROTECTED_RE.search(text):
            urns = [urn for urn, message in progress.errors if urn and PROTECTED_RE.search(message)]
            urns = urns or sorted(set(URN_RE.findall("\n".join(m for m in [*messages, stderr] if PROTECTED_RE.search(m)))))
            return DeployError(ExitCode.PROTECTED,
                               f"{action} stopped: {len(urns) or 'some'} protected "
                               "resource(s) cannot be deleted, and this driver never forces it",
                               [*urns, *_unprotect_hint(name)])
        config_problem = next((m for m in [*messages, stderr] if CONFIG_PROBLEMS_RE.search(m)), None)
        if config_problem:
            lines = config_problem[CONFIG_PROBLEMS_RE.search(config_problem).start():].splitlines()
            return DeployError(ExitCode.CONFIG, lines[0], [line.strip() for line in lines[1:] if line.strip()])
        if CREDENTIALS_RE.search(text):
            return DeployError(ExitCode.NO_AWS_CREDENTIALS,
                               f"AWS rejected the credentials for stack '{name}': {_first_line(CREDENTIALS_RE, text)}; "
                               "refresh them (`aws sso login`) or check AWS_PROFILE")
        if BACKEND_RE.search(text):
            return DeployError(ExitCode.BACKEND,
                               f"the backend or secrets provider refused stack '{name}': {_first_line(BACKEND_RE, text)}")
        if STILL_HAS_RESOURCES_RE.search(text):
            return DeployError(ExitCode.FAILED, f"{action} failed: the backend still records resources in it, so it "
                                                f"refused; run `deploy.py {name} --destroy --remove` again (never "
                                                "`pulumi stack rm --force`: whatever still exists in AWS would be "
                                                "tracked by nothing)")
        if progress.failed:
            details = []
            for urn, reasons in progress.failed.items():
                reason = next((r for r in reasons if r), "failed")
                details.append(f"{_urn_type(urn)} {_urn_name(urn)}: {reason.splitlines()[0]}")
            return DeployError(ExitCode.FAILED, f"{action} failed: {len(progress.failed)} resource(s) failed", details)
        reason = messages[0].splitlines()[0] if messages else _last_line(stderr) or "see the output above"
        return DeployError(ExitCode.FAILED, f"{action} failed: {reason}")

    # -- output ----------------------------------------------------------------------------
    def _print_outputs(self, outputs: Mapping[str, Any] | None) -> None:
        plain = {key: _plain(value) for key, value in sorted((outputs or {}).items())}
        if self.request.json:
            print(json.dumps(plain, indent=2, sort_keys=True, default=str), file=self.system.out, flush=True)
            return
        if not plain:
            self.say(f"Stack '{self.stack.name}' has no outputs.")
            return
        self.say(f"Outputs of stack '{self.stack.name}':")
        width = max(len(key) for key in plain)
        for key, value in plain.items():
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            self.say(f"  {key:<{width}}  {shown}")


class _Progress:
    """Turns engine events into one line per resource operation: elapsed time, running count, op."""

    SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "+-", "create-replacement": "++",
               "delete-replaced": "--", "read": ">", "refresh": "~", "import": "=", "discard": "-"}
    PAST = {"create": "created", "update": "updated", "delete": "deleted", "replace": "replaced",
            "create-replacement": "created replacement", "delete-replaced": "deleted replaced", "read": "read",
            "refresh": "refreshed", "import": "imported", "discard": "discarded"}

    def __init__(self, stream: TextIO, clock: Callable[[], float], planning: bool):
        self.stream = stream
        self.clock = clock
        self.planning = planning
        self.started = clock()
        self.count = 0
        self.errors: list[tuple[str | None, str]] = []  # (urn or None, message) of error diagnostics
        self.failed: dict[str, list[str]] = {}  # urn -> reasons, for resources whose operation failed
        self.retained: list[str] = []
        self._lock = threading.Lock()  # events arrive on the Automation API's watcher thread

    def elapsed(self) -> float:
        return self.clock() - self.started

    def on_event(self, event: Any) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: Any) -> None:
        # A preview reports each step before it would happen; a real run when it has happened.
        step = event.resource_pre_event if self.planning else event.res_outputs_event
        if step is not None:
            self._step(step.metadata)
        if event.res_op_failed_event is not None:
            urn = event.res_op_failed_event.metadata.urn
            self.failed.setdefault(urn, [])
            self.count += 1
            self._line("!!", "failed", event.res_op_failed_event.metadata.type, urn)
        diagnostic = event.diagnostic_event
        if diagnostic is not None:
            message = diagnostic.message.strip()
            if diagnostic.severity == "error":
                self.errors.append((diagnostic.urn or None, message))
                if diagnostic.urn:
                    self.failed.setdefault(diagnostic.urn, []).append(message)
            elif diagnostic.severity == "warning" and message:
                print(f"{_clock(self.elapsed()):>7}  warning: {message.splitlines()[0]}", file=self.stream, flush=True)

    def _step(self, metadata: Any) -> None:
        op = metadata.op.value if hasattr(metadata.op, "value") else str(metadata.op)
        if op == "same":
            return
        self.count += 1
        verb = op if self.planning else self.PAST.get(op, op)
        retained = (not self.planning and op in ("delete", "delete-replaced") and metadata.old is not None
                    and bool(metadata.old.retain_on_delete))
        if retained:
            self.retained.append(metadata.urn)
        self._line(self.SYMBOLS.get(op, "*"), verb, metadata.type, metadata.urn,
                   "  (retained in AWS)" if retained else "")

    def _line(self, symbol: str, verb: str, type_: str, urn: str, note: str = "") -> None:
        print(f"{_clock(self.elapsed()):>7}  [{self.count:>3}] {symbol:<2} {verb:<20} {type_}  {_urn_name(urn)}{note}",
              file=self.stream, flush=True)


def _unprotect_hint(stack: str) -> list[str]:
    return [
        f"to delete a protected resource deliberately: `pulumi state unprotect --stack {stack} '<urn>'` "
        f"(or `--all`), then run this destroy again",
        "protect is on because the stack's config says so (prod must keep `protect: true`, and its keys and "
        "buckets are also retained in AWS after destroy); see docs/runbook.md, Teardown",
    ]


def _has_changes(changes: Mapping[Any, int] | None) -> bool:
    return any(count for op, count in (changes or {}).items() if _op_name(op) != "same")


def _describe_changes(changes: Mapping[Any, int], planning: bool) -> str:
    order = ["create", "update", "replace", "delete", "read", "refresh", "import"]
    counts = {_op_name(op): count for op, count in changes.items() if count}
    parts = []
    for op in sorted(counts, key=lambda o: order.index(o) if o in order else len(order)):
        if op == "same":
            continue
        parts.append(f"{counts[op]} to {op}" if planning else f"{counts[op]} {_Progress.PAST.get(op, op)}")
    if counts.get("same"):
        parts.append(f"{counts['same']} unchanged")
    return ", ".join(parts) or "no changes"


def _op_name(op: Any) -> str:
    return op.value if hasattr(op, "value") else str(op)


def _plain(value: Any) -> Any:
    """An Automation API OutputValue (or plain value) as JSON-able data; secrets stay masked."""
    if hasattr(value, "secret") and hasattr(value, "value"):
        return "[secret]" if value.secret else value.value
    return value


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if "::" in urn else urn


def _urn_type(urn: str) -> str:
    """`urn:pulumi:dev::proj::parent$aws:s3/bucket:Bucket::name` -> `aws:s3/bucket:Bucket`."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else "resource"


# How LocalWorkspace's CLI check fails. Creating a workspace runs `pulumi version` through
# subprocess.check_output, decodes it as UTF-8 and checks it with semver against the SDK's minimum
# (pulumi/automation/_cmd.py, PulumiCommand.__init__ and _parse_and_validate_pulumi_version;
# unparseable versions become InvalidVersionError there). The SDK sets no timeout on that call.
# The first matching row wins, so subclasses come before their bases.
CLI_START_FAILURES: tuple[tuple[str, str], ...] = (
    ("InvalidVersionError", "the Pulumi CLI fails the Automation API's version check: {error}"),
    ("CalledProcessError", "`pulumi version` failed with exit code {error.returncode}: the installed CLI is broken"),
    ("TimeoutExpired", "`pulumi version` did not answer within {error.timeout} s"),
    ("SubprocessError", "`pulumi version` could not be run: {error}"),
    ("UnicodeDecodeError", "`pulumi version` printed something that is not a version (not UTF-8 text)"),
    ("OSError", "the Pulumi CLI could not be started ({error})"),
)


def _cli_start_failures() -> tuple[type[BaseException], ...]:
    """The exception types of CLI_START_FAILURES (the SDK is imported only when the CLI is about to run)."""
    from pulumi.automation import InvalidVersionError

    return (InvalidVersionError, subprocess.SubprocessError, UnicodeDecodeError, OSError)


def _cli_unusable(error: BaseException) -> DeployError:
    """One line (exit code NO_CLI) for a CLI that cannot be started or fails its version check."""
    kinds = {cls.__name__ for cls in type(error).__mro__}
    template = next(template for kind, template in CLI_START_FAILURES if kind in kinds)
    return DeployError(ExitCode.NO_CLI, f"{_one_line(template.format(error=error))}: {INSTALL_HINT}")


def _one_line(text: object) -> str:
    """Whatever an exception says, on one line (its own newlines and runs of spaces collapsed)."""
    return " ".join(str(text).split())


def _stderr_of(error: Exception) -> str:
    """CommandError keeps only str(CommandResult): "\\n code: N\\n stdout: ...\\n stderr: ..."."""
    text = str(error)
    marker = "\n stderr: "
    return text[text.index(marker) + len(marker):] if marker in text else text


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _first_line(pattern: re.Pattern[str], text: str) -> str:
    for line in text.splitlines():
        if pattern.search(line):
            return line.strip().removeprefix("error: ")
    return ""


def real_system(work_dir: Path) -> System:
    """The System of a real run: Pulumi's Automation API, this process's environment and terminal."""
    import os
    import shutil
    import sys
    import time

    from pulumi import automation as auto

    return System(
        work_dir=work_dir,
        environ=os.environ,
        home=Path.home(),
        which=shutil.which,
        has_aws_credentials=has_aws_credentials,
        create_or_select_stack=auto.create_or_select_stack,
        select_stack=auto.select_stack,
        interactive=sys.stdin.isatty(),
        prompt=_prompt_on_stderr,
        out=sys.stdout,
        err=sys.stderr,
        clock=time.monotonic,
        today=stacks.today_utc,
        aws_client=aws_client,
    )


def _prompt_on_stderr(question: str) -> str:
    """input() writes its question to stdout, which --json keeps for the JSON document alone."""
    import sys

    print(question, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline()


def aws_client(service: str, region: str | None) -> Any:
    """A boto3 client from the default credential chain, retrying throttling with backoff.

    botocore's "standard" retry mode retries throttling and transient errors with exponential
    backoff (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html); a
    teardown that still fails after that stops before anything is destroyed.
    """
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region, config=Config(retries={"mode": "standard", "total_max_attempts": 8}))


def has_aws_credentials() -> bool:
    """Whether botocore's credential chain finds anything (env, profiles, SSO, container/instance role).

    Checked before the CLI starts, because the AWS provider otherwise fails minutes into an
    update with a long, generic error. Validity (expired SSO tokens) is left to the provider.
    """
    import botocore.session

    return botocore.session.Session().get_credentials() is not None

