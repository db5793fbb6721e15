"""Deploy, preview, refresh or destroy one environment of the platform.

Runs the project's own Pulumi.yaml and Pulumi.<ENV>.yaml from the repository root through the
Automation API, so it deploys exactly what `pulumi up --stack <ENV>` deploys. pr-<number> stacks
get their config from automation/templates/Pulumi.preview.yaml.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `automation` and `components` importable
    sys.path.insert(0, str(ROOT))

from automation.bootstrap import ensure_dependencies  # noqa: E402  (standard library only)
from automation.exit_codes import EXIT_CODE_HELP, ExitCode  # noqa: E402  (standard library only)

if __name__ == "__main__":
    ensure_dependencies(Path(__file__))

from automation import offline, stacks  # noqa: E402
from automation.backend import SECRETS_PROVIDER_ENV, secrets_provider_problem  # noqa: E402
from automation.driver import Operation, Request, System, real_system, run, shown  # noqa: E402
from automation.report import render_plan  # noqa: E402

__all__ = ["ExitCode", "build_parser", "main", "parse_request", "run_offline"]

EXAMPLES = f"""\
examples:
  deploy.py dev --offline                  plan under Pulumi's mocks: no CLI, no AWS, nothing written
  deploy.py dev --preview                  show what `up` would change
  deploy.py dev --yes                      deploy dev without asking
  deploy.py pr-123 --yes                   create/update the preview stack of pull request 123
  deploy.py pr-123 --destroy --remove --yes    destroy it and remove the stack and Pulumi.pr-123.yaml
  deploy.py prod --secrets-provider awskms://alias/mlops-platform-prod-secrets?region=us-east-1
  deploy.py prod --destroy --yes --confirm prod
  deploy.py dev --outputs --json           the stack outputs as JSON, for scripts

backend: PULUMI_BACKEND_URL, else PULUMI_ACCESS_TOKEN (Pulumi Cloud), else your `pulumi login`,
else the local folder .pulumi-state/ (refused when CI=true). Secrets: --secrets-provider or
{SECRETS_PROVIDER_ENV}; non-production stacks default to the passphrase provider (PULUMI_CONFIG_PASSPHRASE).
See docs/runbook.md (1. Deployment) and docs/troubleshooting.md.
"""


# Pulumi's own limit for stack names (pulumi/pulumi, pkg/backend/diy: "stack names are limited to
# 100 characters"); no stack of this project can be longer, whatever else it looks like.
MAX_STACK_NAME = 100
# Error messages quote what was typed: escaped (no control character reaches the terminal) and cut.
MAX_MESSAGE = 300


class _Parser(argparse.ArgumentParser):
    """argparse, but every usage error is one printable line and exit code USAGE."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {_printable(message)} (`{self.prog} --help` lists the flags)\n")


def _printable(text: str) -> str:
    """argparse quotes unrecognized arguments verbatim: escape what cannot be shown, cut what is too long."""
    escaped = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return escaped if len(escaped) <= MAX_MESSAGE else f"{escaped[:MAX_MESSAGE]}... ({len(escaped)} characters)"


def build_parser() -> argparse.ArgumentParser:
    """The command line. Workflows are tested against this very parser, so keep flags here only.

    No abbreviations (`allow_abbrev=False`): `--d` must not quietly mean `--destroy`.
    """
    exit_codes = "\n".join(f"  {code.value:>3}  {code.name.lower():<20} {EXIT_CODE_HELP[code]}" for code in ExitCode)
    parser = _Parser(
        prog="deploy.py",
        description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXAMPLES + "\nexit codes:\n" + exit_codes,
        allow_abbrev=False,
    )
    parser.add_argument("stack", metavar="ENV", help="stack to act on: dev, prod, pr-<number> (or a name with its own "
                                                     "Pulumi.<name>.yaml)")
    operation = parser.add_mutually_exclusive_group()
    operation.add_argument("--preview", dest="operation", action="store_const", const=Operation.PREVIEW,
                           help="show the changes `up` would make, change nothing")
    operation.add_argument("--refresh", dest="operation", action="store_const", const=Operation.REFRESH,
                           help="update the stack's state from what exists in AWS")
    operation.add_argument("--destroy", dest="operation", action="store_const", const=Operation.DESTROY,
                           help="delete every resource of the stack (prod: also --yes and --confirm prod)")
    operation.add_argument("--outputs", dest="operation", action="store_const", const=Operation.OUTPUTS,
                           help="print the stack's outputs")
    parser.set_defaults(operation=Operation.UP)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask before changing anything")
    parser.add_argument("--json", action="store_true", help="print only the outputs, as JSON, on stdout "
                                                            "(progress goes to stderr)")
    parser.add_argument("--offline", action="store_true",
                        help="run the program under Pulumi's mocks and print the plan (no CLI, no AWS)")
    parser.add_argument("--remove", action="store_true",
                        help="with --destroy: also remove the stack from the backend (and a pr-N stack's config file)")
    parser.add_argument("--confirm", metavar="NAME", help="with --destroy: the stack name, confirming without a prompt")
    parser.add_argument("--secrets-provider", metavar="URL",
                        help=f"secrets provider for a new stack, e.g. awskms://... (default: ${SECRETS_PROVIDER_ENV}; "
                             "required for prod on a self-managed backend)")
    packs = parser.add_mutually_exclusive_group()
    packs.add_argument("--policy-pack", metavar="DIR", action="append", dest="policy_packs",
                       help="CrossGuard policy pack to run with `up` and --preview (repeatable; default: the project's "
                            "own, policy/)")
    packs.add_argument("--no-policy-pack", action="store_true", help="run `up` and --preview without any policy pack")
    return parser


def parse_request(argv: list[str] | None = None) -> tuple[argparse.Namespace, Request]:
    """Parse and cross-check the flags; argparse exits with code 2 (usage) on any mistake."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stack = _stack(parser, args.stack)
    if args.confirm is not None and not _could_be_stack_name(args.confirm):
        parser.error(f"--confirm {shown(args.confirm)}: not a stack name, so it can never confirm one")
    if args.secrets_provider is not None:
        problem = secrets_provider_problem(args.secrets_provider)
        if problem:
            parser.error(f"--secrets-provider {shown(args.secrets_provider)}: {problem}")
    operation: Operation = args.operation
    if args.remove and operation is not Operation.DESTROY:
        parser.error("--remove only goes with --destroy")
    if args.confirm is not None and operation is not Operation.DESTROY:
        parser.error("--confirm only goes with --destroy")
    if args.offline:
        if operation not in (Operation.UP, Operation.PREVIEW):
            parser.error(f"--offline only plans: it cannot {operation.value}")
        if args.secrets_provider:
            parser.error("--offline uses no backend and no secrets provider")
    return args, Request(stack=stack, operation=operation, yes=args.yes, json=args.json, remove=args.remove,
                         confirm=args.confirm, secrets_provider=args.secrets_provider,
                         policy_packs=_policy_packs(parser, args))


def _policy_packs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, ...] | None:
    """None: the driver's default (the project's own pack); () for --no-policy-pack; else the packs."""
    if not (args.policy_packs or args.no_policy_pack):
        return None
    flag = "--policy-pack" if args.policy_packs else "--no-policy-pack"
    if args.offline or args.operation not in (Operation.UP, Operation.PREVIEW):
        parser.error(f"{flag} only goes with `up` and --preview, which run policy packs")
    if args.no_policy_pack:
        return ()
    for pack in args.policy_packs:
        if not (Path(pack) / "PulumiPolicy.yaml").is_file():
            parser.error(f"--policy-pack {shown(pack)}: no PulumiPolicy.yaml there")
    return tuple(str(Path(pack).resolve()) for pack in args.policy_packs)


def _could_be_stack_name(text: str) -> bool:
    """Printable ASCII within Pulumi's length limit; the finer rules are stacks.parse_stack_name's."""
    return 0 < len(text) <= MAX_STACK_NAME and text.isascii() and text.isprintable()


def _stack(parser: argparse.ArgumentParser, name: str) -> stacks.StackRef:
    """The validated stack, or a usage error that quotes the name safely."""
    if not _could_be_stack_name(name):
        parser.error(f"stack name {shown(name)}: expected dev, prod, pr-<number>, or a lowercase name with its own "
                     f"Pulumi.<name>.yaml (printable ASCII, at most {MAX_STACK_NAME} characters)")
    try:
        return stacks.parse_stack_name(name)
    except ValueError as error:  # StackNameError, and any other refusal of a name
        parser.error(str(error))


def run_offline(stack: stacks.StackRef, as_json: bool = False, work_dir: Path = ROOT,
                today: dt.date | None = None) -> int:
    """Plan under mocks. A pr-N stack without its file plans from the template, writing nothing."""
    from components.config import ConfigError

    try:
        with tempfile.TemporaryDirectory(prefix="mlops-offline-") as scratch:
            stack_file = None
            if stack.is_pull_request and not stack.config_path(work_dir).exists():
                stack_file = Path(scratch) / f"Pulumi.{stack.name}.yaml"
                stack_file.write_text(stacks.render_pr_config(stack, today or stacks.today_utc()))
            plan = offline.plan(stack.name, work_dir, stack_file=stack_file)
    except (offline.ProjectError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return ExitCode.CONFIG
    if as_json:
        print(json.dumps(plan.outputs, indent=2, sort_keys=True, default=str))
    else:
        print(render_plan(plan))
        if stack_file is not None:
            print(f"\n(config rendered from automation/templates/{stacks.TEMPLATE.name}; nothing was written)")
    return ExitCode.OK


def main(argv: list[str] | None = None, system: System | None = None) -> int:
    try:
        args, request = parse_request(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return ExitCode(exit_.code or 0)
    if args.offline:
        return run_offline(request.stack, as_json=request.json)
    return run(request, system or real_system(ROOT))


if __name__ == "__main__":
    sys.exit(main())
