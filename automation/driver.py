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
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from automation import backend as backends
from automation import stacks
from automation.stacks import StackRef

INSTALL_HINT = "install it with `curl -fsSL https://get.pulumi.com | sh` (or see https://www.pulumi.com/docs/install/)"


class ExitCode(enum.IntEnum):
    """What `deploy.py` exits with. The descriptions are the `--help` epilog."""

    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIG = 3
    NO_CLI = 4
    NO_AWS_CREDENTIALS = 5
    STACK_NOT_FOUND = 6
    CONCURRENT_UPDATE = 7
    PROTECTED = 8
    BACKEND = 9
    NOT_CONFIRMED = 10
    INTERRUPTED = 130


EXIT_CODE_HELP: Mapping[ExitCode, str] = {
    ExitCode.OK: "done",
    ExitCode.FAILED: "the update ran and failed; the resources that failed are listed",
    ExitCode.USAGE: "bad arguments or stack name",
    ExitCode.CONFIG: "Pulumi.<ENV>.yaml missing or invalid (every problem is listed)",
    ExitCode.NO_CLI: "the Pulumi CLI is not installed, or too old",
    ExitCode.NO_AWS_CREDENTIALS: "no AWS credentials (or the provider rejected them)",
    ExitCode.STACK_NOT_FOUND: "the stack does not exist in the backend yet (deploy it first)",
    ExitCode.CONCURRENT_UPDATE: "another update of the stack is in progress (or left a lock)",
    ExitCode.PROTECTED: "protected resources stopped a destroy or replace; nothing was forced",
    ExitCode.BACKEND: "backend or secrets provider unusable (passphrase unset, prod without a secrets provider, no login)",
    ExitCode.NOT_CONFIRMED: "a confirmation was refused or could not be asked (pass --yes / --confirm)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


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


@dataclass
class System:
    """Everything the driver uses from outside: the Automation API, environment, terminal, clock.

    `create_or_select_stack` and `select_stack` have the signatures of the functions of that name
    in `pulumi.automation` (stack name, `work_dir=`, `opts=` a LocalWorkspaceOptions).
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


class DeployError(Exception):
    """An outcome the user can act on: one line, a distinct exit code, optional detail lines."""

    def __init__(self, code: ExitCode, message: str, details: Iterable[str] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = list(details)


# What the engine says, matched in diagnostics and in the CLI's stderr.
PROTECTED_RE = re.compile(r"cannot be deleted because it is protected|refusing to delete protected resource|"
                          r"as it is currently marked for protection", re.IGNORECASE)
CONFIG_PROBLEMS_RE = re.compile(r"Stack '[^']+' has \d+ config problem\(s\)")
CREDENTIALS_RE = re.compile(r"no valid credential sources|NoCredentialProviders|failed to refresh cached credentials|"
                            r"ExpiredToken|InvalidClientTokenId|UnrecognizedClientException", re.IGNORECASE)
BACKEND_RE = re.compile(r"passphrase must be set|incorrect passphrase|PULUMI_ACCESS_TOKEN must be set|"
                        r"getting secrets manager|failed to decrypt", re.IGNORECASE)
URN_RE = re.compile(r"urn:pulumi:[^\s'\"`]+")


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
            if stacks.ensure_pr_config(stack, system.work_dir, system.today()):
                self.say(f"wrote {config_path.name} from automation/templates/{stacks.TEMPLATE.name} "
                         f"(expires {stacks.expiry(system.today())})")
        elif not stack.is_pull_request and not config_path.exists():
            raise DeployError(ExitCode.CONFIG, f"no stack config {config_path.name} in {system.work_dir}: stacks are "
                                               "dev, prod, pr-<number>, or a name with its own Pulumi.<name>.yaml")
        production = stack.name == "prod" or stacks.stack_environment(config_path) == "prod"

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
                raise DeployError(ExitCode.NOT_CONFIRMED, f"'{typed}' is not '{name}': nothing was destroyed")
            return
        if request.confirm is not None:
            if request.confirm != name:
                raise DeployError(ExitCode.NOT_CONFIRMED,
                                  f"--confirm '{request.confirm}' is not '{name}': nothing was destroyed")
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
        from pulumi.automation import CommandError, InvalidVersionError, StackNotFoundError

        create = self.op.runs_program
        opener = self.system.create_or_select_stack if create else self.system.select_stack
        try:
            return opener(self.stack.name, work_dir=str(self.system.work_dir), opts=options)
        except StackNotFoundError:
            if self.op is Operation.DESTROY and self.request.remove and self.stack.is_pull_request:
                removed = stacks.remove_pr_config(self.stack, self.system.work_dir)
                self.say(f"stack '{self.stack.name}' does not exist in {backend.describe()}: nothing to destroy"
                         + (f"; removed {self.stack.config_path(self.system.work_dir).name}" if removed else ""))
                if self.request.json:
                    print("{}", file=self.system.out)
                return None
            raise DeployError(ExitCode.STACK_NOT_FOUND,
                              f"stack '{self.stack.name}' does not exist in {backend.describe()}: deploy it first "
                              f"(`deploy.py {self.stack.name}`), or point PULUMI_BACKEND_URL at the backend that "
                              "holds it") from None
        except FileNotFoundError:
            raise DeployError(ExitCode.NO_CLI, f"the Pulumi CLI could not be started: {INSTALL_HINT}") from None
        except InvalidVersionError as error:
            raise DeployError(ExitCode.NO_CLI,
                              f"the Pulumi CLI is too old for this SDK ({error}): {INSTALL_HINT}") from None
        except CommandError as error:
            raise self._classify(error, _Progress(self.say_to, self.system.clock, planning=True)) from None

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
            self._run_step("destroy", handle.destroy, planning=False)
            if self.request.remove:
                self._remove(handle)
            if self.request.json:
                self._print_outputs({})  # scripts always get a JSON document
            return ExitCode.OK
        self._print_outputs(outputs)
        return ExitCode.OK

    STEP_LABELS = {"preview": "Previewing", "up": "Updating", "refresh": "Refreshing", "destroy": "Destroying"}

    def _run_step(self, verb: str, method: Callable[..., Any], planning: bool) -> Any:
        progress = _Progress(self.say_to, self.system.clock, planning=planning)
        self.say(f"{self.STEP_LABELS[verb]} stack '{self.stack.name}'...")
        result = self._call(method, progress, on_event=progress.on_event, color="never",
                            message=f"automation/deploy.py {self.op.value}")
        if not planning:
            changes = result.summary.resource_changes if result.summary else {}
            self.say(f"Done in {_clock(progress.elapsed())}: {_describe_changes(changes or {}, planning=False)}.")
            if progress.retained:
                self.say(f"{len(progress.retained)} resource(s) were retained in AWS (retain_on_delete), "
                         "removed from state only; delete them by hand if you mean to (docs/runbook.md, Teardown):")
                for urn in progress.retained:
                    self.say(f"  {urn}")
        return result

    def _call(self, method: Callable[..., Any], progress: _Progress | None, **kwargs: Any) -> Any:
        from pulumi.automation import CommandError

        try:
            return method(**kwargs)
        except CommandError as error:  # ConcurrentUpdateError and the rest: see _classify
            raise self._classify(error, progress or _Progress(self.say_to, self.system.clock, True)) from None

    def _remove(self, handle: Any) -> None:
        """Remove the destroyed stack from the backend; a pr-N stack's generated config goes too."""
        name = self.stack.name
        if self.stack.is_pull_request:
            handle.workspace.remove_stack(name)
            stacks.remove_pr_config(self.stack, self.system.work_dir)
            self.say(f"Removed stack '{name}' and {self.stack.config_path(self.system.work_dir).name}.")
        else:
            # Committed stack files are source: keep them, so the stack can be deployed again.
            handle.workspace.remove_stack(name, preserve_config=True)
            self.say(f"Removed stack '{name}' from the backend; {self.stack.config_path(self.system.work_dir).name} stays.")

    # -- errors ----------------------------------------------------------------------------
    def _concurrent_message(self) -> str:
        name = self.stack.name
        return (f"another update of stack '{name}' is in progress: wait for it to finish; if none is running, an "
                f"interrupted one left its lock: `pulumi cancel --stack {name}` releases it (docs/troubleshooting.md)")

    def _classify(self, error: Exception, progress: _Progress) -> DeployError:
        """Map a CommandError (and the engine events seen before it) to what the user must do."""
        from pulumi.automation import ConcurrentUpdateError, StackNotFoundError

        name = self.stack.name
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
                               f"{self.op.value} of stack '{name}' stopped: {len(urns) or 'some'} protected "
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
        if progress.failed:
            details = []
            for urn, reasons in progress.failed.items():
                reason = next((r for r in reasons if r), "failed")
                details.append(f"{_urn_type(urn)} {_urn_name(urn)}: {reason.splitlines()[0]}")
            return DeployError(ExitCode.FAILED,
                               f"{self.op.value} of stack '{name}' failed: {len(progress.failed)} resource(s) failed",
                               details)
        reason = messages[0].splitlines()[0] if messages else _last_line(stderr) or "see the output above"
        return DeployError(ExitCode.FAILED, f"{self.op.value} of stack '{name}' failed: {reason}")

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
    )


def _prompt_on_stderr(question: str) -> str:
    """input() writes its question to stdout, which --json keeps for the JSON document alone."""
    import sys

    print(question, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline()


def has_aws_credentials() -> bool:
    """Whether botocore's credential chain finds anything (env, profiles, SSO, container/instance role).

    Checked before the CLI starts, because the AWS provider otherwise fails minutes into an
    update with a long, generic error. Validity (expired SSO tokens) is left to the provider.
    """
    import botocore.session

    return botocore.session.Session().get_credentials() is not None

