"""Which environment a stack is: decided by the stack's name, never by a key in its file.

This is the one place that says which stacks are production. A production stack always gets
the prod rules (manual approval, protected and retained stateful resources, instance
endpoints, the long key deletion window, a key service for secrets, a typed confirmation
before destroy), whatever its stack file says; the file cannot configure them away.

To make another stack production (a second region, say `prod-eu`), add its name to
`PRODUCTION_STACKS` in the same change that adds its `Pulumi.<name>.yaml`. Pull-request stacks
are `pr-<number>` and are always `preview`; every other stack is `dev`.

Standard library only: the program (components/config.py) and the driver (automation/) both
import it, and the driver must not need Pulumi's SDK to decide how careful to be.
"""

from __future__ import annotations

import re

PRODUCTION_STACKS: frozenset[str] = frozenset({"prod"})
"""Stacks that are production. Edit here, and only here (see the module docstring)."""

PROD = "prod"
PREVIEW = "preview"
DEV = "dev"
ENVIRONMENTS = (DEV, PROD, PREVIEW)

PR_STACK_RE = re.compile(r"^pr-([1-9][0-9]*)$")
"""Pull-request stacks: `pr-` and the pull request's number (GitHub numbers start at 1)."""


def is_production(stack: str) -> bool:
    return stack in PRODUCTION_STACKS


def pull_request_number(stack: str) -> int | None:
    """The pull request a `pr-N` stack belongs to, or None for any other stack."""
    match = PR_STACK_RE.fullmatch(stack)
    return int(match.group(1)) if match else None


def environment_of(stack: str) -> str:
    """The environment a stack is: `prod` for production stacks, `preview` for pr-N, else `dev`."""
    if is_production(stack):
        return PROD
    if pull_request_number(stack) is not None:
        return PREVIEW
    return DEV
