"""What `automation/deploy.py` exits with: one distinct code per outcome a user can act on.

Standard library only: deploy.py needs these codes before it knows whether the running Python has
the project's dependencies (code SETUP says it has not), so they cannot live in driver.py, which
imports Pulumi's and AWS's SDKs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


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
    SETUP = 11
    TEARDOWN = 12
    INTERRUPTED = 130


EXIT_CODE_HELP: Mapping[ExitCode, str] = {
    ExitCode.OK: "done",
    ExitCode.FAILED: "the update ran and failed; the resources that failed are listed",
    ExitCode.USAGE: "bad arguments or stack name",
    ExitCode.CONFIG: "Pulumi.<ENV>.yaml missing or invalid (every problem is listed)",
    ExitCode.NO_CLI: "the Pulumi CLI is not installed, cannot be started, or fails its version check",
    ExitCode.NO_AWS_CREDENTIALS: "no AWS credentials (or the provider rejected them)",
    ExitCode.STACK_NOT_FOUND: "the stack does not exist in the backend yet (deploy it first)",
    ExitCode.CONCURRENT_UPDATE: "another update of the stack is in progress (or left a lock)",
    ExitCode.PROTECTED: "protected resources stopped a destroy or replace; nothing was forced",
    ExitCode.BACKEND: "backend or secrets provider unusable (passphrase unset, prod without a secrets provider, no login)",
    ExitCode.NOT_CONFIRMED: "a confirmation was refused or could not be asked (pass --yes / --confirm)",
    ExitCode.SETUP: "this Python lacks the project's dependencies and there is no venv/ to use (see README)",
    ExitCode.TEARDOWN: "emptying the stack's model package groups before destroy failed; nothing was destroyed",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
