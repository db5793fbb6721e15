"""Deploy, preview, refresh or destroy one environment of the platform.

    python automation/deploy.py dev --offline     # plan under mocks: no CLI, no credentials

Runs the project's own Pulumi.yaml and Pulumi.<env>.yaml, so it deploys exactly what
`pulumi up --stack <env>` deploys.
"""

from __future__ import annotations

import argparse
import enum
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `automation` and `components` importable
    sys.path.insert(0, str(ROOT))

from automation import offline  # noqa: E402
from automation.report import render_plan  # noqa: E402


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIG = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploy.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes:\n" + "\n".join(f"  {code.value}  {code.name.lower()}" for code in ExitCode),
    )
    parser.add_argument("stack", metavar="ENV", help="stack to act on: dev, prod or pr-N")
    parser.add_argument("--offline", action="store_true",
                        help="run the program under Pulumi's mocks and print the plan (no CLI, no AWS)")
    return parser


def run_offline(stack: str) -> int:
    try:
        plan = offline.plan(stack)
    except offline.ProjectError as error:
        print(f"error: {error}", file=sys.stderr)
        return ExitCode.CONFIG
    except Exception as error:  # noqa: BLE001 - ConfigError is a pulumi.RunError; show it plainly
        from components.config import ConfigError

        if isinstance(error, ConfigError):
            print(f"error: {error}", file=sys.stderr)
            return ExitCode.CONFIG
        raise
    print(render_plan(plan))
    return ExitCode.OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.offline:
        return run_offline(args.stack)
    print("error: only --offline is available yet; the Automation API path is issue #3", file=sys.stderr)
    return ExitCode.USAGE


if __name__ == "__main__":
    sys.exit(main())
