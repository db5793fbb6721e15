"""List, approve, reject, roll out and roll back the model versions of one environment.

The registry (a SageMaker model package group per model) says which versions exist and which may
serve; the stack file (`Pulumi.<ENV>.yaml`, `endpoint.variants[].modelVersion`) says which version
each endpoint variant serves. A rollout writes the stack file and deploys it through the same
driver as deploy.py, so what serves is always what the file says and `pulumi up` never undoes it.

Rollback: a rollout records the version it replaced as the variant's `previousModelVersion`, in
the same file, and `rollback` returns the variant to it (and clears it: one step back, no further).
The stack file is the history, so commit it after every rollout and rollback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `automation` and `components` importable
    sys.path.insert(0, str(ROOT))

from automation.bootstrap import ensure_dependencies  # noqa: E402  (standard library only)
from automation.exit_codes import EXIT_CODE_HELP, ExitCode  # noqa: E402  (standard library only)

if __name__ == "__main__":
    ensure_dependencies(Path(__file__))

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError  # noqa: E402

from automation import offline, stackfile  # noqa: E402
from automation.deploy import _Parser, _stack  # noqa: E402  (the same refusals as deploy.py)
from automation.driver import DeployError, Operation, Request, System, real_system, run, shown  # noqa: E402
from automation.report import render_plan  # noqa: E402
from automation.stackfile import ItemWith, ProjectError  # noqa: E402
from automation.stacks import StackRef  # noqa: E402
from components.config import ConfigError, ModelConfig, PlatformConfig, VariantConfig, parse_cli_config  # noqa: E402
from components.environments import is_production  # noqa: E402
from components.registry import package_group_name  # noqa: E402

__all__ = ["ExitCode", "build_parser", "main"]

EXAMPLES = """\
examples:
  models.py prod list churn
  models.py prod approve churn 7 --reason "validation:auc 0.91 on the March data, reviewed with the risk team"
  models.py prod reject churn 6 --reason "worse than version 5 on the holdout segment"
  models.py prod rollout churn 7                     deploy version 7 to the endpoint's only variant
  models.py prod rollout churn 7 --variant challenger --weights champion=0.9,challenger=0.1
  models.py dev rollout churn 3 --offline            plan it under Pulumi's mocks; nothing written or deployed
  models.py prod rollback churn                      back to the version the last rollout replaced

A rollout writes Pulumi.<ENV>.yaml, then deploys like `deploy.py ENV` (the same backend, secrets
and confirmation; --yes skips it). Commit the stack file afterwards: it is what serves.
See docs/runbook.md (3. Model deployment) and docs/troubleshooting.md.
"""

# ApprovalDescription holds 1024 characters; the reason leaves room for who gave it.
MAX_REASON = 500
MAX_VERSION = 10**6  # config.py's bound on modelVersion
# config.py's tolerance for variant weights summing to 1.
WEIGHT_TOLERANCE = 1e-6
# AWS errors that mean the credentials, not the request, are the problem.
CREDENTIAL_ERRORS = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                               "UnrecognizedClientException"})
# Exit codes of the driver that guarantee nothing was deployed: a rollout then puts the stack file back.
# Not NO_AWS_CREDENTIALS: besides "none found" before anything runs, it is also the provider
# rejecting credentials that expired in the middle of an update.
NOTHING_DEPLOYED = frozenset({ExitCode.USAGE, ExitCode.CONFIG, ExitCode.NO_CLI, ExitCode.STACK_NOT_FOUND,
                              ExitCode.CONCURRENT_UPDATE, ExitCode.BACKEND, ExitCode.NOT_CONFIRMED, ExitCode.SETUP})

Deploy = Callable[[Request, System], int]


# -- the command line ---------------------------------------------------------------------------
def version_number(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_VERSION))) or not 1 <= int(text) <= MAX_VERSION:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a version number (1, 2, 3, ...)")
    return int(text)


def reason_text(text: str) -> str:
    """A reason SageMaker stores and the approval alert carries verbatim (EventBridge does not
    escape what it inserts into the alert's JSON: components/registry_events.py)."""
    reason = text.strip()
    if not reason:
        raise argparse.ArgumentTypeError("empty: say why, in a sentence")
    if any(char in '"\\' or not char.isprintable() for char in reason):
        raise argparse.ArgumentTypeError(f"{shown(reason)}: leave out double quotes, backslashes and control "
                                         "characters (the alert notification carries the reason as written)")
    if len(reason) > MAX_REASON:
        raise argparse.ArgumentTypeError(f"{len(reason)} characters; at most {MAX_REASON}")
    return reason


def weights_text(text: str) -> dict[str, float]:
    """`champion=0.9,challenger=0.1`; whether they sum to 1 is checked against the endpoint later."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, equals, number = part.strip().partition("=")
        try:
            weight = float(number)
        except ValueError:
            weight = math.nan
        if not equals or not name or not math.isfinite(weight):
            raise argparse.ArgumentTypeError(f"{shown(text)}: expected variant=weight pairs separated by commas, "
                                             "e.g. champion=0.9,challenger=0.1")
        if name in weights:
            raise argparse.ArgumentTypeError(f"{shown(text)}: {shown(name)} is given twice")
        weights[name] = weight
    return weights


def command_line(prog: str, doc: str, examples: str) -> tuple[argparse.ArgumentParser, Any]:
    """`<prog> ENV COMMAND ...` (models.py, experiments.py): the first two paragraphs of `doc` as
    the description, `examples` and every exit code as the epilog, the stack as the first
    argument; returns the parser and its subcommands. Never abbreviated; every mistake is one
    line (code 2), as in deploy.py."""
    exit_codes = "\n".join(f"  {code.value:>3}  {code.name.lower():<20} {EXIT_CODE_HELP[code]}" for code in ExitCode)
    paragraphs = doc.split("\n\n")
    parser = _Parser(prog=prog, description=paragraphs[0] + "\n\n" + paragraphs[1],
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog=examples + "\nexit codes:\n" + exit_codes, allow_abbrev=False)
    parser.add_argument("stack", metavar="ENV", help="stack: dev, prod, pr-<number> (or a name with its own "
                                                     "Pulumi.<name>.yaml)")
    return parser, parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def build_parser() -> argparse.ArgumentParser:
    """The command line: `models.py ENV COMMAND ...`."""
    parser, commands = command_line("models.py", __doc__, EXAMPLES)

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary, allow_abbrev=False)
        sub.add_argument("model", metavar="MODEL", help="a model of the stack's config (models[].name)")
        return sub

    listing = command("list", "the model's versions, newest first: status, objective metric, what each serves")
    listing.add_argument("--json", action="store_true", help="print the versions as JSON")
    for name, status in (("approve", "Approved"), ("reject", "Rejected")):
        sub = command(name, f"set a version's approval status to {status}, recording why and who")
        sub.add_argument("version", metavar="VERSION", type=version_number, help="the version number")
        sub.add_argument("--reason", required=True, type=reason_text, help="why, in a sentence (kept in the "
                                                                           "registry and sent to the alert topic)")
    rollout = command("rollout", "serve a version: write it to Pulumi.<ENV>.yaml and deploy")
    rollout.add_argument("version", metavar="VERSION", type=version_number, help="the version number")
    rollout.add_argument("--weights", type=weights_text, metavar="NAME=W,...",
                         help="every variant's share of traffic, summing to 1; may add the --variant")
    rollback = command("rollback", "serve again the version the variant's last rollout replaced, and deploy")
    for sub in (rollout, rollback):
        sub.add_argument("--variant", metavar="NAME", help="the endpoint variant (default: the only one)")
        sub.add_argument("--yes", "-y", action="store_true", help="deploy without asking")
        sub.add_argument("--offline", action="store_true", help="plan under Pulumi's mocks with the change; write, "
                                                                "deploy and ask AWS nothing")
        sub.add_argument("--json", action="store_true", help="print only the outputs, as JSON, on stdout")
    return parser


def main(argv: list[str] | None = None, system: System | None = None, deploy: Deploy = run) -> int:
    """Run one command; `system` and `deploy` are the outside world (tests hand in doubles)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        stack = _stack(parser, args.stack)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return ExitCode(exit_.code or 0)
    system = system or real_system(ROOT)
    try:
        session = Session.open(stack, args.model, system, deploy, as_json=getattr(args, "json", False))
        return COMMANDS[args.command](session, args)
    except DeployError as failure:
        print(f"error: {failure.message}", file=system.err)
        for line in failure.details:
            print(f"  {line}", file=system.err)
        return failure.code
    except KeyboardInterrupt:
        print("error: interrupted", file=system.err)
        return ExitCode.INTERRUPTED


# -- the registry -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Version:
    number: int
    arn: str
    status: str
    registered: str  # ISO time


class Registry:
    """One model's package group, through boto3; every AWS failure becomes one DeployError line."""

    def __init__(self, make_client: Callable[[str, str | None], Any], region: str, group: str):
        self.make_client, self.region, self.group = make_client, region, group

    def versions(self) -> list[Version]:
        pages = self._call("listing the versions", lambda: list(
            self._client("sagemaker").get_paginator("list_model_packages").paginate(ModelPackageGroupName=self.group)))
        return sorted((Version(summary["ModelPackageVersion"], summary["ModelPackageArn"],
                               summary.get("ModelApprovalStatus", "-"), _iso(summary.get("CreationTime")))
                       for page in pages for summary in page.get("ModelPackageSummaryList", [])
                       if summary.get("ModelPackageVersion") is not None),
                      key=lambda version: version.number, reverse=True)

    def version(self, number: int) -> Version:
        versions = self.versions()
        found = next((version for version in versions if version.number == number), None)
        if found is None:
            known = ", ".join(str(version.number) for version in reversed(versions)) or "none yet"
            raise DeployError(ExitCode.UNKNOWN_VERSION, f"model package group {self.group} ({self.region}) has no "
                                                        f"version {number}; its versions: {known}")
        return found

    def details(self, version: Version) -> dict[str, Any]:
        return self._call(f"describing version {version.number}",
                          lambda: self._client("sagemaker").describe_model_package(ModelPackageName=version.arn))

    def set_status(self, version: Version, status: str, description: str) -> None:
        self._call(f"updating version {version.number}", lambda: self._client("sagemaker").update_model_package(
            ModelPackageArn=version.arn, ModelApprovalStatus=status, ApprovalDescription=description))

    def caller(self) -> str:
        """Who is acting: the ARN the credentials belong to (GetCallerIdentity needs no permission)."""
        return self._call("asking STS who is calling", lambda: self._client("sts").get_caller_identity()["Arn"])

    def _client(self, service: str) -> Any:
        return self.make_client(service, self.region)

    def _call(self, action: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except NoCredentialsError:
            raise DeployError(ExitCode.NO_AWS_CREDENTIALS, "no AWS credentials found (environment, ~/.aws profiles, "
                                                           "SSO, instance role): run `aws sso login`, or export "
                                                           "AWS_PROFILE or AWS_ACCESS_KEY_ID") from None
        except ClientError as error:
            details = error.response.get("Error", {})
            code = ExitCode.NO_AWS_CREDENTIALS if details.get("Code") in CREDENTIAL_ERRORS else ExitCode.REGISTRY
            message = " ".join(str(details.get("Message", "")).split())
            raise DeployError(code, f"{action} of {self.group} failed: {details.get('Code', 'error')}: {message}") from None
        except BotoCoreError as error:
            raise DeployError(ExitCode.REGISTRY, f"{action} of {self.group} failed: {' '.join(str(error).split())}") from None


def _iso(moment: Any) -> str:
    return moment.isoformat(timespec="seconds") if hasattr(moment, "isoformat") else str(moment or "-")


# -- one invocation -----------------------------------------------------------------------------
@dataclass
class Session:
    """The stack, its validated config, the model acted on, and the outside world."""

    stack: StackRef
    config: PlatformConfig
    model: ModelConfig
    system: System
    deploy: Deploy
    as_json: bool

    @classmethod
    def open(cls, stack: StackRef, model: str, system: System, deploy: Deploy, as_json: bool) -> Session:
        config = read_config(stack, system.work_dir)
        found = next((m for m in config.models if m.name == model), None)
        if found is None:
            raise DeployError(ExitCode.UNKNOWN_MODEL, f"stack '{stack.name}' has no model {shown(model)}; its models: "
                                                      f"{', '.join(m.name for m in config.models)} "
                                                      f"({stack.config_path(system.work_dir).name}, models)")
        return cls(stack, config, found, system, deploy, as_json)

    @property
    def config_path(self) -> Path:
        return self.stack.config_path(self.system.work_dir)

    @property
    def registry(self) -> Registry:
        return Registry(self.system.aws_client, self.config.region, package_group_name(self.config, self.model.name))

    @property
    def out(self) -> Any:
        return self.system.out

    def say(self, line: str) -> None:
        """Lines for people; with --json they go to stderr, stdout carrying the JSON alone."""
        print(line, file=self.system.err if self.as_json else self.system.out, flush=True)

    def variant(self, name: str | None) -> VariantConfig | None:
        return next((v for v in self.model.endpoint.variants if v.name == name), None)


def read_config(stack: StackRef, work_dir: Path, stack_file: Path | None = None) -> PlatformConfig:
    """The stack's config as the program will see it; any problem is exit code CONFIG, every one listed."""
    try:
        project = offline.load_project(work_dir)
        values, _ = offline.load_stack_config(stack.name, work_dir, project, stack_file)
        return parse_cli_config(project["name"], stack.name, values)
    except ProjectError as error:
        raise DeployError(ExitCode.CONFIG, str(error)) from None
    except ConfigError as error:
        raise DeployError(ExitCode.CONFIG, str(error).splitlines()[0], [f"- {p}" for p in error.problems]) from None


def serving(model: ModelConfig, number: int) -> list[dict[str, Any]]:
    return [{"variant": v.name, "weight": v.weight} for v in model.endpoint.variants if v.model_version == number]


# -- list, approve, reject ----------------------------------------------------------------------
def list_versions(session: Session, args: argparse.Namespace) -> int:
    registry = session.registry
    rows = []
    for version in registry.versions():
        details = registry.details(version)
        metadata = details.get("CustomerMetadataProperties") or {}
        rows.append({
            "version": version.number, "status": version.status, "registered": version.registered,
            "objective_metric": metadata.get("objective_metric"), "objective_value": metadata.get("objective_value"),
            "approval_description": details.get("ApprovalDescription"),
            "serves": serving(session.model, version.number),
            "previous_of": [v.name for v in session.model.endpoint.variants if v.previous_model_version == version.number],
        })
    if session.as_json:
        print(json.dumps({"stack": session.stack.name, "model": session.model.name, "model_package_group":
                          registry.group, "versions": rows}, indent=2), file=session.out)
        return ExitCode.OK
    session.say(f"Model {session.model.name} of stack '{session.stack.name}': {registry.group} ({registry.region}), "
                f"objective {session.model.objective_metric}, threshold {session.model.threshold:g}")
    if not rows:
        session.say("No versions registered yet: the training pipeline registers one when a run meets the threshold.")
    for line in _table(rows):
        session.say(line)
    return ExitCode.OK


def _table(rows: list[dict[str, Any]]) -> list[str]:
    header = ("version", "status", "objective", "registered", "serves")
    cells = [header] + [(
        str(row["version"]), row["status"],
        f"{row['objective_metric']} {row['objective_value']}" if row["objective_value"] is not None else "-",
        row["registered"],
        ", ".join([f"{s['variant']} (weight {s['weight']:g})" for s in row["serves"]]
                  + [f"previous of {name}" for name in row["previous_of"]]) or "-",
    ) for row in rows] if rows else []
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))] if cells else []
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]


def set_status(status: str) -> Callable[[Session, argparse.Namespace], int]:
    def command(session: Session, args: argparse.Namespace) -> int:
        registry = session.registry
        version = registry.version(args.version)
        description = f"{args.reason} (by {registry.caller()} via automation/models.py)"[:1024]
        registry.set_status(version, status, description)
        session.say(f"{session.model.name} version {version.number}: {version.status} -> {status}: {description}")
        for entry in serving(session.model, version.number) if status == "Rejected" else []:
            session.say(f"warning: version {version.number} still serves variant {entry['variant']} "
                        f"({session.config_path.name}); rejecting does not stop it: roll another version out "
                        f"(models.py {session.stack.name} rollout {session.model.name} VERSION)")
        return ExitCode.OK
    return command


# -- rollout, rollback --------------------------------------------------------------------------
def rollout(session: Session, args: argparse.Namespace) -> int:
    target = _target(session, args.variant, adding=args.weights is not None)
    weights = _weights(session, target, args.weights)
    old = session.variant(target)
    keeps_previous = old is not None and old.model_version in (None, args.version)
    previous = (old.previous_model_version if keeps_previous else old.model_version) if old else None
    variants = [VariantConfig(name, weight, args.version, previous) if name == target
                else replace(session.variant(name), weight=weight) for name, weight in weights.items()]
    before = old.model_version if old else None
    change = f"{session.model.name}/{target}: version {before or 'none'} -> {args.version}"
    if args.weights is not None:
        change += f", weights {', '.join(f'{name}={weight:g}' for name, weight in weights.items())}"
    return _serve(session, args, variants, args.version, change)


def rollback(session: Session, args: argparse.Namespace) -> int:
    target = _target(session, args.variant, adding=False)
    variant = session.variant(target)
    if variant.previous_model_version is None:
        raise DeployError(ExitCode.NOTHING_TO_ROLL_BACK,
                          f"variant {target} of {session.model.name} records no previous version in "
                          f"{session.config_path.name} (rollout writes previousModelVersion; a rollback clears it); "
                          f"roll a version out by number: models.py {session.stack.name} rollout "
                          f"{session.model.name} VERSION")
    variants = [replace(v, model_version=v.previous_model_version, previous_model_version=None) if v.name == target
                else v for v in session.model.endpoint.variants]
    change = f"{session.model.name}/{target}: version {variant.model_version} -> {variant.previous_model_version} (rollback)"
    return _serve(session, args, variants, variant.previous_model_version, change)


def _target(session: Session, name: str | None, adding: bool) -> str:
    """The variant acted on: --variant, or the endpoint's only one."""
    names = [v.name for v in session.model.endpoint.variants]
    if name is None:
        if len(names) != 1:
            raise DeployError(ExitCode.USAGE, f"{session.model.name}'s endpoint has variants {', '.join(names)}: "
                                              "name one with --variant")
        return names[0]
    if name not in names and not adding:
        raise DeployError(ExitCode.UNKNOWN_VARIANT, f"{session.model.name}'s endpoint has no variant {shown(name)}; "
                                                    f"its variants: {', '.join(names)} (to add one, give --weights "
                                                    "for every variant, the new one included)")
    return name


def _weights(session: Session, target: str, given: dict[str, float] | None) -> dict[str, float]:
    """Every variant's weight after the rollout: unchanged, or --weights checked against the endpoint."""
    current = {v.name: v.weight for v in session.model.endpoint.variants}
    if given is None:
        return current
    model = session.model.name
    unknown = [name for name in given if name not in current and name != target]
    if unknown:
        raise DeployError(ExitCode.UNKNOWN_VARIANT, f"--weights names {', '.join(shown(n) for n in unknown)}, not a "
                                                    f"variant of {model}'s endpoint (its variants: {', '.join(current)}; "
                                                    f"--variant {shown(target)} is the one a rollout may add)")
    problems = [f"{name} has none" for name in [*current, target] if name not in given]
    problems += [f"{name}={weight:g} is outside 0..1" for name, weight in given.items() if not 0 <= weight <= 1]
    total = sum(given.values())
    if abs(total - 1) > WEIGHT_TOLERANCE:
        problems.append(f"they sum to {total:g}, not 1")
    if problems:
        raise DeployError(ExitCode.BAD_WEIGHTS, f"--weights must give every variant of {model}'s endpoint a share "
                                                f"in 0..1, summing to 1: {'; '.join(dict.fromkeys(problems))}")
    return {name: given[name] for name in dict.fromkeys([*current, target])}


def _serve(session: Session, args: argparse.Namespace, variants: Iterable[VariantConfig], number: int,
           change: str) -> int:
    """Check the version may serve, write the variants, deploy; put the file back when nothing deployed."""
    if not args.offline:
        version = session.registry.version(number)
        _check_may_serve(session, version)
    path = session.config_path
    before = stackfile.read_text(path)
    after = stackfile.set_value(before, path.name, _variants_path(session), [_entry(v) for v in variants])
    _validated(session, after)
    session.say(f"{path.name}: {change}")
    if args.offline:
        return _plan_offline(session, after)
    _write(path, after)
    code = session.deploy(Request(stack=session.stack, operation=Operation.UP, yes=args.yes, json=args.json),
                          session.system)
    if code == ExitCode.OK:
        session.say(f"Deployed. Commit {path.name}: it is what serves, and a `pulumi up` from a checkout without "
                    "this change would deploy that checkout's versions.")
    elif code in NOTHING_DEPLOYED and after != before:
        _write(path, before)
        session.say(f"{path.name} is back as it was: nothing was deployed.")
    elif after != before:
        session.say(f"{path.name} keeps the change, but the deploy failed (exit code {int(code)}): fix the cause and "
                    f"run `deploy.py {session.stack.name}`, or return to what served before with `models.py "
                    f"{session.stack.name} rollback {session.model.name}` (docs/troubleshooting.md, when a rollout "
                    "rolls back).")
    return code


def _check_may_serve(session: Session, version: Version) -> None:
    production = is_production(session.stack.name)
    if version.status == "Rejected" or (production and version.status != "Approved"):
        why = "it was rejected" if version.status == "Rejected" else \
            f"'{session.stack.name}' is a production stack and serves Approved versions only"
        raise DeployError(ExitCode.NOT_APPROVED,
                          f"{session.model.name} version {version.number} is {version.status}: {why}; approve it "
                          f"first (models.py {session.stack.name} approve {session.model.name} {version.number} "
                          "--reason ...)")


def _variants_path(session: Session) -> tuple[stackfile.PathStep, ...]:
    project = session.config.project
    return ("config", (f"{project}:models", "models"), ItemWith("name", session.model.name), "endpoint", "variants")


def _entry(variant: VariantConfig) -> dict[str, Any]:
    """A variant as the stack file spells it (config.py's `_variants` reads it back)."""
    entry: dict[str, Any] = {"name": variant.name, "weight": variant.weight}
    if variant.model_version is not None:
        entry["modelVersion"] = variant.model_version
    if variant.previous_model_version is not None:
        entry["previousModelVersion"] = variant.previous_model_version
    return entry


def _validated(session: Session, text: str) -> None:
    """The edited file must pass the same validation the program applies, before it is written."""
    with tempfile.TemporaryDirectory(prefix="mlops-models-") as scratch:
        candidate = Path(scratch) / session.config_path.name
        candidate.write_text(text)
        read_config(session.stack, session.system.work_dir, candidate)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as error:
        raise DeployError(ExitCode.CONFIG, f"writing {path.name} failed: {' '.join(str(error).split())}; "
                                           "nothing was deployed") from None


def _plan_offline(session: Session, text: str) -> int:
    """The plan of the edited stack file under Pulumi's mocks; nothing is written, asked or deployed."""
    with tempfile.TemporaryDirectory(prefix="mlops-models-") as scratch:
        candidate = Path(scratch) / session.config_path.name
        candidate.write_text(text)
        try:
            plan = offline.plan(session.stack.name, session.system.work_dir, stack_file=candidate)
        except (ProjectError, ConfigError) as error:
            raise DeployError(ExitCode.CONFIG, str(error).splitlines()[0]) from None
    if session.as_json:
        print(json.dumps(plan.outputs, indent=2, sort_keys=True, default=str), file=session.out)
    else:
        print(render_plan(plan), file=session.out)
    session.say("(offline: planned with the change under Pulumi's mocks; nothing was written or deployed, and the "
                "registry was not asked whether the version exists or is approved)")
    return ExitCode.OK


COMMANDS: dict[str, Callable[[Session, argparse.Namespace], int]] = {
    "list": list_versions,
    "approve": set_status("Approved"),
    "reject": set_status("Rejected"),
    "rollout": rollout,
    "rollback": rollback,
}


if __name__ == "__main__":
    sys.exit(main())
