"""What `automation/deploy.py` and `automation/models.py` exit with: one distinct code per outcome a
user can act on. models.py deploys through the same driver, so it shares these codes and adds its
own (13-19) for what only it refuses; `automation/experiments.py` likewise, with 20-25.

Standard library only: the command lines need these codes before they know whether the running
Python has the project's dependencies (code SETUP says it has not), so they cannot live in
driver.py, which imports Pulumi's and AWS's SDKs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class ExitCode(enum.IntEnum):
    """What `deploy.py` and `models.py` exit with. The descriptions are their `--help` epilog."""

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
    UNKNOWN_MODEL = 13
    UNKNOWN_VARIANT = 14
    UNKNOWN_VERSION = 15
    NOT_APPROVED = 16
    BAD_WEIGHTS = 17
    NOTHING_TO_ROLL_BACK = 18
    REGISTRY = 19
    EXPERIMENT_RUNNING = 20
    SAME_VERSION = 21
    NO_CHAMPION = 22
    NO_EXPERIMENT = 23
    NO_DECISION = 24
    EXPERIMENT_AWS = 25
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
    ExitCode.UNKNOWN_MODEL: "models.py: the model is not in the stack's config",
    ExitCode.UNKNOWN_VARIANT: "models.py: the variant is not on the model's endpoint",
    ExitCode.UNKNOWN_VERSION: "models.py: the model package group has no such version",
    ExitCode.NOT_APPROVED: "models.py: the version may not serve (not Approved in prod; Rejected anywhere)",
    ExitCode.BAD_WEIGHTS: "models.py: --weights do not sum to 1, or miss a variant",
    ExitCode.NOTHING_TO_ROLL_BACK: "models.py: the variant records no previous version to roll back to",
    ExitCode.REGISTRY: "models.py: SageMaker's model registry refused a call (the AWS error is shown)",
    ExitCode.EXPERIMENT_RUNNING: "experiments.py: the endpoint already runs an experiment or splits its traffic",
    ExitCode.SAME_VERSION: "experiments.py: the challenger is the version the champion serves",
    ExitCode.NO_CHAMPION: "experiments.py: no champion variant serves a version to start an experiment from",
    ExitCode.NO_EXPERIMENT: "experiments.py: no experiment is configured on the model's endpoint",
    ExitCode.NO_DECISION: "experiments.py: no decision of this experiment to apply yet (or the record is another's)",
    ExitCode.EXPERIMENT_AWS: "experiments.py: reading the endpoint or the decision record failed (the AWS error is shown)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
